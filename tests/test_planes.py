"""The planar video path: luma kept as it is, chroma computed at chroma resolution."""
import av
import numpy as np
import pytest
import torch
from helpers import TINY_SIZE
from media import make_clip, probe

from vidcolor import Colorizer, colorize_video
from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.planes import chroma_from_lab, chroma_matrix, lightness_from_luma, luma_table, split_i420


def i420_frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]


@pytest.mark.parametrize("full_range", [False, True])
def test_luma_table_gives_the_lightness_of_grey(full_range):
    table = luma_table(full_range)
    for code in (0, 16, 60, 128, 200, 235, 255):
        v = code / 255 if full_range else np.clip((code - 16) / 219, 0, 1)
        grey = torch.full((3, 1, 1), float(v), dtype=torch.float64)
        assert table[code] == pytest.approx(float(rgb_to_lab(grey)[0]), abs=1e-3)
    assert lightness_from_luma(np.array([[128.5]], np.float32), table)[0, 0] == pytest.approx(
        (table[128] + table[129]) / 2, abs=1e-4)


@pytest.mark.parametrize("matrix", [1, 5])
def test_chroma_matches_ffmpeg_rgb_to_yuv(matrix):
    """Cb/Cr of colours from Lab agree with FFmpeg's own conversion of the same RGB."""
    rng = np.random.default_rng(0)
    lab = torch.stack([torch.full((16, 16), 60.0), torch.tensor(rng.uniform(-40, 40, (16, 16))),
                       torch.tensor(rng.uniform(-40, 40, (16, 16)))]).float()
    rgb = (lab_to_rgb(lab).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    light = rgb_to_lab(torch.from_numpy(rgb / 255.0).permute(2, 0, 1)).float()
    cb, cr = chroma_from_lab(light[0].numpy(), light[1:].permute(1, 2, 0).contiguous().numpy(),
                             chroma_matrix(matrix, False))
    ref = av.VideoFrame.from_ndarray(np.repeat(np.repeat(rgb, 2, 0), 2, 1), format="rgb24").reformat(
        format="yuv444p", dst_colorspace=matrix, dst_color_range=1).to_ndarray()
    assert np.abs(cb.astype(int) - ref[1, ::2, ::2]).max() <= 1
    assert np.abs(cr.astype(int) - ref[2, ::2, ::2]).max() <= 1


def test_planes_keep_the_luma_bit_for_bit_and_replace_the_chroma(tmp_path, tiny_model):
    frames = np.stack(i420_frames(make_clip(tmp_path / "c.mp4", frames=3, audio=None)))
    colorizer = Colorizer(tiny_model, precision="fp32", size=TINY_SIZE)
    out = colorizer.colorize_planes(frames, matrix=5, full_range=False)
    h, w = 64, 96
    for before, after in zip(frames, out):
        assert np.array_equal(split_i420(before, h, w)[0], split_i420(after, h, w)[0])
    assert not np.array_equal(frames, out)


def test_grey_film_keeps_its_lightness_end_to_end(tmp_path, tiny_model):
    src = make_clip(tmp_path / "grey.mp4", frames=12, width=128, height=96, grey=True, audio=None)
    colorize_video(Colorizer(tiny_model, precision="fp32"), src, tmp_path / "out.mp4", crf=0, progress=False)
    before, after = probe(src), probe(tmp_path / "out.mp4")
    lab_in = rgb_to_lab(torch.from_numpy(np.stack(before["rgb"]) / 255.0).permute(0, 3, 1, 2))
    lab_out = rgb_to_lab(torch.from_numpy(np.stack(after["rgb"]) / 255.0).permute(0, 3, 1, 2))
    assert (lab_out[:, 0] - lab_in[:, 0]).abs().mean() < 1.0
    assert lab_out[:, 1:].norm(dim=1).mean() > 1.0  # coloured
    y_in, y_out = i420_frames(src), i420_frames(tmp_path / "out.mp4")
    assert all(np.array_equal(a[:96], b[:96]) for a, b in zip(y_in, y_out))  # lossless: the same luma


@pytest.mark.parametrize("pix_fmt, codec", [("yuv444p", "libx264"), ("yuv420p10le", "libx264"), ("rgb24", "libx264rgb")])
def test_other_pixel_formats_take_the_rgb_path(tmp_path, tiny_model, pix_fmt, codec, monkeypatch):
    src = make_clip(tmp_path / "in.mkv", frames=6, grey=True, audio=None, pix_fmt=pix_fmt, codec=codec)
    taken = []
    for path in ("colorize_planes", "colorize_frames"):
        original = getattr(Colorizer, path)

        def spy(self, frames, *args, _original=original, _path=path, **kwargs):
            taken.append((_path, len(frames)))
            return _original(self, frames, *args, **kwargs)
        monkeypatch.setattr(Colorizer, path, spy)
    summary = colorize_video(Colorizer(tiny_model, precision="fp32"), src, tmp_path / "out.mp4", progress=False)
    assert {p for p, _ in taken} == {"colorize_frames"} and sum(n for _, n in taken) == 6
    before, after = probe(src), probe(tmp_path / "out.mp4")
    assert summary.frames == 6 and after["times"] == before["times"]
    lab_in = rgb_to_lab(torch.from_numpy(np.stack(before["rgb"]) / 255.0).permute(0, 3, 1, 2))
    lab_out = rgb_to_lab(torch.from_numpy(np.stack(after["rgb"]) / 255.0).permute(0, 3, 1, 2))
    assert (lab_out[:, 0] - lab_in[:, 0]).abs().mean() < 1.5  # the lightness kept through RGB
    assert lab_out[:, 1:].norm(dim=1).mean() > 1.0  # and coloured


@pytest.mark.parametrize("shape", [(1, 160, 160), (3, 256, 256), (2, 5, 200), (320,), (4, 2, 130, 7)])
def test_lightness_of_a_batch_of_luma_planes_is_its_table_lookup(shape):
    """A batch of planes (the model's input side, 160 px by default) through the table: OpenCV
    reads a 3-D array as channels, and OpenCV 5.1 refuses more than 128 of them."""
    table = luma_table(False)
    luma = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = lightness_from_luma(luma, table)
    assert out.shape == shape and out.dtype == np.float32
    assert np.array_equal(out, table[luma])
    strided = np.random.default_rng(1).integers(0, 256, (2, 160, 320), dtype=np.uint8)[:, :, ::2]
    assert np.array_equal(lightness_from_luma(strided, table), table[strided])


def test_a_real_film_through_the_default_model_at_its_own_size(tmp_path):
    """The shipped model at its own input side (160 px) on a film of the planar path's usual shape:
    every frame, the same luma, colour where the sample's sky and fields are."""
    from vidcolor import load_model
    from helpers import REPO

    model = load_model("default", device="cpu")
    src = REPO / "samples" / "chateau_bw.mp4"
    out = tmp_path / "out.mp4"
    summary = colorize_video(Colorizer(model, precision="fp32"), src, out, progress=False, crf=0, preset="ultrafast")
    before, after = i420_frames(src), i420_frames(out)
    assert summary.frames == len(before) == len(after) > 100
    assert Colorizer(model).size == model.config.size == 160
    h = before[0].shape[0] * 2 // 3
    assert all(np.array_equal(a[:h], b[:h]) for a, b in zip(before, after))  # the luma as it was
    chroma = np.stack([f[h:] for f in after]).astype(np.float32) - 128.0
    assert np.abs(chroma).mean() > 2.0  # coloured, not grey


def _film_planes(n=3, height=96, width=160, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(n):
        y = (128 + 80 * np.sin((xx + 3 * i) / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 6, (height, width)))
        y = y.clip(16, 235).astype(np.uint8)
        frames.append(np.concatenate([y.reshape(-1), rng.integers(100, 156, height * width // 2, dtype=np.uint8)])
                      .reshape(height * 3 // 2, width))
    return np.stack(frames)


def test_the_torch_plane_maths_lay_out_and_colour_as_opencv():
    """vidcolor.planes_torch (the CUDA path, run here on the CPU): the same planes as split_i420,
    the same L* table, and Cb/Cr within one code of OpenCV's for the same L* and a/b."""
    from vidcolor.planes_torch import TorchPlanes, planes_of

    frames = _film_planes()
    luma, chroma = planes_of(torch.from_numpy(frames), 96, 160)
    for i, frame in enumerate(frames):
        y, u, v = split_i420(frame, 96, 160)
        assert np.array_equal(luma[i, 0].numpy(), y) and np.array_equal(chroma[i, 0].numpy(), u)
        assert np.array_equal(chroma[i, 1].numpy(), v)
    for matrix, full_range in ((1, False), (5, True)):
        maths = TorchPlanes(torch.device("cpu"), matrix, full_range)
        codes = torch.arange(256, dtype=torch.uint8)
        assert torch.equal(maths.lightness(codes), torch.from_numpy(luma_table(full_range)))
        rng = np.random.default_rng(1)
        light = rng.uniform(5, 95, (1, 1, 24, 32)).astype(np.float32)
        ab = rng.uniform(-50, 50, (1, 2, 24, 32)).astype(np.float32)
        ours = maths.chroma(torch.from_numpy(light), torch.from_numpy(ab))[0].numpy().astype(int)
        cb, cr = chroma_from_lab(light[0, 0], np.ascontiguousarray(ab[0].transpose(1, 2, 0)),
                                 chroma_matrix(matrix, full_range))
        assert np.abs(ours - np.stack([cb, cr]).astype(int)).max() <= 1


@pytest.mark.parametrize("size", [(96, 160), (360, 640)])
def test_the_torch_planar_path_gives_opencvs_colour(size):
    """The whole planar path as torch ops (what CUDA runs) against OpenCV's on the CPU, shipped
    model: the luma bit for bit, the chroma at least 45 dB alike (the shrink to the model's side
    differs slightly between OpenCV's and torch's area resampling)."""
    import copy

    from vidcolor.weights import load_model

    height, width = size
    frames = _film_planes(3, height, width)
    opencv = Colorizer(load_model("default", "cpu"), precision="fp32")
    ours = copy.copy(opencv)
    ours.plane_maths = "torch"
    a, b = opencv.colorize_planes(frames, 1, False), ours.colorize_planes(frames, 1, False)
    assert np.array_equal(a[:, :height], b[:, :height]) and np.array_equal(b[:, :height], frames[:, :height])
    mse = float(((a[:, height:].astype(float) - b[:, height:].astype(float)) ** 2).mean())
    assert 10 * np.log10(255 ** 2 / max(mse, 1e-9)) >= 45
    assert not np.array_equal(b[:, height:], frames[:, height:])  # coloured
