"""Films out through PyAV, in two parts a writer composes: the output file (a temporary name that
only ``close()`` renames onto the output, and the router of the source's other streams, copied
through streams made from their templates or re-encoded where the container refuses them) and the
encoder (decoded frames at their source pts in the source time base). The join of a film's
segments (``vidcolor.join``) puts copied video packets in the same output file.
"""
from __future__ import annotations

import io
import os
import warnings
from array import array
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .decode import (AVCOL_PRI_BT470BG, AVCOL_PRI_BT709, AVCOL_SPC_BT709, AVCOL_TRC_BT709, AVCOL_TRC_SMPTE170M,
                     AVCOL_UNSPECIFIED, Frame,
                     VideoInfo, reason)
from .encoders import encoder_options, usable_encoder
from .errors import VidcolorWarning, VideoError
from .options import CONTAINER_FORMATS, VideoOptions
from .tempfiles import temp_path

# codecs a copy may carry, where the muxer's own check lets through some it then fails on at the
# trailer (PCM in mp4); containers not listed are asked with a dry run
COPYABLE = {"mp4": {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac", "mp2", "mov_text"},
            "webm": {"opus", "vorbis", "webvtt"}}
FALLBACK_AUDIO = {"webm": "libopus"}  # re-encode target where the container refuses a codec; else AAC
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)  # the only sample rates libopus takes; others go to 48 kHz
NAMED_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def container_format(path: Path) -> str:
    fmt = CONTAINER_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise VideoError(f"{path}: output type '{path.suffix}' is not supported; use "
                         f"{', '.join(CONTAINER_FORMATS)}")
    return fmt


def codec_name(stream) -> str:
    """The stream's codec as FFmpeg names the format (mp3), not the decoder PyAV opened (mp3float)."""
    try:
        return av.codec.Codec(stream.codec_context.name, "r").canonical_name
    except (av.error.FFmpegError, ValueError, AttributeError):
        return stream.codec_context.name


def _container_accepts(fmt: str, stream) -> bool:
    """Whether the muxer of ``fmt`` takes a stream copied from ``stream`` (a dry run in memory)."""
    if fmt in COPYABLE:
        return codec_name(stream) in COPYABLE[fmt]
    try:
        with av.open(io.BytesIO(), mode="w", format=fmt) as probe:
            probe.add_stream_from_template(stream)
            probe.start_encoding()
        return True
    except (av.error.FFmpegError, ValueError, TypeError, NotImplementedError):
        return False


def zero_row_padding(frame: av.VideoFrame) -> av.VideoFrame:
    """Zero the bytes of each plane's rows beyond the picture's width (its line size is aligned
    wider), in place. libx264 reads past the width when it copies a frame in, so padding left as
    whatever memory held before made the same frames encode to different bitstreams from run to
    run. For 8-bit formats, where a plane's width is its width in bytes."""
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        rows[:, plane.width:] = 0
    return frame


