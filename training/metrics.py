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


CDC_GAPS = (1, 2, 4)  # frame gaps of the NTIRE 2023 video colourization challenge's CDC


def _js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, 0..1) of two histograms."""
    p, q = p / max(p.sum(), 1e-12), q / max(q.sum(), 1e-12)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        keep = a > 0
        return float(np.sum(a[keep] * np.log2(a[keep] / m[keep])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def cdc(frames: list[np.ndarray]) -> float:
    """Colour distribution consistency (NTIRE 2023): the JS divergence of the per-channel RGB
    histograms of frames t and t + g, averaged over channels, frames and the gaps 1, 2 and 4.
    0 for a film whose colours never change; lower is steadier."""
    hists = [[np.bincount(f[..., c].reshape(-1), minlength=256).astype(np.float64) for c in range(3)]
             for f in frames]
    per_gap = []
    for gap in CDC_GAPS:
        pairs = [np.mean([_js_divergence(hists[t][c], hists[t + gap][c]) for c in range(3)])
                 for t in range(len(frames) - gap)]
        if pairs:
            per_gap.append(float(np.mean(pairs)))
    return float(np.mean(per_gap)) if per_gap else 0.0
