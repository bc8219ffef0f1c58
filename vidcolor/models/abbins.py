"""Quantised a/b colour space for the classification head (Zhang, Isola, Efros, ECCV 2016).

Pure functions on torch tensors, any device:

- ``gamut_bins``: the a/b bin centres of a grid of step 10 that sRGB colours reach. How: every
  colour of a dense sRGB grid (64 levels per channel, 262,144 colours) is converted to Lab with
  vidcolor's own ``rgb_to_lab``, its a and b are rounded to the nearest multiple of 10, and each
  distinct (a, b) pair is a bin. That gives 261 bins; a 96- or 128-level grid adds one edge cell
  that a handful of blue-violet colours reach (262); Zhang's 313 counts bins with a looser gamut
  test. The centres are stored with the weights, so a model always decodes with its own bins.
- ``soft_encode``: a target distribution per pixel over its 5 nearest bins, Gaussian weights.
- ``rebalance_weights``: class weights from an a/b prior, so rare vivid colours count.
- ``annealed_mean``: a/b from logits at a temperature T: T = 1 is the mean of the predicted
  distribution (safe, greyish), small T approaches its mode (vivid, riskier).
"""
from __future__ import annotations

import functools

import torch

from ..color import rgb_to_lab

BIN_STEP = 10.0  # Lab a/b units between neighbouring bin centres
GAMUT_LEVELS = 64  # sRGB grid levels per channel used to find the reachable bins
SOFT_NEIGHBOURS = 5  # bins that share each pixel's soft target
SOFT_SIGMA = 5.0  # Lab a/b units: width of the Gaussian over the neighbours' distances
PRIOR_MIX = 0.5  # the prior is mixed half and half with the uniform distribution before inverting
DEFAULT_TEMPERATURE = 0.38  # Zhang et al.'s annealed-mean temperature


def gamut_bins(step: float = BIN_STEP, levels: int = GAMUT_LEVELS) -> torch.Tensor:
    """(Q, 2) float32 a/b centres of the in-gamut bins, sorted by a then b (a fresh copy)."""
    return _gamut_bins(step, levels).clone()


@functools.lru_cache(maxsize=4)
def _gamut_bins(step: float, levels: int) -> torch.Tensor:
    """Once per process: the grid conversion takes about half a second."""
    grid = torch.linspace(0.0, 1.0, levels, dtype=torch.float64)
    r, g, b = torch.meshgrid(grid, grid, grid, indexing="ij")
    rgb = torch.stack((r.reshape(-1), g.reshape(-1), b.reshape(-1))).view(3, 1, -1)
    ab = rgb_to_lab(rgb).view(3, -1)[1:].T
    cells = torch.unique(torch.round(ab / step).long(), dim=0)  # sorted lexicographically
    return (cells.double() * step).float()


