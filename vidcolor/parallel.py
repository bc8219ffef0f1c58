"""One film over many workers: split, colour segment-parallel, join (``--jobs N`` and ``--ray``).

The driver scans the film's packets and plans its segments (``vidcolor.segments``), hands one job
per segment to a pool (local worker processes, ``vidcolor.pool``, or a Ray cluster,
``vidcolor.cluster.RayPool``: the same jobs, the same code path), and joins what comes back with the
source's audio, subtitles and metadata (``vidcolor.join``). A film that cannot be split (no
keyframes, frames without their own timestamps) goes to one worker whole. Nothing partial is left
on any failure or Ctrl-C: the segments are removed whatever happens, and the output appears only
when complete.
"""
from __future__ import annotations

import glob
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .decode import VideoReader, film_seconds
from .errors import VidcolorWarning, VideoError
from .join import join_segments
from .options import DEFAULT_SEGMENT_SECONDS, VideoOptions, check_segment_seconds
from .segments import (MAX_SHARE, plan_segments, remove_segments, scan_film, segment_path, segment_token,
                       warmup_frames)
from .shots import ShotMap
from .tempfiles import TEMP_MARKER, check_output
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


def colorize_video_parallel(pool, src, dst, video: VideoOptions | None = None, *,
                            segment_seconds: float = DEFAULT_SEGMENT_SECONDS, overwrite: bool = False,
                            progress: bool = True) -> dict:
    """Colourize the film ``src`` into ``dst`` on ``pool`` (a ``LocalPool`` or ``RayPool`` whose
    entry is ``vidcolor.workers.run_segment``), in segments of about ``segment_seconds``; the
    output is what ``colorize_video`` writes, frame for frame and packet for packet but for
    encoding. Returns a summary dict with the driver's own seconds (``split_seconds``,
    ``join_seconds``) beside the workers' (``colour_seconds``)."""
    video = video or VideoOptions()
    src, dst = Path(src), Path(dst)
    segment_seconds = check_segment_seconds(segment_seconds)
    check_output(src, dst, overwrite)
    if not dst.parent.is_dir():
        raise VideoError(f"{dst}: output folder {dst.parent} does not exist")
    started = time.perf_counter()
    split = split_film(src, dst, segment_seconds, video)
    split_seconds = time.perf_counter() - started
    bar = tqdm(total=split.frames, unit="frame", desc=src.name, disable=not progress, dynamic_ncols=True)
    results, notes = [], {}
    shown = [0] * len(split.jobs)  # frames of each job the bar counts: as reported, then as done

    def show(number: int, frames: int) -> None:
        bar.update(frames - shown[number])
        shown[number] = frames
        if len(split.jobs) > 1:
            bar.set_postfix_str(f"{len(results)}/{len(split.jobs)} segments", refresh=False)

    try:
        for number, status, value in pool.run(split.jobs):
            if status == "progress":  # frames written so far by a local worker
                show(number, shown[number] + value)
                continue
            if status == "retry":  # its worker died: it starts over
                show(number, 0)
                continue
            if status != "done":
                raise VideoError(f"{src}: {split.failure(number, value)}")
            results.append(value)
            notes.update(dict.fromkeys(value.notes))
            show(number, value.frames)
        colour_done = time.perf_counter()
        split.finish(results, video.audio)
    except BaseException:
        pool.terminate()
        raise
    finally:
        bar.close()
        split.clean()
    finished = time.perf_counter()
    for note in notes:
        warnings.warn(f"{src.name}: {note}", VidcolorWarning, stacklevel=2)
    return {"frames": split.frames, "segments": len(split.plan), "workers": min(pool.workers, len(split.plan)),
            "duration": split.duration, "split_seconds": split_seconds,
            "colour_seconds": colour_done - started - split_seconds, "join_seconds": finished - colour_done,
            "seconds": finished - started, "unsplit": split.why_not}
