"""Colour from a reference photo (vidcolor/reference.py), with the shipped lite0-unet model."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from helpers import gradient_image
from media import make_clip, probe

from training.metrics import psnr
from vidcolor import Colorizer, colorize_folder, colorize_image, load_model, read_image, write_image
from vidcolor.cli import main
from vidcolor.cluster import ModelSpec, colorize_one
from vidcolor.color import lab_to_rgb, rgb_to_lab, to_uint8
from vidcolor.options import VideoOptions
from vidcolor.video import colorize_video


@pytest.fixture(scope="module")
def model():
    m = load_model("default", device="cpu")
    assert m.config.body == "lite0-unet"
    return m


def flat_regions(side: int = 256) -> np.ndarray:
    """Four flat colour regions of different lightness, and a disc: what a hand-coloured keyframe looks like."""
    lab = torch.zeros(3, side, side)
    h = side // 2
    for (y, x), (light, a, b) in zip([(0, 0), (0, h), (h, 0), (h, h)],
                                     [(55, 60, 45), (80, -40, 60), (40, 20, -55), (70, -30, -20)]):
        lab[:, y:y + h, x:x + h] = torch.tensor([light, a, b])[:, None, None]
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    disc = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 6) ** 2
    lab[:, disc] = torch.tensor([90.0, 5.0, 70.0])[:, None]
    return to_uint8(lab_to_rgb(lab)).permute(1, 2, 0).numpy()


def ab_of(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)[1:]


def test_identical_reference_gives_back_its_colors_up_to_the_color_resolution(model):
    truth = flat_regions()
    auto = colorize_image(model, truth, precision="fp32")
    guided = colorize_image(model, truth, precision="fp32", reference=truth)
    # the best any colour at the model's output grid can do: the truth's own a/b at that grid,
    # upsampled onto the true L as every prediction is
    colorizer = Colorizer(model, precision="fp32")
    lab = rgb_to_lab(torch.from_numpy(truth).permute(2, 0, 1).float()[None] / 255.0)
    grid = colorizer.size // 4
    bound = colorizer.compose_uint8(lab[:, :1], F.interpolate(lab[:, 1:], size=(grid, grid), mode="area"))[0]
    assert psnr(guided, truth) > psnr(bound.numpy(), truth) - 1.5, (psnr(guided, truth), psnr(bound.numpy(), truth))
    assert psnr(guided, truth) > 27.0 and psnr(guided, truth) > psnr(auto, truth) + 8.0
    inner = (slice(40, 88), slice(40, 88))  # inside a flat region the colour comes back exactly
    assert psnr(guided[inner], truth[inner]) > 40.0


def test_an_unrelated_reference_leaves_the_automatic_color(model):
    target = read_image("samples/lighthouse_bw.jpg")
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)  # coloured confetti
    auto = colorize_image(model, target, precision="fp32")
    guided = colorize_image(model, target, precision="fp32", reference=noise)
    change = torch.linalg.vector_norm(ab_of(guided) - ab_of(auto), dim=0).mean()
    assert change < 1.5, float(change)


def test_a_reference_is_encoded_once_and_used_for_every_frame_of_a_film(model, tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=10, width=160, height=128, grey=True)
    ref = flat_regions(128)
    from vidcolor import reference as reference_module
    encodings, encode = [], reference_module.Reference.__init__

    def counted(self, *args, **kwargs):
        encodings.append(1)
        encode(self, *args, **kwargs)

    reference_module.Reference.__init__ = counted
    try:
        summary = colorize_video(model, src, tmp_path / "out.mp4", progress=False, reference=ref, batch_size=3)
    finally:
        reference_module.Reference.__init__ = encode
    assert len(encodings) == 1  # once for the film's four batches
    assert summary.frames == 10 and len(probe(tmp_path / "out.mp4")["times"]) == 10
    colorizer = Colorizer(model, reference=[ref, ref])  # several references: each cell picks the best
    assert colorizer.reference.features.shape[0] == 2


def test_bad_references_are_one_line_before_any_work(model, tmp_path):
    write_image(tmp_path / "in.png", gradient_image(40, 40))
    write_image(tmp_path / "grey.png", np.full((30, 30, 3), 128, np.uint8))
    (tmp_path / "junk.jpg").write_text("not a photo")
    (tmp_path / "empty").mkdir()
    for ref, words in ((tmp_path / "missing.jpg", "no such file"), (tmp_path / "grey.png", "it is grey"),
                       (tmp_path / "junk.jpg", "junk.jpg"), (tmp_path / "empty", "holds no image")):
        result = CliRunner().invoke(main, [str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--reference",
                                           str(ref)])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and "--reference" in lines[0] and words in lines[0], \
            result.output
        assert not (tmp_path / "out.png").exists()


def test_a_table1_model_says_it_cannot_take_a_reference(tiny_weights, tmp_path):
    write_image(tmp_path / "in.png", gradient_image(40, 40))
    result = CliRunner().invoke(main, [str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--model",
                                       str(tiny_weights), "--reference", str(tmp_path / "in.png")])
    assert result.exit_code == 1 and "lite0-unet" in result.output and len(result.output.strip().splitlines()) == 1


def test_folder_mode_and_a_cluster_worker_take_the_reference(model, tmp_path):
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", flat_regions(128))
    write_image(tmp_path / "ref.png", flat_regions(96))
    result = CliRunner().invoke(main, [str(tmp_path / "in"), str(tmp_path / "out"), "--reference",
                                       str(tmp_path / "ref.png"), "-q"])
    assert result.exit_code == 0, result.output
    local = read_image(tmp_path / "out" / "a.png")
    assert local.tobytes() == colorize_image(model, tmp_path / "in" / "a.png",
                                             reference=tmp_path / "ref.png").tobytes()
    # a Ray worker builds its Colorizer from the spec: the same reference, the same bytes
    status, reason = colorize_one(ModelSpec(reference=str(tmp_path / "ref.png")), str(tmp_path / "in" / "a.png"),
                                  str(tmp_path / "ray.png"), "image", VideoOptions())
    assert status == "done", reason
    assert read_image(tmp_path / "ray.png").tobytes() == local.tobytes()
    summary = colorize_folder(model, tmp_path / "in", tmp_path / "api", progress=False, reference=tmp_path / "ref.png")
    assert summary.done == ["a.png"]
