"""Temporal smoothing: flicker, fidelity and cost, all measured in one run.

    python benchmarks/temporal.py [--data ../shared/corpus --split-file vidcolor/weights/default_split.json]
                                  [--clips DIR] [--repeats 3] [--frames 120]

1. Test clips with ground truth (training/clips.py: a pan, a zoom, a pan with a hard cut, an object
   sliding over a background) made from test-split photos, in colour and in black and white.
2. Each black-and-white clip colourized by the shipped model with smoothing on (default) and off:
   warping error of the output and of the colour original (same flow, the original's grey
   frames), PSNR against the original, scene cuts found, and whether the first frame after the
   cut equals the frame-by-frame output.
3. End-to-end fps with smoothing on and off, at 640x480 and 1920x1080 (synthetic clips), medians
   of --repeats runs, interleaved so both see the same machine state.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import make_clip, model_for_timing  # noqa: E402

from training.clips import make_clips  # noqa: E402
from training.data import rgb_to_lab_np  # noqa: E402
from training.evaluate import grey_baseline  # noqa: E402
from vidcolor.color import mean_chroma  # noqa: E402
from training.evaluate_video import read_frames  # noqa: E402
from training.metrics import psnr  # noqa: E402
from vidcolor.colorizer import Colorizer  # noqa: E402
from vidcolor.video import colorize_video  # noqa: E402
from vidcolor.options import DEFAULT_SMOOTHING as DEFAULT_STRENGTH
from vidcolor.temporal import warping_error  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def quality(colorizer: Colorizer, clips: Path, work: Path) -> list[dict]:
    rows = []
    for bw in sorted(clips.glob("*_bw.mp4")):
        name = bw.stem[:-3]
        truth, truth_grey = read_frames(clips / f"{name}_colour.mp4")
        row = {"clip": name, "original": warping_error(truth, truth_grey),
               "psnr_grey": float(np.mean([psnr(grey_baseline(t), t) for t in truth])),
               "chroma_truth": float(np.mean([mean_chroma(rgb_to_lab_np(t)) for t in truth[::4]]))}
        outs = {}
        for label, strength in (("on", DEFAULT_STRENGTH), ("off", 0.0)):
            out = work / f"{name}_{label}.mp4"
            summary = colorize_video(colorizer, bw, out, progress=False, smoothing=strength, crf=0, overwrite=True)  # lossless
            frames, _ = read_frames(out)
            outs[label] = frames
            row[f"warp_{label}"] = warping_error(frames, truth_grey)
            row[f"psnr_{label}"] = float(np.mean([psnr(a, b) for a, b in zip(frames, truth)]))
            row[f"chroma_{label}"] = float(np.mean([mean_chroma(rgb_to_lab_np(f)) for f in frames[::4]]))
            if strength:
                row["cuts"] = summary.scene_cuts
        if name == "cut":  # the first frame of the second shot: smoothing must not touch it
            first = len(truth) // 2
            row["after_cut_max_diff"] = int(np.abs(outs["on"][first].astype(int) - outs["off"][first].astype(int)).max())
        rows.append(row)
    return rows


def speed(colorizer: Colorizer, work: Path, frames: int, repeats: int) -> list[dict]:
    rows = []
    for label, (w, h) in {"640x480": (640, 480), "1920x1080": (1920, 1080)}.items():
        clip = make_clip(work / f"s_{label}.mp4", frames, w, h)
        fps = {"on": [], "off": []}
        for _ in range(repeats):
            for key, strength in (("on", DEFAULT_STRENGTH), ("off", 0.0)):
                start = time.perf_counter()
                colorize_video(colorizer, clip, work / "s_out.mp4", progress=False, smoothing=strength, overwrite=True)
                fps[key].append(frames / (time.perf_counter() - start))
        on, off = statistics.median(fps["on"]), statistics.median(fps["off"])
        rows.append({"clip": label, "fps_on": on, "fps_off": off, "ratio": on / off})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "corpus")
    p.add_argument("--split-file", type=Path, default=REPO / "vidcolor" / "weights" / "default_split.json")
    p.add_argument("--clips", type=Path, default=None, help="reuse clips made earlier (training/clips.py)")
    p.add_argument("--frames", type=int, default=120, help="frames of each speed clip")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-speed", action="store_true")
    a = p.parse_args()
    colorizer = Colorizer(model_for_timing(a.device), precision="auto")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = a.clips
        if clips is None:
            clips = work / "clips"
            make_clips(a.data, json.loads(a.split_file.read_text())["test"], clips)
        rows = quality(colorizer, clips, work)
        print(f"model input {colorizer.size}, smoothing strength {DEFAULT_STRENGTH}; warping error x 1e3")
        print(f"{'clip':<8} {'original':>9} {'on':>8} {'off':>8} {'on/orig':>8} {'PSNR on':>8} {'PSNR off':>9} "
              f"{'on-grey':>8} {'chroma/orig':>11} cuts")
        for r in rows:
            print(f"{r['clip']:<8} {1e3 * r['original']:9.3f} {1e3 * r['warp_on']:8.3f} {1e3 * r['warp_off']:8.3f} "
                  f"{r['warp_on'] / max(r['original'], 1e-12):8.2f} {r['psnr_on']:8.2f} {r['psnr_off']:9.2f} "
                  f"{r['psnr_on'] - r['psnr_grey']:+8.2f} {r['chroma_on'] / max(r['chroma_truth'], 1e-9):11.2f} "
                  f"{r.get('cuts')}" + (f"  (first frame after the cut differs by {r['after_cut_max_diff']})"
                                        if "after_cut_max_diff" in r else ""))
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("original", "warp_on", "warp_off", "psnr_on",
                                                                 "psnr_off", "psnr_grey", "chroma_on", "chroma_truth")}
        print(f"{'mean':<8} {1e3 * mean['original']:9.3f} {1e3 * mean['warp_on']:8.3f} {1e3 * mean['warp_off']:8.3f} "
              f"{mean['warp_on'] / mean['original']:8.2f} {mean['psnr_on']:8.2f} {mean['psnr_off']:9.2f} "
              f"{mean['psnr_on'] - mean['psnr_grey']:+8.2f} {mean['chroma_on'] / mean['chroma_truth']:11.2f}")
        if not a.skip_speed:
            print(f"\nend-to-end fps, median of {a.repeats}, {a.frames} frames")
            print(f"{'clip':<10} {'on':>7} {'off':>7} {'on/off':>7}")
            for r in speed(colorizer, work, a.frames, a.repeats):
                print(f"{r['clip']:<10} {r['fps_on']:7.2f} {r['fps_off']:7.2f} {r['ratio']:7.3f}")


if __name__ == "__main__":
    main()
