"""Colour from a reference (vidcolor/reference.py): choose its constants and measure what it gives.

    python benchmarks/reference.py --model vidcolor/weights/default.pt --data ../shared/corpus \
        --split-file vidcolor/weights/default_split.json [--split validation] [--every 2] [--grid]

Photos: each photo of the split is cut into two crops sharing 40 % of its width (the left 70 %
is the target, the right 70 % the reference: the same subject from another view); an unrelated
reference is another photo of the split. Printed: PSNR over the all-grey output of the automatic
colour, with the overlapping reference and with the unrelated one, and the unrelated one's cost
against automatic. ``--grid`` tries confidence thresholds and weights (each photo's network
output and features are computed once).

Clips: a pan, a zoom and a sliding object made from photos of the split (training/clips.py),
frames 1..N coloured with the colour truth of frame 0 as the reference, with the temporal
smoother as the CLI runs it: PSNR over grey, and warping error against the colour original's;
and the same pan whose reference frame is a fade from black (frame 0 at 15 % brightness; darker is refused as having no colour), which
must leave the automatic colour.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import vidcolor.reference as reference  # noqa: E402
from training import clips  # noqa: E402
from training.data import load_rgb  # noqa: E402
from training.evaluate import grey_baseline  # noqa: E402
from training.metrics import psnr  # noqa: E402
from vidcolor.color import rgb_to_lightness  # noqa: E402
from vidcolor.colorizer import Colorizer, resize_to_model  # noqa: E402
from vidcolor.temporal import TemporalSmoother, warping_error  # noqa: E402
from vidcolor.weights import load_model  # noqa: E402

OVERLAP_CROP = 0.7  # each crop's share of the width: two such crops share 40 %
CLIP_SIDE = (320, 240)
CLIP_FRAMES = 24
FADE = 0.15  # brightness of the fade-from-black reference frame (darker ones are refused as grey)


class Cached:
    """One target picture's full-resolution L*, truth, grey PSNR, logits and features."""

    def __init__(self, colorizer: Colorizer, rgb: np.ndarray):
        self.truth = rgb
        self.light = rgb_to_lightness(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255.0)
        self.grey = psnr(grey_baseline(rgb), rgb)
        model = colorizer.model
        with torch.inference_mode():
            net_in = model.config.scale_l(resize_to_model(self.light, colorizer.size))
            self.logits, self.feats = model.forward_features(net_in.contiguous(memory_format=torch.channels_last))

    def gain(self, colorizer: Colorizer, ref: reference.Reference | None) -> float:
        model = colorizer.model
        with torch.inference_mode():
            logits = self.logits if ref is None else ref.fuse(self.logits, self.feats, model.ab_bins)
            out = colorizer.compose_uint8(self.light, model.decode(logits, colorizer.temperature))[0].numpy()
        return psnr(out, self.truth) - self.grey


