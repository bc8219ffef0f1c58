"""What training minimises: the regression losses, Zhang et al.'s rebalanced cross-entropy over
the a/b bins with the training photos' prior, and the prior correction a release may carry."""
from __future__ import annotations

import cv2
import torch
import torch.nn.functional as F

from vidcolor.models import ColorModel, ModelConfig
from vidcolor.models.abbins import ab_histogram, rebalance_weights, soft_cross_entropy, soft_encode

from .colourful import LOSS as COLOURFUL_LOSS, ColorfulMSE, keeps_prior_correction
from .data import ColorImages, rgb_to_lab_np
from .export import correct_prior
from .recipes import Recipe

PRIOR_SIDE = 64  # px: training photos are reduced to this side to measure the a/b prior


def loss_fn(name: str):
    """The regression loss on a/b in -1..1 (validation also reports L1 for classification)."""
    return F.mse_loss if name == "mse" else F.l1_loss


class RebalancedCrossEntropy:
    """Zhang et al.'s loss: targets soft-encoded over the 5 nearest a/b bins (Gaussian, sigma 5) at
    the logits' resolution, each pixel weighted by the rebalancing weight of its nearest bin."""

    def __init__(self, centres: torch.Tensor, class_weights: torch.Tensor, ab_scale: float):
        self.centres = centres
        self.class_weights = class_weights
        self.ab_scale = ab_scale

    def __call__(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """logits (N,Q,s,s); ab the dataset's target (N,2,S,S) in -1..1, area-reduced to s x s."""
        ab = F.adaptive_avg_pool2d(ab.float(), logits.shape[-2:]) * self.ab_scale
        with torch.no_grad():
            idx, w = soft_encode(ab, self.centres.to(ab.device))
            pixel_w = self.class_weights.to(ab.device)[idx[:, 0]]
        return soft_cross_entropy(logits, idx, w, pixel_w)


def ab_prior(dataset: ColorImages, centres: torch.Tensor) -> torch.Tensor:
    """Pixel counts per a/b bin over the training photos, each reduced to PRIOR_SIDE on its long side."""
    counts = torch.zeros(len(centres), dtype=torch.float64)
    for i in range(len(dataset.ids)):
        rgb = dataset.image(i)
        scale = PRIOR_SIDE / max(rgb.shape[:2])
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        counts += ab_histogram(rgb_to_lab_np(small)[None, 1:], centres)
    return counts


def make_criterion(config: ModelConfig, recipe: Recipe, model: ColorModel, train_set: ColorImages, state: dict):
    """The training loss; for classification builds (or reuses from ``state``) the a/b prior and
    its rebalancing weights, and stores them in ``state`` for the checkpoint."""
    if config.head == "regression":
        return loss_fn(recipe.loss)
    if "ab_prior" not in state:
        state["ab_prior"] = ab_prior(train_set, model.ab_bins.cpu())
    state["class_weights"] = rebalance_weights(state["ab_prior"])  # also what export's prior correction uses
    if recipe.loss == COLOURFUL_LOSS:
        return ColorfulMSE(model.ab_bins, config.temperature, config.ab_scale)
    return RebalancedCrossEntropy(model.ab_bins, state["class_weights"], config.ab_scale)


def restore_prior(model: ColorModel, recipe: Recipe, init: dict, class_weights: torch.Tensor | None) -> float:
    """A released classification model had part of its rebalancing taken out of its last bias
    (``vidcolor-export --prior-correction``); the rebalanced cross-entropy goes on from the
    uncorrected logits, so put that share back (with this run's class weights); the decoded-colour
    loss trains the release's output as it is. Returns the share restored (0: none)."""
    strength = float(init.get("metadata", {}).get("prior_correction") or 0.0)
    if (not strength or class_weights is None or model.config.head != "classification"
            or keeps_prior_correction(recipe.loss)):
        return 0.0
    correct_prior(model, class_weights, -strength)
    return strength