class OutputFile:
    """A film being written: its container under a temporary name, renamed onto ``path`` by
    ``close()`` and removed by ``abort()``, and the router of the source's other streams (audio,
    subtitles): copied where the container takes them, audio re-encoded where it does not. Its
    video stream is the caller's (an encoder's, or a joiner's copied packets), muxed through
    ``mux_video``; packets of other streams wait for the first frame (the header waits for the
    display matrix)."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo):
        self.path = Path(path)
        self.info = info
        self.format = container_format(self.path)
        if not self.path.parent.is_dir():
            raise VideoError(f"{self.path}: output folder {self.path.parent} does not exist")
        self.tmp = temp_path(self.path)
        try:
            self.container = av.open(str(self.tmp), mode="w", format=self.format)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(f"{self.path}: cannot write output ({reason(err)})") from None
        self.stream = None  # the video stream, once the caller has added it
        self.routes: dict = {}
        self.frames_written = 0
        # (pts, dts, duration) of every video packet, in the stream's time base, as the encoder made
        # them: a segment of a film carries them to the join (vidcolor.join), whatever its container keeps
        self.timestamps = array("q")
        self.early_packets: list = []  # packets that arrive before the first frame: the header waits for it
        self.skipped_audio = 0  # audio packets the decoder refused (re-encoded tracks): silence in their place

    def route_others(self, audio: bool) -> None:
        """Streams for the source's subtitles, and its audio unless ``audio`` is False (after the video's)."""
        self.routes = self._add_others(self.format, self.info.other_streams if audio else
                                       [s for s in self.info.other_streams if s.type != "audio"])

    @property
    def passthrough(self) -> list:
        """Input streams whose packets the reader should hand over."""
        return [s for s in self.info.other_streams if s.index in self.routes]

    def _add_others(self, fmt: str, streams) -> dict:
        """index of input stream -> (output stream, decoder or None): copied where the muxer takes the
        codec; audio it refuses is re-encoded, subtitles it refuses are left out; both with a warning."""
        routes = {}
        for s in streams:
            name = codec_name(s)
            if _container_accepts(fmt, s):
                routes[s.index] = (self.container.add_stream_from_template(s), None, None)
            elif s.type == "audio":
                target = FALLBACK_AUDIO.get(fmt, "aac")
                rate = s.codec_context.sample_rate
                if target == "libopus" and rate not in OPUS_RATES:
                    rate = OPUS_RATES[0]
                warnings.warn(f"{self.path.name}: {fmt} cannot hold {name} audio; re-encoding stream "
                              f"{s.index} to {target}" + (f" at {rate} Hz" if rate != s.codec_context.sample_rate
                                                          else ""), VidcolorWarning, stacklevel=3)
                out = self.container.add_stream(target, rate=rate)
                layout = NAMED_LAYOUTS.get(s.codec_context.channels, "stereo")  # AAC refuses "2 channels"
                out.layout = layout
                if s.metadata.get("language"):
                    out.metadata["language"] = s.metadata["language"]
                # decoded samples go through a resampler to the encoder's format, layout and rate
                resampler = av.AudioResampler(format=out.codec_context.codec.audio_formats[0].name, layout=layout,
                                              rate=rate)
                routes[s.index] = (out, s.codec_context, resampler)
            else:
                warnings.warn(f"{self.path.name}: {fmt} cannot hold {name} subtitles; stream {s.index} "
                              "left out", VidcolorWarning, stacklevel=3)
        return routes

    def start_video(self) -> None:
        """Before the first frame: the display matrix must be set before the header goes out."""
        if self.frames_written == 0 and self.info.rotation:
            self.stream.set_display_rotation(self.info.rotation)

    def frame_written(self) -> None:
        """After each frame: count it, and write the other streams' packets that waited for the header."""
        self.frames_written += 1
        if self.early_packets:
            for packet in self.early_packets:
                self._write_packet(packet)
            self.early_packets.clear()

    def write_video(self, packets, what: str) -> None:
        """One frame's video packets (``packets()``, encoded or copied) into the file."""
        try:
            self.start_video()
            self.mux_video(packets())
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: cannot {what} ({reason(err)})") from None
        self.frame_written()

    def mux_video(self, packets) -> None:
        for packet in packets:
            self.timestamps.extend((packet.pts, packet.pts if packet.dts is None else packet.dts, packet.duration or 0))
            self.container.mux(packet)

    def write_packet(self, packet: av.Packet) -> None:
        """Copy (or re-encode) a packet of another stream. Held back until the first frame is
        written, since the display matrix must be set before the header goes out."""
        if self.frames_written == 0:
            self.early_packets.append(packet)
        else:
            self._write_packet(packet)

    def _write_packet(self, packet: av.Packet) -> None:
        try:
            self._copy_packet(packet)
        except av.error.FFmpegError as err:
            kind = packet.stream.type
            raise VideoError(f"{self.path}: cannot write the input's {kind} stream {packet.stream.index} ({reason(err)}): "
                             f"its {kind} is damaged or out of order" + (
                                 "; --no-audio (audio=False) leaves the audio out" if kind == "audio" else "")) from None

    def _copy_packet(self, packet: av.Packet) -> None:
        out, decoder, resampler = self.routes[packet.stream.index]
        if decoder is None:
            packet.stream = out
            self.container.mux(packet)
            return
        try:
            frames = decoder.decode(packet)
        except av.error.FFmpegError:  # one bad packet must not lose the film: its time as silence
            self.skipped_audio += 1
            frames = [self._silence(decoder, packet)]
        for frame in frames:
            if frame is None:
                continue
            frame.pts = None  # the encoder counts samples itself
            for chunk in resampler.resample(frame):
                for encoded in out.encode(chunk):
                    self.container.mux(encoded)

    @staticmethod
    def _silence(decoder, packet: av.Packet) -> av.AudioFrame | None:
        """Silence as long as an undecodable ``packet`` (its duration, else the codec's frame), in
        the decoder's own format, so the sound after it stays in sync."""
        rate = decoder.sample_rate or 48000
        samples = round(float(packet.duration * packet.time_base) * rate) if packet.duration and packet.time_base \
            else decoder.frame_size
        if not samples or not decoder.format:
            return None
        frame = av.AudioFrame(format=decoder.format.name, layout=decoder.layout.name, samples=samples)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = rate
        return frame

    def close(self, flush_video=None) -> None:
        """Flush the encoders (``flush_video``: the video's, where it has one), finish the file and
        move it into place."""
        try:
            if flush_video is not None:
                flush_video()
            for out, decoder, resampler in self.routes.values():
                if decoder is not None:  # re-encoded audio: what the resampler holds, then the encoder
                    for chunk in [*resampler.resample(None), None]:
                        for packet in out.encode(chunk):
                            self.container.mux(packet)
            self.container.close()
            os.replace(self.tmp, self.path)
            if self.skipped_audio:
                warnings.warn(f"{self.path.name}: {self.skipped_audio} audio packet(s) could not be decoded; "
                              "silence of the same length was put in their place, so the sound stays in sync",
                              VidcolorWarning, stacklevel=3)
        except av.error.FFmpegError as err:
            self.abort()
            raise VideoError(f"{self.path}: cannot finish the output ({reason(err)})") from None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass
        self.tmp.unlink(missing_ok=True)


