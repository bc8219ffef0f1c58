"""Films in and out through PyAV: frames with their timestamps in, encoded frames and copied streams out.

The reader yields items in demux order: decoded video frames as RGB arrays with repaired pts, and
the packets of every other stream that should travel to the output untouched. The writer encodes
frames with their source pts in the source time base, copies those packets through streams made
from their templates, and writes to a temporary name that is renamed only by ``close()``.
"""
from __future__ import annotations

import heapq
import io
import os
from collections import deque
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .errors import VidcolorWarning, VideoError
from .options import CONTAINER_FORMATS, default_codec
from .planes import PLANAR_FORMATS

HD_HEIGHT = 720  # untagged video at least this tall is taken as BT.709, smaller as BT.601
AVCOL_SPC_BT709, AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_BT470BG = 1, 2, 5  # FFmpeg AVColorSpace values
AVCOL_PRI_BT709, AVCOL_PRI_BT470BG = 1, 5
AVCOL_TRC_BT709, AVCOL_TRC_SMPTE170M = 1, 6
AVCOL_RANGE_UNSPECIFIED, AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG = 0, 1, 2
# codecs a copy may carry, where the muxer's own check lets through some it then fails on at the
# trailer (PCM in mp4); containers not listed are asked with a dry run
COPYABLE = {"mp4": {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac", "mp2", "mov_text"},
            "webm": {"opus", "vorbis", "webvtt"}}
FALLBACK_AUDIO = {"webm": "libopus"}  # re-encode target where the container refuses a codec; else AAC
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)  # the only sample rates libopus takes; others go to 48 kHz
NAMED_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


@dataclass
class VideoInfo:
    width: int
    height: int
    time_base: Fraction  # the stream's; output pts are written in it
    rate: Fraction | None  # nominal frames per second, exact (30000/1001 stays that)
    frames: int  # frame count from the container, or an estimate from the duration
    frames_exact: bool
    duration: float | None  # seconds
    rotation: int = 0  # counter-clockwise degrees from the display matrix
    colorspace: int = AVCOL_SPC_UNSPECIFIED
    color_range: int = AVCOL_RANGE_UNSPECIFIED
    color_primaries: int = 2
    color_trc: int = 2
    sample_aspect_ratio: Fraction | None = None
    codec: str = ""
    other_streams: list = field(default_factory=list)  # audio and subtitle streams of the input

    @property
    def matrix(self) -> int:
        """The YUV<->RGB matrix: the tagged one, else BT.709 for HD and BT.601 below."""
        if self.colorspace not in (AVCOL_SPC_UNSPECIFIED, 0, 3):
            return self.colorspace
        return AVCOL_SPC_BT709 if self.height >= HD_HEIGHT else AVCOL_SPC_BT470BG

    @property
    def range(self) -> int:
        return self.color_range if self.color_range in (AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG) else AVCOL_RANGE_MPEG


@dataclass
class Frame:
    rgb: np.ndarray | None  # HxWx3 uint8, or None for a planar frame
    pts: int  # in VideoInfo.time_base, repaired to increase strictly
    yuv: np.ndarray | None = None  # (3H/2)xW uint8 I420 planes (PyAV's yuv420p layout) instead of RGB


REORDER_DEPTH = 4  # frames held back while their pts are put in order: more than packed B-frames swap


class TimestampRepair:
    """Makes decoded pts strictly increasing without dropping or inventing frames. Frames arrive
    in display order, but not always with their own pts: an AVI with packed B-frames (DivX) hands
    out the packets' pts, so neighbours come with swapped times (0.042, 0.083, 0.125, 0.209,
    0.167, 0.250 ...). The times are right, their order is not: the k-th frame gets the k-th
    smallest pts, taken from a window of ``REORDER_DEPTH`` frames (``push`` then ``pop``; ``pop``
    without a push at the end). A missing pts is the largest so far plus the nominal frame step;
    a repeated one is moved just after the previous frame."""

    def __init__(self, step: int, depth: int = REORDER_DEPTH):
        self.step = step
        self.depth = depth
        self.last: int | None = None  # the last pts handed out
        self.largest: int | None = None  # the largest pts seen
        self.window: list[int] = []  # a heap

    def push(self, pts: int | None) -> bool:
        """Take one frame's pts; True when a frame is due (``pop``)."""
        if pts is None:
            pts = 0 if self.largest is None else self.largest + self.step
        self.largest = pts if self.largest is None else max(self.largest, pts)
        heapq.heappush(self.window, pts)
        return len(self.window) > self.depth

    def pop(self) -> int:
        """The pts of the oldest frame held: the smallest in the window, strictly after the last."""
        pts = heapq.heappop(self.window)
        if self.last is not None and pts <= self.last:
            pts = self.last + 1
        self.last = pts
        return pts

    def __call__(self, pts: int | None) -> int:
        """One frame in, its pts out, with no window (frames whose pts are in order)."""
        self.push(pts)
        return self.pop()


