"""Colour maths on a film's own Y'CbCr 4:2:0 planes: no full-resolution RGB anywhere.

A black-and-white film is stored as Y'CbCr with neutral chroma; its luma plane already holds all
the detail. The video path keeps that plane as it is and computes only new chroma planes, at
chroma resolution (a quarter of the pixels):

- ``lightness_from_luma``: L* of grey pixels from their Y' code values, through a table that
  knows the stream's range (for a grey pixel R' = G' = B' = Y' whatever the matrix). For a colour
  source the luma of a saturated colour is not its lightness exactly: the model then sees the L*
  a grey of the same luma would have, and the source's own chroma is replaced.
- ``chroma_from_lab``: the Cb/Cr planes of L* a* b* (sRGB primaries and curve, as everywhere in
  vidcolor), with the stream's matrix and range.
- ``color_beyond_tint``: how much colour a picture holds that its luma does not explain, to tell
  a colour source (whose colours vidcolor replaces) from a grey or toned (sepia) one.

Pure functions of numpy arrays, vectorised through OpenCV.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .color import lightness_from_y, srgb_to_linear, to_8bit

# luma weights (Kr, Kb) of the YUV matrices, by FFmpeg's AVColorSpace value
MATRIX_WEIGHTS = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 4: (0.30, 0.11),
                  7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
LIMITED_LUMA = (16.0, 219.0)  # offset and span of limited-range ("TV", MPEG) luma codes
LIMITED_CHROMA = 224.0  # span of limited-range chroma codes
FULL_SPAN = 255.0
CHROMA_ZERO = 128.0  # the code of neutral chroma, either range
PLANAR_FORMATS = ("yuv420p", "yuvj420p")  # 8-bit 4:2:0, the layout this path reads and writes


def luma_table(full_range: bool) -> np.ndarray:
    """(256,) float32: L* of a grey pixel for each 8-bit Y' code value."""
    codes = np.arange(256, dtype=np.float64)
    v = codes / FULL_SPAN if full_range else (codes - LIMITED_LUMA[0]) / LIMITED_LUMA[1]
    return lightness_from_y(srgb_to_linear(torch.from_numpy(np.clip(v, 0.0, 1.0)))).numpy().astype(np.float32)


def lightness_from_luma(luma: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Y' codes (uint8, or float after a resize) -> L* float32, same shape (any number of axes)."""
    if luma.dtype == np.uint8:
        # OpenCV reads a 3-D array as H x W x channels (OpenCV 5.1 refuses more than 128 channels):
        # a batch goes through as one tall 2-D plane
        flat = np.ascontiguousarray(luma).reshape(-1, luma.shape[-1]) if luma.ndim != 2 else luma
        return cv2.LUT(flat, table.reshape(1, 256)).reshape(luma.shape)
    return np.interp(luma, np.arange(256, dtype=np.float32), table).astype(np.float32)


def chroma_matrix(matrix: int, full_range: bool) -> np.ndarray:
    """(2, 4) affine map from R'G'B' in 0..1 to (Cb, Cr) codes, for cv2.transform."""
    kr, kb = MATRIX_WEIGHTS.get(matrix, MATRIX_WEIGHTS[5])
    kg = 1.0 - kr - kb
    span = FULL_SPAN if full_range else LIMITED_CHROMA
    cb = np.array([-kr, -kg, 1.0 - kb]) / (2.0 * (1.0 - kb))
    cr = np.array([1.0 - kr, -kg, -kb]) / (2.0 * (1.0 - kr))
    return np.array([[*(cb * span), CHROMA_ZERO], [*(cr * span), CHROMA_ZERO]], np.float32)


def chroma_from_lab(lightness: np.ndarray, ab: np.ndarray, transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L* (h x w float32) and a/b (h x w x 2 float32) -> Cb, Cr planes (h x w uint8) through sRGB."""
    rgb = cv2.merge([lightness, ab])
    cv2.cvtColor(rgb, cv2.COLOR_Lab2RGB, dst=rgb)  # in place: one frame-sized buffer, not three
    np.clip(rgb, 0.0, 1.0, out=rgb)
    # one 3 -> 1 channel cv2.transform per plane, then OpenCV's rounding and saturation to uint8
    # with the offset: cv2.transform's 3 -> 2 path costs three times as much, and numpy's matrix
    # product goes through OpenBLAS, whose worker threads spin on the cores x264 encodes on
    return tuple(cv2.convertScaleAbs(cv2.transform(rgb, np.ascontiguousarray(transform[k:k + 1, :3])),
                                     beta=float(transform[k, 3]))
                 for k in range(2))


def split_i420(frame: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an I420 array as PyAV lays it out ((3H/2, W) uint8)."""
    flat = frame.reshape(-1)
    quarter = (height // 2) * (width // 2)
    y = flat[:height * width].reshape(height, width)
    u = flat[height * width:height * width + quarter].reshape(height // 2, width // 2)
    v = flat[height * width + quarter:height * width + 2 * quarter].reshape(height // 2, width // 2)
    return y, u, v


# a picture whose chroma strays this far (8-bit code values, RMS) from the mean chroma of its own
# luma level holds colour: on 200 corpus photos at half size a colour photo's median is 11.7 (5 %
# below 3.7), a sepia-toned one's 1.0, with RGB noise of 3 code values 2.9
COLOR_BEYOND_TINT = 4.5
COLOR_REPLACED = "vidcolor keeps only its lightness and replaces its colours"  # what a colour input is told
LUMA_BINS = 32


def color_beyond_tint(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> float:
    """RMS distance of each pixel's (Cb, Cr) from the mean (Cb, Cr) of the pixels of its luma
    level: 0 for grey and for any toning that depends on brightness alone (sepia, cyanotype),
    large for a colour picture. Three uint8 planes of one size (luma at chroma resolution)."""
    bins = (luma.reshape(-1) >> 3).astype(np.intp)  # 256 codes in LUMA_BINS levels
    count = np.maximum(np.bincount(bins, minlength=LUMA_BINS), 1)
    spread = 0.0
    for plane in (cb, cr):
        values = plane.reshape(-1).astype(np.float32)
        mean = np.bincount(bins, values, minlength=LUMA_BINS) / count
        spread += float(np.square(values - mean[bins]).mean())
    return spread ** 0.5


def color_of_i420(frame: np.ndarray, height: int, width: int) -> float:
    """``color_beyond_tint`` of an I420 frame, its luma taken at chroma resolution."""
    y, u, v = split_i420(frame, height, width)
    return color_beyond_tint(y[::2, ::2], u, v)


def color_of_rgb(rgb: np.ndarray, side: int = 512) -> float:
    """``color_beyond_tint`` of an HxWx3 uint8/uint16 RGB picture, looked at no larger than ``side``."""
    rgb = to_8bit(rgb)
    step = max(1, max(rgb.shape[:2]) // side)
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb[::step, ::step, :3]), cv2.COLOR_RGB2YCrCb)
    return color_beyond_tint(ycc[..., 0], ycc[..., 2], ycc[..., 1])