def photo_pairs(root: Path, ids: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(target crop, overlapping reference crop, unrelated photo) per photo."""
    photos = [p for p in (load_rgb(root / i) for i in ids) if p is not None]
    pairs = []
    for k, rgb in enumerate(photos):
        w = rgb.shape[1]
        cut = int(round(w * OVERLAP_CROP))
        pairs.append((np.ascontiguousarray(rgb[:, :cut]), np.ascontiguousarray(rgb[:, w - cut:]),
                      photos[(k + len(photos) // 2) % len(photos)]))
    return pairs


def photos_table(colorizer: Colorizer, pairs, grid: bool) -> list[dict]:
    model, size = colorizer.model, colorizer.size
    cached = [(Cached(colorizer, t), reference.Reference(model, size, [r], ["overlap"]),
               reference.Reference(model, size, [u], ["unrelated"])) for t, r, u in pairs]
    auto = [c.gain(colorizer, None) for c, _, _ in cached]
    settings = [(reference.CONFIDENCE_LOW, reference.CONFIDENCE_HIGH, reference.WEIGHT_MAX)]
    if grid:
        settings = list(itertools.product((0.45, 0.55, 0.65), (0.75, 0.85), (0.7, 0.9, 1.0)))
    rows = []
    shipped = (reference.CONFIDENCE_LOW, reference.CONFIDENCE_HIGH, reference.WEIGHT_MAX)
    try:
        rows = _grid(cached, auto, colorizer, settings)
    finally:  # the clip table after this runs with the shipped constants, not the grid's last
        reference.CONFIDENCE_LOW, reference.CONFIDENCE_HIGH, reference.WEIGHT_MAX = shipped
    return rows


def _grid(cached, auto, colorizer, settings) -> list[dict]:
    rows = []
    for low, high, weight in settings:
        reference.CONFIDENCE_LOW, reference.CONFIDENCE_HIGH, reference.WEIGHT_MAX = low, high, weight
        overlap = [c.gain(colorizer, r) for c, r, _ in cached]
        unrelated = [c.gain(colorizer, u) for c, _, u in cached]
        rows.append({"low": low, "high": high, "weight": weight, "automatic": float(np.mean(auto)),
                     "overlap": float(np.mean(overlap)), "unrelated": float(np.mean(unrelated)),
                     "unrelated_cost": float(np.mean(np.array(auto) - unrelated)),
                     "unrelated_worst": float(np.max(np.array(auto) - unrelated)), "photos": len(cached)})
        r = rows[-1]
        print(f"{low:5.2f} {high:5.2f} {weight:4.2f} {r['automatic']:+8.2f} {r['overlap']:+8.2f} "
              f"{r['unrelated']:+8.2f} {r['unrelated_cost']:+7.2f} {r['unrelated_worst']:+7.2f}", flush=True)
    return rows


def clip_gain(colorizer: Colorizer, frames: list[np.ndarray], ref_frame: np.ndarray | None) -> dict:
    """Frames 1..N coloured (RGB path, smoother as the CLI's) with ``ref_frame`` as the reference."""
    grey = [clips.to_grey(f) for f in frames]
    flow_grey = [g[..., 0] for g in grey]  # the flow's 8-bit input
    c = Colorizer(colorizer.model, precision="fp32", size=colorizer.size,
                  reference=None if ref_frame is None else [ref_frame])
    smoother = TemporalSmoother()
    out = c.colorize_frames(np.stack(grey), smoother.steady).numpy()
    gains = [psnr(o, t) - psnr(grey_baseline(t), t) for o, t in zip(out[1:], frames[1:])]
    return {"gain": float(np.mean(gains)), "warp": warping_error(list(out), flow_grey),
            "warp_truth": warping_error(frames, flow_grey), "out": out}


def clips_table(colorizer: Colorizer, root: Path, ids: list[str]) -> list[dict]:
    w, h = CLIP_SIDE
    photos = [p for p in (load_rgb(root / i) for i in ids[:6]) if p is not None]
    made = {"pan": clips.pan(photos[0], w, h, CLIP_FRAMES), "zoom": clips.zoom(photos[1], w, h, CLIP_FRAMES),
            "object": clips.moving_object(photos[2], photos[3], w, h, CLIP_FRAMES),
            "pan2": clips.pan(photos[4], w, h, CLIP_FRAMES)}
    rows = []
    for name, frames in made.items():
        auto = clip_gain(colorizer, frames, None)
        ref = clip_gain(colorizer, frames, frames[0])
        rows.append({"clip": name, "automatic": auto["gain"], "reference": ref["gain"],
                     "warp_ratio": ref["warp"] / max(ref["warp_truth"], 1e-9),
                     "warp_ratio_automatic": auto["warp"] / max(auto["warp_truth"], 1e-9)})
    fade = (made["pan"][0].astype(np.float32) * FADE).round().astype(np.uint8)
    auto = clip_gain(colorizer, made["pan"], None)
    faded = clip_gain(colorizer, made["pan"], fade)
    rows.append({"clip": "pan, fade-from-black reference", "automatic": auto["gain"], "reference": faded["gain"],
                 "warp_ratio": faded["warp"] / max(faded["warp_truth"], 1e-9),
                 "warp_ratio_automatic": auto["warp"] / max(auto["warp_truth"], 1e-9),
                 "max_difference_from_automatic": float(np.abs(faded["out"].astype(int) - auto["out"]).max())})
    for r in rows:
        print(f"{r['clip']:<32} {r['automatic']:+8.2f} {r['reference']:+8.2f} {r['warp_ratio']:7.3f} "
              f"{r['warp_ratio_automatic']:7.3f}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split-file", type=Path, required=True)
    p.add_argument("--split", default="validation")
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--grid", action="store_true")
    p.add_argument("--no-clips", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    colorizer = Colorizer(load_model(a.model, "cpu"), precision="fp32")
    ids = json.loads(a.split_file.read_text())[a.split][::a.every]
    print(f"photos ({a.split}, {len(ids)}): PSNR over grey, dB")
    print(f"{'low':>5} {'high':>5} {'wmax':>4} {'auto':>8} {'overlap':>8} {'unrel.':>8} {'cost':>7} {'worst':>7}")
    result = {"photos": photos_table(colorizer, photo_pairs(a.data, ids), a.grid)}
    if not a.no_clips:
        print(f"\nclips ({CLIP_SIDE[0]}x{CLIP_SIDE[1]}, {CLIP_FRAMES} frames, reference = frame 0's colour truth):")
        print(f"{'clip':<32} {'auto':>8} {'ref.':>8} {'warp/orig':>7} {'(auto)':>7}")
        result["clips"] = clips_table(colorizer, a.data, ids)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
