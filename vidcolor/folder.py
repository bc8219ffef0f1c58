"""Batch folder mode: colourize a tree of photos and films into a mirrored tree.

Media are recognised by content (OpenCV or PyAV can open them), not only by extension. Outputs
that exist are skipped, so a rerun resumes; every output is written under a temporary name in its
destination folder and renamed when complete, and stale temporaries are removed at start.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
from tqdm import tqdm

from .colorizer import Colorizer
from .errors import ImageError, OptionError, VidcolorWarning, VideoError
from .image import colorize_image
from .imageio import GIF_MAGIC, write_image
from .options import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoOptions, output_name
from .shots import SHOTS_FILE
from .tempfiles import TEMP_MARKER
from .video import colorize_video

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


def is_gif(path: Path) -> bool:
    """A GIF by its first bytes: a still (its first frame) whatever OpenCV reads; FFmpeg would
    take it for a film."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == GIF_MAGIC
    except OSError:
        return False


def media_kind(path: Path) -> str | None:
    """'image', 'video', 'audio' (no video stream) or None, by content. A file with an image
    extension counts as an image whatever it holds, so a damaged one gets the image reader's reason
    (FFmpeg would open a text file as a 'video' through its tty demuxer)."""
    if cv2.haveImageReader(str(path)) or path.suffix.lower() in IMAGE_EXTENSIONS or is_gif(path):
        return "image"
    try:
        with av.open(str(path)) as container:
            if container.streams.video:
                return "video"
            return "audio" if container.streams.audio else None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return None


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
    """Remove temporaries a killed run left in ``dst``; returns how many."""
    removed = 0
    for folder, _, names in os.walk(dst):
        for name in names:
            if TEMP_MARKER in name:
                (Path(folder) / name).unlink(missing_ok=True)
                removed += 1
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


def plan_folder(src: Path, dst: Path, image_format: str | None, video_ext: str | None, overwrite: bool,
                include_hidden: bool, summary: FolderSummary) -> tuple[list[tuple[str, Path, Path, str]], FolderSummary]:
    """What a folder run has to do: (relative name, input, output, 'image' or 'video') for each file
    to colourize; files that are not media, already done, or unusable go into ``summary`` now.
    A DST this run created is removed again when SRC holds no photo or video at all."""
    created = not dst.exists()
    prepare_output(src, dst)
    dst_inside = dst.resolve() if dst.resolve().is_relative_to(src.resolve()) else None
    jobs = []
    for path in scan(src, dst_inside, include_hidden):
        rel = path.relative_to(src)
        try:
            kind = media_kind(path) if os.access(path, os.R_OK) else "unreadable"
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
        if out.exists() and not overwrite:
            summary.skipped.append(str(rel))
            continue
        jobs.append((str(rel), path, out, kind))
    if created and not jobs and not summary.found:
        with contextlib.suppress(OSError):  # only ever an empty folder of this run's own
            dst.rmdir()
    return jobs, summary


def one_line(err: BaseException, path) -> str:
    """An error as the one-line reason a summary gives, without the path it names."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    prefix = f"{path}: "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


# what one file of a folder run may fail with; anything else is a bug or the process dying
FILE_ERRORS = (ImageError, VideoError, ValueError, RuntimeError, OSError, MemoryError, cv2.error, av.error.FFmpegError)


def film_keyframes(root: Path | None, rel: str) -> Path | None:
    """The keyframe folder of the film at ``rel`` under a folder run's ``--keyframes`` root: the
    folder named like the film (``root/reels/a.mp4/``) when it holds a shot map; else None (that
    film is coloured automatically)."""
    if root is None:
        return None
    folder = Path(root) / rel
    return folder if (folder / SHOTS_FILE).is_file() else None


def colorize_file(colorizer: Colorizer, path: Path, out: Path, kind: str, batch_size: int | None, progress: bool,
                  video: VideoOptions, keyframes: Path | None = None) -> list[str]:
    """One file of a folder run (local or on a cluster worker); returns its warnings' messages,
    which the run reports with the file's name, in its summary."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "image":
            write_image(out, colorize_image(colorizer, path))
        else:
            # the folder run decided already: outputs that exist are skipped unless it overwrites
            colorize_video(colorizer, path, out, batch_size=batch_size, progress=progress, overwrite=True,
                           keyframes=keyframes, **vars(video))
    return [str(w.message).removeprefix(f"{path.name}: ").removeprefix(f"{out.name}: ") for w in caught
            if issubclass(w.category, VidcolorWarning)]


def colorize_folder(model_or_colorizer, src, dst, image_format: str | None = None, video_ext: str | None = None,
                    overwrite: bool = False, progress: bool = True, batch_size: int | None = None,
                    include_hidden: bool = False, reference=None, video: VideoOptions | None = None,
                    keyframes=None, **video_options) -> FolderSummary:
    """Colourize every image and video under ``src`` into the same tree under ``dst``.
    A file that fails is reported with its reason and the run goes on; returns the summary.
    Hidden files and folders (names starting with a dot) are left out unless ``include_hidden``.
    On Ctrl-C the KeyboardInterrupt carries the summary so far as its ``summary`` attribute.
    ``reference``: colour reference(s) for every file (``vidcolor.colorize_image``). How films
    are encoded: ``video`` (a ``VideoOptions``) or its fields as keywords (``crf=20``).
    ``keyframes``: a folder of keyframe folders, one per film at the film's relative path
    (``keyframes/reels/a.mp4/``, as ``vidcolor-keyframes SRC/ KEYFRAMES/`` makes them)."""
    known = [f.name for f in dataclasses.fields(VideoOptions)]
    unknown = sorted(set(video_options) - set(known))
    if unknown:
        raise OptionError(f"colorize_folder: no video option {', '.join(unknown)} (they are {', '.join(known)})")
    # keywords given beside ``video`` change it: never silently lost
    video = dataclasses.replace(video, **video_options) if video else VideoOptions(**video_options)
    src, dst = Path(src), Path(dst)
    colorizer = Colorizer.of(model_or_colorizer, reference=reference)
    created = not dst.exists()
    jobs, summary = plan_folder(src, dst, image_format, video_ext, overwrite, include_hidden, FolderSummary())
    settled = len(summary.failed) + len(summary.skipped)  # known before any work: the bar counts them too
    bar = tqdm(total=len(jobs) + settled, initial=settled, unit="file", desc="files", disable=not progress,
               dynamic_ncols=True)
    try:
        for rel, path, out, kind in jobs:
            bar.set_postfix_str(rel[-40:])
            try:
                notes = colorize_file(colorizer, path, out, kind, batch_size, progress, video,
                                      film_keyframes(keyframes, rel))
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
        if created and not summary.done:
            remove_empty_folders(dst)
    return summary


def remove_empty_folders(root: Path) -> None:
    """Remove ``root`` and the folders under it that hold nothing (a run that wrote nothing)."""
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            Path(folder).rmdir()
