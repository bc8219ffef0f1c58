"""What a folder run has to do, here (``vidcolor.folder``) or on a cluster (``vidcolor.cluster``):
the files of a tree, each with its output in the mirrored tree, and the summary of the run.

Media are recognised by content (OpenCV or PyAV can open them), not only by extension. Outputs
that exist are skipped, so a rerun resumes; every output is written under a temporary name in its
destination folder and renamed when complete, and stale temporaries are removed at start.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImageError, VideoError
from .files import one_line
from .mediakind import media_kind
from .options import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, FolderOptions, VideoOptions, output_name
from .shots import SHOTS_FILE
from .tempfiles import TEMP_MARKER, sweep

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


@dataclass
class FolderSummary:
    done: list[str] = field(default_factory=list)  # relative paths of inputs colourized
    skipped: list[str] = field(default_factory=list)  # output already there
    failed: list[tuple[str, str]] = field(default_factory=list)  # (relative path, one-line reason)
    ignored: list[str] = field(default_factory=list)  # not images or videos (a README, say)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (relative path, what the user should know)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def found(self) -> bool:
        """Whether the folder held any photo or video at all (done, skipped or failed)."""
        return bool(self.done or self.skipped or self.failed)


def scan(src: Path, exclude: Path | None, include_hidden: bool = False) -> list[Path]:
    """Files under ``src`` in a stable order, leaving out ``exclude`` (an output folder inside it),
    vidcolor's temporaries and, unless ``include_hidden``, entries whose name starts with a dot."""
    files = []
    for folder, dirs, names in os.walk(src):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (exclude is None or (here / d).resolve() != exclude)
                         and (include_hidden or not d.startswith(".")))
        files.extend(here / n for n in sorted(names)
                     if TEMP_MARKER not in n and (include_hidden or not n.startswith(".")))
    return files


def clean_temporaries(dst: Path) -> int:
    """Remove the temporaries that runs no longer alive left anywhere under ``dst`` (the owner-aware
    sweep, ``vidcolor.tempfiles``: another live run's, here or on another machine, are never
    touched); returns how many."""
    removed = 0
    for folder, dirs, _ in os.walk(dst):
        dirs[:] = [d for d in dirs if TEMP_MARKER not in d]
        removed += len(sweep(folder, again=True))
    return removed


def output_path(rel: Path, kind: str, dst: Path, image_format: str | None, video_ext: str | None) -> Path:
    """Where the output of ``rel`` goes (``options.output_name``)."""
    return dst / rel.parent / output_name(rel.name, kind, image_format, video_ext)


def prepare_output(src: Path, dst: Path) -> None:
    """Check SRC and DST, create DST and remove temporaries a killed run left there."""
    if not src.is_dir():
        raise ImageError(f"{src}: not a folder")
    if src.resolve() == dst.resolve():
        raise ImageError(f"{dst}: the output folder must differ from the input folder")
    if dst.exists() and not dst.is_dir():
        raise ImageError(f"{dst}: exists and is not a folder")
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ImageError(f"{dst}: cannot create the output folder ({err.strerror})") from None
    if not os.access(dst, os.W_OK | os.X_OK):
        raise ImageError(f"{dst}: output folder is not writable")
    clean_temporaries(dst)


def plan_folder(src: Path, dst: Path, options: FolderOptions,
                summary: FolderSummary) -> tuple[list[tuple[str, Path, Path, str]], FolderSummary]:
    """What a folder run has to do: (relative name, input, output, 'image' or 'video') for each file
    to colourize; files that are not media, already done, or unusable go into ``summary`` now.
    A DST this run created is removed again when SRC holds no photo or video at all."""
    created = not dst.exists()
    prepare_output(src, dst)
    dst_inside = dst.resolve() if dst.resolve().is_relative_to(src.resolve()) else None
    jobs = []
    image_format, video_ext = options.image_format, options.video_ext
    for path in scan(src, dst_inside, options.include_hidden):
        rel = path.relative_to(src)
        try:
            kind = media_kind(path) if os.access(path, os.R_OK) else "unreadable"
            if kind is None and path.suffix.lower() in MEDIA_EXTENSIONS and path.stat().st_size == 0:
                raise ImageError("empty file (0 bytes)")  # what the same file alone is told
            if kind is None:
                if path.suffix.lower() in MEDIA_EXTENSIONS:
                    raise ImageError("not an image or video vidcolor can open (damaged, or another kind of file)")
                summary.ignored.append(str(rel))
                continue
            if kind == "unreadable":
                raise ImageError("permission denied (cannot read it)")
            if kind == "audio":
                raise VideoError("has no video stream (an audio-only file?)")
        except (ImageError, VideoError) as err:
            summary.failed.append((str(rel), one_line(err, path)))
            continue
        out = output_path(rel, kind, dst, image_format, video_ext)
        if out.suffix.lower() != path.suffix.lower() and not (image_format or video_ext):
            summary.notes.append((str(rel), f"written as {out.name}: vidcolor does not write {path.suffix} "
                                            f"{'pictures' if kind == 'image' else 'films'}"))
        if out.exists() and not options.overwrite:
            summary.skipped.append(str(rel))
            continue
        jobs.append((str(rel), path, out, kind))
    if created and not jobs and not summary.found:
        with contextlib.suppress(OSError):  # only ever an empty folder of this run's own
            dst.rmdir()
    return jobs, summary


def film_options(video: VideoOptions, rel: str) -> VideoOptions:
    """A folder run's VideoOptions for the film at ``rel``: its keyframe folder under the run's
    ``keyframes`` root is the one named like the film (``root/reels/a.mp4/``) where that holds a
    shot map; else none (that film is coloured automatically)."""
    if video.keyframes is None:
        return video
    folder = Path(video.keyframes) / rel
    return dataclasses.replace(video, keyframes=str(folder) if (folder / SHOTS_FILE).is_file() else None)


def folders_under(root: Path) -> set[str]:
    """Every folder under ``root`` (itself included) as it is now; empty where there is no root."""
    return {folder for folder, _, _ in os.walk(root)} if root.is_dir() else set()


def remove_new_empty_folders(root: Path, before: set[str]) -> None:
    """Remove the folders under ``root`` (itself included) that a run made (not in ``before``) and
    left empty: an interrupted or failed run leaves no empty folders of its own, a person's stay."""
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        if folder not in before:
            with contextlib.suppress(OSError):
                Path(folder).rmdir()
