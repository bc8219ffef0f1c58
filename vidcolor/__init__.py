"""vidcolor: automatic colourization of black-and-white photographs and video.

The public names are imported on first use (PEP 562), so ``import vidcolor`` and
``vidcolor --help`` stay quick and torch loads only when work starts.
"""
from __future__ import annotations

import importlib
import os
import sys

# what the vidcolor command sets, for Python callers too: torch's idle OpenMP workers otherwise spin
# on the cores the film's encoder and decoder need (a 300-frame 640x360 film from Python: 28-38 s
# against 6-7 s on 2 cores). It takes effect only before torch is first imported, and a setting of
# the caller's own wins.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .options import MAX_IMAGE_PIXELS  # noqa: E402

# OpenCV reads its own limit once, when it is first imported: set it before any vidcolor module can
# import cv2 (the CLI's checks do), so that a still too large is refused there too
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

from .errors import ImageError, ModelFileError, OptionError, VidcolorError, VidcolorWarning, VideoError

__version__ = "0.3.0"

_LAZY = {
    "FolderSummary": "folder", "colorize_folder": "folder",
    "colorize_image": "image", "read_image": "imageio", "write_image": "imageio",
    "ColorNet": "models", "UNetColorNet": "models", "ColorModel": "models", "ModelConfig": "models",
    "build_model": "models",
    "Reference": "reference", "make_keyframes": "keyframes", "ShotMap": "shots",
    "Colorizer": "colorizer", "colorize_video": "video", "FilmSummary": "video", "VideoOptions": "options", "FolderOptions": "options",
    "load_model": "weights", "save_weights": "weights",
}
__all__ = sorted([*_LAZY, "ImageError", "ModelFileError", "OptionError", "VidcolorError", "VidcolorWarning",
                  "VideoError", "__version__"])


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vidcolor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
