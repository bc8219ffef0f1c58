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


# the values of a config written before its key existed: the Table I paper's regression network,
# the only one there was; a file that lacks a key is upgraded with these on read
PAPER = {"body": "table1", "head": "regression", "num_bins": 0, "activation": "swish", "input_scaling": "raw",
         "size": 256, "ab_scale": 128.0, "temperature": DEFAULT_TEMPERATURE}
# what the weights were trained with: the toolkit's Recipe now; older files kept them in the config
TRAINING_KEYS = ("loss", "optimizer")
SHIPPED_BINS = 261  # the in-gamut a/b bins of the default 10-unit grid (abbins.gamut_bins)


@dataclass(frozen=True)
class ModelConfig:
    """The network and how it is fed, stored with its weights. The defaults describe the shipped
    model (lite0-unet); ``ModelConfig.paper()`` is the Table I network."""
    body: str = "lite0-unet"  # the network: "lite0-unet" (ImageNet encoder, U-Net decoder) or "table1" (the paper's)
    head: str = "classification"  # "classification": logits over a/b bins; "regression": a/b through tanh (Table I)
    num_bins: int = SHIPPED_BINS  # classification: Q, the number of a/b bins (their centres are stored as a buffer)
    activation: str = "relu"  # table1: after every conv but the last, "relu" or "swish"; lite0-unet: unused
    input_scaling: str = "centered"  # L* fed as "raw" 0..100, "normalized" 0..1 or "centered" -1..1
    size: int = 160  # square side the L channel is resized to for the network; a multiple of the body's stride
    ab_scale: float = 128.0  # regression: tanh output * ab_scale = Lab a/b units
    temperature: float = 0.6  # classification: default annealed-mean T (lower = likeliest colour)

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
    def paper(cls, **changes) -> "ModelConfig":
        """The Table I network of the paper (regression, swish, raw L, 256 px), with ``changes``."""
        return cls(**{**PAPER, **changes})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """A stored config, upgraded: keys it predates take their ``PAPER`` values, the training
        keys older files kept here (``TRAINING_KEYS``) are left to the toolkit."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - set(TRAINING_KEYS)
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{**PAPER, **{k: v for k, v in data.items() if k in known}})

    def scale_l(self, lightness: torch.Tensor) -> torch.Tensor:
        """L* 0..100 -> the network's input units."""
        if self.input_scaling == "raw":
            return lightness
        if self.input_scaling == "centered":
            return lightness / L_MID - 1.0
        return lightness / L_MAX


class ColorModel(nn.Module):
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
    output_stride: int = 1  # input side / output side

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

    def head_features(self, lightness: torch.Tensor) -> torch.Tensor | None:
        """The map the head reads, (N,C,s,s) at the output side: what the model sees at each
        place, which tells hints one thing from another (``vidcolor.propagate``); None by default."""
        return None

    def output_side(self, size: int) -> int:
        """The side of the a/b (or logits) map for an input of side ``size``."""
        return size // self.output_stride

    def features(self, lightness: torch.Tensor) -> dict[int, torch.Tensor]:
        """The encoder's maps by stride alone, without the colour head (none by default)."""
        return {}

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


