"""Quality numbers for colourization, on RGB images in 0..255."""
from __future__ import annotations

import numpy as np
import torch

PSNR_PEAK = 255.0
PSNR_CAP = 100.0  # dB reported for identical images, instead of infinity


def psnr(pred: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two RGB images on a 0..255 scale."""
    pred = torch.as_tensor(pred, dtype=torch.float64)
    truth = torch.as_tensor(truth, dtype=torch.float64)
    mse = torch.mean((pred - truth) ** 2).item()
    if mse == 0:
        return PSNR_CAP
    return float(10.0 * np.log10(PSNR_PEAK ** 2 / mse))


def colourfulness(rgb: np.ndarray | torch.Tensor) -> float:
    """Hasler & Suesstrunk (2003): sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2),
    rg = R - G, yb = (R + G)/2 - B, on HxWx3 RGB in 0..255."""
    rgb = torch.as_tensor(rgb, dtype=torch.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    sd = torch.sqrt(rg.std(unbiased=False) ** 2 + yb.std(unbiased=False) ** 2)
    mu = torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sd + 0.3 * mu)
