"""What a file holds, by its content: a still, a film, only sound, or nothing vidcolor reads. The
command line's checks and a folder's plan ask this before any heavy module loads: it needs only
PyAV and OpenCV, not torch or the drivers."""
from __future__ import annotations

from pathlib import Path

import av
import cv2

from .options import GIF_MAGIC, IMAGE_EXTENSIONS


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
