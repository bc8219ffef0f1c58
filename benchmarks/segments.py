"""One film split over workers (--jobs, --ray) against a local run, all measured in one run.

    python benchmarks/segments.py [--seconds 60] [--size 480x270] [--segment-seconds 10]
                                  [--jobs 2] [--ray] [--repeats 3] [--device cpu]

Makes a grey film of several scenes (hard cuts, x264's default keyframe placement, AAC sound),
then times, each mode in a fresh process through the library as the CLI calls it:
  local     one process, torch's threads on every core (``colorize_video``);
  jobs N    N local worker processes, the cores shared out (``--jobs N``), pool start-up included;
  ray       a one-machine Ray cluster on 127.0.0.1, one task slot per core (``--ray``), cluster
            start-up excluded (a cluster outlives a film), worker model loads included.
For each: frames per second (median of --repeats), the driver's own seconds (scan and plan; join
and mux) as a share of the local run's, peak RSS of the driver and of the largest worker, and mean
and worst PSNR of its frames against the local run's. From the driver's share d and the warm-up
frames' share w: the projected speed-up of N workers over the local run,
    S(N) = T_local / (t_driver + T_local (1 + w) / N),
which assumes at least N segments (a film of N x --segment-seconds or more) and workers as fast
as the local run's process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the vidcolor command sets it

import av  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import smooth_frame, write_tone  # noqa: E402

SCENES = 6  # hard cuts in the test film


def make_film(path: Path, seconds: float, width: int, height: int, rate=Fraction(24)) -> str:
    """A grey film of SCENES scenes (each its own pattern, drifting), AAC sound, x264 defaults
    (a keyframe at least every 250 frames and at cuts)."""
    frames = int(seconds * rate)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        for i in range(frames):
            scene = i * SCENES // frames
            grey = smooth_frame(i + 997 * scene, width, height)
            if scene % 2:
                grey = 255 - grey
            for packet in video.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        write_tone(out, sound, frames / rate)
    return str(path)


class PeakWorkers(threading.Thread):
    """Samples the peak RSS (VmHWM) of processes whose command line holds ``marker``."""

    def __init__(self, marker: str):
        super().__init__(daemon=True)
        self.marker, self.peak, self.running = marker, 0, True

    def run(self) -> None:
        while self.running:
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    if self.marker not in (proc / "cmdline").read_bytes().decode(errors="replace"):
                        continue
                    for line in (proc / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak = max(self.peak, int(line.split()[1]) // 1024)
                except OSError:
                    continue
            time.sleep(0.2)


def child(mode: str, film: str, out: str, a) -> dict:
    """One mode in this (fresh) process; returns its times and peak memory."""
    import resource

    from vidcolor.options import VideoOptions
    from vidcolor.workers import ModelSpec, run_segment

    spec = ModelSpec(device=a.device)
    video = VideoOptions()
    result: dict = {}
    if mode == "local":
        from vidcolor.video import colorize_video
        from vidcolor.weights import load_model
        model = load_model("default", a.device)
        started = time.perf_counter()
        colorize_video(model, film, out, progress=False, overwrite=True)
        result["seconds"] = time.perf_counter() - started
        result["driver"] = 0.0
        result["worker_mb"] = 0
    else:
        from vidcolor.parallel import colorize_video_parallel
        if mode == "ray":
            from vidcolor.cluster import RayPool, start_local
            start_local()
            marker = "ray::run_segment"
        else:
            marker = "vidcolor-worker"
        peak = PeakWorkers("multiprocessing" if mode != "ray" else marker)
        peak.start()
        started = time.perf_counter()
        if mode == "ray":
            pool = RayPool(run_segment, spec)
        else:
            from vidcolor.pool import LocalPool
            pool = LocalPool(run_segment, spec, int(mode.split()[1]))
        with pool:
            summary = colorize_video_parallel(pool, film, out, video, segment_seconds=a.segment_seconds,
                                              overwrite=True, progress=False)
        result["seconds"] = time.perf_counter() - started
        peak.running = False
        result.update(driver=summary["split_seconds"] + summary["join_seconds"], split=summary["split_seconds"],
                      join=summary["join_seconds"], segments=summary["segments"], workers=summary["workers"],
                      worker_mb=peak.peak)
    result["driver_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return result


def psnr_against(local: str, other: str) -> tuple[float, float]:
    scores = []
    with av.open(local) as a, av.open(other) as b:
        for x, y in zip(a.decode(video=0), b.decode(video=0)):
            x, y = x.to_ndarray(format="rgb24").astype(np.float64), y.to_ndarray(format="rgb24").astype(np.float64)
            scores.append(10 * np.log10(255 ** 2 / max(((x - y) ** 2).mean(), 1e-10)))
    return float(np.mean(scores)), float(np.min(scores))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--size", default="480x270")
    p.add_argument("--segment-seconds", type=float, default=10.0)
    p.add_argument("--jobs", type=int, nargs="+", default=[2])
    p.add_argument("--ray", action="store_true", help="also time --ray on a local one-machine cluster")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--film", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.film, a.out, a)))
        return
    width, height = (int(v) for v in a.size.split("x"))
    modes = ["local", *(f"jobs {n}" for n in a.jobs), *(["ray"] if a.ray else [])]
    with tempfile.TemporaryDirectory() as tmp:
        film = make_film(Path(tmp) / "film.mp4", a.seconds, width, height)
        with av.open(film) as c:
            frames = sum(1 for p in c.demux(video=0) if p.size)
        runs: dict = {m: [] for m in modes}
        for _ in range(a.repeats):
            for mode in modes:
                out = str(Path(tmp) / f"{mode.replace(' ', '')}.mp4")
                args = [sys.executable, __file__, "--child", mode, "--film", film, "--out", out,
                        "--segment-seconds", str(a.segment_seconds), "--device", a.device]
                line = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
                runs[mode].append(json.loads(line))
        local = statistics.median(r["seconds"] for r in runs["local"])
        print(f"film: {frames} frames, {a.size}, {a.seconds:g} s, segments of ~{a.segment_seconds:g} s; "
              f"{os.cpu_count()} cores; device {a.device}; medians of {a.repeats}")
        print(f"{'mode':<8} {'segs':>4} {'wrk':>3} {'seconds':>8} {'fps':>7} {'x local':>7} {'driver s':>8} "
              f"{'driver %':>8} {'drv MB':>6} {'wrk MB':>6} {'PSNR mean/min vs local':>22}")
        for mode in modes:
            rs = runs[mode]
            seconds = statistics.median(r["seconds"] for r in rs)
            driver = statistics.median(r["driver"] for r in rs)
            quality = "" if mode == "local" else "%.1f / %.1f dB" % psnr_against(
                str(Path(tmp) / "local.mp4"), str(Path(tmp) / f"{mode.replace(' ', '')}.mp4"))
            print(f"{mode:<8} {rs[0].get('segments', 1):>4} {rs[0].get('workers', 1):>3} {seconds:>8.1f} "
                  f"{frames / seconds:>7.1f} {seconds / local:>7.2f} {driver:>8.2f} {100 * driver / local:>7.1f}% "
                  f"{max(r['driver_mb'] for r in rs):>6} {max(r['worker_mb'] for r in rs):>6} {quality:>22}")
        split = [m for m in modes if m != "local"]
        if split:
            from vidcolor.segments import warmup_frames
            from vidcolor.options import DEFAULT_SMOOTHING
            segs = runs[split[0]][0]["segments"]
            w = warmup_frames(DEFAULT_SMOOTHING) * (segs - 1) / frames
            driver = statistics.median(r["driver"] for m in split for r in runs[m])
            print(f"projected speed-up over the local run (driver {driver:.2f} s = {100 * driver / local:.1f} %, "
                  f"warm-up frames {100 * w:.1f} %): " + ", ".join(
                      f"{n} workers {local / (driver + local * (1 + w) / n):.1f}x" for n in (4, 16, 64)))


if __name__ == "__main__":
    main()
