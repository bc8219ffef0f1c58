"""The shipped default model: found after a real install, colourizes, and its card tells the truth."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import REPO
from vidcolor import Colorizer, colorize_image, load_model, read_image
from vidcolor.color import rgb_to_lab
from vidcolor.weights import DEFAULT_WEIGHTS

CORPUS = REPO.parent / "shared" / "corpus"  # the team's photos; CI has a copy beside the checkout
CARD = DEFAULT_WEIGHTS.with_name("MODEL_CARD.md")
RECHECKED_IMAGES = 6  # test-split photos re-evaluated against the numbers recorded at export


def lab_of(img: np.ndarray) -> torch.Tensor:
    rgb = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
    return rgb_to_lab(torch.from_numpy(rgb[..., :3] / 255.0).permute(2, 0, 1))


def test_default_model_colorizes_a_sample_and_keeps_its_lightness():
    model = load_model("default", device="cpu")
    assert model.metadata["metrics"]["split"] == "test"
    grey = read_image(REPO / "samples" / "lighthouse_bw.jpg")
    out = colorize_image(model, grey)
    lab_in, lab_out = lab_of(grey), lab_of(out)
    assert out.shape[:2] == grey.shape[:2]
    assert (lab_out[0] - lab_in[0]).abs().mean() < 0.5
    assert torch.linalg.vector_norm(lab_out[1:], dim=0).mean() > 3.0  # coloured, not grey


@pytest.mark.slow
def test_default_model_is_found_from_a_non_editable_install(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO)], check=True, capture_output=True, timeout=600)
    code = ("import vidcolor; m = vidcolor.load_model('default', device='cpu'); "
            "print(vidcolor.__file__); print(m.config.size)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(target)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(str(target))


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the training corpus (../shared/corpus) is not beside this checkout")
def test_model_card_metrics_match_a_fresh_evaluation():
    from training.evaluate import evaluate_images
    model = load_model("default", device="cpu")
    recorded = model.metadata["metrics_per_image"]
    mean = model.metadata["metrics"]
    card = CARD.read_text()
    assert f"{mean['psnr']:.2f}" in card and f"{mean['psnr_grey']:.2f}" in card
    assert f"{mean['colourfulness']:.2f}" in card and f"{mean['colourfulness_truth']:.2f}" in card
    assert np.mean([r["psnr"] for r in recorded]) == pytest.approx(mean["psnr"])
    subset = recorded[:RECHECKED_IMAGES]
    fresh = evaluate_images(Colorizer(model, precision="fp32"), CORPUS, [r["image"] for r in subset])
    for old, new in zip(subset, fresh["per_image"]):
        assert new["image"] == old["image"]
        for key in ("psnr", "psnr_grey", "colourfulness", "colourfulness_truth", "ab_error"):
            assert new[key] == pytest.approx(old[key], abs=0.01), (old["image"], key)
