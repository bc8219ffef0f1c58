"""One film cut into segments that workers colour apart: the plan (a worker's work on one is
``vidcolor.video.colorize_segment``).

The driver reads the video stream's packets once without decoding them (``scan_film``): every
frame's pts and which frames are the codec's sync frames (the source's own "keyframes", IDR or
I-frames: where a decoder can start; not the keyframes a person colours, ``vidcolor.keyframes``).
``plan_segments`` cuts the frame range into pieces of about ``seconds``: at a shot start where the
film's shot map is known (``--keyframes``), else at a sync frame. Encoders put a sync frame at
most scene cuts, so most boundaries fall on a cut either way.

No colour may jump at a boundary. A worker decodes from the sync frame
before its segment, drops what precedes it, and colours ``warmup`` frames before its first one
that it does not write: they run the cut rule and the smoother exactly as the local run does on
those frames. Where the boundary is a cut the smoother starts afresh there in both runs; inside a
shot its history converges onto the local run's: each frame keeps ``strength`` of the difference,
so ``warmup_frames`` leaves less than ``SETTLED`` of it. A shot-map boundary needs no warm-up (the
local run resets the smoother at every shot). Each segment is encoded with the output's encoder
settings to a temporary file beside the output, and the encoder's own pts/dts come back with it
for the join (``vidcolor.join``).
"""
from __future__ import annotations

import bisect
import glob
import math
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tempfiles import TEMP_MARKER, owner

SETTLED = 1e-3  # share of a warm-up's starting difference left at the segment's first frame
MIN_SHARE, MAX_SHARE = 0.5, 1.5  # a segment lasts between these shares of --segment-seconds, where it can


def warmup_frames(strength: float) -> int:
    """Frames before a boundary inside a shot that steady the smoother: each keeps ``strength`` of
    the difference from the local run's history, so after these less than ``SETTLED`` is left."""
    if strength <= 0:
        return 0
    return math.ceil(math.log(SETTLED) / math.log(strength))


@dataclass(frozen=True)
class FilmIndex:
    """What the video stream's packets tell without decoding: every frame's pts in display order,
    and the frames a decoder can start from."""
    pts: np.ndarray  # int64, sorted, one per frame
    sync_frames: list[int]  # frame numbers of the codec's sync frames (where decoding can start), ascending
    time_base: float  # seconds per pts unit
    why_not: str | None = None  # why the film cannot be split, or None

    @property
    def frames(self) -> int:
        return len(self.pts)

    def seconds(self, frame: int) -> float:
        return float(self.pts[frame] - self.pts[0]) * self.time_base


def scan_film(reader) -> FilmIndex:
    """Read the video packets of an open ``vidcolor.decode.VideoReader`` (no decoding), and leave it
    at the start again."""
    container, stream = reader.container, reader.stream
    pts, keys, missing = [], [], 0
    for packet in container.demux(stream):
        if not packet.size:
            continue
        if packet.pts is None:
            missing += 1
            continue
        if packet.is_keyframe:
            keys.append(packet.pts)
        pts.append(packet.pts)
    container.seek(0)
    order = np.sort(np.asarray(pts, dtype=np.int64))
    why_not = None
    if container.format.name == "avi":
        why_not = "an AVI's frames take their times while they are decoded"
    elif missing:
        why_not = f"{missing} of its frames come without a timestamp"
    elif len(order) and (np.diff(order) <= 0).any():
        why_not = "two of its frames share a timestamp"
    elif not keys:
        why_not = "it has no keyframes to start a segment at"
    sync = sorted(set(np.searchsorted(order, keys).tolist()))
    return FilmIndex(order, sync, float(reader.info.time_base or 0) or 1.0, why_not)


@dataclass(frozen=True)
class Segment:
    """Frames ``start`` .. ``end`` - 1 of the film, written; ``warmup`` frames before them coloured
    only; decoding starts at the sync frame at ``seek_pts``. ``first_pts`` (the first warm-up
    frame's) and ``end_pts`` (the next segment's first frame's; None: to the end) bound the frames by time.
    ``number`` None: the whole film in one piece, written straight to the output (a film that
    cannot be split)."""
    number: int | None
    start: int
    end: int
    warmup: int = 0
    seek_pts: int = 0
    first_pts: int = 0
    end_pts: int | None = None

    @property
    def frames(self) -> int:
        return self.end - self.start


def plan_segments(index: FilmIndex, seconds: float, warmup: int, shot_starts=()) -> list[Segment]:
    """Cut the film into segments of about ``seconds``: each boundary a shot start (from
    ``shot_starts``) where one lies within ``MIN_SHARE``..``MAX_SHARE`` of the target, else the
    sync frame nearest the target, else the first one after it. A boundary inside a shot
    gets ``warmup`` frames before it. A film that cannot be split is one whole segment."""
    n = index.frames
    if index.why_not or n < 2:
        return [Segment(None, 0, n)]
    cuts = {int(c) for c in shot_starts if 0 < c < n}
    candidates = sorted(cuts | {k for k in index.sync_frames if 0 < k < n})
    times = [index.seconds(c) for c in candidates]
    bounds = [0]
    while True:
        here = index.seconds(bounds[-1])
        if index.seconds(n - 1) - here < MAX_SHARE * seconds:
            break  # the rest is one segment
        lo = bisect.bisect_right(times, here + MIN_SHARE * seconds - 1e-9)
        hi = bisect.bisect_right(times, here + MAX_SHARE * seconds)
        window = [c for c in candidates[lo:hi] if c > bounds[-1]]
        target = here + seconds
        pool = [c for c in window if c in cuts] or window
        if pool:
            bounds.append(min(pool, key=lambda c: abs(index.seconds(c) - target)))
        elif hi < len(candidates):
            bounds.append(candidates[hi])
        else:
            break
    if len(bounds) == 1:  # nowhere to split: the whole film to one worker
        return [Segment(None, 0, n)]
    bounds.append(n)
    segments = []
    for number, (start, end) in enumerate(zip(bounds, bounds[1:])):
        warm = 0 if start == 0 or start in cuts else min(warmup, start)
        first = start - warm
        key = bisect.bisect_right(index.sync_frames, first) - 1
        seek = index.sync_frames[key] if key >= 0 else 0
        segments.append(Segment(number, start, end, warm, int(index.pts[seek]), int(index.pts[first]),
                                int(index.pts[end]) if end < n else None))
    return segments


def segment_token() -> str:
    """A run's segment files' mark: the driver as their owner (vidcolor.tempfiles: a later run
    removes them if the driver is gone) and a random part (two runs of one driver differ)."""
    return f"{owner()}-{secrets.token_hex(4)}"


def segment_path(dst: Path, token: str, number: int) -> Path:
    """A segment's temporary file: beside the output, hidden, in the output's own container."""
    return dst.with_name(f".{dst.name}{TEMP_MARKER}{token}-segment-{number:04d}{dst.suffix}")


def remove_segments(dst: Path, token: str) -> int:
    """Remove every segment file of the run ``token`` beside ``dst`` (and what a killed worker left
    half-written); returns how many."""
    removed = 0
    for path in dst.parent.glob(f"*{glob.escape(dst.name + TEMP_MARKER + token)}-segment-*"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


@dataclass
class SegmentResult:
    """What a worker hands back: its segment's file, and the encoder's (pts, dts, duration) of every
    packet in it, in the source's time base and in the file's packet order."""
    number: int | None
    path: str
    timestamps: np.ndarray  # N x 3 int64
    frames: int
    rotation: int = 0
    notes: tuple[str, ...] = ()  # what the worker warned of
