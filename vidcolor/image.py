"""The still driver: a picture (path or array) -> the engine (``vidcolor.picture``) -> an RGB(A)
array of the same size.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .color import lab_of_pixels
from .colorizer import Colorizer
from .errors import ImageError, VidcolorWarning
from .hints import hints_of_picture, read_hints
from .imageio import read_image
from .picture import colorize_array
from .planes import COLOR_BEYOND_TINT, COLOR_REPLACED, color_of_rgb
from .propagate import apply_hints

__all__ = ["colorize_array", "colorize_image"]


def colorize_image(model_or_colorizer, image: str | os.PathLike | np.ndarray, precision: str = "auto",
                   size: int | None = None, temperature: float | None = None, reference=None,
                   hints=None) -> np.ndarray:
    """Colourize a still: a path or an HxWx{1,3,4} uint8/uint16 array -> RGB(A) array, same size/dtype.
    ``temperature`` (classification models only): lower = each pixel's likeliest colour, 1 = the average; default the model's own.
    ``reference``: colour reference(s), paths (an image or a folder of them) or arrays: where the
    still matches one, its colours win (a model with the lite0-unet body). ``hints``: a hints
    picture or file (path) or an RGB(A) hints array of the still's size (``vidcolor.hints``):
    their colours spread along the picture's edges over the automatic colour (``vidcolor.propagate``)."""
    colorizer = Colorizer.of(model_or_colorizer, precision, size, temperature, reference)
    if not isinstance(image, np.ndarray):
        name, image = Path(image).name, read_image(image)
        if image.ndim == 3 and image.shape[2] >= 3 and color_of_rgb(image) > COLOR_BEYOND_TINT:
            warnings.warn(f"{name}: is a colour picture; {COLOR_REPLACED}", VidcolorWarning, stacklevel=2)
    hinted = None
    if hints is not None:  # read before any work: a bad hints file fails at once
        height, width = image.shape[:2]
        if isinstance(hints, np.ndarray) and hints.shape[:2] != (height, width):
            raise ImageError(f"hints: a {hints.shape[1]}x{hints.shape[0]} picture for a {width}x{height} still")
        hinted = hints_of_picture(hints) if isinstance(hints, np.ndarray) else read_hints(hints, height, width)
    coloured = colorize_array(colorizer, image)
    if hinted is None:
        return coloured
    lab = lab_of_pixels(coloured[..., :3]).numpy()
    return apply_hints(coloured, *hinted, lab, colorizer.region_features(lab[0]))