class VideoReader:
    """Opens a video, describes it, and yields its frames and passthrough packets in order.
    With ``planar`` an 8-bit 4:2:0 frame of even size comes as its I420 planes (``Frame.yuv``),
    untouched; any other frame (10-bit, 4:2:2, 4:4:4, RGB codecs, palettes, odd sizes) as RGB."""

    def __init__(self, path: str | os.PathLike, planar: bool = False):
        self.path = Path(path)
        self.planar = planar
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        if not os.access(self.path, os.R_OK):
            raise VideoError(f"{self.path}: permission denied (cannot read it)")
        if self.path.stat().st_size == 0:
            raise VideoError(f"{self.path}: empty file (0 bytes)")
        try:
            self.container = av.open(str(self.path), mode="r")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
            raise VideoError(f"{self.path}: not a video FFmpeg can open ({_reason(err)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path}: has no video stream (an audio-only file?)")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.info = self._describe()

    def _describe(self) -> VideoInfo:
        s, cc = self.stream, self.stream.codec_context
        rate = s.average_rate or s.guessed_rate or s.base_rate
        rate = Fraction(rate) if rate else None
        duration = None
        if s.duration is not None and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self.container.duration:
            duration = self.container.duration / av.time_base
        frames, exact = int(s.frames or 0), bool(s.frames)
        if not exact and duration and rate:
            frames = int(round(duration * rate))
        others = [t for t in self.container.streams if t.type in ("audio", "subtitle")]
        return VideoInfo(width=cc.width, height=cc.height, time_base=Fraction(s.time_base), rate=rate,
                         frames=frames, frames_exact=exact, duration=duration,
                         colorspace=int(cc.colorspace or 2), color_range=int(cc.color_range or 0),
                         color_primaries=int(cc.color_primaries or 2), color_trc=int(cc.color_trc or 2),
                         sample_aspect_ratio=Fraction(s.sample_aspect_ratio) if s.sample_aspect_ratio else None,
                         codec=cc.name, other_streams=others)

    def items(self, passthrough=()) -> Iterator[Frame | av.Packet]:
        """Decoded frames (with repaired pts) and the packets of ``passthrough`` streams, in demux order."""
        wanted = [self.stream, *passthrough]
        repair = TimestampRepair(self._step())
        held: deque[Frame] = deque()  # frames waiting for their pts (TimestampRepair)
        decoded = carried = 0
        try:
            for packet in self.container.demux(wanted):
                if packet.stream.index != self.stream.index:
                    if packet.size:
                        yield packet
                    continue
                carried += bool(packet.size)
                for frame in self._decode(packet):
                    if not decoded and frame.rotation:
                        self.info.rotation = int(frame.rotation)
                    decoded += 1
                    if self.planar and frame.format.name in PLANAR_FORMATS and not (frame.width % 2 or frame.height % 2):
                        held.append(Frame(None, 0, yuv=frame.to_ndarray()))
                    else:
                        held.append(Frame(self._to_rgb(frame), 0))
                    if repair.push(frame.pts):
                        item = held.popleft()
                        item.pts = repair.pop()
                        yield item
            while held:
                item = held.popleft()
                item.pts = repair.pop()
                yield item
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: damaged video ({_reason(err)}); nothing written") from None
        # an AVI index holds a zero-length entry for each dropped frame of a variable-rate source:
        # the frames are the non-empty packets the container really carries, not its index entries
        expected = carried if self.container.format.name == "avi" else max(carried, self.info.frames
                                                                               if self.info.frames_exact else 0)
        # (nothing decoded from a file without a frame count: the caller's "no video frames could be decoded")
        if decoded < expected and (decoded or self.info.frames_exact):
            # a cut or corrupt file: refuse rather than write a film with frames missing
            raise VideoError(f"{self.path}: damaged video: only {decoded} of its {expected} frames "
                             "decode; nothing written")

    def _decode(self, packet):
        try:
            return packet.decode()
        except av.error.InvalidDataError:
            return []  # a corrupt packet: the decoder conceals it or drops it, as players do

    def _step(self) -> int:
        """Nominal frame duration in time-base units, for frames that come without a pts."""
        if self.info.rate and self.info.time_base:
            return max(1, round(1 / (self.info.rate * self.info.time_base)))
        return 1

    def _to_rgb(self, frame) -> np.ndarray:
        return frame.to_ndarray(format="rgb24", src_colorspace=self.info.matrix,
                                src_color_range=self.info.range)

    def close(self) -> None:
        self.container.close()


def _reason(err: Exception) -> str:
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text).strip().splitlines()[0][:160]


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


def encoder_options(codec: str, crf: int, preset: str) -> dict[str, str]:
    """The options vidcolor opens a video encoder with."""
    options = {"crf": str(crf)}
    if codec in ("libx264", "libx265"):
        options["preset"] = preset
    if codec == "libx264":
        # with x264's macroblock-tree rate control the same frames encode to different bitstreams
        # from run to run (valgrind: an uninitialised stack value read where a side is not a
        # multiple of 16; at 320x240 5 of 8 encodes of one film differed); without it every
        # encode is reproducible. At crf 18 files are ~1.5x larger and 0.2 dB better; crf 20
        # gives about mb-tree's size and quality (benchmarks/README.md)
        options["x264-params"] = "mbtree=0"
    if codec == "libx265":  # x265 prints its banner and statistics straight to stderr otherwise
        options["x265-params"] = "log-level=error"
    if codec == "libvpx-vp9":
        options.update({"b": "0", "row-mt": "1"})
    return options


