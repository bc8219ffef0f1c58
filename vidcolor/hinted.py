"""A picture coloured from a person's colour hints, in two steps:

1. where the model reads hints itself (``ModelConfig.hints``: a hint branch trained onto the
   released network, ``training/hintsim.py``), the grey picture is coloured again given them: the
   network learnt where a click's colour belongs, the same thing elsewhere and across edges;
2. the hints spread along the picture's own edges over that colour (``vidcolor.propagate``), so
   their own pixels come out in their colour.

A model that reads no hints does step 2 alone, over its automatic colour; so does a picture
coloured by hand (its colours are the person's, not the model's to replace).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .color import lab_of_pixels
from .colorizer import Colorizer
from .hints import network_hints
from .propagate import apply_hints


def hinted_ab(colorizer: Colorizer, lightness: np.ndarray, mask: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Full-resolution L* (HxW) and the hints -> the model's a/b given them (HxWx2 float32), its
    prediction brought to full resolution bilinearly (as every picture's colour is)."""
    height, width = lightness.shape
    hints = network_hints(mask, ab, colorizer.size, colorizer.config.ab_scale)
    light = torch.from_numpy(np.ascontiguousarray(lightness, np.float32))[None, None]
    small = colorizer.predict_ab(light, hints=hints)[0].float().cpu().numpy().transpose(1, 2, 0)
    return cv2.resize(np.ascontiguousarray(small), (width, height), interpolation=cv2.INTER_LINEAR)


def hinted_picture(colorizer: Colorizer | None, picture: np.ndarray, mask: np.ndarray, ab: np.ndarray,
                   lab: np.ndarray | None = None, automatic: bool = True) -> np.ndarray:
    """``picture`` (RGB(A) uint8/uint16: the model's automatic colour, or with ``automatic`` False
    one coloured by hand) with the hints (HxW bool, HxWx2 a/b) taken in: the hint-taking model's
    colour where there is one, then the hints spread over it. Same layout out. ``lab``: the
    picture's Lab where the caller keeps it."""
    base = None
    if automatic and colorizer is not None and colorizer.takes_hints and mask.any():
        lab = lab_of_pixels(picture[..., :3]).numpy() if lab is None else lab
        base = hinted_ab(colorizer, lab[0], mask, ab)
    return apply_hints(picture, mask, ab, lab, base_ab=base)
