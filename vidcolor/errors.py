"""The errors and warnings vidcolor raises: light to import, so the CLI can name them before
torch, OpenCV and PyAV are loaded."""
from __future__ import annotations


class ImageError(ValueError):
    """A still that cannot be read or written, or a path that cannot be used; the message says why."""


class VideoError(ValueError):
    """A video that cannot be read or written; the message says which and why."""


class ModelFileError(ValueError):
    """A weights file that is missing, unreadable or not a vidcolor model."""


class VidcolorWarning(UserWarning):
    """Something the user should know that did not stop the run (an audio track re-encoded, ...)."""
