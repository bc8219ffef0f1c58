"""sRGB (D65) <-> CIE Lab for batches of frames as torch tensors, on any device.

Pure functions, no pixel loops. Constants follow OpenCV's float conversion so results agree with
``cv2.cvtColor(..., COLOR_RGB2Lab)`` on float32 input. Layout is channels-first: (..., 3, H, W),
RGB in 0..1, L in 0..100, a/b in roughly -128..127.
"""
from __future__ import annotations

import numpy as np
import torch

# sRGB primaries to CIE XYZ, D65 white (the matrix OpenCV uses)
RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
WHITE_D65 = (0.950456, 1.0, 1.088754)  # XYZ of the reference white
LAB_EPSILON = 0.008856  # (6/29)^3: below it the cube root becomes a line
LAB_KAPPA = 903.3  # slope of L* against Y below LAB_EPSILON
SRGB_LINEAR_KNEE = 0.04045  # encoded value where the sRGB curve turns from linear to power
SRGB_GAMMA = 2.4
GREY_CHROMA = 3.0  # mean Lab chroma below which a picture counts as (near-)grey: no colour to learn or give
UINT8_MAX = 255.0
UINT16_MAX = 65535.0


def _matrix(rows, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _mix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix along the channel axis (-3) of (..., 3, H, W)."""
    return torch.einsum("ij,...jhw->...ihw", m, x)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb <= SRGB_LINEAR_KNEE, rgb / 12.92,
                       ((rgb.clamp(min=SRGB_LINEAR_KNEE) + 0.055) / 1.055) ** SRGB_GAMMA)


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    lin = lin.clamp(0.0, 1.0)
    knee = SRGB_LINEAR_KNEE / 12.92
    return torch.where(lin <= knee, lin * 12.92,
                       1.055 * lin.clamp(min=knee) ** (1.0 / SRGB_GAMMA) - 0.055)


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > LAB_EPSILON, t.clamp(min=LAB_EPSILON) ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)


def _f_inv(f: torch.Tensor) -> torch.Tensor:
    f_eps = LAB_EPSILON ** (1.0 / 3.0)
    return torch.where(f > f_eps, f ** 3, (f - 16.0 / 116.0) / 7.787)


def lightness_from_y(y: torch.Tensor) -> torch.Tensor:
    """Relative luminance Y (0..1) -> L* (0..100): the one definition (``colorizer`` has an
    OpenCV kernel of the same formula for full-resolution frames on the CPU)."""
    return torch.where(y > LAB_EPSILON, 116.0 * y.clamp(min=LAB_EPSILON) ** (1.0 / 3.0) - 16.0, LAB_KAPPA * y)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB in 0..1 -> (..., 3, H, W) Lab."""
    xyz = _mix(_matrix(RGB_TO_XYZ, rgb), srgb_to_linear(rgb))
    white = torch.tensor(WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    fx, fy, fz = _f(xyz / white).unbind(-3)
    lightness = lightness_from_y(xyz[..., 1, :, :])
    return torch.stack((lightness, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def rgb_to_lightness(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB in 0..1 -> (..., 1, H, W) L*; cheaper than the full conversion."""
    weights = _matrix(RGB_TO_XYZ[1], rgb).view(3, 1, 1)
    y = (srgb_to_linear(rgb) * weights).sum(dim=-3, keepdim=True)
    return lightness_from_y(y)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) Lab -> (..., 3, H, W) sRGB in 0..1 (out-of-gamut colours clipped)."""
    lightness, a, b = lab.unbind(-3)
    fy = (lightness + 16.0) / 116.0
    # below L* = 8 the curve is the line L = kappa * Y; invert that exactly
    y = torch.where(lightness > LAB_KAPPA * LAB_EPSILON, fy ** 3, lightness / LAB_KAPPA)
    fy = torch.where(lightness > LAB_KAPPA * LAB_EPSILON, fy, 7.787 * y + 16.0 / 116.0)
    white = torch.tensor(WHITE_D65, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    xyz = torch.stack((_f_inv(fy + a / 500.0), y, _f_inv(fy - b / 200.0)), dim=-3) * torch.stack(
        (white[0], torch.ones_like(white[0]), white[2]))
    lin = _mix(torch.linalg.inv(_matrix(RGB_TO_XYZ, lab).double()).to(lab.dtype), xyz)
    return linear_to_srgb(lin)


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 or 16-bit integer frames -> float32 in 0..1 (same layout)."""
    if frames.dtype == torch.uint8:
        return frames.float() / UINT8_MAX
    if frames.dtype in (torch.int32, torch.uint16, torch.int64):
        return frames.float() / UINT16_MAX
    return frames.float()


def to_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """Float 0..1 -> uint8 with rounding."""
    return (rgb.clamp(0.0, 1.0) * UINT8_MAX).round_().to(torch.uint8)


def to_uint16(rgb: torch.Tensor) -> torch.Tensor:
    """Float 0..1 -> 16-bit values held in int32 (torch has few uint16 ops)."""
    return (rgb.clamp(0.0, 1.0) * UINT16_MAX).round_().to(torch.int32)


def lab_of_pixels(rgb) -> torch.Tensor:
    """RGB pixels as stored, HxWx3 or NxHxWx3 uint8 or uint16 (numpy or torch) -> Lab channels
    first, (3,H,W) or (N,3,H,W): the one way stored pixels become Lab (stills with alpha or grey:
    ``imageio.unit_rgb``)."""
    if isinstance(rgb, np.ndarray) and rgb.dtype == np.uint16:
        rgb = rgb.astype(np.int32)  # 16-bit samples as to_unit takes them (older torch has no uint16)
    t = torch.from_numpy(np.ascontiguousarray(rgb)) if not isinstance(rgb, torch.Tensor) else rgb
    return rgb_to_lab(to_unit(t).movedim(-1, -3))


def to_8bit(image: np.ndarray) -> np.ndarray:
    """16-bit samples -> 8-bit with rounding (65535 -> 255); 8-bit as it is."""
    if image.dtype != np.uint16:
        return image
    return (image.astype(np.float32) / 257.0).round().astype(np.uint8)


def mean_chroma(lab: torch.Tensor) -> float:
    """Mean Lab chroma sqrt(a^2 + b^2) of a (3,H,W) Lab image: 0 for grey, a tint shows as a few units."""
    return float(torch.hypot(lab[1], lab[2]).mean())


def grey_from_lightness(lightness: torch.Tensor) -> torch.Tensor:
    """L* (any shape) -> the 8-bit sRGB code of the neutral grey of that lightness (a = b = 0)."""
    y = torch.where(lightness > LAB_KAPPA * LAB_EPSILON, ((lightness + 16.0) / 116.0) ** 3, lightness / LAB_KAPPA)
    return to_uint8(linear_to_srgb(y.clamp(0.0, 1.0)))
