"""Video pipeline throughput and memory, all measured in one run on this machine.

    python benchmarks/video.py [--frames 300] [--long-frames 3000] [--repeats 3] [--device cpu]

(a) model-only ceiling: fps of the network alone on L batches already in memory at model size;
(t) transcode alone: PyAV decode -> libx264 at vidcolor's defaults, no colour work (the floor any
    colourizer writing H.264 pays); bound = 1 / (1/a + 1/t);
(b) the full pipeline, end to end (decode thread -> batched model -> encode thread), default
    settings (on the CPU: the planar path, luma kept, chroma computed at quarter size);
(r) the same with the RGB path forced (planar=False): what vidcolor did before the planar path;
(c) a naive loop: decode one frame, predict it at fp32 batch 1, encode it, no threads.
Then peak RSS of the whole pipeline on a short and a long clip, each in a fresh process.
Prints medians of --repeats runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# what the vidcolor command sets before torch loads (vidcolor/cli.py); set it yourself to compare
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import av  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_clip, model_for_timing  # noqa: E402

from vidcolor.color import rgb_to_lightness, to_unit  # noqa: E402
from vidcolor.colorizer import Colorizer, default_batch_size, resize_to_model  # noqa: E402
from vidcolor.video import colorize_video  # noqa: E402
from vidcolor.encode import encoder_options  # noqa: E402

def model_only_fps(colorizer: Colorizer, clip: str, batch: int, repeats: int) -> float:
    """Forward passes alone on the clip's L, already resized to the model's input and in memory."""
    with av.open(clip) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with torch.inference_mode():
        lights = [resize_to_model(rgb_to_lightness(to_unit(torch.from_numpy(np.stack(frames[i:i + batch])))
                                                   .permute(0, 3, 1, 2)), colorizer.size)
                  for i in range(0, len(frames), batch)]
        lights = [colorizer.config.scale_l(x).contiguous(memory_format=torch.channels_last) for x in lights]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.inference_mode(), colorizer._autocast():
            for x in lights:
                colorizer.model(x.to(colorizer.device))
        if colorizer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(len(frames) / (time.perf_counter() - start))
    return statistics.median(times)


def transcode_fps(clip: str, out: str, repeats: int, frames: int) -> float:
    """Decode and re-encode with vidcolor's default x264 settings, no colour work at all."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with av.open(clip) as src, av.open(out, "w") as dst:
            vin = src.streams.video[0]
            vin.thread_type = "AUTO"
            vout = dst.add_stream("libx264", rate=vin.average_rate,
                                  options=encoder_options("libx264", 18, "medium"))
            vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
            for frame in src.decode(vin):
                frame.pict_type = av.video.frame.PictureType.NONE
                for p in vout.encode(frame):
                    dst.mux(p)
            for p in vout.encode(None):
                dst.mux(p)
        times.append(frames / (time.perf_counter() - start))
    return statistics.median(times)


def pipeline_fps(colorizer: Colorizer, clip: str, out: str, batch: int, repeats: int, frames: int,
                 planar: bool | None = None) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        colorize_video(colorizer, clip, out, batch_size=batch, progress=False, planar=planar, overwrite=True)
        times.append(frames / (time.perf_counter() - start))
    return statistics.median(times)


