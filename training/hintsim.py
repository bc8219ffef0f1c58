"""Simulated clicks of colour for training a hint-taking network (Zhang et al. 2017's way): each
crop gets a few points, each a small patch holding the mean true a/b of the photo there, in the
layout ``vidcolor.hints.network_hints`` gives the network at inference."""
from __future__ import annotations

import math

import numpy as np
import torch

MAX_POINTS = 64  # clicks per crop, drawn log-uniform from 1 to this: a few as often as many
VAL_HINTS = 10  # clicks per photo when a hint-taking model is validated
PATCH_SIDES = (1, 2, 3, 4)  # px at the training side: a click of a few pixels on a 1080p frame is 1-2 px at 160


class SimulatedHints:
    """``hints(ab)``: (N,2,S,S) true a/b in -1..1 (the dataset's target) -> (N,3,S,S) hints, a/b
    where hinted and 0 elsewhere, then the hinted cells as 1. Drawn from an RNG seeded by ``seed``
    (the run's seed, the epoch and the process), so a resumed epoch sees the same clicks.
    ``max_points`` None: ``VAL_HINTS`` clicks on every crop (validation)."""

    def __init__(self, seed, max_points: int | None = MAX_POINTS):
        self.rng = np.random.default_rng(seed)
        self.max_points = max_points

    def count(self) -> int:
        if self.max_points is None:
            return VAL_HINTS
        return int(math.floor(math.exp(self.rng.uniform(0.0, math.log(self.max_points + 1)))))

    def __call__(self, ab: torch.Tensor) -> torch.Tensor:
        n, _, h, w = ab.shape
        out = torch.zeros(n, 3, h, w, dtype=torch.float32, device=ab.device)
        ab = ab.float()
        for i in range(n):
            for _ in range(self.count()):
                side = int(self.rng.choice(PATCH_SIDES))
                y, x = int(self.rng.integers(0, h - side + 1)), int(self.rng.integers(0, w - side + 1))
                patch = (slice(y, y + side), slice(x, x + side))
                out[i, :2, patch[0], patch[1]] = ab[i, :, patch[0], patch[1]].mean(dim=(1, 2))[:, None, None]
                out[i, 2, patch[0], patch[1]] = 1.0
        return out
