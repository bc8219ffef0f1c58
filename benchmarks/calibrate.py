"""Choose a classification model's release settings on the validation split, and show the trade-off.

    python benchmarks/calibrate.py RUN/best.pt RUN/epoch-8.pt [--corrections 0,0.25,0.5,0.75]
                                   [--temperatures 0.38,0.6] [--sizes 160,192] [--every 1]

For each checkpoint, inference side, prior correction (training/export.py: the share of the class
rebalancing taken back out of the logits) and annealed-mean temperature: validation PSNR against
the all-grey output, colourfulness as a fraction of the truth's, photos worse than grey and the
mean chroma of neutral photos, at full resolution, exactly as ``vidcolor-evaluate`` measures them.
Each photo's logits are computed once per checkpoint and side; every correction and temperature
is decoded from them (a correction is a constant per bin added to the logits). The choice rule,
the same as best.pt's: the best PSNR among the settings at least COLOUR_FLOOR as colourful as the
truth; if none is, the most colourful.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from training.data import load_rgb  # noqa: E402
from training.data import rgb_to_lab_np  # noqa: E402
from training.evaluate import NEUTRAL_CHROMA, grey_baseline  # noqa: E402
from vidcolor.color import mean_chroma  # noqa: E402
from training.export import load_checkpoint  # noqa: E402
from training.metrics import colourfulness, psnr  # noqa: E402
from training.train import COLOR_FLOOR  # noqa: E402
from vidcolor.models.abbins import annealed_mean  # noqa: E402
from vidcolor.color import rgb_to_lightness  # noqa: E402
from vidcolor.colorizer import Colorizer, resize_to_model  # noqa: E402


def photo_terms(root: Path, ids: list[str]) -> list[dict]:
    """What every setting compares against, once per photo: the truth, its L*, the grey baseline."""
    photos = []
    for image_id in ids:
        truth = load_rgb(root / image_id)
        if truth is None:
            continue
        light = rgb_to_lightness(torch.from_numpy(truth).permute(2, 0, 1).float()[None] / 255.0)
        photos.append({"image": image_id, "truth": truth, "light": light,
                       "psnr_grey": psnr(grey_baseline(truth), truth), "colour_truth": colourfulness(truth),
                       "chroma_truth": mean_chroma(rgb_to_lab_np(truth))})
    return photos


@torch.inference_mode()
def sweep(model, ckpt: dict, photos: list[dict], size: int, corrections: list[float],
          temperatures: list[float]) -> list[dict]:
    colorizer = Colorizer(model, precision="fp32", size=size)
    shift = -torch.log(ckpt["class_weights"].float())[None, :, None, None]  # per unit of correction
    acc = {(c, t): [] for c in corrections for t in temperatures}
    for photo in photos:
        small = resize_to_model(photo["light"], size)
        logits = model(model.config.scale_l(small).contiguous(memory_format=torch.channels_last)).float()
        for c in corrections:
            for t in temperatures:
                ab = annealed_mean((logits + c * shift).contiguous(memory_format=torch.channels_last),
                                   model.ab_bins, t)
                out = colorizer.compose_uint8(photo["light"], ab)[0].numpy()
                neutral = photo["chroma_truth"] < NEUTRAL_CHROMA
                acc[(c, t)].append((psnr(out, photo["truth"]), colourfulness(out),
                                    mean_chroma(rgb_to_lab_np(out)) if neutral else None))
    rows = []
    for (c, t), values in acc.items():
        gains = [v[0] - p["psnr_grey"] for v, p in zip(values, photos)]
        neutral = [v[2] for v in values if v[2] is not None]
        rows.append({"correction": c, "temperature": t, "size": size, "gain": float(np.mean(gains)),
                     "colourfulness_ratio": float(np.mean([v[1] for v in values])
                                                  / max(np.mean([p["colour_truth"] for p in photos]), 1e-9)),
                     "worse": int(sum(g < 0 for g in gains)), "images": len(photos),
                     "neutral_chroma": float(np.mean(neutral)) if neutral else None})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--corrections", default="0,0.25,0.5,0.75")
    p.add_argument("--temperatures", default="0.38,0.6")
    p.add_argument("--sizes", default=None, help="inference sides to try (default: each checkpoint's own)")
    p.add_argument("--split", default="validation", choices=["validation", "test", "train"])
    p.add_argument("--every", type=int, default=1, help="use every Nth photo of the split (quicker, noisier)")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    corrections = [float(x) for x in a.corrections.split(",")]
    temperatures = [float(x) for x in a.temperatures.split(",")]
    rows, photos, root = [], None, None
    print(f"{'checkpoint':<30} {'side':>4} {'corr.':>5} {'T':>5} {'gain dB':>8} {'colourf.':>9} {'worse':>6} "
          f"{'neutral':>8}", flush=True)
    for ckpt_path in a.checkpoints:
        model, ckpt = load_checkpoint(ckpt_path)
        if photos is None or Path(ckpt["data"]["root"]) != root:
            root = Path(ckpt["data"]["root"])
            ids = json.loads(ckpt_path.with_name("split.json").read_text())[a.split][::a.every]
            photos = photo_terms(root, ids)
        name = f"{ckpt_path.parent.name}/{ckpt_path.name} (ep {ckpt['epoch'] + 1})"
        for size in ([int(s) for s in a.sizes.split(",")] if a.sizes else [model.config.size]):
            start = time.perf_counter()
            for row in sweep(model, ckpt, photos, size, corrections, temperatures):
                row["checkpoint"] = name
                rows.append(row)
                neutral = f"{row['neutral_chroma']:8.2f}" if row["neutral_chroma"] is not None else f"{'-':>8}"
                print(f"{name[:30]:<30} {size:4d} {row['correction']:5.2f} {row['temperature']:5.2f} "
                      f"{row['gain']:+8.2f} {row['colourfulness_ratio']:9.2f} {row['worse']:6d} {neutral}", flush=True)
            print(f"  ({len(photos)} photos, {time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    colourful = [r for r in rows if r["colourfulness_ratio"] >= COLOR_FLOOR]
    pick = max(colourful, key=lambda r: r["gain"]) if colourful else max(rows, key=lambda r: r["colourfulness_ratio"])
    print(f"\nchosen (best PSNR among colourfulness >= {COLOR_FLOOR}): {pick['checkpoint']}, side {pick['size']}, "
          f"correction {pick['correction']:g}, T {pick['temperature']:g}: {pick['gain']:+.2f} dB, "
          f"{pick['colourfulness_ratio']:.2f}")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "chosen": pick}, indent=1))


if __name__ == "__main__":
    main()
