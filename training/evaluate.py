"""Evaluate a model on colour photos the way a user would see it: each photo's L goes through
``vidcolor.colorize_image`` at full resolution and the result is compared with the photo.

    python -m training.evaluate --model WEIGHTS --data DIR [--split test] [--out DIR]

Per image and mean: PSNR of the result, PSNR of the all-grey baseline (a = b = 0, same L),
colourfulness (Hasler & Suesstrunk 2003) of result and truth, mean a/b error (Euclidean, Lab
units) and mean chroma of result and truth. The summary names the photos that come out worse than
grey and checks neutral photos (truth chroma < NEUTRAL_CHROMA) for an added tint. Prints a table,
writes metrics.json and a contact sheet (grey | result | truth).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from vidcolor.color import lab_to_rgb, mean_chroma, to_uint8
from vidcolor.picture import colorize_array
from vidcolor.colorizer import Colorizer
from vidcolor.tempfiles import write_text
from vidcolor.weights import load_model

from .command import run
from .data import load_rgb, rgb_to_lab_np, scan_images
from .metrics import colourfulness, psnr
from .plots import image_sheet

SHEET_CELL = 192  # px side of each picture on the contact sheet
SHEET_ROWS = 12  # images on the contact sheet
METRICS = ("psnr", "psnr_grey", "colourfulness", "colourfulness_truth", "ab_error", "chroma", "chroma_truth")
NEUTRAL_CHROMA = 5.0  # Lab units: a photo whose mean chroma is below this is near-neutral


class EvaluateError(ValueError):
    """A reason ``vidcolor-evaluate`` cannot run (bad folder, split or model), as one line."""


def grey_baseline(rgb: np.ndarray, lab: torch.Tensor | None = None) -> np.ndarray:
    """The photo with a = b = 0: what a colourizer that adds nothing would give (``lab``: the
    photo's Lab, when it is at hand)."""
    lab = (rgb_to_lab_np(rgb) if lab is None else lab).clone()
    lab[1:] = 0
    return to_uint8(lab_to_rgb(lab)).permute(1, 2, 0).numpy()


def ab_error(pred: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> float:
    """Mean Euclidean a/b distance; RGB uint8 arrays, or their Lab (3,H,W) tensors."""
    pred, truth = (x if isinstance(x, torch.Tensor) else rgb_to_lab_np(x) for x in (pred, truth))
    # hypot, not linalg.vector_norm over the channel axis: that took 70 ms on a 0.3 MP photo
    # (a strided reduction over two channels), most of vidcolor-evaluate's time
    return float(torch.hypot(pred[1] - truth[1], pred[2] - truth[2]).mean())


def evaluate_images(colorizer: Colorizer, root: Path, ids: list[str], progress: bool = False,
                    sheet_path: Path | None = None) -> dict:
    """Metrics per image and their means over ``ids`` (paths relative to ``root``)."""
    rows, sheet = [], []
    for image_id in tqdm(ids, desc="evaluate", unit="img", disable=not progress, file=sys.stderr):
        truth = load_rgb(root / image_id)
        if truth is None:
            continue
        result = colorize_array(colorizer, truth)
        # each picture to Lab once: at full resolution these conversions cost more than the model
        lab_truth, lab_result = rgb_to_lab_np(truth), rgb_to_lab_np(result)
        grey = grey_baseline(truth, lab_truth)
        rows.append({"image": image_id, "psnr": psnr(result, truth), "psnr_grey": psnr(grey, truth),
                     "colourfulness": colourfulness(result), "colourfulness_truth": colourfulness(truth),
                     "ab_error": ab_error(lab_result, lab_truth), "chroma": mean_chroma(lab_result),
                     "chroma_truth": mean_chroma(lab_truth)})
        if sheet_path is not None and len(sheet) < SHEET_ROWS:
            sheet.append([cv2.resize(x, (SHEET_CELL, SHEET_CELL), interpolation=cv2.INTER_AREA)
                          for x in (grey, result, truth)])
    if not rows:
        raise EvaluateError(f"no readable images to evaluate under {root}")
    if sheet_path is not None:
        image_sheet(sheet, sheet_path, labels=["grey (input)", "vidcolor", "truth"])
    mean = {k: float(np.mean([r[k] for r in rows])) for k in METRICS}
    mean["colourfulness_ratio"] = mean["colourfulness"] / max(mean["colourfulness_truth"], 1e-9)
    worse = sorted(r["image"] for r in rows if r["psnr"] < r["psnr_grey"])
    neutral = [r for r in rows if r["chroma_truth"] < NEUTRAL_CHROMA]
    summary = {"worse_than_grey": worse, "neutral_images": len(neutral),
               "neutral_chroma": float(np.mean([r["chroma"] for r in neutral])) if neutral else None}
    return {"images": len(rows), "mean": mean, "summary": summary, "per_image": rows}


def format_table(report: dict) -> str:
    rows = report["per_image"] + [dict(image=f"MEAN of {report['images']}", **report["mean"])]
    width = max(len("image"), *(len(r["image"]) for r in rows))  # whole names: never cut
    head = f"{'image':<{width}} {'PSNR':>7} {'grey':>7} {'colourf.':>9} {'truth':>7} {'ab err':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['image']:<{width}} {r['psnr']:7.2f} {r['psnr_grey']:7.2f} {r['colourfulness']:9.2f} "
                     f"{r['colourfulness_truth']:7.2f} {r['ab_error']:7.2f}")
    m, summary = report["mean"], report.get("summary")
    lines.append(f"PSNR {m['psnr'] - m['psnr_grey']:+.2f} dB against grey; colourfulness "
                 f"{m['colourfulness_ratio']:.2f} of the truth's")
    if summary:
        worse = summary["worse_than_grey"]
        lines.append(f"worse than grey: {len(worse)} of {report['images']}" + (f" ({', '.join(worse)})" if worse else ""))
        if summary["neutral_images"]:
            lines.append(f"neutral photos (truth chroma < {NEUTRAL_CHROMA:g}): {summary['neutral_images']}, "
                         f"mean chroma of the output {summary['neutral_chroma']:.2f}")
    return "\n".join(lines)


def select_ids(data: Path, split: str | None, split_file: Path | None) -> list[str]:
    if split is None:
        return scan_images(data)
    if split_file is None or not split_file.is_file():
        raise EvaluateError(f"--split {split} needs the run's split.json (--split-file); not found: {split_file}")
    try:
        ids = json.loads(split_file.read_text())
    except ValueError:
        raise EvaluateError(f"{split_file} is not a split file (not JSON)") from None
    if not isinstance(ids, dict) or split not in ids:
        raise EvaluateError(f"{split_file} has no '{split}' split")
    missing = [i for i in ids[split] if not (data / i).is_file()]
    if missing:
        raise EvaluateError(f"{split_file}: {len(missing)} of its {len(ids[split])} {split} photos are not under {data} "
                         f"(e.g. {missing[0]}): it belongs to another data folder")
    return ids[split]


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="release weights (vidcolor format) or 'default'")
    p.add_argument("--data", required=True, help="folder of colour photos")
    p.add_argument("--split", choices=["train", "validation", "test"], default=None,
                   help="evaluate only this split of split.json (default: every image in --data)")
    p.add_argument("--split-file", default=None, help="split.json (default: beside --model, else in --data)")
    p.add_argument("--out", default=None, help="folder for metrics.json and contact_sheet.png")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", help="inference precision (fp32 makes numbers repeatable)")
    p.add_argument("--size", type=int, default=None, help="model input side (default: the model's own)")
    p.add_argument("--temperature", type=float, default=None,
                   help="classification models: annealed-mean T (lower = likeliest colour; default the model's)")
    p.add_argument("--temperatures", default=None,
                   help="comma-separated T values: evaluate each and print one summary row per T (a sweep)")
    p.add_argument("--quiet", action="store_true")
    return p