class FrameEncoder:
    """The video encoder of an ``OutputFile``: decoded frames (I420 planes or RGB) encoded at their
    source pts in the source time base, with the colour tags of the source (or, untagged, those a
    player assumes for its size)."""

    def __init__(self, output: OutputFile, video: VideoOptions):
        self.output, self.info = output, output.info
        self.stream = self._add_video(output, video)

    def _add_video(self, output: OutputFile, video: VideoOptions):
        info = self.info
        codec, crf, preset = video.codec_for(output.path.suffix), video.crf, video.preset
        codec = usable_encoder(codec, crf, preset)
        options = encoder_options(codec, crf, preset)
        try:
            stream = output.container.add_stream(codec, rate=info.rate or Fraction(25), options=options)
        except (av.error.FFmpegError, ValueError) as err:
            raise VideoError(f"{output.path}: cannot encode with '{codec}' ({reason(err)})") from None
        stream.width, stream.height = info.width + info.width % 2, info.height + info.height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = info.time_base
        cc = stream.codec_context
        cc.time_base = info.time_base
        cc.colorspace = info.matrix
        cc.color_range = info.range
        hd = info.matrix == AVCOL_SPC_BT709
        cc.color_primaries = info.color_primaries if info.color_primaries != AVCOL_UNSPECIFIED else (
            AVCOL_PRI_BT709 if hd else AVCOL_PRI_BT470BG)
        cc.color_trc = info.color_trc if info.color_trc != AVCOL_UNSPECIFIED else (
            AVCOL_TRC_BT709 if hd else AVCOL_TRC_SMPTE170M)
        if info.sample_aspect_ratio:
            stream.sample_aspect_ratio = info.sample_aspect_ratio
        return stream

    def encode(self, frame: Frame | None) -> list:
        """The packets of one frame (None: what the encoder still holds)."""
        if frame is None:
            return self.stream.encode(None)
        if frame.yuv is not None:  # planes in the stream's own matrix and range: straight to the encoder
            out = zero_row_padding(av.VideoFrame.from_ndarray(frame.yuv, format="yuv420p"))
        else:
            rgb = frame.rgb
            pad_h, pad_w = rgb.shape[0] % 2, rgb.shape[1] % 2
            if pad_h or pad_w:  # 4:2:0 needs even sides: replicate the last row/column
                rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            out = zero_row_padding(out.reformat(format="yuv420p", dst_colorspace=self.info.matrix,
                                                dst_color_range=self.info.range))
        out.pts = frame.pts
        out.time_base = self.info.time_base
        return self.stream.encode(out)


class OutputWriter:
    """A writer around an ``OutputFile``: ``add_video(output)`` gives its video stream (an
    encoder's, or copied packets'); the source's other streams, their packets and ``abort`` are the
    file's."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo, audio: bool, add_video):
        self.output = OutputFile(path, info)
        try:
            self.output.stream = add_video(self.output)
            self.output.route_others(audio)
        except BaseException:
            self.output.abort()
            raise

    @property
    def passthrough(self) -> list:
        return self.output.passthrough

    @property
    def timestamps(self) -> array:
        return self.output.timestamps

    @property
    def frames_written(self) -> int:
        return self.output.frames_written

    def write_packet(self, packet: av.Packet) -> None:
        self.output.write_packet(packet)

    def abort(self) -> None:
        self.output.abort()


class VideoWriter(OutputWriter):
    """A film written from decoded frames: an ``OutputFile`` (temporary name, the source's other
    streams) around a ``FrameEncoder``; ``close()`` renames it onto ``path``, ``abort()`` removes it."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo, video: VideoOptions = VideoOptions()):
        def add_video(output: OutputFile):
            self.encoder = FrameEncoder(output, video)
            return self.encoder.stream
        super().__init__(path, info, video.audio, add_video)

    def write_frame(self, frame: Frame) -> None:
        self.output.write_video(lambda: self.encoder.encode(frame), "encode the video")

    def close(self) -> None:
        self.output.close(lambda: self.output.mux_video(self.encoder.encode(None)))
