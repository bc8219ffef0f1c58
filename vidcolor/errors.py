"""The errors and warnings vidcolor raises: light to import, so the CLI can name them before
torch, OpenCV and PyAV are loaded. Every public error is a ``VidcolorError`` (and a ValueError,
as they were before the base class, so existing handlers keep catching them)."""
from __future__ import annotations


class VidcolorError(ValueError):
    """Base of vidcolor's own errors: a file, an option or a model that cannot be used; the
    message says which and why, in one line."""


class ImageError(VidcolorError):
    """A still that cannot be read or written, or a path that cannot be used; the message says why."""


class VideoError(VidcolorError):
    """A video that cannot be read or written; the message says which and why."""


class ModelFileError(VidcolorError):
    """A weights file that is missing, unreadable or not a vidcolor model."""


class OptionError(VidcolorError):
    """An option whose value cannot be used (a temperature, a size, a precision ...)."""


class VidcolorWarning(UserWarning):
    """Something the user should know that did not stop the run (an audio track re-encoded, ...)."""
