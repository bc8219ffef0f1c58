"""Keyframes on films with known cuts: how many, how good, how fast, all measured in one run.

    python benchmarks/keyframes.py [--data ../shared/corpus --split-file vidcolor/weights/default_split.json]
                                   [--films 4] [--shots 5] [--size 480x320] [--keep DIR]

1. Test films made from test-split photos (no model trained on them): shots of different photos
   (a pan, a zoom, a pan that drifts from one scene to the next photo's, an object sliding over a
   background), of 2 to 6 seconds each, joined with hard cuts; each in colour and in black and white (its L*).
2. vidcolor-keyframes on each black-and-white film: shots found against the true cuts, keyframes
   per minute, its time against a full automatic colourization.
3. Each film colourized six ways: automatic; --keyframes left grey (automatic colour held per
   shot); --keyframes with ten simulated clicks of the true colour on each keyframe (NAME.hints.json):
   at random places (benchmarks/hints.py's random user), and where a person clicks (the middle of
   the worst wrong region each time, benchmarks/clicks.py); --keyframes with every keyframe replaced by the true colour of
   that frame (what a person who colours them well hands back); and the old way, --reference with
   the true colour of frame 0.
   For each: PSNR over grey on the frames that are not keyframes, the worst film, warping error
   against the colour original's (same flow), CDC (NTIRE 2023) against the original's, and time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training.clips import moving_object, pan, to_grey, write_clip, zoom  # noqa: E402
from training.data import load_rgb  # noqa: E402
from training.evaluate import grey_baseline  # noqa: E402
from training.evaluate_video import read_frames  # noqa: E402
from training.metrics import cdc, psnr  # noqa: E402
from vidcolor import load_model, write_image  # noqa: E402
from vidcolor.colorizer import Colorizer  # noqa: E402
from vidcolor.keyframes import make_keyframes  # noqa: E402
from vidcolor.video import colorize_video  # noqa: E402
from vidcolor.temporal import warping_error  # noqa: E402
from vidcolor.color import lab_of_pixels  # noqa: E402
from vidcolor.hints import hints_of_data  # noqa: E402
from vidcolor.imageio import read_image  # noqa: E402
from vidcolor.propagate import propagate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clicks import worst_region_point  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RATE = 24  # frames per second of the test films (training/clips.py writes 24 fps)
SHOT_FRAMES = (48, 72, 96, 144)  # 2, 3, 4 and 6 seconds


def side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two photos at the same height, joined left to right: a wide view a pan drifts across."""
    height = min(a.shape[0], b.shape[0])
    a, b = (cv2.resize(x, (round(x.shape[1] * height / x.shape[0]), height), interpolation=cv2.INTER_AREA)
            for x in (a, b))
    return np.hstack([a, b])


