"""The segments of a film joined into one output, with no re-encoding.

Every segment was encoded with the same settings and begins with a keyframe of its own, so its
packets follow the previous segment's as they are (the encoder's stream headers must be the same
in all of them, and are checked). Each packet takes the pts, dts and duration its encoder gave it,
carried beside the file (``SegmentResult.timestamps``): the segment's container need not keep
them (Matroska hands back no dts for the first packets; a muxer shifts a segment whose first dts is
negative). The audio, subtitles and metadata come from the source once, through the same
``OutputFile`` routes as a local run, interleaved with the video by time.
"""
from __future__ import annotations

import heapq
import os
from fractions import Fraction

import av

from .decode import VideoInfo, VideoReader, reason
from .encode import OutputWriter
from .errors import VideoError
from .segments import SegmentResult


class SegmentJoiner(OutputWriter):
    """An ``OutputFile`` whose video stream copies encoded packets (``write_video_packet``) from
    streams like ``template`` instead of encoding frames; the source's other streams go through
    the file's router as in a local run."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo, template, audio: bool = True):
        def add_video(output):
            stream = output.container.add_stream_from_template(template)
            stream.time_base = info.time_base
            # the frame rate a local run's stream gets: muxers derive the last frame's duration (and
            # so the film's) and the average rate from it; a segment file's template has none of its own
            if info.rate:
                stream.codec_context.framerate = info.rate
            return stream
        super().__init__(path, info, audio, add_video)

    def write_video_packet(self, packet: av.Packet) -> None:
        def copied():
            packet.stream = self.output.stream
            return [packet]
        self.output.write_video(copied, "write the video")

    def close(self) -> None:
        self.output.close()  # nothing held in an encoder


def _segment_packets(results: list[SegmentResult], time_base: Fraction, opened: list, frame_ticks: int = 0):
    """The segments' video packets in order, each with its encoder's timestamps; checks that every
    segment has the first one's stream headers and that decode times keep increasing. The film's
    last packet and last frame, which an encoder given no frame durations leaves at 0, last
    ``frame_ticks`` (one frame at the film's rate): what a muxer gives them in a local run, so the
    film is not a frame short."""
    last_dts = None
    for number, result in enumerate(results):
        # the film's last packet in decode order and its last frame in display order (B-frames)
        ends = {len(result.timestamps) - 1, int(result.timestamps[:, 0].argmax())} if (
            number == len(results) - 1 and len(result.timestamps)) else set()
        try:
            container = av.open(result.path)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(f"segment {result.number}: cannot read {result.path} ({reason(err)})") from None
        opened.append(container)
        stream = container.streams.video[0]
        if stream.codec_context.extradata != opened[0].streams.video[0].codec_context.extradata:
            raise VideoError(f"segment {result.number}: its encoder wrote other stream headers than segment 0's; "
                             "the segments cannot be joined (colourize without --jobs/--ray)")
        count = 0
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if count >= len(result.timestamps):
                raise VideoError(f"segment {result.number}: {result.path} holds more packets than were encoded")
            pts, dts, duration = (int(v) for v in result.timestamps[count])
            if last_dts is not None and dts <= last_dts:
                raise VideoError(f"segment {result.number}: its first decode time does not follow the previous "
                                 "segment's (a variable frame rate?); colourize without --jobs/--ray")
            if count in ends and not duration:
                duration = frame_ticks
            packet.pts, packet.dts, packet.duration, packet.time_base = pts, dts, duration, time_base
            last_dts = dts
            count += 1
            yield float(dts * time_base), packet
        if count != len(result.timestamps):
            raise VideoError(f"segment {result.number}: {result.path} holds {count} of the {len(result.timestamps)} "
                             "packets encoded (cut short?)")
        container.close()


def _source_packets(reader: VideoReader, streams):
    """The source's packets of ``streams`` (audio, subtitles) in demux order, with their times."""
    if not streams:
        return
    for packet in reader.container.demux(streams):
        if not packet.size:
            continue
        when = packet.dts if packet.dts is not None else packet.pts
        yield (float(when * packet.time_base) if when is not None and packet.time_base else 0.0), packet


def join_segments(src, dst, results: list[SegmentResult], audio: bool = True) -> dict:
    """Write ``dst`` from the segments' video (``results`` in film order) and the source's other
    streams; the output appears only when complete. Returns packet counts."""
    results = sorted(results, key=lambda r: r.number)
    reader = VideoReader(src)
    opened: list = []
    try:
        info = reader.info
        info.rotation = results[0].rotation
        try:
            template = av.open(results[0].path)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(f"segment 0: cannot read {results[0].path} ({reason(err)})") from None
        opened.append(template)
        writer = SegmentJoiner(dst, info, template.streams.video[0], audio=audio)
        try:
            ticks = round(1 / (info.rate * info.time_base)) if info.rate and info.time_base else 0
            video = _segment_packets(results, info.time_base, opened, ticks)
            others = _source_packets(reader, writer.passthrough)
            copied = 0
            for _, packet in heapq.merge(video, others, key=lambda item: item[0]):
                if packet.stream.type == "video":
                    writer.write_video_packet(packet)
                else:
                    writer.write_packet(packet)
                    copied += 1
        except BaseException:
            writer.abort()
            raise
        writer.close()
    finally:
        for container in opened:
            container.close()
        reader.close()
    return {"frames": writer.frames_written, "packets_copied": copied}

