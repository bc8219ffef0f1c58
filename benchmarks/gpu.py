"""What a GPU machine must show for the film path, in one run and one table (benchmarks/gpu.sh runs it).

    python benchmarks/gpu.py [--device cuda] [--frames 240] [--sizes 640x360,1280x720,1920x1080]

Rows, each measured in this run:
- per stage at the largest size: decode to I420 planes, the engine on one batch of I420 frames
  (the planar path: frames up as uint8, Cb/Cr back), encode (x264 at vidcolor's settings);
- per size: vidcolor end to end against a plain transcode with the same encoder settings (decode
  -> x264, no colour work), and their ratio; at the smallest size also on this box's CPU;
- colour: PSNR of the device's output against the CPU path's (fp32, OpenCV's plane maths), same
  film, decoded frames;
- peak GPU memory of the end-to-end run at the largest size;
- ``--jobs 2`` on one device against one process, end to end at the middle size.
On a machine without a GPU, ``--device cpu`` runs the same rows (the torch plane maths against
OpenCV's for the colour row): the dry run that checks the script before it runs on a GPU.
"""
from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the vidcolor command sets it

import av  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import make_clip  # noqa: E402
from video import transcode_fps  # noqa: E402

from vidcolor.colorizer import Colorizer, default_batch_size  # noqa: E402
from vidcolor.decode import AVCOL_RANGE_JPEG, VideoReader  # noqa: E402
from vidcolor.encode import VideoWriter  # noqa: E402
from vidcolor.video import colorize_video  # noqa: E402
from vidcolor.weights import load_model  # noqa: E402


def timed(frames: int, run) -> float:
    started = time.perf_counter()
    run()
    return frames / (time.perf_counter() - started)


def frames_of(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255 ** 2 / max(mse, 1e-10))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--frames", type=int, default=240)
    p.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    a = p.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    colorizer = Colorizer(load_model("default", device))
    cpu = Colorizer(load_model("default", "cpu"), precision="fp32")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    name = torch.cuda.get_device_name(device) if cuda else "no GPU"
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = {size: make_clip(tmp / f"{size[0]}x{size[1]}.mp4", a.frames, *size, audio=True) for size in sizes}
        big, small, middle = sizes[-1], sizes[0], sizes[len(sizes) // 2]
        label = f"{big[0]}x{big[1]}"

        reader = VideoReader(clips[big], planar=True)
        frames = list(reader.items())
        info = reader.info
        reader.close()
        rows.append((f"decode to I420 planes, {label}", f"{timed(a.frames, lambda: list(VideoReader(clips[big], planar=True).items())):.1f} fps"))
        batch = min(default_batch_size(device), a.frames)
        stacked = np.stack([f.yuv for f in frames[:batch]])

        def engine() -> None:
            colorizer.colorize_planes(stacked, info.matrix, info.range == AVCOL_RANGE_JPEG)
            sync()

        engine()  # warm-up (cuDNN picks its kernels)
        rows.append((f"engine, {batch} I420 frames a batch ({colorizer.plane_maths} plane maths), {label}",
                     f"{timed(batch, engine):.1f} fps"))

        def encode() -> None:
            writer = VideoWriter(tmp / "enc.mp4", info)
            for frame in frames:
                writer.write_frame(frame)
            writer.close()

        rows.append((f"encode (x264 medium, crf 18), {label}", f"{timed(a.frames, encode):.1f} fps"))
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        for size in sizes:
            out = tmp / "out.mp4"
            e2e = timed(a.frames, lambda: colorize_video(colorizer, clips[size], out, progress=False, overwrite=True))
            plain = transcode_fps(str(clips[size]), str(tmp / "plain.mp4"), 1, a.frames)
            rows.append((f"end to end {size[0]}x{size[1]} on {device.type} / plain transcode",
                         f"{e2e:.1f} / {plain:.1f} fps = {e2e / plain:.2f} x"))
            if size == big and cuda:
                rows.append((f"peak GPU memory, end to end {label}",
                             f"{torch.cuda.max_memory_allocated(device) / 2 ** 20:.0f} MB"))
        on_cpu = timed(a.frames, lambda: colorize_video(cpu, clips[small], tmp / "cpu.mp4", progress=False,
                                                        overwrite=True))
        rows.append((f"end to end {small[0]}x{small[1]} on this box's CPUs ({os.cpu_count()} cores)",
                     f"{on_cpu:.1f} fps"))

        reference, ours = tmp / "ref.mp4", tmp / "ours.mp4"
        colorize_video(cpu, clips[middle], reference, progress=False, overwrite=True)
        other = colorizer
        if not cuda:  # the dry run: the torch plane maths against OpenCV's
            other = copy.copy(cpu)
            other.plane_maths = "torch"
        colorize_video(other, clips[middle], ours, progress=False, overwrite=True)
        rows.append((f"colour: {device.type} {other.precision} ({other.plane_maths} plane maths) against the CPU "
                     f"path (fp32, opencv), {middle[0]}x{middle[1]}",
                     f"{psnr(frames_of(ours), frames_of(reference)):.1f} dB"))

        runs = {}
        for jobs in (1, 2):
            command = [sys.executable, "-m", "vidcolor", str(clips[middle]), str(tmp / f"jobs{jobs}.mp4"), "-q",
                       "--device", a.device, "--overwrite"]
            if jobs > 1:
                command += ["--jobs", str(jobs), "--segment-seconds", str(a.frames / 25 / 4)]
            started = time.perf_counter()
            subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
            runs[jobs] = time.perf_counter() - started
        rows.append((f"--jobs 2 on one {device.type} against one process, {middle[0]}x{middle[1]} "
                     "(commands, model load included)", f"{runs[2]:.1f} s / {runs[1]:.1f} s = {runs[2] / runs[1]:.2f} x"))
    print(f"\n{name}; torch {torch.__version__}, PyAV {av.__version__}, {os.cpu_count()} CPU cores; "
          f"{a.frames} frames a clip; precision {colorizer.precision}, batch {batch}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what':<{width}} | result |\n|{'-' * (width + 2)}|---|")
    for what, result in rows:
        print(f"| {what:<{width}} | {result} |")


if __name__ == "__main__":
    main()
