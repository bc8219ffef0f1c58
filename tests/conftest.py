"""Shared fixtures: tiny random-initialised models and generated images; no files shipped."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidcolor import ColorNet, ModelConfig, save_weights

TINY_SIZE = 32  # model input side for tests: fast, still a multiple of 8


@pytest.fixture
def tiny_model() -> ColorNet:
    torch.manual_seed(0)
    return ColorNet(ModelConfig.paper(size=TINY_SIZE)).eval()


@pytest.fixture
def tiny_weights(tmp_path, tiny_model):
    path = tmp_path / "tiny.pt"
    save_weights(tiny_model, path, metadata={"provenance": "random init for tests"})
    return path


def gradient_image(height: int, width: int, channels: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with some noise: varied L, not flat."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0.5 * np.sin(x / 7.0)], axis=-1)
    base = np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1)
    peak = np.iinfo(dtype).max
    img = (base * peak).round().astype(dtype)
    if channels == 1:
        return img[..., 1]
    if channels == 4:
        alpha = (np.linspace(0, 1, width)[None, :].repeat(height, 0) * peak).astype(dtype)
        return np.concatenate([img, alpha[..., None]], axis=-1)
    return img


def cli(*args):
    """The vidcolor command run in-process on ``args`` (paths allowed)."""
    from click.testing import CliRunner

    from vidcolor.cli import main
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result, *words):
    """A failed run said one line (no traceback) holding each of ``words``."""
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and "Traceback" not in result.output, result.output
    for w in words:
        assert w in lines[0], (w, lines[0])
