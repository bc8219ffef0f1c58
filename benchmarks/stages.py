"""Each stage of the film path on its own, to find the one that bounds a run end to end.

    python benchmarks/stages.py [--device cuda] [--size 1920x1080] [--frames 96]

Prints frames per second of: decoding (to I420 planes, and to RGB through swscale), encoding from
RGB (swscale and x264 at vidcolor's settings), the engine on one batch of RGB frames with and
without smoothing (for CUDA: with the copies to and from the device), and ``colorize_video`` end to
end (default settings, without smoothing, and with x264's ultrafast preset). The end-to-end rate
should approach the slowest stage: where it falls far below every stage, the stages wait on each
other (a lock, a queue), not on work. Written after the H200 box gave 21.5 fps end to end at 1080p
against a model alone at 3441 fps and a transcode at 79 fps (benchmarks/README.md, 2026-12-01, the H200 box).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the vidcolor command sets it

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_clip  # noqa: E402

from vidcolor.colorizer import Colorizer  # noqa: E402
from vidcolor.decode import VideoReader  # noqa: E402
from vidcolor.encode import VideoWriter  # noqa: E402
from vidcolor.temporal import TemporalSmoother  # noqa: E402
from vidcolor.video import colorize_video  # noqa: E402
from vidcolor.weights import load_model  # noqa: E402


def fps(frames: int, run) -> float:
    started = time.perf_counter()
    run()
    return frames / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--batch", type=int, default=None, help="frames per batch (default: the device's)")
    a = p.parse_args()
    width, height = (int(v) for v in a.size.split("x"))
    colorizer = Colorizer(load_model("default", a.device))
    batch = a.batch or (32 if colorizer.device.type == "cuda" else 8)
    sync = torch.cuda.synchronize if colorizer.device.type == "cuda" else (lambda: None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", a.frames, width, height, audio=False)

        def decode(planar: bool) -> None:
            reader = VideoReader(clip, planar=planar)
            for _ in reader.items():
                pass
            reader.close()

        rows.append(("decode to I420 planes", fps(a.frames, lambda: decode(True))))
        rows.append(("decode to RGB (swscale)", fps(a.frames, lambda: decode(False))))
        reader = VideoReader(clip)
        frames = list(reader.items())
        reader.close()

        def encode() -> None:
            writer = VideoWriter(Path(tmp) / "enc.mp4", reader.info)
            for frame in frames:
                writer.write_frame(frame)
            writer.close()

        rows.append(("encode from RGB (swscale + x264)", fps(a.frames, encode)))
        stacked = np.stack([f.rgb for f in frames[:batch]])
        for smoothing in (0.0, 0.6):
            def color() -> None:
                colorizer.colorize_frames(stacked, TemporalSmoother(smoothing).steady if smoothing else None).cpu()
                sync()
            color()  # warm-up (cuDNN picks its kernels)
            rows.append((f"engine, one batch of {batch} RGB frames, smoothing {smoothing:g}", fps(batch, color)))
        for name, options in (("end to end, default settings", {}), ("end to end, smoothing 0", {"smoothing": 0}),
                              ("end to end, x264 ultrafast", {"preset": "ultrafast"})):
            rows.append((name, fps(a.frames, lambda: colorize_video(colorizer, clip, Path(tmp) / "out.mp4",
                                                                    progress=False, overwrite=True, **options))))
    print(f"{a.frames} frames of {a.size}, device {colorizer.device}, precision {colorizer.precision}, "
          f"{torch.get_num_threads()} torch threads, {os.cpu_count()} cores")
    for name, rate in rows:
        print(f"{name:<52} {rate:8.1f} fps")


if __name__ == "__main__":
    main()
