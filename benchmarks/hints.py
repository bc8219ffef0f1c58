"""Colour hints (vidcolor/hints.py, vidcolor/propagate.py): what k clicks of colour give, and how
long a re-colour takes.

    python benchmarks/hints.py --data ../shared/corpus --split-file vidcolor/weights/default_split.json \
        [--split test] [--limit N] [--seed 0]

The simulated user (as the calibration in the issue): k points at random places (seeded per photo),
each the mean true a/b of the 5 x 5 patch there, painted as a 5 x 5 hint. Each photo of the split
is made grey (its L* only), coloured automatically by the shipped model at full resolution, then
with k = 1, 2, 5, 10, 20, 50 hints. Printed: the mean PSNR gain over the all-grey output for each k,
the share of photos a hint made worse than automatic, and the seconds to re-colour a 1920 x 1080
picture from its hints (the propagation alone: the automatic colour is computed once per keyframe).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from training.data import load_rgb  # noqa: E402
from training.metrics import psnr  # noqa: E402
from vidcolor.color import lab_of_pixels, lab_to_rgb, to_uint8  # noqa: E402
from vidcolor.colorizer import Colorizer  # noqa: E402
from vidcolor.picture import colorize_array  # noqa: E402
from vidcolor.hints import hints_of_data  # noqa: E402
from vidcolor.propagate import apply_hints, propagate  # noqa: E402
from vidcolor.suggest import next_click, reach, uncertainty  # noqa: E402
from vidcolor.weights import load_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clicks as clicks_mod  # noqa: E402

KS = (0, 1, 2, 5, 10, 20, 50)
PATCH = 2  # a hint covers the 5 x 5 patch around its point
WORSE_DB = 0.05  # a photo counts as made worse below automatic by more than this
WORSE_CLICK_DB = 0.1  # a click counts as making a picture worse by more than this
TARGET_DB = 5.0  # NoC@+5: clicks to reach this gain over grey
CURVE_KS = (1, 2, 3, 5, 10, 15, 20)  # clicks at which the protocols' curves are printed


def rgb_of(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    lab = torch.from_numpy(np.concatenate([light[None], ab.transpose(2, 0, 1)]).astype(np.float32))
    return to_uint8(lab_to_rgb(lab)).permute(1, 2, 0).numpy()


def simulated_hints(ab_true: np.ndarray, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    h, w = ab_true.shape[:2]
    mask, hint = np.zeros((h, w), bool), np.zeros((h, w, 2), np.float32)
    for _ in range(k):
        y, x = int(rng.integers(PATCH, h - PATCH)), int(rng.integers(PATCH, w - PATCH))
        box = (slice(y - PATCH, y + PATCH + 1), slice(x - PATCH, x + PATCH + 1))
        mask[box], hint[box] = True, ab_true[box].reshape(-1, 2).mean(0)
    return mask, hint


def photos_table(colorizer: Colorizer, data: Path, ids: list[str], seed: int) -> dict:
    """The random protocol as it always ran here: for each k of KS, k new random clicks."""
    gains = {k: [] for k in KS}
    for n, (light, ab_true, ab_auto, truth, base, features) in enumerate(photos(colorizer, data, ids)):
        rng = np.random.default_rng([seed, n])
        for k in KS:
            ab = propagate(light, ab_auto, *simulated_hints(ab_true, k, rng), features) if k else ab_auto
            gains[k].append(psnr(rgb_of(light, ab), truth) - base)
    return gains


def photos(colorizer: Colorizer, data: Path, ids: list[str]):
    """(L*, true a/b, automatic a/b, truth, grey's PSNR, the model's features) of each photo,
    coloured by the model once."""
    for image_id in ids:
        truth = load_rgb(data / image_id)
        if truth is None:
            continue
        lab = lab_of_pixels(truth).numpy()
        light, ab_true = lab[0], lab[1:].transpose(1, 2, 0)
        grey = rgb_of(light, np.zeros_like(ab_true))
        ab_auto = lab_of_pixels(colorize_array(colorizer, grey)).numpy()[1:].transpose(1, 2, 0)
        yield light, ab_true, ab_auto, truth, psnr(grey, truth), colorizer.region_features(light)


def click_curve(light, ab_true, ab_auto, truth, base, features, protocol: str, clicks: int, rng,
                spread: np.ndarray | None = None) -> list[float]:
    """Gain over grey after 0..clicks clicks of one simulated person (benchmarks/clicks.py), the
    picture re-coloured after each; a person with nothing left to correct stops clicking."""
    mask, hint = np.zeros(light.shape, bool), np.zeros(ab_true.shape, np.float32)
    ab = ab_auto
    gains = [psnr(rgb_of(light, ab), truth) - base]
    for _ in range(clicks):
        if protocol == "random":
            point = clicks_mod.random_point(light.shape, rng)
        elif protocol == "person":
            point = clicks_mod.worst_region_point(ab, ab_true)
        else:  # where the studio suggests
            point = next_click(spread, reach(ab, ab_auto, mask)[0], mask)
        if point is None:
            gains.append(gains[-1])
            continue
        clicks_mod.add_click(mask, hint, ab_true, *point)
        ab = propagate(light, ab_auto, mask, hint, features)
        gains.append(psnr(rgb_of(light, ab), truth) - base)
    return gains


def protocols_table(colorizer: Colorizer, data: Path, ids: list[str], seed: int, protocols: list[str],
                    clicks: int) -> dict:
    """{protocol: per photo, the gains after 0..clicks clicks}."""
    curves = {p: [] for p in protocols}
    for n, photo in enumerate(photos(colorizer, data, ids)):
        spread = uncertainty(colorizer, photo[0]) if "suggest" in protocols else None
        for protocol in protocols:
            curves[protocol].append(click_curve(*photo, protocol, clicks, np.random.default_rng([seed, n, 1]), spread))
    return curves


def summary(curve: list[list[float]], k: int) -> dict:
    """After k clicks: mean gain, share of the k-th clicks that made a picture > 0.1 dB worse, share
    of the clicks 1..k that did, share of photos below automatic, NoC@+5 (clicks to +5 dB, the
    protocol's last count + 1 where never: so a mean), share of photos that reach +5 dB by k."""
    g = np.array(curve)  # photos x (clicks + 1)
    steps = g[:, 1:k + 1] - g[:, :k]
    reach = [next((i for i, v in enumerate(row) if v >= TARGET_DB), g.shape[1]) for row in g]
    return {"gain": float(g[:, k].mean()), "worse_now": float((steps[:, -1] < -WORSE_CLICK_DB).mean()),
            "worse_so_far": float((steps < -WORSE_CLICK_DB).mean()),
            "below_auto": float((g[:, k] < g[:, 0] - WORSE_DB).mean()),
            "noc": float(np.mean(reach)), "reached": float(np.mean([r <= k for r in reach]))}


def recolour_seconds(colorizer: Colorizer, runs: int = 5) -> float:
    """Median seconds to re-colour a 1920 x 1080 keyframe from a hints file of 10 strokes: the
    hints drawn, the picture's Lab, the propagation, back to RGB (``apply_hints``, as
    ``--keyframes`` does; the studio keeps the picture's Lab and saves that step). The model's
    features of the keyframe are computed once a keyframe (the studio when it opens), not here."""
    rng = np.random.default_rng(0)
    light = (50 + 30 * np.sin(np.arange(1920)[None, :] / 40.0) * np.cos(np.arange(1080)[:, None] / 55.0)
             ).astype(np.float32)
    picture = rgb_of(light, rng.normal(0, 5, (1080, 1920, 2)).astype(np.float32))
    data = {"hints": [{"stroke": [[int(x), int(y)], [int(x) + 80, int(y) + 20]], "color": "#8a5a3c", "width": 8}
                      for x, y in zip(rng.integers(0, 1800, 10), rng.integers(0, 1000, 10))]}
    features = colorizer.region_features(light)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        apply_hints(picture, *hints_of_data(data, 1080, 1920), features=features)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--split-file", type=Path, default=ROOT / "vidcolor" / "weights" / "default_split.json")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos of the split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocols", default="random,person,suggest",
                        help="comma-separated: random, person, suggest (benchmarks/clicks.py); 'none' for only the "
                             "random table of k new clicks")
    parser.add_argument("--clicks", type=int, default=20, help="clicks of each protocol's person")
    parser.add_argument("--no-table", action="store_true", help="leave out the random table of k new clicks")
    parser.add_argument("--json", type=Path, default=None,
                        help="write every photo's curves here (benchmarks/curves.py plots them)")
    a = parser.parse_args()
    ids = sorted(json.loads(a.split_file.read_text())[a.split])[:a.limit]
    colorizer = Colorizer(load_model(a.model, "cpu"), precision="fp32")
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(ids)} {a.split} photos at full resolution")
    curves = {}
    if not a.no_table:
        gains = photos_table(colorizer, a.data, ids, a.seed)
        curves["random_table"] = gains
        print(f"random clicks, k new ones for each k (Zhang et al.): {len(gains[0])} photos")
        print(f"{'hints':>5} {'gain dB':>8} {'worse':>6}")
        for k in KS:
            worse = np.mean([g < a0 - WORSE_DB for g, a0 in zip(gains[k], gains[0])])
            print(f"{k:>5} {np.mean(gains[k]):>+8.2f} {worse:>6.2f}")
    protocols = [p for p in a.protocols.split(",") if p and p != "none"]
    if protocols:
        curves.update(protocols_table(colorizer, a.data, ids, a.seed, protocols, a.clicks))
        print(f"\nclick by click, re-coloured after each ({len(curves[protocols[0]])} photos); worse: share of the "
              f"k-th clicks / of clicks 1..k that made a picture > {WORSE_CLICK_DB} dB worse; below auto: share of "
              f"photos; NoC@+{TARGET_DB:g}: mean clicks to +{TARGET_DB:g} dB ({a.clicks + 1} where never), reached: share by k")
        print(f"{'protocol':<8} {'k':>3} {'gain dB':>8} {'worse k':>8} {'worse 1..k':>10} {'below auto':>10} "
              f"{'NoC@+5':>7} {'reached':>7}")
        for protocol in protocols:
            for k in [k for k in CURVE_KS if k <= a.clicks]:
                s = summary(curves[protocol], k)
                print(f"{protocol:<8} {k:>3} {s['gain']:>+8.2f} {s['worse_now']:>8.2f} {s['worse_so_far']:>10.2f} "
                      f"{s['below_auto']:>10.2f} {s['noc']:>7.2f} {s['reached']:>7.2f}")
            print(f"{protocol:<8} {0:>3} {summary(curves[protocol], 1)['gain'] * 0 + np.mean([c[0] for c in curves[protocol]]):>+8.2f}"
                  "  (automatic)")
    if a.json:
        a.json.write_text(json.dumps(curves))
    print(f"re-colour a 1920x1080 keyframe from a hints file of 10 strokes: {recolour_seconds(colorizer):.2f} s (median of 5)")


if __name__ == "__main__":
    main()