def sweep(model, data: Path, ids: list[str], temperatures: list[float], precision: str, size: int | None,
          progress: bool) -> list[dict]:
    """One summary row per annealed-mean temperature, on the same photos."""
    rows = []
    for t in temperatures:
        report = evaluate_images(Colorizer(model, precision=precision, size=size, temperature=t), data, ids,
                                 progress=progress)
        m = report["mean"]
        rows.append({"temperature": t, "psnr": m["psnr"], "psnr_grey": m["psnr_grey"],
                     "colourfulness_ratio": m["colourfulness_ratio"], "ab_error": m["ab_error"],
                     "worse_than_grey": len(report["summary"]["worse_than_grey"]),
                     "neutral_chroma": report["summary"]["neutral_chroma"], "images": report["images"]})
    return rows


def format_sweep(rows: list[dict]) -> str:
    lines = [f"{'T':>5} {'PSNR':>7} {'grey':>7} {'gain':>6} {'colourf.':>9} {'ab err':>7} {'worse':>6} {'neutral':>8}"]
    for r in rows:
        neutral = f"{r['neutral_chroma']:8.2f}" if r["neutral_chroma"] is not None else f"{'-':>8}"
        lines.append(f"{r['temperature']:5.2f} {r['psnr']:7.2f} {r['psnr_grey']:7.2f} {r['psnr'] - r['psnr_grey']:+6.2f} "
                     f"{r['colourfulness_ratio']:9.2f} {r['ab_error']:7.2f} {r['worse_than_grey']:6d} {neutral}")
    return "\n".join(lines)


def main(args) -> dict:
    data = Path(args.data)
    if not data.is_dir():
        raise EvaluateError(f"--data {data}: no such folder")
    split_file = Path(args.split_file) if args.split_file else next(
        (p for p in (Path(args.model).with_name("split.json"), data / "split.json") if p.is_file()), None)
    ids = select_ids(data, args.split, split_file)
    try:
        model = load_model(args.model, args.device)
        colorizer = Colorizer(model, precision=args.precision, size=args.size, temperature=args.temperature)
        temperatures = [float(t) for t in args.temperatures.split(",")] if args.temperatures else None
        if temperatures:
            rows = sweep(model, data, ids, temperatures, args.precision, args.size, not args.quiet)
            print(format_sweep(rows))
            if args.out:
                Path(args.out).mkdir(parents=True, exist_ok=True)
                write_text(Path(args.out) / "sweep.json", json.dumps(rows, indent=1))
            return {"sweep": rows}
    except ValueError as err:  # ModelFileError included: one line, not a traceback
        raise EvaluateError(str(err)) from None
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    report = evaluate_images(colorizer, data, ids, progress=not args.quiet,
                             sheet_path=out / "contact_sheet.png" if out else None)
    report.update(model=str(args.model), data=str(data), split=args.split or "all")
    print(format_table(report))
    if out:
        write_text(out / "metrics.json", json.dumps(report, indent=1))
    return report


def cli(argv: list[str] | None = None) -> None:
    """The ``vidcolor-evaluate`` command."""
    run("vidcolor-evaluate", get_args_parser, main, argv)


if __name__ == "__main__":
    cli()
