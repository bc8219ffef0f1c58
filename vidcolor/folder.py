"""Batch folder mode: colourize a tree of photos and films into a mirrored tree, one file after
another in this process (``vidcolor.cluster`` spreads the same plan over a Ray cluster)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm import tqdm

from .colorizer import Colorizer
from .files import FILE_ERRORS, colorize_file, one_line
from .options import ENGINE_SETTINGS, FolderOptions, VideoOptions, split_settings
from .tree import FolderSummary, film_options, folders_under, plan_folder, remove_new_empty_folders

FOLDER_FIELDS = tuple(f.name for f in dataclasses.fields(FolderOptions))
__all__ = ["FolderSummary", "colorize_folder"]


def colorize_folder(model_or_colorizer, src, dst, options: FolderOptions | None = None, *,
                    video: VideoOptions | None = None, progress: bool = True, **settings) -> FolderSummary:
    """Colourize every image and video under ``src`` into the same tree under ``dst``.
    A file that fails is reported with its reason and the run goes on; returns the summary.
    On Ctrl-C the KeyboardInterrupt carries the summary so far as its ``summary`` attribute.
    What is done with the tree: ``options`` (a ``vidcolor.FolderOptions``) and/or its fields by
    name: ``image_format``, ``video_ext``, ``overwrite``, ``include_hidden`` (hidden files and
    folders, names starting with a dot, are left out unless asked for). How films are coloured
    and encoded: ``video`` (a ``vidcolor.VideoOptions``) and/or its fields by name (``crf=20``);
    there ``keyframes`` is a folder of keyframe folders, one per film at the film's relative path
    (``keyframes/reels/a.mp4/``, as ``vidcolor-keyframes SRC/ KEYFRAMES/`` makes them). The
    engine's settings by name too (``reference``: colour reference(s) for every file)."""
    engine, tree, film = split_settings(settings, ENGINE_SETTINGS, FOLDER_FIELDS)
    options = dataclasses.replace(options or FolderOptions(), **tree)  # keywords beside an object change it
    video = VideoOptions.of(video, **film)
    src, dst = Path(src), Path(dst)
    colorizer = Colorizer.of(model_or_colorizer, **engine)
    before = folders_under(dst)
    jobs, summary = plan_folder(src, dst, options, FolderSummary())
    settled = len(summary.failed) + len(summary.skipped)  # known before any work: the bar counts them too
    # no bar at all where there is nothing (an empty 0/0 bar before "no photo or video found")
    bar = tqdm(total=len(jobs) + settled, initial=settled, unit="file", desc="files",
               disable=not progress or not (jobs or settled),
               dynamic_ncols=True)
    try:
        for rel, path, out, kind in jobs:
            bar.set_postfix_str(rel[-40:])
            try:
                notes = colorize_file(colorizer, path, out, kind, film_options(video, rel), progress)
                summary.done.append(rel)
                summary.notes.extend((rel, note) for note in notes)
            except FILE_ERRORS as err:
                summary.failed.append((rel, one_line(err, path)))
            bar.update(1)
    except KeyboardInterrupt as err:
        err.summary = summary
        raise
    finally:
        bar.close()
        remove_new_empty_folders(dst, before)  # a DST this run made and wrote nothing to goes too
    return summary
