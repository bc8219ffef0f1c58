"""Steady colour in video: the predicted a/b smoothed along the motion, at model resolution.

Each frame is coloured on its own by the network, so an ambiguous object can change colour from
one frame to the next. Within a shot, the previous frame's smoothed a/b is warped onto the current
frame with optical flow (OpenCV's DIS, computed on the small L the network saw) and blended with the
current prediction; where the flow fails a forward-backward check (occlusions, new content) the
current prediction is kept. A scene cut (a jump in the L histogram, or a flow that fails on most
of the frame) resets the state, so no colour is dragged across it. Everything happens on the
network's output grid: a few hundred microseconds a frame, whatever the video's resolution.

Also here: the warping error of Lai et al. (ECCV 2018), the flicker metric, for any two videos.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .options import DEFAULT_SMOOTHING, check_smoothing

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST  # about 0.3 ms for a 128 x 128 frame on one core
CUT_HISTOGRAM_BINS = 32  # L* histogram for cut detection
CUT_HISTOGRAM_DISTANCE = 0.5  # total variation distance (0..1) between frames' L histograms at a cut
CUT_FLOW_FAILURE = 0.6  # fraction of pixels failing the flow check at which the flow has failed: a cut
# forward-backward check of Sundaram et al. / Ruder et al.: |f + b|^2 < ALPHA (|f|^2 + |b|^2) + BETA
FB_ALPHA = 0.01
FB_BETA = 0.5  # px^2 on the flow grid


def to_grey8(lightness: np.ndarray) -> np.ndarray:
    """L* 0..100 (HxW float) -> 8-bit grey for the flow."""
    return np.clip(lightness * 2.55 + 0.5, 0, 255).astype(np.uint8)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, borders replicated. image HxW or HxWxC."""
    h, w = flow.shape[:2]
    grid = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = grid[1] + flow[..., 0]
    map_y = grid[0] + flow[..., 1]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(flow_cp: np.ndarray, flow_pc: np.ndarray) -> np.ndarray:
    """HxW bool: pixels of the current frame whose flow to the previous one comes back to them
    through the previous frame's flow to the current one (not occluded, not new)."""
    back = warp(flow_pc, flow_cp)
    err = ((flow_cp + back) ** 2).sum(-1)
    return err < FB_ALPHA * ((flow_cp ** 2).sum(-1) + (back ** 2).sum(-1)) + FB_BETA


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance (0..1) between the 8-bit grey histograms of two frames."""
    shift = 8 - int(np.log2(CUT_HISTOGRAM_BINS))  # 8-bit values to bin numbers
    ha = np.bincount((a >> shift).reshape(-1), minlength=CUT_HISTOGRAM_BINS) / a.size
    hb = np.bincount((b >> shift).reshape(-1), minlength=CUT_HISTOGRAM_BINS) / b.size
    return float(0.5 * np.abs(ha - hb).sum())


class CutDetector:
    """The cut rule, frame after frame on the small grey grid: a cut where the L histograms of two
    neighbours differ by more than ``CUT_HISTOGRAM_DISTANCE``, or where the flow between them fails
    its forward-backward check on more than ``CUT_FLOW_FAILURE`` of the frame. The smoother and the
    shot map (``vidcolor.shots``) both use it: every shot starts at one of the smoother's cuts (a
    run between cuts too short for a shot joins the next, ``keyframes.MIN_SHOT_SECONDS``)."""

    def __init__(self):
        self.flow = cv2.DISOpticalFlow_create(DIS_PRESET)
        self.prev: np.ndarray | None = None

    def reset(self) -> None:
        self.prev = None

    def __call__(self, grey: np.ndarray) -> tuple[bool, np.ndarray | None, np.ndarray | None]:
        """One frame's 8-bit grey grid -> (cut before it, flow from it to the previous frame, the
        pixels whose flow is consistent); the flow and mask are None at the first frame and at a cut."""
        prev, self.prev = self.prev, grey
        if prev is None:
            return False, None, None
        if histogram_distance(grey, prev) > CUT_HISTOGRAM_DISTANCE:
            return True, None, None
        flow_cp = self.flow.calc(grey, prev, None)
        flow_pc = self.flow.calc(prev, grey, None)
        keep = consistent(flow_cp, flow_pc)
        if keep.mean() < 1.0 - CUT_FLOW_FAILURE:
            return True, None, None
        return False, flow_cp, keep


def small_grey(lightness: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The L* the network saw (HxW, any size) as the 8-bit grey grid of ``shape`` the cut rule and
    the flow work on."""
    if lightness.shape != shape:
        lightness = cv2.resize(lightness.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return to_grey8(lightness)


class TemporalSmoother:
    """Smooths a/b frame after frame, in display order. ``strength`` in [0, 1): the share of the
    warped history in each kept pixel (0 returns the predictions unchanged)."""

    def __init__(self, strength: float = DEFAULT_SMOOTHING):
        self.strength = check_smoothing(strength)
        self.detector = CutDetector()
        self.cuts = 0  # scene cuts detected so far
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame starts a shot (as after a cut)."""
        self.prev_ab: np.ndarray | None = None
        self.detector.reset()

    def steady(self, small: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """A batch of frames in display order, as the engine predicted them: (N,1,S,S) L* the
        network saw and (N,2,s,s) a/b -> the smoothed a/b, on the a/b's device."""
        small_np, ab_np = small[:, 0].cpu().numpy(), ab.cpu().numpy()
        steady = np.stack([self(light, frame_ab) for light, frame_ab in zip(small_np, ab_np)])
        return torch.from_numpy(steady).to(ab.device)

    def __call__(self, lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """One frame: ``lightness`` the L* (HxW, any size) the network saw, ``ab`` its prediction
        (2 x h x w, Lab units). Returns the smoothed a/b, float32, same shape."""
        ab = np.ascontiguousarray(ab, dtype=np.float32)
        out = ab
        if self.strength > 0:
            cut, flow_cp, keep = self.detector(small_grey(lightness, ab.shape[-2:]))
            self.cuts += cut
            if flow_cp is not None:
                history = warp(self.prev_ab.transpose(1, 2, 0), flow_cp).transpose(2, 0, 1)
                # cur + s (history - cur): exactly cur where the history agrees, as in a still shot
                out = ab + (self.strength * keep).astype(np.float32) * (history - ab)
        self.prev_ab = np.ascontiguousarray(out, dtype=np.float32)
        return out


def warping_error(frames: list[np.ndarray] | np.ndarray, grey: list[np.ndarray] | np.ndarray) -> float:
    """Lai et al.'s warping error of an RGB video (frames: N x H x W x 3 uint8): for each t, flow on
    the input's grey frames (``grey``: N x H x W uint8) from t to t-1, output t-1 warped onto t,
    pixels failing the forward-backward check masked out, mean squared RGB error (0..1 scale) over
    the kept pixels; the mean over t. 0 for a still clip; it grows with flicker."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    errors = []
    for t in range(1, len(frames)):
        # OpenCV 5.1's DIS takes contiguous frames only (a channel sliced off an RGB frame is not)
        now, before = np.ascontiguousarray(grey[t]), np.ascontiguousarray(grey[t - 1])
        flow_cp = dis.calc(now, before, None)
        flow_pc = dis.calc(before, now, None)
        keep = consistent(flow_cp, flow_pc)
        if not keep.any():
            continue
        prev = warp(frames[t - 1].astype(np.float32) / 255.0, flow_cp)
        diff = ((frames[t].astype(np.float32) / 255.0 - prev) ** 2).mean(-1)
        errors.append(float(diff[keep].mean()))
    return float(np.mean(errors)) if errors else 0.0
