"""A model that reads colour hints: its hint branch leaves the model without hints as it was (bit for
bit), the clicks reach it where they were made, its recipe trains the branch alone, and a hinted
picture takes the network's colour before the edge propagation."""
import numpy as np
import pytest
import torch

from training import train
from training.hintsim import VAL_HINTS, SimulatedHints
from vidcolor.hinted import hinted_ab, hinted_picture
from vidcolor.hints import network_hints
from vidcolor.models import ModelConfig, build_model
from vidcolor.models.abbins import gamut_bins
from vidcolor.propagate import apply_hints

SIZE = 64


def config(hints: bool) -> ModelConfig:
    return ModelConfig(size=SIZE, head="classification", num_bins=len(gamut_bins()), input_scaling="centered",
                       body="lite0-unet", hints=hints)


def pair():
    """A model and the same model with a hint branch trained onto it (weights at random)."""
    torch.manual_seed(0)
    plain = build_model(config(False)).eval()
    hinted = build_model(config(True))
    assert not hinted.load_state_dict(plain.state_dict(), strict=False).unexpected_keys
    return plain, hinted.eval()


def clicks(n=1, side=SIZE) -> torch.Tensor:
    hints = torch.zeros(n, 3, side, side)
    hints[:, 0, 20:23, 30:33], hints[:, 1, 20:23, 30:33], hints[:, 2, 20:23, 30:33] = 0.4, -0.2, 1.0
    return hints


