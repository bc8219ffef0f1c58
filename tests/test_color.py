import cv2
import numpy as np
import pytest
import torch

from vidcolor.color import lab_to_rgb, rgb_to_lab, rgb_to_lightness, to_uint8, to_unit

N_RANDOM = 100_000


def colors() -> np.ndarray:
    """(1, N, 3) uint8: 100k random colours and all 256 grey levels."""
    rng = np.random.default_rng(1)
    rand = rng.integers(0, 256, (1, N_RANDOM, 3), dtype=np.uint8)
    grey = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    return np.concatenate([rand, grey], axis=1)


def ours(px: np.ndarray) -> np.ndarray:
    return rgb_to_lab(to_unit(torch.from_numpy(px)).permute(2, 0, 1)).permute(1, 2, 0).numpy()


def srgb_linear_reference(px: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding, written out independently of vidcolor."""
    c = px.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def test_lab_matches_opencv_float_conversion():
    """OpenCV's float COLOR_LRGB2Lab is computed exactly; its COLOR_RGB2Lab (sRGB) path trilinearly
    interpolates a 33^3 table, which alone is off by ~0.09 L on average. So the strict comparison
    feeds OpenCV linear RGB (decoded above, independently), and the sRGB path gets a looser bound."""
    px = colors()
    lab = ours(px)
    exact = cv2.cvtColor(srgb_linear_reference(px), cv2.COLOR_LRGB2Lab)
    err = np.abs(lab - exact).reshape(-1, 3)
    assert (err.mean(axis=0) < 0.05).all(), err.mean(axis=0)
    assert (err.max(axis=0) < 0.5).all(), err.max(axis=0)
    table = cv2.cvtColor(px.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    err = np.abs(lab - table).reshape(-1, 3)
    assert (err.mean(axis=0) < 0.15).all() and (err.max(axis=0) < 0.5).all()


def test_grey_has_no_chroma_and_lightness_agrees():
    px = colors()[:, N_RANDOM:]
    lab = ours(px)
    assert np.abs(lab[..., 1:]).max() < 1e-3
    assert lab[0, 0, 0] == 0 and lab[0, -1, 0] == pytest.approx(100.0, abs=1e-3)
    light = rgb_to_lightness(to_unit(torch.from_numpy(colors())).permute(2, 0, 1)).numpy()[0]
    np.testing.assert_allclose(light, ours(colors())[..., 0], atol=1e-3)


def test_round_trip_is_exact_for_uint8_and_matches_opencv_inverse():
    px = colors()
    lab = torch.from_numpy(ours(px)).permute(2, 0, 1)
    back = to_uint8(lab_to_rgb(lab)).permute(1, 2, 0).numpy()
    assert np.array_equal(back, px)
    cv_back = cv2.cvtColor(cv2.cvtColor(srgb_linear_reference(px), cv2.COLOR_LRGB2Lab), cv2.COLOR_Lab2LRGB)
    ours_lin = ((lab_to_rgb(lab).permute(1, 2, 0).numpy().astype(np.float64)))
    lin = np.where(ours_lin <= 0.04045, ours_lin / 12.92, ((ours_lin + 0.055) / 1.055) ** 2.4)
    assert np.abs(lin - cv_back).max() < 1e-3


def test_batched_layouts_and_out_of_gamut_clip():
    batch = torch.rand(4, 2, 3, 5, 7)
    lab = rgb_to_lab(batch)
    assert lab.shape == batch.shape
    torch.testing.assert_close(lab_to_rgb(lab), batch, atol=1e-4, rtol=0)
    wild = torch.tensor([50.0, 120.0, -120.0]).view(3, 1, 1)
    rgb = lab_to_rgb(wild)
    assert rgb.min() >= 0 and rgb.max() <= 1
