"""Where a person's clicks of colour reach, and where the next one is most worth making.

- ``reach``: which pixels the hints changed (the hinted colour more than ``REACH_AB`` from the
  automatic colour) and which click each belongs to (the click whose correction of the automatic
  colour it took): what the studio overlays to say "this is what your clicks coloured".
- ``uncertainty``: how unsure the model is of each pixel's colour: the spread of its a/b bin
  distribution (the root mean square distance of the bins from their mean, in a/b units), at full
  resolution. The model is least sure of things whose colour it cannot know (a car, a dress).
- ``next_click``: the point the studio suggests: the middle of the largest region where the model
  is unsure and no click reaches yet; once clicks reach everything, where the model is least sure
  far from every click.

Pure numpy and OpenCV but for ``uncertainty``, which runs the model once.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

REACH_AB = 3.0  # a/b units: a pixel the hints moved further than this is within their reach
SPREAD_BLUR = 0.02  # of the picture's diagonal: the uncertainty is judged over regions, not pixels
# of the model's greatest uncertainty where no click reaches: the places a suggestion chooses among
# (20 validation photos at 640 px, 10 clicks, a person who follows it: 0.5 +5.11 dB over grey, the
# single most uncertain place +4.61, random places +4.81)
UNSURE_SHARE = 0.5
FAR_SHARE = 0.1  # of the picture's diagonal: once clicks reach everything, half the score at this distance from one


def reach(hinted_ab: np.ndarray, auto_ab: np.ndarray, hint_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(HxW bool: the pixels the hints moved more than ``REACH_AB``, their hints' own pixels
    included; HxW int32: the click each reached pixel belongs to, 1..n in the order of
    ``cv2.connectedComponents`` over ``hint_mask``, 0 where none: the click whose mean correction
    of the automatic colour is nearest the pixel's)."""
    correction = (hinted_ab - auto_ab).astype(np.float32)
    moved = np.hypot(correction[..., 0], correction[..., 1]) > REACH_AB
    moved |= hint_mask
    count, labels = cv2.connectedComponents(hint_mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return moved, np.zeros(moved.shape, np.int32)
    # each reached pixel to the click whose correction it took: the one whose own correction (its
    # pixels' mean) is nearest the pixel's (straight distance split a meadow along a line no colour
    # followed)
    own = np.stack([np.bincount(labels.ravel(), weights=correction[..., c].ravel(), minlength=count)
                    for c in range(2)], axis=1) / np.maximum(np.bincount(labels.ravel(), minlength=count), 1)[:, None]
    best = np.full(moved.shape, np.inf, np.float32)
    owner = np.zeros(moved.shape, np.int32)
    for n in range(1, count):
        distance = np.square(correction - own[n]).sum(axis=2)
        closer = distance < best
        best[closer], owner[closer] = distance[closer], n
    owner[hint_mask] = labels[hint_mask]  # a click's own pixels are its own
    return moved, np.where(moved, owner, 0).astype(np.int32)


@torch.inference_mode()
def uncertainty(colorizer, lightness: np.ndarray) -> np.ndarray:
    """The model's spread of colour at each pixel (HxW float32, a/b units) for L* ``lightness``
    (HxW); zero everywhere for a model that regresses a/b (it gives one colour, no distribution)."""
    from .colorizer import resize_to_model

    model = colorizer.model
    height, width = lightness.shape
    if colorizer.config.head != "classification":
        return np.zeros((height, width), np.float32)
    small = resize_to_model(torch.from_numpy(np.ascontiguousarray(lightness, np.float32))[None, None]
                            .to(colorizer.device), colorizer.size)
    with colorizer._autocast():
        logits = model(colorizer.config.scale_l(small).contiguous(memory_format=torch.channels_last))
    p = torch.softmax(logits.float() / colorizer.temperature, dim=1)[0]  # as the colour is decoded
    centres = model.ab_bins.to(p)
    mean = torch.einsum("qhw,qc->chw", p, centres)
    square = torch.einsum("qhw,q->hw", p, (centres * centres).sum(1))
    spread = (square - (mean * mean).sum(0)).clamp(min=0).sqrt().cpu().numpy()
    return cv2.resize(spread, (width, height), interpolation=cv2.INTER_LINEAR)


def next_click(spread: np.ndarray, reached: np.ndarray, hint_mask: np.ndarray | None = None) -> tuple[int, int] | None:
    """(y, x) of the suggested next click: among the pixels no click reaches yet, the places where
    the model is at least ``UNSURE_SHARE`` as unsure as it is anywhere there (its uncertainty
    averaged over a region), the connected one with the most uncertainty in all (a big unsure
    region before a small very unsure thing), at its middle (the point farthest from its edge, as
    a person clicks); once clicks reach everything, the most uncertain place far from every click
    (a click's colour is surest near it). None only for an empty picture."""
    height, width = spread.shape
    if not height or not width:
        return None
    diagonal = float(np.hypot(height, width))
    score = cv2.GaussianBlur(spread.astype(np.float32), (0, 0), max(1.0, SPREAD_BLUR * diagonal)) + 1e-3
    free = ~reached
    if free.any():  # somewhere no click reaches: the surest gain
        return middle_of_heaviest(free & (score >= UNSURE_SHARE * score[free].max()), score)
    if hint_mask is not None and hint_mask.any():  # all reached: the uncertain places far from any click
        far = cv2.distanceTransform((~hint_mask).astype(np.uint8), cv2.DIST_L2, 5)
        score = score * far / (far + FAR_SHARE * diagonal)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(y), int(x)


def middle_of_heaviest(mask: np.ndarray, weight: np.ndarray) -> tuple[int, int] | None:
    """(y, x) where a person clicks a region: of the connected regions of ``mask`` (8-connected),
    the one with the most ``weight`` in all, at its point farthest from its edge (the picture's
    border counts as an edge); None where ``mask`` is empty."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return None
    total = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=count)
    total[0] = 0.0
    region = np.pad((labels == int(np.argmax(total))).astype(np.uint8), 1)
    inside = cv2.distanceTransform(region, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    return int(y), int(x)
