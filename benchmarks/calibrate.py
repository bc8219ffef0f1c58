"""Choose a classification model's release settings on the validation split, and show the trade-off.

    python benchmarks/calibrate.py RUN/best.pt RUN/last.pt [--corrections 0,0.25,0.5,0.75]
                                   [--temperatures 0.38,0.6] [--every 1] [--size N]

For each checkpoint, prior correction (training/export.py: the share of the class rebalancing
taken back out of the logits) and annealed-mean temperature: validation PSNR against the all-grey
output, colourfulness as a fraction of the truth's, photos worse than grey and the mean chroma of
neutral photos, at full resolution. The choice rule, the same as best.pt's: the best PSNR among
the settings at least COLOUR_FLOOR as colourful as the truth; if none is, the most colourful.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from training.evaluate import evaluate_images  # noqa: E402
from training.export import correct_prior, load_checkpoint  # noqa: E402
from training.train import COLOUR_FLOOR  # noqa: E402
from vidcolor.pipeline import Colorizer  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--corrections", default="0,0.25,0.5,0.75")
    p.add_argument("--temperatures", default="0.38,0.6")
    p.add_argument("--every", type=int, default=1, help="use every Nth validation photo (quicker, noisier)")
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    rows = []
    print(f"{'checkpoint':<28} {'corr.':>5} {'T':>5} {'gain dB':>8} {'colourf.':>9} {'worse':>6} {'neutral':>8}")
    for ckpt_path in a.checkpoints:
        for strength in map(float, a.corrections.split(",")):
            model, ckpt = load_checkpoint(ckpt_path, a.size)
            if strength:
                correct_prior(model, ckpt["class_weights"], strength)
            root = Path(ckpt["data"]["root"])
            ids = json.loads(ckpt_path.with_name("split.json").read_text())["validation"][::a.every]
            for t in map(float, a.temperatures.split(",")):
                report = evaluate_images(Colorizer(model, precision="fp32", temperature=t), root, ids)
                m, s = report["mean"], report["summary"]
                row = {"checkpoint": f"{ckpt_path.parent.name}/{ckpt_path.name} (epoch {ckpt['epoch'] + 1})",
                       "correction": strength, "temperature": t, "gain": m["psnr"] - m["psnr_grey"],
                       "colourfulness_ratio": m["colourfulness_ratio"], "worse": len(s["worse_than_grey"]),
                       "images": report["images"], "neutral_chroma": s["neutral_chroma"]}
                rows.append(row)
                neutral = f"{row['neutral_chroma']:8.2f}" if row["neutral_chroma"] is not None else f"{'-':>8}"
                print(f"{row['checkpoint'][:28]:<28} {strength:5.2f} {t:5.2f} {row['gain']:+8.2f} "
                      f"{row['colourfulness_ratio']:9.2f} {row['worse']:6d} {neutral}", flush=True)
    colourful = [r for r in rows if r["colourfulness_ratio"] >= COLOUR_FLOOR]
    pick = max(colourful, key=lambda r: r["gain"]) if colourful else max(rows, key=lambda r: r["colourfulness_ratio"])
    print(f"\nchosen (best PSNR among colourfulness >= {COLOUR_FLOOR}): {pick['checkpoint']}, correction "
          f"{pick['correction']:g}, T {pick['temperature']:g}: {pick['gain']:+.2f} dB, {pick['colourfulness_ratio']:.2f}")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "chosen": pick}, indent=1))


if __name__ == "__main__":
    main()
