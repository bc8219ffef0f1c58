"""Simulated people who click colour hints, for benchmarks/hints.py and benchmarks/keyframes.py.

- ``random``: Zhang et al. 2017's protocol: k places at random (seeded), spread evenly over a
  picture, each the mean true colour of the 5 x 5 patch there.
- ``person``: interactive segmentation's protocol (RITM, FocalClick, SimpleClick), as a person
  clicks: look at the picture, find the connected region where the colour is wrong (a/b error above
  ``ERROR_AB``) with the largest summed error, click the point farthest inside it from its edge
  (distance transform; the picture's border counts as an edge), in the true colour there (the mean
  of the 5 x 5 patch); re-coloured after every click.
- ``suggest``: clicks where the studio suggests (``vidcolor.suggest``), in the true colour there.

Each click is a 5 x 5 patch (``PATCH``): a hinted mask and its a/b.
"""
from __future__ import annotations

import numpy as np

from vidcolor.suggest import middle_of_heaviest

ERROR_AB = 12.0  # a/b units: a pixel whose colour is this far from the truth is wrong
PATCH = 2  # a click covers the 5 x 5 patch around its point


def patch(ab_true: np.ndarray, y: int, x: int) -> tuple[tuple[slice, slice], np.ndarray]:
    """The 5 x 5 box around (y, x) (kept inside the picture) and the mean true a/b there."""
    h, w = ab_true.shape[:2]
    y, x = min(max(y, PATCH), h - PATCH - 1), min(max(x, PATCH), w - PATCH - 1)
    box = (slice(y - PATCH, y + PATCH + 1), slice(x - PATCH, x + PATCH + 1))
    return box, ab_true[box].reshape(-1, 2).mean(0)


def random_point(shape: tuple[int, int], rng) -> tuple[int, int]:
    h, w = shape
    return int(rng.integers(PATCH, h - PATCH)), int(rng.integers(PATCH, w - PATCH))


def worst_region_point(ab_now: np.ndarray, ab_true: np.ndarray) -> tuple[int, int] | None:
    """Where the person clicks next: the point farthest from the edge of the connected region of
    wrong colour with the largest summed error; None where no pixel is wrong."""
    error = np.hypot(*(ab_now - ab_true).transpose(2, 0, 1))
    return middle_of_heaviest(error > ERROR_AB, error)


def add_click(mask: np.ndarray, hint_ab: np.ndarray, ab_true: np.ndarray, y: int, x: int) -> None:
    """Paint a click at (y, x) into ``mask`` / ``hint_ab`` (later clicks paint over earlier ones)."""
    box, colour = patch(ab_true, y, x)
    mask[box] = True
    hint_ab[box] = colour