def naive_fps(model, clip: str, out: str, repeats: int, frames: int, size: int | None) -> float:
    """What a first notebook does: one frame at a time, fp32, no threads, no batching."""
    naive = Colorizer(model, precision="fp32", size=size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with av.open(clip) as src, av.open(out, "w") as dst:
            vin = src.streams.video[0]
            vout = dst.add_stream("libx264", rate=vin.average_rate,
                                  options=encoder_options("libx264", 18, "medium"))
            vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
            for frame in src.decode(vin):
                rgb = naive.colorize_frames(torch.from_numpy(frame.to_ndarray(format="rgb24")[None]))[0]
                for p in vout.encode(av.VideoFrame.from_ndarray(rgb.cpu().numpy(), format="rgb24")):
                    dst.mux(p)
            for p in vout.encode(None):
                dst.mux(p)
        times.append(frames / (time.perf_counter() - start))
    return statistics.median(times)


# ru_maxrss survives fork+exec on Linux (a child reports its parent's peak), so the child resets
# its high-water mark through clear_refs and reads VmHWM itself
PEAK_SCRIPT = """
import json, sys
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
sys.path.insert(0, {bench!r})
from common import model_for_timing
from vidcolor.video import colorize_video
colorize_video(model_for_timing({device!r}, {model!r}), {clip!r}, {out!r}, size={size!r}, progress=False,
               overwrite=True)
with open("/proc/self/status") as f:
    print(json.dumps(next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))))
"""


def peak_rss_mb(clip: str, out: str, device: str, size: int | None, model: str = "default") -> float:
    code = PEAK_SCRIPT.format(bench=str(Path(__file__).resolve().parent), device=device, clip=clip, out=out,
                              size=size, model=str(Path(model).resolve()) if model != "default" else model)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--long-frames", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", default="640x480,1920x1080", help="clips' sizes, WxH separated by commas")
    p.add_argument("--size", type=int, default=None, help="model input side (default: the model's own)")
    p.add_argument("--model", default="default", help="weights file to time (default: the shipped model)")
    p.add_argument("--reference", default=None, help="colour with this reference photo (b, r)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--skip-rgb", action="store_true", help="leave out (r), the RGB path forced")
    args = p.parse_args()

    model = model_for_timing(args.device, args.model)
    colorizer = Colorizer(model, precision="auto", size=args.size, reference=args.reference)
    batch = default_batch_size(colorizer.device)
    print(f"device {colorizer.device}, precision {colorizer.precision}, batch {batch}, "
          f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, model input {colorizer.size}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name in ([] if args.skip_speed else args.sizes.split(",")):
            w, h = (int(v) for v in name.split("x"))
            clip = make_clip(Path(tmp) / f"{name}.mp4", args.frames, w, h)
            out = str(Path(tmp) / "out.mp4")
            a = model_only_fps(colorizer, clip, batch, args.repeats)
            t = transcode_fps(clip, out, args.repeats, args.frames)
            b = pipeline_fps(colorizer, clip, out, batch, args.repeats, args.frames)
            r = (pipeline_fps(colorizer, clip, out, batch, args.repeats, args.frames, planar=False)
                 if not args.skip_rgb else float("nan"))
            c = naive_fps(model, clip, out, args.repeats, args.frames, args.size) if not args.skip_naive else float("nan")
            rows.append((name, a, t, b, r, c))
        if rows:
            print(f"\n{'clip':<10} {'(a) model':>10} {'(t) transc.':>11} {'bound':>7} {'(b) vidcolor':>12} "
                  f"{'(r) RGB path':>12} {'(c) naive':>9} {'b/bound':>8} {'b/r':>6} {'b/c':>6}")
        for name, a, t, b, r, c in rows:
            bound = 1 / (1 / a + 1 / t)
            print(f"{name:<10} {a:10.2f} {t:11.2f} {bound:7.2f} {b:12.2f} {r:12.2f} {c:9.2f} {b / bound:8.2f} "
                  f"{b / r:6.2f} {b / c:6.2f}")
        if not args.skip_memory:
            w, h = 640, 480
            print(f"\n{'clip (640x480)':<16} {'frames':>7} {'peak RSS MB':>12}")
            for n in (args.frames, args.long_frames):
                clip = make_clip(Path(tmp) / f"mem{n}.mp4", n, w, h)
                print(f"{'pipeline':<16} {n:7d} {peak_rss_mb(clip, str(Path(tmp) / 'm.mp4'), args.device, args.size, args.model):12.1f}")


if __name__ == "__main__":
    main()
