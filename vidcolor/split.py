"""A film cut for workers: its segments as jobs any pool runs (local processes or a Ray cluster),
and the join of what comes back; both ``vidcolor.parallel`` (one film) and ``vidcolor.cluster`` (a
folder's long films) plan and finish films this way."""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from .decode import VideoReader, film_seconds
from .errors import VideoError
from .join import join_segments
from .options import VideoOptions
from .segments import (MAX_SHARE, plan_segments, remove_segments, scan_film, segment_path, segment_token,
                       warmup_frames)
from .shots import ShotMap
from .tempfiles import TEMP_MARKER
from .workers import SegmentJob


@dataclass
class FilmSplit:
    """One film's plan: its segments as jobs for any pool, and what the join needs."""
    src: Path
    dst: Path
    frames: int
    plan: list
    jobs: list
    token: str
    duration: float
    why_not: str | None  # why the film is one whole job, or None

    @property
    def whole(self) -> bool:
        return self.plan[0].number is None

    def failure(self, number: int, reason: str) -> str:
        """A job's failure as the film's one-line reason."""
        if self.whole:
            return reason
        seg = self.plan[number]
        return f"segment {number} (frames {seg.start} to {seg.end - 1}): {reason}"

    def finish(self, results: list, audio: bool) -> None:
        """Check the segments hold every frame, then join them into the output."""
        written = sum(r.frames for r in results)
        if written != self.frames:
            raise VideoError(f"{self.src}: the segments hold {written} frames but the film has {self.frames}; "
                             "nothing written")
        if not self.whole:
            join_segments(self.src, self.dst, results, audio=audio)

    def clean(self) -> None:
        """Remove every segment file, and the output's temporary where a worker wrote it whole."""
        remove_segments(self.dst, self.token)
        if self.whole:
            for path in self.dst.parent.glob(f".{glob.escape(self.dst.name + TEMP_MARKER)}*"):
                path.unlink(missing_ok=True)


def split_film(src, dst, segment_seconds: float, video: VideoOptions) -> FilmSplit:
    """Scan the film's packets (no decoding) and plan its segments as jobs for a pool."""
    src, dst = Path(src), Path(dst)
    reader = VideoReader(src)
    try:
        info = reader.info
        index = scan_film(reader)
    finally:
        reader.close()
    if not index.frames:
        raise VideoError(f"{src}: no video frames could be decoded")
    shot_starts = ()
    if video.keyframes is not None:
        shots = ShotMap.read(video.keyframes)
        shots.check_film(index.frames, info.width, info.height, src)
        shot_starts = [shot.first_frame for shot in shots.shots]
    plan = plan_segments(index, segment_seconds, warmup_frames(video.smoothing), shot_starts)
    token = segment_token()
    jobs = [SegmentJob(str(src), str(dst if seg.number is None else segment_path(dst, token, seg.number)), seg, video)
            for seg in plan]
    duration = film_seconds(int(index.pts[0]), int(index.pts[-1]), info.time_base or index.time_base, info.rate)
    why_not = index.why_not
    if plan[0].number is None and why_not is None:
        why_not = ("it lasts less than 1.5 segments" if duration < MAX_SHARE * segment_seconds else
                   "it has no keyframe to start a segment at")
    return FilmSplit(src, dst, index.frames, plan, jobs, token, duration, why_not)