def make_film(photos: list[np.ndarray], width: int, height: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    """Colour frames of a film of one shot per photo, and the frame numbers where shots begin."""
    rng = np.random.default_rng(seed)
    frames, starts = [], []
    for k, photo in enumerate(photos):
        n = int(rng.choice(SHOT_FRAMES))
        kind = (k + seed) % 4
        if kind == 0:
            shot = pan(photo, width, height, n)
        elif kind == 1:
            shot = zoom(photo, width, height, n)
        elif kind == 2:  # a pan from this scene to the next photo's: no one frame shows it all
            shot = pan(side_by_side(photo, photos[(k + 1) % len(photos)]), width, height, max(n, 96))
        else:
            shot = moving_object(photo, photos[(k + 1) % len(photos)], width, height, n)
        starts.append(len(frames))
        frames.extend(shot)
    return frames, starts


def scores(out: list[np.ndarray], truth: list[np.ndarray], grey: list[np.ndarray], truth_grey: list[np.ndarray],
           skip: set[int]) -> dict:
    n = min(len(out), len(truth))
    keep = [i for i in range(n) if i not in skip]
    gain = [psnr(out[i], truth[i]) - psnr(grey[i], truth[i]) for i in keep]
    return {"psnr_over_grey": float(np.mean(gain)), "worst_frame": float(np.min(gain)),
            "warp": warping_error(out[:n], truth_grey[:n]), "cdc": cdc(out[:n])}


HINT_CLICKS = 10  # hints per keyframe of the simulated user


def simulated_clicks(truth: np.ndarray, k: int, rng) -> list[dict]:
    """k clicks at random places, each the mean true colour of the 5 x 5 patch there (a hints file's entries)."""
    h, w = truth.shape[:2]
    clicks = []
    for _ in range(k):
        y, x = int(rng.integers(2, h - 2)), int(rng.integers(2, w - 2))
        colour = truth[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0)
        clicks.append({"point": [x, y], "color": [int(v) for v in colour.round()], "radius": 3})
    return clicks


def person_clicks(truth: np.ndarray, auto: np.ndarray, k: int, colorizer: Colorizer) -> list[dict]:
    """k clicks of interactive segmentation's person (benchmarks/clicks.py) on a keyframe: each at
    the middle of the worst wrong region of the keyframe as coloured so far (its automatic colour
    with the clicks before spread over it, as --keyframes colours it), in the mean true colour of
    the 5 x 5 patch there (a hints file's entries); the hints spread with the model's features of
    the keyframe (``colorizer``'s, as --keyframes spreads them)."""
    lab = lab_of_pixels(auto).numpy()
    light, ab_auto = lab[0], lab[1:].transpose(1, 2, 0)
    features = colorizer.region_features(light)
    ab_true = lab_of_pixels(truth).numpy()[1:].transpose(1, 2, 0)
    h, w = light.shape
    clicks, ab = [], ab_auto
    for _ in range(k):
        point = worst_region_point(ab, ab_true)
        if point is None:
            break
        y, x = min(max(point[0], 2), h - 3), min(max(point[1], 2), w - 3)
        colour = truth[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0)
        clicks.append({"point": [x, y], "color": [int(v) for v in colour.round()], "radius": 3})
        ab = propagate(light, ab_auto, *hints_of_data({"hints": clicks}, h, w), features)
    return clicks


def hinted_run(model, work: Path, name: str, kf: Path, shot_map, tag: str, clicks_of) -> tuple[float, Path]:
    """The film coloured from a copy of its keyframe folder with ``clicks_of(keyframe)`` written
    beside each keyframe as NAME.hints.json: (seconds, the output)."""
    folder = work / f"{name}_keyframes_{tag}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(kf, folder)
    for k in shot_map.keyframes:
        (folder / (Path(k.file).stem + ".hints.json")).write_text(json.dumps({"hints": clicks_of(k)}))
    out = work / f"{name}_kf{tag}.mp4"
    t = time.perf_counter()
    colorize_video(model, work / f"{name}_bw.mp4", out, progress=False, overwrite=True, keyframes=folder)
    return time.perf_counter() - t, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "corpus"))
    p.add_argument("--split-file", default=str(REPO / "vidcolor" / "weights" / "default_split.json"))
    p.add_argument("--films", type=int, default=4)
    p.add_argument("--shots", type=int, default=5)
    p.add_argument("--size", default="480x320")
    p.add_argument("--keep", default=None, help="keep the films, keyframe folders and outputs here")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    ids = [i for i in json.loads(Path(args.split_file).read_text())["test"] if not i.startswith("textures/")]
    model = load_model("default", device="cpu")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidcolor-kf-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, photo = [], 0
    for f in range(args.films):
        photos = []
        while len(photos) < args.shots:
            rgb = load_rgb(Path(args.data) / ids[photo % len(ids)])
            photo += 1
            if rgb is not None:
                photos.append(rgb)
        color, starts = make_film(photos, width, height, seed=f)
        name = f"film{f}"
        write_clip(work / f"{name}_colour.mp4", color)
        write_clip(work / f"{name}_bw.mp4", [to_grey(c) for c in color])
        truth, truth_grey = read_frames(work / f"{name}_colour.mp4")
        bw, _ = read_frames(work / f"{name}_bw.mp4")
        grey = [grey_baseline(t) for t in truth]
        seconds = len(truth) / RATE
        row = {"film": name, "frames": len(truth), "seconds": seconds, "true_shots": len(starts),
               "warp_original": warping_error(truth, truth_grey), "cdc_original": cdc(truth)}

        t = time.perf_counter()
        colorize_video(model, work / f"{name}_bw.mp4", work / f"{name}_auto.mp4", progress=False, overwrite=True)
        row["time_auto"] = time.perf_counter() - t
        t = time.perf_counter()
        kf = work / f"{name}_keyframes"
        shot_map = make_keyframes(model, work / f"{name}_bw.mp4", kf, overwrite=True, progress=False)
        row["time_keyframes"] = time.perf_counter() - t
        found = [s.first_frame for s in shot_map.shots]
        row.update(shots=len(found), cuts_right=len(set(found) & set(starts)), keyframes=len(shot_map.keyframes),
                   keyframes_per_min=len(shot_map.keyframes) / seconds * 60)
        key_frames = {k.frame for k in shot_map.keyframes}
        outputs = {"auto": work / f"{name}_auto.mp4"}

        t = time.perf_counter()
        colorize_video(model, work / f"{name}_bw.mp4", work / f"{name}_kfgrey.mp4", progress=False, overwrite=True,
                       keyframes=kf)
        row["time_kfgrey"] = time.perf_counter() - t
        outputs["kf_grey"] = work / f"{name}_kfgrey.mp4"

        true_kf = work / f"{name}_keyframes_true"
        shutil.rmtree(true_kf, ignore_errors=True)
        shutil.copytree(kf, true_kf)
        for k in shot_map.keyframes:
            write_image(true_kf / k.file, truth[k.frame])
        t = time.perf_counter()
        colorize_video(model, work / f"{name}_bw.mp4", work / f"{name}_kftrue.mp4", progress=False, overwrite=True,
                       keyframes=true_kf)
        row["time_kftrue"] = time.perf_counter() - t
        outputs["kf_true"] = work / f"{name}_kftrue.mp4"

        engine = Colorizer(model)  # as the film run colours the keyframes (its precision)
        rng = np.random.default_rng(f)
        # a person's ten clicks of the true colour on each keyframe: at random places, and where the
        # keyframe is most wrong, one after another
        for tag, clicks_of in (("hints", lambda k: simulated_clicks(truth[k.frame], HINT_CLICKS, rng)),
                               ("person", lambda k: person_clicks(truth[k.frame], read_image(kf / "auto" / k.file),
                                                                  HINT_CLICKS, engine))):
            row[f"time_kf{tag}"], outputs[f"kf_{tag}"] = hinted_run(model, work, name, kf, shot_map, tag, clicks_of)

        write_image(work / f"{name}_frame0.png", truth[0])
        colorize_video(model, work / f"{name}_bw.mp4", work / f"{name}_ref0.mp4", progress=False, overwrite=True,
                       reference=work / f"{name}_frame0.png")
        outputs["ref_frame0"] = work / f"{name}_ref0.mp4"
        for label, path in outputs.items():
            out, _ = read_frames(path)
            for key, value in scores(out, truth, grey, truth_grey, key_frames).items():
                row[f"{label}_{key}"] = value
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmachine: {os.cpu_count()} cores; {len(rows)} films of {args.shots} shots at {args.size}, {RATE} fps")
    print(f"{'film':<6} {'s':>5} {'shots':>9} {'kf':>3} {'kf/min':>6} {'kf time':>8}"
          + "".join(f" {v:>20}" for v in ("auto", "kf grey", "kf 10 random", "kf 10 person", "kf true",
                                          "ref frame 0")))
    labels = ("auto", "kf_grey", "kf_hints", "kf_person", "kf_true", "ref_frame0")
    for r in rows:
        print(f"{r['film']:<6} {r['seconds']:5.1f} {r['cuts_right']:>3}/{r['true_shots']}/{r['shots']:<3} "
              f"{r['keyframes']:3d} {r['keyframes_per_min']:6.1f} {r['time_keyframes'] / r['time_auto']:7.2f}x"
              + "".join(f" {r[f'{v}_psnr_over_grey']:+7.2f} dB w{r[f'{v}_warp'] / r['warp_original']:5.2f}x"
                        for v in labels))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "film"}
    print(f"{'mean':<6} {mean['seconds']:5.1f} {'':>9} {mean['keyframes']:3.0f} {mean['keyframes_per_min']:6.1f} "
          f"{mean['time_keyframes'] / mean['time_auto']:7.2f}x"
          + "".join(f" {mean[f'{v}_psnr_over_grey']:+7.2f} dB w{mean[f'{v}_warp'] / mean['warp_original']:5.2f}x"
                    for v in labels))
    print("\nper variant (mean over films): PSNR over grey on non-keyframes, worst film, worst frame, warping error "
          "and CDC as multiples of the original's, time as a multiple of the automatic run's")
    for v in labels:
        t = mean.get(f"time_{v.replace('_', '')}", float("nan"))
        print(f"{v:<11} {mean[f'{v}_psnr_over_grey']:+6.2f} dB  worst film {min(r[f'{v}_psnr_over_grey'] for r in rows):+6.2f}"
              f"  worst frame {min(r[f'{v}_worst_frame'] for r in rows):+7.2f}  warp {mean[f'{v}_warp'] / mean['warp_original']:5.2f}x"
              f"  cdc {mean[f'{v}_cdc'] / mean['cdc_original']:5.2f}x  time {t / mean['time_auto']:5.2f}x")


if __name__ == "__main__":
    main()
