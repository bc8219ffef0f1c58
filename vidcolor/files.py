"""One file of any kind, as every batch run (a folder here or on a cluster, a worker) takes it:
what it holds, by content; a still or a film through its driver; the errors that fail one file
and not the run, as the one-line reason a summary gives."""
from __future__ import annotations

import warnings
from pathlib import Path

import av
import cv2

from .colorizer import Colorizer
from .errors import ImageError, VidcolorWarning, VideoError
from .image import colorize_image
from .imageio import write_image
from .options import VideoOptions
from .video import colorize_video


def one_line(err: BaseException, path) -> str:
    """An error as the one-line reason a summary gives, without the path it names."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    prefix = f"{path}: "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


# what one file of a folder run may fail with; anything else is a bug or the process dying
FILE_ERRORS = (ImageError, VideoError, ValueError, RuntimeError, OSError, MemoryError, cv2.error, av.error.FFmpegError)


def colorize_file(colorizer: Colorizer, path: Path, out: Path, kind: str, video: VideoOptions,
                  progress=False) -> list[str]:
    """One file of a folder run (local or on a cluster worker); returns its warnings' messages,
    which the run reports with the file's name, in its summary."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "image":
            write_image(out, colorize_image(colorizer, path))
        else:
            # the folder run decided already: outputs that exist are skipped unless it overwrites
            colorize_video(colorizer, path, out, video, overwrite=True, progress=progress)
    return [str(w.message).removeprefix(f"{path.name}: ").removeprefix(f"{out.name}: ") for w in caught
            if issubclass(w.category, VidcolorWarning)]
