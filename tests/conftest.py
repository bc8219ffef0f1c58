"""Shared fixtures: tiny random-initialised models; the helpers they and the tests use are in helpers.py."""
from __future__ import annotations

import pytest
import torch
from helpers import TINY_SIZE

from vidcolor import ColorNet, ModelConfig, save_weights


@pytest.fixture
def tiny_model() -> ColorNet:
    torch.manual_seed(0)
    return ColorNet(ModelConfig.paper(size=TINY_SIZE)).eval()


@pytest.fixture
def tiny_weights(tmp_path, tiny_model):
    path = tmp_path / "tiny.pt"
    save_weights(tiny_model, path, metadata={"provenance": "random init for tests"})
    return path
