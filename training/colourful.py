"""A loss for the classification head that aims at what users judge: the decoded colour.

Rebalanced cross-entropy (Zhang et al.) trains the distribution over a/b bins and leaves the
trade between right and vivid colour to the release settings (prior correction, temperature).
``ColourfulMSE`` trains the decoded colour itself: the annealed mean at the model's own
temperature, against the photo's a/b, squared error, plus a hinge on each image's colourfulness
when it falls below a share of the truth's (DDColor's colourfulness term, in Lab and one-sided,
so a neutral photo is never pushed towards colour). Meant for fine-tuning a trained classifier
(``--init``): its decoded output is what gets better.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from vidcolor.models.abbins import annealed_mean

LOSS = "mse-colourful"  # this loss's name in a recipe and in a model config
COLOR_TARGET = 0.8  # the hinge acts while an image is less colourful than this share of its truth
COLOR_WEIGHT = 0.1  # weight of the colourfulness deficit (Lab units) against the MSE / MSE_UNIT
MSE_UNIT = 100.0  # squared Lab units: the MSE counted in units of (10 Lab)^2
EPS = 1e-6


def keeps_prior_correction(loss: str) -> bool:
    """Whether a run with this loss trains a release's logits as they are, prior correction folded
    in (this loss), rather than the uncorrected logits the rebalanced cross-entropy trains."""
    return loss == LOSS


def lab_colourfulness(ab: torch.Tensor) -> torch.Tensor:
    """(N,2,H,W) a/b in Lab units -> (N,) Hasler & Suesstrunk's colourfulness with Lab's opponent
    axes for theirs: sqrt(var a + var b) + 0.3 sqrt(mean a^2 + mean b^2)."""
    mean = ab.mean(dim=(2, 3))
    var = ab.var(dim=(2, 3), unbiased=False).sum(dim=1)
    return torch.sqrt(var + EPS) + 0.3 * torch.sqrt((mean ** 2).sum(dim=1) + EPS)


class ColorfulMSE:
    """Squared error of the annealed-mean a/b plus COLOUR_WEIGHT x the colourfulness deficit."""

    def __init__(self, centres: torch.Tensor, temperature: float, ab_scale: float,
                 target: float = COLOR_TARGET, weight: float = COLOR_WEIGHT):
        self.centres = centres
        self.temperature = temperature
        self.ab_scale = ab_scale
        self.target = target
        self.weight = weight

    def __call__(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """logits (N,Q,s,s); ab the dataset's target (N,2,S,S) in -1..1, area-reduced to s x s."""
        truth = F.adaptive_avg_pool2d(ab.float(), logits.shape[-2:]) * self.ab_scale
        pred = annealed_mean(logits.float(), self.centres.to(logits.device), self.temperature)
        mse = ((pred - truth) ** 2).mean() / MSE_UNIT
        deficit = F.relu(self.target * lab_colourfulness(truth) - lab_colourfulness(pred))
        return mse + self.weight * deficit.mean()
