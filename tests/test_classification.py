"""The classification head: a/b bins, soft targets, rebalancing, annealed mean, weights, knobs."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import TINY_SIZE, gradient_image

from training import train
from vidcolor import Colorizer, ColorNet, ModelConfig, colorize_image, load_model, save_weights, write_image
from vidcolor.cli import main
from vidcolor.color import rgb_to_lab
from vidcolor.models.abbins import (
    BIN_STEP,
    DEFAULT_TEMPERATURE,
    annealed_mean,
    gamut_bins,
    nearest_bin,
    rebalance_weights,
    soft_cross_entropy,
    soft_encode,
)
from vidcolor.weights import FORMAT_NAME, FORMAT_VERSION

BINS = gamut_bins()


def classifier(size: int = TINY_SIZE, **over) -> ColorNet:
    torch.manual_seed(0)
    config = ModelConfig.paper(size=size, head="classification", num_bins=len(BINS), input_scaling="centered", **over)
    return ColorNet(config).eval()


def in_gamut_ab(n: int, seed: int = 0) -> torch.Tensor:
    """(1,2,1,n) a/b of random sRGB colours."""
    rgb = torch.rand(3, 1, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return rgb_to_lab(rgb)[1:].float()[None]


def test_gamut_bins_are_a_step_10_grid_of_reachable_colors():
    assert len(BINS) == 261
    denser = set(map(tuple, gamut_bins(levels=96).tolist()))  # finds the same cells and an edge one
    assert set(map(tuple, BINS.tolist())) <= denser and len(denser) - len(BINS) <= 2
    assert torch.equal(BINS, torch.round(BINS / BIN_STEP) * BIN_STEP)
    assert (BINS == 0).all(dim=1).any()  # grey has its bin
    # every sRGB colour's nearest bin is within half a diagonal step
    ab = in_gamut_ab(5000)
    nearest = BINS[nearest_bin(ab, BINS)].permute(0, 3, 1, 2)  # (1,H,W,2) -> (1,2,H,W)
    assert (ab - nearest).norm(dim=1).max() <= BIN_STEP / 2 * 2 ** 0.5 + 1e-4


def test_soft_targets_sum_to_one_and_peak_at_the_nearest_bin():
    ab = in_gamut_ab(4000, seed=1)
    idx, w = soft_encode(ab, BINS)
    assert idx.shape == w.shape == (1, 5, 1, 4000)
    assert torch.allclose(w.sum(1), torch.ones(1, 1, 4000), atol=1e-6)
    assert torch.equal(idx[:, 0], nearest_bin(ab, BINS))  # the grid search finds the true nearest
    assert (w[:, 0] >= w[:, 1:].max(1).values).all()
    # the 5 bins are the 5 nearest of all 261, as a brute-force search says
    d2 = ((ab.permute(0, 2, 3, 1)[..., None, :] - BINS) ** 2).sum(-1)
    brute = d2.topk(5, largest=False).indices.permute(0, 3, 1, 2)
    assert (idx.sort(1).values == brute.sort(1).values).float().mean() > 0.999
    # a pixel exactly on a centre: Gaussian of the distances, sigma 5
    on = BINS[100].view(1, 2, 1, 1)
    idx, w = soft_encode(on, BINS)
    assert idx[0, 0, 0, 0] == 100 and w[0, 0, 0, 0] == pytest.approx(1 / (1 + 4 * np.exp(-100 / 50)), rel=1e-4)


def test_rebalancing_weights_have_prior_mean_one_and_favour_rare_colors():
    prior = torch.rand(len(BINS), generator=torch.Generator().manual_seed(0)) ** 4 * 1000
    w = rebalance_weights(prior)
    p = prior / prior.sum()
    assert float((p * w).sum()) == pytest.approx(1.0, abs=1e-5)
    assert w[prior.argmin()] > w[prior.argmax()]
    # mixed half with uniform: w ~ 1 / (0.5 p + 0.5 / Q)
    q = len(BINS)
    expected = 1 / (0.5 * p.double() + 0.5 / q)
    assert torch.allclose(w.double(), expected / (p.double() * expected).sum(), rtol=1e-5)


def test_annealed_mean_goes_from_mean_at_t1_to_mode_as_t_shrinks():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, len(BINS), 3, 3, generator=gen)
    logits.scatter_add_(1, torch.randint(0, len(BINS), (2, 1, 3, 3), generator=gen), torch.full((2, 1, 3, 3), 10.0))
    p = torch.softmax(logits, 1)
    mean = torch.einsum("nqhw,qc->nchw", p, BINS)
    assert torch.allclose(annealed_mean(logits, BINS, 1.0), mean, atol=1e-4)
    mode = BINS[logits.argmax(1)].permute(0, 3, 1, 2)
    assert torch.allclose(annealed_mean(logits, BINS, 0.01), mode, atol=1e-3)
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(logits, BINS, 0.0)
    # the default temperature sits between the two: each pixel's colour lies nearer its mode than
    # the mean does, and is more saturated than the mean (the paper's point: the mean is desaturated)
    default = annealed_mean(logits, BINS, DEFAULT_TEMPERATURE)
    assert 0.0 < DEFAULT_TEMPERATURE < 1.0
    assert ((default - mode).norm(dim=1) <= (mean - mode).norm(dim=1) + 1e-4).all()
    assert default.norm(dim=1).mean() > mean.norm(dim=1).mean()


def test_cross_entropy_is_lowest_for_the_target_distribution():
    ab = in_gamut_ab(64, seed=2).view(1, 2, 8, 8)
    idx, w = soft_encode(ab, BINS)
    target = torch.full((1, len(BINS), 8, 8), -30.0).scatter(1, idx, torch.log(w))
    loss_target = soft_cross_entropy(target, idx, w)
    loss_random = soft_cross_entropy(torch.randn(1, len(BINS), 8, 8), idx, w)
    assert loss_target < loss_random
    assert float(loss_target) == pytest.approx(float(-(w * w.log()).sum(1).mean()), abs=1e-3)  # the entropy


@pytest.mark.parametrize("head", ["regression", "classification"])
def test_both_heads_save_load_and_colorize(tmp_path, head):
    model = classifier() if head == "classification" else ColorNet(ModelConfig.paper(size=TINY_SIZE)).eval()
    save_weights(model, tmp_path / "m.pt", dtype=torch.float16)
    loaded = load_model(tmp_path / "m.pt", device="cpu")
    assert loaded.config == model.config
    if head == "classification":
        assert torch.equal(loaded.ab_bins, BINS)  # the bins travel with the weights, in full precision
    img = gradient_image(37, 53)
    out = colorize_image(loaded, img, precision="fp32")
    assert out.shape == img.shape and out.dtype == np.uint8
    x = torch.rand(1, 1, TINY_SIZE, TINY_SIZE) * 2 - 1
    ab = loaded.decode(loaded(x))
    assert ab.shape[-1] == (TINY_SIZE // 2 if head == "classification" else TINY_SIZE)


def test_old_regression_weight_files_still_load(tmp_path):
    """A file of format 1 written before the heads existed: its config has no head, bins or T."""
    torch.manual_seed(1)
    model = ColorNet(ModelConfig.paper(size=TINY_SIZE))
    old_config = {"activation": "swish", "input_scaling": "raw", "size": TINY_SIZE, "ab_scale": 128.0,
                  "loss": "mae", "optimizer": "adam"}
    torch.save({"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": old_config,
                "state_dict": {k: v.half() for k, v in model.state_dict().items()}, "metadata": {}},
               tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt", device="cpu")
    assert loaded.config == ModelConfig.paper(size=TINY_SIZE)  # upgraded: the keys it predates are the paper's
    assert loaded.config.head == "regression" and not hasattr(loaded, "ab_bins")
    x = torch.rand(1, 1, TINY_SIZE, TINY_SIZE) * 100
    with torch.inference_mode():
        assert torch.allclose(loaded(x), model.half().float()(x), atol=1e-5)


def test_temperature_knob_changes_vividness_and_refuses_bad_values(tiny_model):
    model = classifier()
    img = gradient_image(40, 40)
    chroma = []
    for t in (0.2, 1.0):
        out = colorize_image(Colorizer(model, precision="fp32", temperature=t), img)
        lab = rgb_to_lab(torch.from_numpy(out / 255.0).permute(2, 0, 1))
        chroma.append(float(lab[1:].norm(dim=0).mean()))
    assert chroma[0] > chroma[1]  # lower = more vivid
    for bad in (0, 1e-38, 1e-45, float("nan"), 101):  # 1e-38 overflowed the softmax: an all-white still
        with pytest.raises(ValueError, match="^temperature must be between 0.01 and 100"):
            Colorizer(model, temperature=bad)
    with pytest.raises(ValueError, match="only to a classification model"):
        Colorizer(tiny_model, temperature=0.38)


def test_cli_temperature_errors_are_one_line(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(8, 8))
    for value, words in (("0", "--temperature must be between"), ("-1", "--temperature must be between"),
                         ("1e-38", "--temperature must be between"), ("0.5", "only to a classification")):
        result = CliRunner().invoke(main, [str(tmp_path / "in.png"), str(tmp_path / "o.png"), "--model",
                                           str(tiny_weights), "--temperature", value, "-q"])
        assert result.exit_code == 2 and words in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "o.png").exists()


def test_init_from_regression_loads_the_body_and_rescales_the_first_conv():
    torch.manual_seed(3)
    reg = ColorNet(ModelConfig.paper(size=TINY_SIZE, input_scaling="raw"))
    cls = classifier()
    fresh = train.init_from(cls, {"state_dict": reg.state_dict(), "config": reg.config.to_dict()})
    last = [k for k in cls.state_dict() if k.startswith("layers.")][-2:]
    assert sorted(fresh) == sorted(last)  # only the 16 -> Q conv starts afresh
    lightness = torch.rand(1, 1, TINY_SIZE, TINY_SIZE) * 100
    first = (lambda m, x: m.layers[0](x))
    same = torch.allclose(first(reg, lightness)[..., 1:-1, 1:-1],
                          first(cls, cls.config.scale_l(lightness))[..., 1:-1, 1:-1], atol=1e-3)
    assert same  # the same response to the same L* away from the zero-padded border


def test_selection_never_prefers_a_sepia_epoch():
    sepia = {"val_psnr": 22.5, "val_colourfulness": 0.3}
    vivid = {"val_psnr": 21.9, "val_colourfulness": 0.65}
    more_vivid_worse = {"val_psnr": 21.5, "val_colourfulness": 0.8}
    assert train.selection_key(vivid) > train.selection_key(sepia)
    assert train.selection_key(vivid) > train.selection_key(more_vivid_worse)
    assert train.selection_key({"val_psnr": 20, "val_colourfulness": 0.5}) > train.selection_key(sepia)


def test_prior_correction_shifts_logits_by_the_log_weights():
    from training.export import correct_prior
    model = classifier()
    weights = torch.rand(len(BINS), generator=torch.Generator().manual_seed(4)) + 0.1
    x = torch.rand(1, 1, TINY_SIZE, TINY_SIZE) * 2 - 1
    with torch.inference_mode():
        before = model(x)
    correct_prior(model, weights, 0.5)
    with torch.inference_mode():
        after = model(x)
    assert torch.allclose(after, before - 0.5 * torch.log(weights).view(1, -1, 1, 1), atol=1e-5)
    with pytest.raises(ValueError, match="classification"):
        correct_prior(ColorNet(ModelConfig.paper(size=TINY_SIZE)), weights, 0.5)


def test_training_from_a_corrected_release_puts_the_prior_back(tmp_path):
    """--init from a file exported with --prior-correction continues from the uncorrected logits."""
    from training.export import correct_prior
    from training.recipes import RECIPES
    from training.train import init_from, restore_prior
    from vidcolor.weights import read_weights, save_weights
    model = classifier()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    weights = torch.rand(len(BINS), generator=torch.Generator().manual_seed(5)) + 0.1
    correct_prior(model, weights, 0.5)
    save_weights(model, tmp_path / "release.pt", metadata={"prior_correction": 0.5})
    release = read_weights(tmp_path / "release.pt")
    fresh = classifier()
    init_from(fresh, release)
    assert restore_prior(fresh, RECIPES["adam-ce-classify"], release, weights) == 0.5
    for name, tensor in fresh.state_dict().items():
        assert torch.allclose(tensor, original[name], atol=1e-5), name
    assert restore_prior(fresh, RECIPES["adam-ce-classify"], {"metadata": {}}, weights) == 0.0  # a plain checkpoint: nothing to undo


def test_inference_annealed_mean_equals_the_plain_formula_across_chunks():
    """The chunked inference path (pixels in pieces of ANNEAL_CHUNK) gives what softmax + expectation
    over the whole tensor gives, for channels-last and contiguous logits, and leaves them untouched."""
    from vidcolor.models.abbins import ANNEAL_CHUNK, annealed_mean
    gen = torch.Generator().manual_seed(6)
    logits = torch.randn(2, len(BINS), 48, 48, generator=gen) * 3  # 4608 pixels: more than one chunk
    assert logits.shape[0] * 48 * 48 > ANNEAL_CHUNK
    reference = torch.einsum("nqhw,qc->nchw", torch.softmax(logits / 0.38, dim=1), BINS)
    for layout in (torch.contiguous_format, torch.channels_last):
        given = logits.contiguous(memory_format=layout)
        kept = given.clone()
        with torch.inference_mode():
            out = annealed_mean(given, BINS, 0.38)
        assert out.shape == reference.shape and torch.allclose(out, reference, atol=1e-3)
        assert torch.equal(given, kept)
    trained = logits.clone().requires_grad_()
    annealed_mean(trained, BINS, 0.38).sum().backward()  # the training path keeps its gradient
    assert trained.grad is not None


def test_colorful_loss_is_the_decoded_error_plus_a_one_sided_color_hinge():
    """ColourfulMSE: the annealed-mean squared error, plus a hinge that acts only while the output
    is less colourful than COLOUR_TARGET of the truth (never on a neutral truth); differentiable."""
    from training.colourful import MSE_UNIT, ColorfulMSE, lab_colourfulness
    gen = torch.Generator().manual_seed(7)
    flat = torch.zeros(1, 2, 8, 8)
    assert lab_colourfulness(flat).item() < 1e-2
    tinted = flat + torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # a uniform tint: 0.3 x its chroma 5
    assert lab_colourfulness(tinted).item() == pytest.approx(1.5, abs=1e-2)
    loss = ColorfulMSE(BINS, DEFAULT_TEMPERATURE, ab_scale=128.0)
    # nearly flat logits: the output is close to the bins' mean everywhere, far from colourful
    logits = (0.01 * torch.randn(2, len(BINS), 4, 4, generator=gen)).requires_grad_()
    pred = annealed_mean(logits, BINS, DEFAULT_TEMPERATURE)
    neutral = torch.zeros(2, 2, 8, 8)  # the dataset's a/b in -1..1, twice the logits' side
    expected = (pred ** 2).mean() / MSE_UNIT
    assert loss(logits, neutral).item() == pytest.approx(expected.item(), rel=1e-4)  # no hinge on grey
    vivid = torch.rand(2, 2, 8, 8, generator=gen) * 1.2 - 0.6  # far more colourful than the prediction
    total = loss(logits, vivid)
    mse = ((pred - torch.nn.functional.adaptive_avg_pool2d(vivid, (4, 4)) * 128) ** 2).mean().item() / MSE_UNIT
    assert total.item() > mse + 1e-3  # the hinge adds to the error
    total.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_colorful_recipe_fine_tunes_the_release_output_as_it_is():
    """The decoded-colour recipe is a classification recipe and keeps a release's prior correction."""
    import argparse

    from training.train import resolve_config, restore_prior
    config, recipe = resolve_config(argparse.Namespace(recipe="adam-mse-colourful-classify", size=TINY_SIZE))
    assert config.head == "classification" and recipe.loss == "mse-colourful" and recipe.lr > 0
    model = ColorNet(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert restore_prior(model, recipe, {"metadata": {"prior_correction": 0.5}}, torch.ones(len(BINS)) * 2) == 0.0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_export_records_the_correction_a_colorful_fine_tune_inherited(tmp_path):
    """A decoded-colour fine-tune of a release, exported with more correction, records the sum, so
    a later --init with the cross-entropy recipe takes all of it back out."""
    from training.export import export
    from training.recipes import RECIPES
    model = classifier()
    ckpt = {"model": model.state_dict(), "config": model.config.to_dict(), "epoch": 0, "data": {"root": "x"},
            "recipe": RECIPES["adam-mse-colourful-classify"].to_dict(),
            "class_weights": torch.ones(len(BINS)) * 2, "lineage": [{"prior_correction": 0.5}]}
    torch.save(ckpt, tmp_path / "last.pt")
    meta = export(tmp_path / "last.pt", tmp_path / "tuned.pt", evaluate=False, prior_correction=0.25)
    assert meta["prior_correction"] == 0.75
    ckpt["recipe"]["loss"] = "ce"  # a cross-entropy run trained uncorrected logits: only the export's own
    torch.save(ckpt, tmp_path / "last.pt")
    assert export(tmp_path / "last.pt", tmp_path / "ce.pt", evaluate=False, prior_correction=0.25)[
        "prior_correction"] == 0.25
