"""Films in through PyAV: a film described, its frames decoded with their timestamps.

The reader yields items in demux order: decoded video frames (RGB arrays, or the I420 planes of
8-bit 4:2:0 films) with repaired pts, and the packets of every other stream that should travel to
the output untouched (``vidcolor.encode`` writes them).
"""
from __future__ import annotations

import heapq
import os
import warnings
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .errors import VidcolorWarning, VideoError
from .planes import COLOR_BEYOND_TINT, COLOR_REPLACED, PLANAR_FORMATS, color_of_i420, color_of_rgb

HD_HEIGHT = 720  # untagged video at least this tall is taken as BT.709, smaller as BT.601
AVCOL_UNSPECIFIED = 2  # FFmpeg's "unspecified" for a matrix, primaries and transfer alike
AVCOL_SPC_BT709, AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_BT470BG = 1, AVCOL_UNSPECIFIED, 5  # FFmpeg AVColorSpace values
AVCOL_PRI_BT709, AVCOL_PRI_BT470BG = 1, 5
AVCOL_TRC_BT709, AVCOL_TRC_SMPTE170M = 1, 6
AVCOL_RANGE_UNSPECIFIED, AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG = 0, 1, 2
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
    index: int = -1  # the frame's number in display order, from 0
    warmup: bool = False  # decoded and coloured to steady the colour, not written (vidcolor.segments)


class ColorCheck:
    """Looks at one frame a second, the whole film through (a film may open on grey titles), and
    warns once where one holds colour: vidcolor keeps only its lightness and replaces its colours."""

    def __init__(self, info: VideoInfo, name: str):
        self.info, self.name = info, name
        self.every = max(1, round(float(info.rate))) if info.rate else 25
        self.found = False

    def __call__(self, frame: Frame) -> None:
        if self.found or frame.index % self.every:
            return
        color = (color_of_i420(frame.yuv, self.info.height, self.info.width) if frame.yuv is not None
                  else color_of_rgb(frame.rgb))
        if color > COLOR_BEYOND_TINT:
            self.found = True
            warnings.warn(f"{self.name}: is a colour film; {COLOR_REPLACED}", VidcolorWarning, stacklevel=2)


