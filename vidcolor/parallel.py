"""One film over many workers: split, colour segment-parallel, join (``--jobs N`` and ``--ray``).

The driver scans the film's packets and plans its segments (``vidcolor.split``), hands one job
per segment to a pool (local worker processes, ``vidcolor.pool``, or a Ray cluster,
``vidcolor.cluster.RayPool``: the same jobs, the same code path), and joins what comes back with the
source's audio, subtitles and metadata (``vidcolor.join``). A film that cannot be split (no
keyframes, frames without their own timestamps) goes to one worker whole. Nothing partial is left
on any failure or Ctrl-C: the segments are removed whatever happens, and the output appears only
when complete.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

from tqdm import tqdm

from .errors import VidcolorWarning, VideoError
from .options import DEFAULT_SEGMENT_SECONDS, VideoOptions, check_segment_seconds
from .split import split_film
from .tempfiles import check_output


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
        color_done = time.perf_counter()
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
            "colour_seconds": color_done - started - split_seconds, "join_seconds": finished - color_done,
            "seconds": finished - started, "unsplit": split.why_not}
