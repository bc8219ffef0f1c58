"""Flicker and fidelity of colourized videos: the numbers for anyone's films.

    python -m training.evaluate_video OUTPUTS/ [--originals ORIGINALS/]

For every video in OUTPUTS: the warping error of Lai et al. (ECCV 2018; flow on the video's own
grey frames, which are the input's, output t-1 warped onto t, occluded pixels masked by a
forward-backward check, mean squared RGB error on a 0..1 scale over the kept pixels, averaged
over frames). With ORIGINALS (colour videos of the same names, or NAME_colour for NAME_bw...):
the original's own warping error (natural change: the floor) and the output's mean PSNR against it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from vidcolor.options import VIDEO_EXTENSIONS
from vidcolor.temporal import warping_error
from vidcolor.tempfiles import write_text

from .command import run
from .metrics import psnr


def read_frames(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every frame as RGB uint8 and as 8-bit luma (the flow's input)."""
    rgb, grey = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb.append(frame.to_ndarray(format="rgb24"))
            grey.append(frame.to_ndarray(format="gray"))
    return rgb, grey


def original_for(video: Path, originals: Path) -> Path | None:
    stem = video.stem
    for name in (stem, stem.replace("_bw", "_colour"), stem.replace("_out", "_colour")):
        for ext in VIDEO_EXTENSIONS:
            if (originals / f"{name}{ext}").is_file():
                return originals / f"{name}{ext}"
    return None


def evaluate_video(video: Path, original: Path | None = None) -> dict:
    frames, grey = read_frames(video)
    row = {"video": video.name, "frames": len(frames), "warping_error": warping_error(frames, grey)}
    if original is not None:
        truth, truth_grey = read_frames(original)
        n = min(len(truth), len(frames))
        # the flow comes from the original's grey frames for both: the same pixels are compared
        row["warping_error_original"] = warping_error(truth[:n], truth_grey[:n])
        row["warping_error_same_flow"] = warping_error(frames[:n], truth_grey[:n])
        row["psnr"] = float(np.mean([psnr(a, b) for a, b in zip(frames[:n], truth[:n])]))
    return row


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outputs", type=Path, help="folder of colourized videos (or one video)")
    p.add_argument("--originals", type=Path, default=None, help="folder of the colour originals")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(args) -> list[dict]:
    videos = [args.outputs] if args.outputs.is_file() else sorted(
        v for v in args.outputs.iterdir() if v.suffix.lower() in VIDEO_EXTENSIONS) if args.outputs.is_dir() else []
    if not videos:
        raise ValueError(f"no videos found at {args.outputs}")
    rows = [evaluate_video(v, original_for(v, args.originals) if args.originals else None)
            for v in tqdm(videos, desc="evaluate", unit="video", disable=args.quiet, file=sys.stderr)]
    print(f"{'video':<32} {'frames':>6} {'warp err':>10} {'original':>10} {'PSNR':>7}")
    for r in rows:
        print(f"{r['video'][:32]:<32} {r['frames']:6d} {r['warping_error']:10.6f} "
              f"{r.get('warping_error_original', float('nan')):10.6f} {r.get('psnr', float('nan')):7.2f}")
    if args.json:
        write_text(args.json, json.dumps(rows, indent=1))
    return rows


def cli(argv: list[str] | None = None) -> None:
    """``python -m training.evaluate_video``."""
    run("evaluate_video", get_args_parser, main, argv)


if __name__ == "__main__":
    cli()
