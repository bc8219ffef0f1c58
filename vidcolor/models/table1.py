"""The colourization network of Table I (Horvath, Matyas, Gurubi), exactly.

13 3x3 convs with three nearest upsamplings; ``regression`` is the paper's head (two channels
through tanh), ``classification`` the same body ending in logits over the a/b bins.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import ColorModel, ModelConfig

STRIDE = 8  # three stride-2 convs: the input side must be a multiple of this
# (in_channels, out_channels, stride) of conv2d_1..conv2d_13; "up" marks a nearest 2x upsampling.
TABLE_I: tuple = (
    (1, 64, 2), (64, 128, 1), (128, 128, 2), (128, 256, 1), (256, 256, 2),  # encoder
    (256, 512, 1), (512, 512, 1),  # bottleneck
    (512, 256, 1), (256, 128, 1), "up", (128, 64, 1), "up",  # decoder
    (64, 32, 1), (32, 16, 1), (16, 2, 1), "up",
)


class ColorNet(ColorModel):
    """Table I: 13 3x3 convs, 3 nearest upsamplings, tanh on the two a/b output channels.

    With ``head="classification"`` the last conv gives ``num_bins`` logits instead, with no tanh,
    and the final nearest upsampling is left out: the logits come at half the input side (a
    nearest upsampling adds nothing a later bilinear one does not), which keeps Q-channel maps
    small. The bin centres are the buffer ``ab_bins`` (Q, 2), saved and loaded with the weights."""

    stride = STRIDE

    def output_side(self, size: int) -> int:
        """Regression a/b at the input's side; classification logits at half (no last upsampling)."""
        return size // 2 if self.config.head == "classification" else size

    def __init__(self, config: ModelConfig | None = None, ab_bins: torch.Tensor | None = None,
                 pretrained: bool = False):
        """``ab_bins``: a classification model's stored bin centres, when loading one; without them
        the bins are derived (``gamut_bins``), as for a model about to be trained. There are no
        pretrained weights of this body: it trains from scratch."""
        super().__init__()
        if pretrained:
            raise ValueError("the table1 body has no pretrained weights; it trains from scratch")
        self.config = config or ModelConfig.paper()
        self.check_config(self.config)
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

    def first_conv(self) -> str:
        return "layers.0"
