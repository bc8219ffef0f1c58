"""Temporal smoothing of a/b, scene cuts, the flow check and the warping-error metric."""
import cv2
import numpy as np
import pytest
import torch
from helpers import TINY_SIZE
from media import make_clip, make_shots_film, probe

from vidcolor import Colorizer, colorize_video
from vidcolor.temporal import TemporalSmoother, consistent, warping_error

SIDE = 64


def texture(seed: int, side: int = SIDE * 2) -> np.ndarray:
    """A smooth random L* field (0..100) with structure the flow can follow."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((side, side)).astype(np.float32), (0, 0), 2.0)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return 10 + 80 * noise


def shifted(img: np.ndarray, dx: int) -> np.ndarray:
    return np.ascontiguousarray(np.roll(img, dx, axis=1))


def test_static_frames_stay_bit_for_bit_steady():
    smoother = TemporalSmoother(0.6)
    light = texture(0)
    ab = np.random.default_rng(1).normal(0, 20, (2, SIDE, SIDE)).astype(np.float32)
    outs = [smoother(light, ab) for _ in range(5)]
    assert all(np.array_equal(o, ab) for o in outs)


def test_flicker_is_damped_along_the_motion_and_a_cut_resets():
    smoother = TemporalSmoother(0.6)
    base = texture(2)
    ab_a = np.full((2, SIDE, SIDE), 10.0, np.float32)
    ab_b = np.full((2, SIDE, SIDE), -10.0, np.float32)
    first = smoother(base, ab_a)
    moved = smoother(shifted(base, 2), ab_b)  # the prediction flips: the history holds it back
    assert np.array_equal(first, ab_a)
    assert np.abs(moved[:, 8:-8, 8:-8] - (-10 + 0.6 * 20)).max() < 1.0
    cut = smoother(texture(99) ** 0.5 * 10, ab_b)  # another shot
    assert smoother.cuts == 1 and np.array_equal(cut, ab_b)  # the first frame after a cut is the prediction


def test_flow_check_rejects_a_region_that_appears():
    prev = (texture(3) * 2.55).astype(np.uint8)
    cur = prev.copy()
    cur[40:80, 40:80] = 250  # a bright square that was not there
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    keep = consistent(dis.calc(cur, prev, None), dis.calc(prev, cur, None))
    assert keep[50:70, 50:70].mean() < 0.5 < keep[:, :20].mean()


def test_smoothing_off_returns_the_predictions():
    smoother = TemporalSmoother(0.0)
    ab = np.ones((2, 8, 8), np.float32)
    smoother(texture(0, 8), ab)
    assert np.array_equal(smoother(texture(1, 8), -ab), -ab)
    with pytest.raises(ValueError, match="smoothing"):
        TemporalSmoother(1.0)


def test_warping_error_is_zero_for_a_still_clip_and_grows_with_flicker():
    grey = [(shifted(texture(4), k) * 2.55).astype(np.uint8) for k in range(6)]
    color = [np.stack([g, g // 2, 255 - g], -1) for g in grey]
    assert warping_error([color[0]] * 4, [grey[0]] * 4) == 0.0
    steady = warping_error(color, grey)
    rng = np.random.default_rng(0)
    flicker = [np.clip(c.astype(int) + rng.integers(-40, 40, 3), 0, 255).astype(np.uint8) for c in color]
    assert warping_error(flicker, grey) > 3 * steady + 1e-3


def test_video_with_smoothing_keeps_frames_and_counts_cuts(tmp_path, tiny_model):
    clip = make_clip(tmp_path / "in.mp4", frames=12, audio=None)
    colorizer = Colorizer(tiny_model, precision="fp32", size=TINY_SIZE)
    out = colorize_video(colorizer, clip, tmp_path / "out.mp4", batch_size=5, progress=False)
    assert out.frames == 12 and out.scene_cuts == 0  # one moving pattern: no cut
    starts = make_shots_film(tmp_path / "cuts.mp4", (6, 6, 6), width=96, height=64)
    cuts = colorize_video(colorizer, tmp_path / "cuts.mp4", tmp_path / "cuts_out.mp4", batch_size=5, progress=False)
    assert cuts.scene_cuts == 2 == len(starts) - 1
    assert len(probe(tmp_path / "out.mp4")["times"]) == 12
    off = colorize_video(colorizer, clip, tmp_path / "off.mp4", batch_size=5, progress=False, smoothing=0)
    assert off.scene_cuts is None


def test_smoother_sees_frames_in_order_across_batches(tiny_model):
    """Batches of 3 and of 7 give the same smoothed colours: the state carries across batches."""
    colorizer = Colorizer(tiny_model, precision="fp32", size=TINY_SIZE)
    frames = np.stack([np.repeat((shifted(texture(5), 2 * k)[:, :, None] * 2.55).astype(np.uint8), 3, 2)
                       for k in range(7)])
    one = colorizer.colorize_frames(frames, TemporalSmoother(0.6).steady)
    smoother = TemporalSmoother(0.6)
    split = torch.cat([colorizer.colorize_frames(frames[:3], smoother.steady),
                       colorizer.colorize_frames(frames[3:], smoother.steady)])
    assert torch.equal(one, split)
