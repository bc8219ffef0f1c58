"""A whole picture through the engine: L* in strips of bounded memory, a/b predicted at the
model's size, the colour composed at full resolution, alpha passed through. The still driver
(``vidcolor.image``), the keyframes and the training toolkit all colour pictures this way.

Arrays in this module are RGB(A) order, HxW, HxWx1, HxWx3 or HxWx4, uint8 or uint16.
"""
from __future__ import annotations

import numpy as np
import torch

from .color import rgb_to_lightness, to_uint16
from .colorizer import Colorizer
from .errors import ImageError
from .imageio import check_size, unit_rgb

STRIP_PIXELS = 4_000_000  # pixels per strip when composing a still: bounds working memory


def colorize_array(colorizer: Colorizer, image: np.ndarray) -> np.ndarray:
    """Colourize an HxW{,x1,x3,x4} uint8/uint16 array; returns RGB(A) of the same size and dtype.
    Colour input is treated as its L; alpha is passed through."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"image samples must be uint8 or uint16, not {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ImageError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, not {image.shape}")
    if image.size == 0:
        raise ImageError(f"image is empty ({'x'.join(map(str, image.shape))})")
    height, width = image.shape[:2]
    check_size("image", width, height)
    device = colorizer.device
    rows = max(1, STRIP_PIXELS // max(width, 1))
    strips = range(0, height, rows)
    with torch.inference_mode():
        lightness = torch.cat([rgb_to_lightness(unit_rgb(image[y:y + rows]).to(device)) for y in strips], dim=2)
        ab = colorizer.predict_ab(lightness)
        deep = image.dtype == np.uint16
        out = np.empty((height, width, 3), dtype=image.dtype)
        for y in strips:
            strip = lightness[..., y:y + rows, :]
            if deep:
                rgb = to_uint16(colorizer.compose(strip, ab, top=y, height=height))[0].permute(1, 2, 0)
            else:
                rgb = colorizer.compose_uint8(strip, ab, top=y, height=height)[0]
            out[y:y + rows] = rgb.cpu().numpy().astype(image.dtype)
    if image.ndim == 3 and image.shape[2] == 4:
        out = np.concatenate((out, image[..., 3:]), axis=2)
    return out