def _sq_distances(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(N,2,H,W) a/b and (Q,2) centres -> (N,H,W,Q) squared distances."""
    points = ab.permute(0, 2, 3, 1).float()
    c = centres.to(points)
    return ((points[..., None, :] - c) ** 2).sum(-1)


def nearest_bin(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(N,2,H,W) a/b in Lab units -> (N,H,W) index of the nearest bin centre."""
    return _sq_distances(ab, centres).argmin(-1)


def _grid_candidates(ab: torch.Tensor, centres: torch.Tensor, reach: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For bins on a regular grid: the bins of the (2 reach + 1)^2 grid cells around each pixel's
    nearest cell, as (N,H,W,C) indices (-1 where a cell has no bin) and squared distances (inf there)."""
    step = float(torch.diff(torch.unique(centres[:, 0])).min()) if len(centres) > 1 else BIN_STEP
    cells = torch.round(centres.double() / step).long()
    lo = cells.min(0).values - reach - 1
    span = cells.max(0).values + reach + 2 - lo
    table = torch.full((int(span[0]), int(span[1])), -1, dtype=torch.long, device=ab.device)
    table[(cells[:, 0] - lo[0]).to(ab.device), (cells[:, 1] - lo[1]).to(ab.device)] = torch.arange(
        len(centres), device=ab.device)
    points = ab.permute(0, 2, 3, 1).float()
    near = torch.round(points / step).long()
    offsets = torch.arange(-reach, reach + 1, device=ab.device)
    da, db = torch.meshgrid(offsets, offsets, indexing="ij")
    ia = (near[..., :1] + da.reshape(-1) - int(lo[0])).clamp(0, table.shape[0] - 1)
    ib = (near[..., 1:] + db.reshape(-1) - int(lo[1])).clamp(0, table.shape[1] - 1)
    idx = table[ia, ib]
    c = centres.to(points)[idx.clamp(min=0)]
    d2 = ((points[..., None, :] - c) ** 2).sum(-1).masked_fill(idx < 0, float("inf"))
    return idx, d2


GRID_REACH = 2  # cells searched on each side of the nearest: 25 candidates hold the 5 nearest bins


def soft_encode(ab: torch.Tensor, centres: torch.Tensor, neighbours: int = SOFT_NEIGHBOURS,
                sigma: float = SOFT_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,2,H,W) a/b -> (indices (N,k,H,W) long, weights (N,k,H,W) float summing to 1): each pixel's
    target puts Gaussian weight exp(-d^2 / 2 sigma^2) on its k nearest bins, nearest first.

    The bins lie on a grid, so only the 5 x 5 cells around each pixel are searched (ten times
    fewer distances than all Q bins): any bin outside them is at least 2.5 steps away, farther than
    the 3 x 3 cells nearest, which hold at least 5 bins everywhere inside the gamut."""
    if a_grid(centres):
        cand, d2 = _grid_candidates(ab, centres, GRID_REACH)
        d2, pick = d2.topk(neighbours, dim=-1, largest=False, sorted=True)
        idx = cand.gather(-1, pick)
    else:
        d2, idx = _sq_distances(ab, centres).topk(neighbours, dim=-1, largest=False, sorted=True)
    w = torch.softmax(-d2 / (2.0 * sigma ** 2), dim=-1)  # normalised Gaussian weights
    idx = torch.where(torch.isfinite(d2), idx, idx[..., :1])  # a pixel short of 5 bins: spare weight 0
    return idx.permute(0, 3, 1, 2).contiguous(), w.permute(0, 3, 1, 2).contiguous()


def a_grid(centres: torch.Tensor) -> bool:
    """True when the centres lie on one square grid (as ``gamut_bins`` makes them)."""
    if len(centres) < 2:
        return False
    step = float(torch.diff(torch.unique(centres[:, 0])).min())
    return bool(step > 0 and torch.allclose(centres / step, torch.round(centres / step), atol=1e-4))


def soft_cross_entropy(logits: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor,
                       pixel_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over pixels of -sum_k w_k log softmax(logits)[idx_k], each pixel scaled by its
    rebalancing weight. logits (N,Q,H,W), indices/weights (N,k,H,W), pixel_weights (N,H,W)."""
    log_p = torch.log_softmax(logits.float(), dim=1)
    per_pixel = -(log_p.gather(1, indices) * weights).sum(1)
    if pixel_weights is not None:
        per_pixel = per_pixel * pixel_weights
    return per_pixel.mean()


def ab_histogram(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Counts of pixels per nearest bin: (Q,) float64, for building the prior."""
    return torch.bincount(nearest_bin(ab, centres).reshape(-1), minlength=len(centres)).double()


def rebalance_weights(prior: torch.Tensor, mix: float = PRIOR_MIX) -> torch.Tensor:
    """Class weights w proportional to 1 / ((1 - mix) p + mix / Q), scaled so that sum_q p_q w_q = 1
    (a pixel drawn from the prior has weight 1 on average). ``prior`` need not be normalised."""
    p = prior.double() / prior.sum()
    w = 1.0 / ((1.0 - mix) * p + mix / len(p))
    return (w / (p * w).sum()).float()


ANNEAL_CHUNK = 4096  # pixels per step of the inference annealed mean: 4 MB of fp32 logits


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float) -> torch.Tensor:
    """(N,Q,H,W) logits -> (N,2,H,W) a/b: the expectation of the bin centres under
    softmax(logits / T). Lower T goes towards the mode (the likeliest colour), T = 1 is the plain mean."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    if logits.requires_grad and torch.is_grad_enabled():
        p = torch.softmax(logits.float() / temperature, dim=1)
        return torch.einsum("nqhw,qc->nchw", p, centres.to(p))
    # inference: pixels in chunks that stay in the cache, each pixel's Q logits contiguous (the
    # model gives channels-last logits, so this is a view); one pass over memory instead of one per
    # op: 8 times faster on the CPU for 261 bins at 64 x 64
    n, q, h, w = logits.shape
    flat = logits.permute(0, 2, 3, 1).reshape(-1, q)
    centres = centres.to(logits.device, torch.float32)
    out = torch.empty(flat.shape[0], 2, device=logits.device)
    for start in range(0, flat.shape[0], ANNEAL_CHUNK):
        p = torch.softmax(flat[start:start + ANNEAL_CHUNK].float() / temperature, dim=1)
        torch.mm(p, centres, out=out[start:start + ANNEAL_CHUNK])
    return out.view(n, h, w, 2).permute(0, 3, 1, 2)  # (N,2,H,W), stored channels-last