def zero_row_padding(frame: av.VideoFrame) -> av.VideoFrame:
    """Zero the bytes of each plane's rows beyond the picture's width (its line size is aligned
    wider), in place. libx264 reads past the width when it copies a frame in, so padding left as
    whatever memory held before made the same frames encode to different bitstreams from run to
    run. For 8-bit formats, where a plane's width is its width in bytes."""
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        rows[:, plane.width:] = 0
    return frame


class VideoWriter:
    """Encodes RGB frames at their source pts and copies other streams, into a temporary file
    renamed onto ``path`` by ``close()``; ``abort()`` removes it."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo, codec: str | None = None, crf: int = 18,
                 preset: str = "medium", audio: bool = True):
        self.path = Path(path)
        self.info = info
        fmt = container_format(self.path)
        if not self.path.parent.is_dir():
            raise VideoError(f"{self.path}: output folder {self.path.parent} does not exist")
        self.tmp = self.path.with_name(f".{self.path.name}.vidcolor-tmp-{os.getpid()}{self.path.suffix}")
        try:
            self.container = av.open(str(self.tmp), mode="w", format=fmt)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(f"{self.path}: cannot write output ({_reason(err)})") from None
        try:
            self.stream = self._add_video(codec or default_codec(self.path.suffix), crf, preset)
            self.routes = self._add_others(fmt, info.other_streams if audio else
                                           [s for s in info.other_streams if s.type != "audio"])
        except BaseException:
            self.abort()
            raise
        self.frames_written = 0
        self.early_packets: list = []  # packets that arrive before the first frame: the header waits for it

    @property
    def passthrough(self) -> list:
        """Input streams whose packets the reader should hand over."""
        return [s for s in self.info.other_streams if s.index in self.routes]

    def _add_video(self, codec: str, crf: int, preset: str):
        info = self.info
        options = encoder_options(codec, crf, preset)
        try:
            stream = self.container.add_stream(codec, rate=info.rate or Fraction(25), options=options)
        except (av.error.FFmpegError, ValueError) as err:
            raise VideoError(f"{self.path}: cannot encode with '{codec}' ({_reason(err)})") from None
        stream.width, stream.height = info.width + info.width % 2, info.height + info.height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = info.time_base
        cc = stream.codec_context
        cc.time_base = info.time_base
        cc.colorspace = info.matrix
        cc.color_range = info.range
        hd = info.matrix == AVCOL_SPC_BT709
        cc.color_primaries = info.color_primaries if info.color_primaries != 2 else (
            AVCOL_PRI_BT709 if hd else AVCOL_PRI_BT470BG)
        cc.color_trc = info.color_trc if info.color_trc != 2 else (AVCOL_TRC_BT709 if hd else AVCOL_TRC_SMPTE170M)
        if info.sample_aspect_ratio:
            stream.sample_aspect_ratio = info.sample_aspect_ratio
        return stream

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

    def write_frame(self, frame: Frame) -> None:
        try:
            self._write_frame(frame)
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: cannot encode the video ({_reason(err)})") from None

    def _write_frame(self, frame: Frame) -> None:
        if self.frames_written == 0 and self.info.rotation:
            self.stream.set_display_rotation(self.info.rotation)
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
        for packet in self.stream.encode(out):
            self.container.mux(packet)
        self.frames_written += 1
        if self.early_packets:
            for packet in self.early_packets:
                self._write_packet(packet)
            self.early_packets.clear()

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
            raise VideoError(f"{self.path}: cannot write stream {packet.stream.index} ({_reason(err)})") from None

    def _copy_packet(self, packet: av.Packet) -> None:
        out, decoder, resampler = self.routes[packet.stream.index]
        if decoder is None:
            packet.stream = out
            self.container.mux(packet)
            return
        for frame in decoder.decode(packet):
            frame.pts = None  # the encoder counts samples itself
            for chunk in resampler.resample(frame):
                for encoded in out.encode(chunk):
                    self.container.mux(encoded)

    def close(self) -> None:
        """Flush the encoders, finish the file and move it into place."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            for out, decoder, resampler in self.routes.values():
                if decoder is not None:  # re-encoded audio: what the resampler holds, then the encoder
                    for chunk in [*resampler.resample(None), None]:
                        for packet in out.encode(chunk):
                            self.container.mux(packet)
            self.container.close()
            os.replace(self.tmp, self.path)
        except av.error.FFmpegError as err:
            self.abort()
            raise VideoError(f"{self.path}: cannot finish the output ({_reason(err)})") from None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass
        self.tmp.unlink(missing_ok=True)
