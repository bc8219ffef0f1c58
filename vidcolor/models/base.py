"""What every colourization network shares: the config that rebuilds it and the base class.

L channel in, Lab a/b out. A ``classification`` head ends in Q logits over the in-gamut a/b bins
of ``vidcolor.models.abbins`` (Zhang et al. 2016), decoded to a/b by the annealed mean; a
``regression`` head (the Table I paper's) gives a/b through tanh. The config travels with the
weights so inference preprocesses exactly as training did. Each body (``table1``,
``lite0_unet``) subclasses ``ColourModel`` and declares what it can do; ``registry`` maps the
config's ``body`` name to its class.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from .abbins import DEFAULT_TEMPERATURE, annealed_mean, gamut_bins

ACTIVATIONS = ("relu", "swish")
INPUT_SCALINGS = ("raw", "normalized", "centered")
HEADS = ("regression", "classification")
L_MAX = 100.0  # CIE L* spans 0..100
L_MID = 50.0  # "centered" input: (L* - 50) / 50 spans -1..1
# the new units x of each input scaling as L* = gain * x + offset
L_UNITS = {"raw": (1.0, 0.0), "normalized": (L_MAX, 0.0), "centered": (L_MID, L_MID)}


@dataclass(frozen=True)
class ModelConfig:
    activation: str = "swish"  # after every conv but the last: "relu" or "swish" (x * sigmoid(x))
    input_scaling: str = "raw"  # L fed as "raw" 0..100 or "normalized" 0..1
    size: int = 256  # square side the L channel is resized to for the network; multiple of 8
    ab_scale: float = 128.0  # tanh output * ab_scale = Lab a/b units
    loss: str = "mae"  # what the weights were trained with; recorded, not used at inference
    optimizer: str = "adam"  # likewise
    head: str = "regression"  # "regression": Table I exactly; "classification": logits over a/b bins
    num_bins: int = 0  # classification: Q, the number of a/b bins (their centres are stored as a buffer)
    temperature: float = DEFAULT_TEMPERATURE  # classification: default annealed-mean T (lower = likeliest colour)
    body: str = "table1"  # the network: "table1" (the paper's) or "lite0-unet" (ImageNet encoder, U-Net decoder)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, not {self.activation!r}")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, not {self.input_scaling!r}")
        if self.size <= 0:
            raise ValueError(f"size must be positive, not {self.size}")
        if self.ab_scale <= 0:
            raise ValueError(f"ab_scale must be positive, not {self.ab_scale}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if self.head == "classification" and self.num_bins < 2:
            raise ValueError(f"a classification head needs num_bins >= 2, not {self.num_bins}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, not {self.temperature}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)

    def scale_l(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* 0..100 -> the network's input units."""
        if self.input_scaling == "raw":
            return lightness
        if self.input_scaling == "centered":
            return lightness / L_MID - 1.0
        return lightness / L_MAX


class ColourModel(nn.Module):
    """What every body shares and declares: ``config``; ``stride``, the body's total downsampling
    (every input side is a multiple of it); ``heads``, the heads it can end in;
    ``feature_strides``, the strides of the encoder maps ``forward_features`` returns (empty
    for a body without an ImageNet encoder, whose features a reference cannot match);
    ``forward`` (network units in, raw output), the decoding of that output to a/b and, for
    classification, the ``ab_bins`` buffer."""

    config: ModelConfig
    stride: int = 1
    heads: tuple[str, ...] = HEADS
    feature_strides: tuple[int, ...] = ()

    @classmethod
    def check_config(cls, config: ModelConfig) -> None:
        """A clear ValueError where ``config`` does not fit this body."""
        if config.head not in cls.heads:
            raise ValueError(f"the {config.body} body has a {' or '.join(cls.heads)} head only")
        if config.size % cls.stride:
            raise ValueError(f"size must be a positive multiple of {cls.stride} for the {config.body} body, "
                             f"not {config.size}")

    def forward_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """``forward``, and the encoder's maps by stride (``feature_strides``; none by default)."""
        return self(lightness), {}

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters of a pretrained encoder, trained at their own rate (none by default)."""
        return []

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Keep a pretrained encoder fixed while the rest trains (nothing to do without one)."""

    def first_conv(self) -> str | None:
        """The state-dict prefix of the conv that sees L, where its weights may be rescaled to other
        L units when another run's weights initialise this one (``--init``); None: never."""
        return None

    def decode(self, out: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """The network's raw output (``forward``) -> a/b in Lab units, float32."""
        if self.config.head == "regression":
            if temperature is not None:
                raise ValueError("a temperature applies only to a classification model; this one regresses a/b")
            return out.float() * self.config.ab_scale
        return annealed_mean(out, self.ab_bins, self.config.temperature if temperature is None else temperature)

    def logits_conv(self) -> nn.Conv2d:
        """The last conv (its bias holds a classification model's prior correction)."""
        raise NotImplementedError

    def _register_bins(self, ab_bins: torch.Tensor | None) -> None:
        """The a/b bin centres as the buffer ``ab_bins``: a loaded model's stored ones, else derived
        (``gamut_bins``), as for a model about to be trained."""
        bins = gamut_bins() if ab_bins is None else ab_bins.float()
        if len(bins) != self.config.num_bins:  # another bin rule: the loaded buffer replaces these
            bins = torch.zeros(self.config.num_bins, 2)
        self.register_buffer("ab_bins", bins)