COVERED_DURATION = 0.9  # the decoded frames must cover this share of the duration a file declares ...
MISSING_SECONDS = 1.0  # ... unless less than this is missing (audio a little longer than the picture)
AVI_MISSING_FRAMES = 2  # an AVI's header counts its video frames: no more than this may be missing
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
        self.first: int | None = None  # the first pts handed out
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
        self.first = pts if self.first is None else self.first
        return pts


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
            raise VideoError(f"{self.path}: not a video FFmpeg can open ({reason(err)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path}: has no video stream (an audio-only file?)")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.info = self._describe()
        self.concealed = 0  # frames with decode errors the decoder concealed, and packets it dropped
        self.seconds = None  # the film's length (film_seconds) once items() has read it all

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
                         colorspace=int(cc.colorspace or AVCOL_UNSPECIFIED),
                         color_range=int(cc.color_range or AVCOL_RANGE_UNSPECIFIED),
                         color_primaries=int(cc.color_primaries or AVCOL_UNSPECIFIED),
                         color_trc=int(cc.color_trc or AVCOL_UNSPECIFIED),
                         sample_aspect_ratio=Fraction(s.sample_aspect_ratio) if s.sample_aspect_ratio else None,
                         other_streams=others)

    def items(self, passthrough=()) -> Iterator[Frame | av.Packet]:
        """Decoded frames (with repaired pts) and the packets of ``passthrough`` streams, in demux order."""
        wanted = [self.stream, *passthrough]
        repair = TimestampRepair(self._step())
        held: deque[Frame] = deque()  # frames waiting for their pts (TimestampRepair)
        decoded = carried = yielded = 0
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
                    held.append(self._frame(frame, 0))
                    if repair.push(frame.pts):
                        item = held.popleft()
                        item.pts, item.index = repair.pop(), yielded
                        yielded += 1
                        yield item
            while held:
                item = held.popleft()
                item.pts, item.index = repair.pop(), yielded
                yielded += 1
                yield item
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: damaged video ({reason(err)}); nothing written") from None
        # an AVI index holds a zero-length entry for each dropped frame of a variable-rate source:
        # the frames are the non-empty packets the container really carries, not its index entries
        expected = carried if self.container.format.name == "avi" else max(carried, self.info.frames
                                                                               if self.info.frames_exact else 0)
        # (nothing decoded from a file without a frame count: the caller's "no video frames could be decoded")
        if decoded < expected and (decoded or self.info.frames_exact):
            # a cut or corrupt file: refuse rather than write a film with frames missing
            raise VideoError(f"{self.path}: damaged video: only {decoded} of its {expected} frames "
                             "decode; nothing written")
        # a file cut short whose container counts no frames (Matroska, an AVI without its index)
        # still declares its duration: the frames must cover it
        span, declared, slack = self._span(repair), self.info.duration, MISSING_SECONDS
        self.seconds = span
        if self.container.format.name == "avi" and self.info.frames_exact and self.info.rate:
            # an AVI's header counts its frames (dropped ones too, whose times the others keep)
            declared, slack = float(self.info.frames / self.info.rate), float(AVI_MISSING_FRAMES / self.info.rate)
        if decoded and span is not None and declared and span < declared * COVERED_DURATION \
                and declared - span > slack:
            raise VideoError(f"{self.path}: damaged video: its frames cover {span:.2f} s of the "
                             f"{declared:.2f} s it declares (cut short?); nothing written")
        if self.concealed:
            warnings.warn(f"{self.path.name}: {self.concealed} of its {decoded} frames had decode errors that "
                          "the decoder concealed (damaged data); they are coloured as decoded", VidcolorWarning,
                          stacklevel=2)

    def segment(self, seek_pts: int, first_pts: int, end_pts: int | None, first_index: int) -> Iterator[Frame]:
        """The frames with ``first_pts`` <= pts < ``end_pts`` (None: to the end) in display order,
        numbered from ``first_index``: decoding starts at the source keyframe at ``seek_pts`` (or
        before it, ``_seek``) and drops what precedes ``first_pts``. For films whose every packet
        has its own pts (``vidcolor.segments.scan_film``), so the decoder's pts need no repair."""
        try:
            index, last = first_index, None
            for frame in self._seek(seek_pts, first_pts):
                if frame.pts is None or (last is not None and frame.pts <= last):
                    raise VideoError(f"{self.path}: frame {index} comes without its own timestamp; colourize "
                                     "it without --jobs/--ray")
                last = frame.pts
                if frame.pts < first_pts:
                    continue
                if end_pts is not None and frame.pts >= end_pts:
                    return
                if index == first_index and frame.rotation:
                    self.info.rotation = int(frame.rotation)
                yield self._frame(frame, frame.pts, index)
                index += 1
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: damaged video ({reason(err)}); nothing written") from None

    def _seek(self, seek_pts: int, first_pts: int):
        """Decoded frames from a clean start (a keyframe, or the film's first frame) at or before
        ``first_pts``. Containers without an index (MPEG-TS) seek by estimate and may land after
        the keyframe asked for: then again from further back (1 s, 2 s, 4 s ...), and in the end
        from the film's start, which is slower but always right."""
        start = self.stream.start_time or 0
        margin = 0
        one_second = max(1, round(1 / self.info.time_base)) if self.info.time_base else 1
        while True:
            target = seek_pts - margin
            from_start = target <= start
            if from_start:
                self.container.seek(0)
            else:
                self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
            frames = (frame for packet in self.container.demux(self.stream) for frame in self._decode(packet))
            # an open GOP's leading frames (before its keyframe in display order) are broken: skip them
            first = next((f for f in frames if f.key_frame or from_start), None)
            if first is None:
                return
            if first.pts is not None and first.pts <= first_pts:
                yield first
                yield from frames
                return
            if from_start:
                raise VideoError(f"{self.path}: cannot start decoding at frame 0 (the decoder's first frame has pts "
                                 f"{first.pts}); colourize it without --jobs/--ray")
            margin = max(one_second, 2 * margin)

    def _span(self, repair: "TimestampRepair") -> float | None:
        """Seconds from the first frame's start to the last frame's end, or None without times."""
        if repair.first is None or repair.last is None or not self.info.time_base:
            return None
        return film_seconds(repair.first, repair.last, self.info.time_base, self.info.rate)

    def _decode(self, packet):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            self.concealed += 1
            return []  # a corrupt packet: the decoder conceals it or drops it, as players do
        self.concealed += sum(bool(getattr(f, "is_corrupt", False))
                              for f in frames)
        return frames

    def _step(self) -> int:
        """Nominal frame duration in time-base units, for frames that come without a pts."""
        if self.info.rate and self.info.time_base:
            return max(1, round(1 / (self.info.rate * self.info.time_base)))
        return 1

    def _frame(self, frame, pts: int, index: int = -1) -> Frame:
        """A decoded frame as vidcolor holds it: its I420 planes where ``planar`` takes it, else RGB."""
        if self.planar and frame.format.name in PLANAR_FORMATS and not (frame.width % 2 or frame.height % 2):
            return Frame(None, pts, yuv=frame.to_ndarray(), index=index)
        return Frame(self._to_rgb(frame), pts, index=index)

    def _to_rgb(self, frame) -> np.ndarray:
        return frame.to_ndarray(format="rgb24", src_colorspace=self.info.matrix,
                                src_color_range=self.info.range)

    def close(self) -> None:
        self.container.close()


def film_seconds(first_pts: int, last_pts: int, time_base, rate) -> float:
    """A film's length, the one definition vidcolor uses: from its first frame's start to its last
    frame's end, one frame at the nominal ``rate`` after the last pts. Frames an AVI or a
    variable-rate film repeats or leaves out count by their times, not their number."""
    return float((last_pts - first_pts) * Fraction(time_base)) + (float(1 / Fraction(rate)) if rate else 0.0)


def reason(err: Exception) -> str:
    """An FFmpeg or OS error as a short reason for a one-line message."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text).strip().splitlines()[0][:160]
