"""The colourization network of Table I (Horvath, Matyas, Gurubi) and the config that rebuilds it.

L channel in, Lab a/b out through tanh. The config travels with the weights so inference
preprocesses exactly as training did.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

ACTIVATIONS = ("relu", "swish")
INPUT_SCALINGS = ("raw", "normalized")
L_MAX = 100.0  # CIE L* spans 0..100
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

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, not {self.activation!r}")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}, not {self.input_scaling!r}")
        if self.size <= 0 or self.size % DOWNSAMPLE:
            raise ValueError(f"size must be a positive multiple of {DOWNSAMPLE}, not {self.size}")
        if self.ab_scale <= 0:
            raise ValueError(f"ab_scale must be positive, not {self.ab_scale}")

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
        return lightness if self.input_scaling == "raw" else lightness / L_MAX


class ColorNet(nn.Module):
    """Table I: 13 3x3 convs, 3 nearest upsamplings, tanh on the two a/b output channels."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        act = nn.ReLU if self.config.activation == "relu" else nn.SiLU
        layers: list[nn.Module] = []
        convs = [spec for spec in TABLE_I if spec != "up"]
        for spec in TABLE_I:
            if spec == "up":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            cin, cout, stride = spec
            layers.append(nn.Conv2d(cin, cout, 3, stride=stride, padding=1))
            layers.append(nn.Tanh() if spec is convs[-1] else act(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """(N,1,S,S) L in network units -> (N,2,S,S) a/b in -1..1."""
        return self.layers(lightness)
