"""Test clips with a colour ground truth, made from still photos: no outside video needed.

    python -m training.clips --data PHOTOS --split-file RUN/split.json --out CLIPS [--size 640x480]

For each kind of motion a colour clip ``NAME_colour.mp4`` and its black-and-white version
``NAME_bw.mp4`` (the L* of every frame as grey): a pan across a photo, a zoom into one, a pan
with a hard cut to another photo, and a photo-sized object sliding over a still background.
Photos come from the test split, so no model has trained on them.
"""
from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from vidcolor.color import lab_of_pixels, lab_to_rgb, to_uint8

from .command import run
from .data import load_rgb

CLIP_FRAMES = 48  # two seconds at 24 fps
CLIP_RATE = Fraction(24)
CLIP_CRF = 12  # near-lossless: the truth should not carry x264's own flicker
KINDS = ("pan", "zoom", "cut", "object")


def _fit(rgb: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """The photo resized to cover width*scale x height*scale."""
    f = max(width * scale / rgb.shape[1], height * scale / rgb.shape[0])
    return cv2.resize(rgb, (int(np.ceil(rgb.shape[1] * f)), int(np.ceil(rgb.shape[0] * f))),
                      interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def pan(rgb: np.ndarray, width: int, height: int, frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    big = _fit(rgb, width, height, 1.3)
    xs = np.linspace(0, big.shape[1] - width, frames)
    y = (big.shape[0] - height) // 2
    return [np.ascontiguousarray(big[y:y + height, int(round(x)):int(round(x)) + width]) for x in xs]


def zoom(rgb: np.ndarray, width: int, height: int, frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    big = _fit(rgb, width, height, 1.0)
    cy, cx = big.shape[0] / 2, big.shape[1] / 2
    out = []
    for s in np.linspace(1.0, 0.6, frames):
        w, h = width * s * big.shape[1] / width, height * s * big.shape[0] / height
        w, h = min(w, big.shape[1]), min(h, big.shape[0])
        m = np.float32([[width / w, 0, -(cx - w / 2) * width / w], [0, height / h, -(cy - h / 2) * height / h]])
        out.append(cv2.warpAffine(big, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def cut(rgb_a: np.ndarray, rgb_b: np.ndarray, width: int, height: int, frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    half = frames // 2
    return pan(rgb_a, width, height, half) + pan(rgb_b, width, height, frames - half)


def moving_object(background: np.ndarray, thing: np.ndarray, width: int, height: int,
                  frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    bg = _fit(background, width, height, 1.0)[:height, :width]
    side = height // 2
    obj = cv2.resize(_fit(thing, side, side, 1.0)[:side, :side], (side, side), interpolation=cv2.INTER_AREA)
    mask = np.zeros((side, side), np.float32)
    cv2.circle(mask, (side // 2, side // 2), side // 2 - 2, 1.0, -1, cv2.LINE_AA)
    out = []
    for x in np.linspace(0, width - side, frames).astype(int):
        frame = bg.astype(np.float32).copy()
        y = (height - side) // 2
        region = frame[y:y + side, x:x + side]
        frame[y:y + side, x:x + side] = region * (1 - mask[..., None]) + obj * mask[..., None]
        out.append(frame.round().astype(np.uint8))
    return out


def to_grey(frame: np.ndarray) -> np.ndarray:
    """The frame's L* as a grey RGB frame, as a black-and-white film would hold it."""
    lab = lab_of_pixels(frame)
    lab[1:] = 0
    return to_uint8(lab_to_rgb(lab)).permute(1, 2, 0).numpy()


def write_clip(path: Path, frames: list[np.ndarray], crf: int = CLIP_CRF) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=CLIP_RATE, options={"crf": str(crf), "preset": "fast"})
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_clips(root: Path, ids: list[str], out: Path, width: int = 640, height: int = 480,
               kinds=KINDS, progress: bool = False) -> list[str]:
    """Write a colour and a black-and-white clip of each kind from photos ``ids`` under ``root``
    (taken in order, two per clip where two are needed); returns the clip names."""
    photos = [p for p in (load_rgb(root / i) for i in ids[:2 * len(kinds)]) if p is not None]
    if len(photos) < 2:
        raise ValueError(f"need at least 2 readable photos to make clips, found {len(photos)}")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for k, kind in enumerate(tqdm(kinds, desc="clips", unit="clip", disable=not progress, file=sys.stderr)):
        a, b = photos[(2 * k) % len(photos)], photos[(2 * k + 1) % len(photos)]
        frames = {"pan": lambda: pan(a, width, height), "zoom": lambda: zoom(a, width, height),
                  "cut": lambda: cut(a, b, width, height), "object": lambda: moving_object(a, b, width, height)}[kind]()
        write_clip(out / f"{kind}_colour.mp4", frames)
        write_clip(out / f"{kind}_bw.mp4", [to_grey(f) for f in frames])
        names.append(kind)
    return names


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split-file", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the clips")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(args) -> list[str]:
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {args.size}: give WIDTHxHEIGHT, e.g. 640x480") from None
    try:
        ids = json.loads(args.split_file.read_text())["test"]
    except (ValueError, KeyError):
        raise ValueError(f"--split-file {args.split_file}: not a split file with a test split") from None
    names = make_clips(args.data, ids, args.out, width, height, progress=not args.quiet)
    for name in names:
        print(f"{args.out / name}_colour.mp4  {args.out / name}_bw.mp4")
    return names


def cli(argv: list[str] | None = None) -> None:
    """``python -m training.clips``."""
    run("clips", get_args_parser, main, argv)


if __name__ == "__main__":
    cli()