def test_without_hints_the_model_is_the_one_it_was_trained_onto_bit_for_bit():
    plain, hinted = pair()
    x = torch.rand(2, 1, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        want = plain(x)
        assert torch.equal(hinted(x), want)
        assert torch.equal(hinted(x, torch.zeros(2, 3, SIZE, SIZE)), want)  # the branch has no bias
        assert torch.equal(hinted(x, clicks(2)), want)  # its injections start at zero
    with pytest.raises(ValueError, match="takes no hints"):
        plain(x, clicks(2))
    with pytest.raises(ValueError, match="only the lite0-unet body takes hints"):
        ModelConfig.paper(hints=True)


def test_the_hints_recipe_trains_the_branch_alone_and_the_clicks_then_move_the_colour():
    plain, hinted = pair()
    groups = train.param_groups(hinted, 1e-2, encoder_lr=0.0, decoder_lr=0.0)
    assert len(groups) == 1 and {id(p) for p in groups[0]["params"]} == {id(p) for p in hinted.hint_parameters()}
    frozen = {k: v.clone() for k, v in hinted.state_dict().items() if not k.startswith("hint_")}
    optimizer = torch.optim.AdamW(groups, lr=1e-2)
    hinted.train()
    assert not hinted.stages.training and not hinted.encoder.training  # BatchNorm and dropout as released
    x = torch.rand(2, 1, SIZE, SIZE) * 2 - 1
    for _ in range(3):
        optimizer.zero_grad()
        hinted(x, clicks(2))[:, 0].mean().backward()
        optimizer.step()
    hinted.eval()
    for k, v in hinted.state_dict().items():
        if not k.startswith("hint_"):
            assert torch.equal(v, frozen[k]), k
    with torch.no_grad():
        assert torch.equal(hinted(x), plain(x))  # without hints: still the release's colour
        moved = (hinted(x, clicks(2)) - plain(x)).abs()
    assert moved.max() > 1e-3


def test_a_click_reaches_the_network_where_it_was_made():
    mask = np.zeros((90, 160), bool)
    ab = np.zeros((90, 160, 2), np.float32)
    mask[44:47, 100:103], ab[44:47, 100:103] = True, (64.0, -32.0)
    planes = network_hints(mask, ab, 32, 128.0)[0]
    assert planes.shape == (3, 32, 32)
    hinted = planes[2] > 0
    ys, xs = np.nonzero(hinted.numpy())
    assert 1 <= hinted.sum() <= 4 and set(ys) <= {15, 16} and set(xs) <= {19, 20}  # rows 44-46 of 90, columns 100-102 of 160
    assert torch.allclose(planes[0][hinted], torch.tensor(0.5)) and torch.allclose(planes[1][hinted], torch.tensor(-0.25))
    assert planes[:2][:, ~hinted].abs().max() == 0


def test_simulated_clicks_are_patches_of_the_true_colour_and_repeat_with_their_seed():
    ab = torch.rand(3, 2, 32, 32) * 2 - 1
    first = SimulatedHints(seed=(0, 1, 0))(ab)
    assert torch.equal(first, SimulatedHints(seed=(0, 1, 0))(ab))
    assert not torch.equal(first, SimulatedHints(seed=(0, 2, 0))(ab))
    mask = first[:, 2] > 0
    assert mask.flatten(1).any(1).all()  # every crop gets at least one click
    assert first[:, :2].abs().max() <= 1 and (first[:, :2] * ~mask[:, None]).abs().sum() == 0
    one = torch.zeros(1, 2, 32, 32)
    one[0, 0] = 0.3
    got = SimulatedHints(seed=0, max_points=None)(one)
    assert torch.allclose(got[0, 0][got[0, 2] > 0], torch.tensor(0.3))  # a click is the colour under it
    assert (got[0, 2] > 0).sum() >= VAL_HINTS  # validation: VAL_HINTS clicks each


class Painter:
    """A Colorizer stand-in: a hint model whose network answers one colour everywhere."""
    takes_hints, size = True, 32
    config = config(True)

    def __init__(self, ab):
        self.ab, self.seen = ab, []

    def predict_ab(self, lightness, hints=None):
        self.seen.append(hints)
        return torch.tensor(self.ab, dtype=torch.float32)[None, :, None, None].expand(1, 2, 8, 8)


def test_a_hinted_picture_takes_the_networks_colour_then_the_edges():
    grey = np.full((40, 60, 3), 128, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[5:8, 5:8] = True
    ab = np.zeros((40, 60, 2), np.float32)
    ab[mask] = (30.0, 10.0)
    painter = Painter((-20.0, 25.0))
    base = hinted_ab(painter, np.full((40, 60), 53.0, np.float32), mask, ab)
    assert base.shape == (40, 60, 2) and np.allclose(base, (-20.0, 25.0))
    assert painter.seen[0].shape == (1, 3, 32, 32) and painter.seen[0][0, 2].sum() > 0
    out = hinted_picture(painter, grey, mask, ab)
    want = apply_hints(grey, mask, ab, base_ab=hinted_ab(painter, np.full((40, 60), 53.0, np.float32), mask, ab))
    assert np.abs(out.astype(int) - want).max() <= 1
    # a picture coloured by hand keeps its colours: only the edge propagation over them
    calls = len(painter.seen)
    assert np.array_equal(hinted_picture(painter, grey, mask, ab, automatic=False), apply_hints(grey, mask, ab))
    assert len(painter.seen) == calls
    assert np.array_equal(hinted_picture(None, grey, mask, ab), apply_hints(grey, mask, ab))


@pytest.mark.slow
def test_the_hints_recipe_trains_onto_the_release_exports_and_colours_a_still_with_hints(tmp_path):
    from helpers import args_for, color_folder, color_photo

    from training import export
    from vidcolor import colorize_image, load_model
    from vidcolor.weights import DEFAULT_WEIGHTS

    root = color_folder(tmp_path / "photos")
    train.main(args_for(root, tmp_path / "run", recipe="lite0-ce-hints", size=64, init=str(DEFAULT_WEIGHTS)))
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["config"]["hints"] and ckpt["recipe"]["decoder_lr"] == 0.0
    release = load_model("default", device="cpu")
    trained = {k: v for k, v in ckpt["model"].items() if not k.startswith("hint_")}
    # everything but the branch is the release's (the last bias: its prior correction taken out for training)
    assert all(torch.equal(v.half(), release.state_dict()[k].half()) for k, v in trained.items() if k != "logits.bias")
    export.export(tmp_path / "run" / "last.pt", tmp_path / "hints.pt", prior_correction=0.75, temperature=0.6, size=160)
    model = load_model(tmp_path / "hints.pt", device="cpu")
    assert model.config.hints
    assert torch.allclose(model.logits.bias.float(), release.logits.bias.float(), atol=2e-3)
    photo = color_photo(2)
    plain = colorize_image(release, photo)
    assert np.abs(colorize_image(model, photo).astype(int) - plain).max() <= 1  # no hints: the release's colour
    layer = np.zeros((*photo.shape[:2], 4), np.uint8)
    layer[10:14, 10:14] = (200, 40, 30, 255)
    assert colorize_image(model, photo, hints=layer).shape == photo.shape
