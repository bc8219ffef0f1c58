"""Folder mode locally and on Ray, on the same folder of short clips, in one run.

    python benchmarks/cluster.py [--clips 20] [--frames 50] [--size 320x240]

Each mode runs in a fresh process through the CLI, as a user would, start-up included (for --ray:
starting a local one-machine cluster on 127.0.0.1, its workers, and a model load per worker).
Prints wall times, their ratio, and how many output files are byte-identical.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_clip  # noqa: E402


def digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vidcolor", *args, "-q"], check=True)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--size", default="320x240")
    p.add_argument("--keep", help="copy the clips and both modes' outputs into this folder")
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "reels"
        src.mkdir()
        for i in range(a.clips):
            make_clip(src / f"reel{i:02d}.mp4", a.frames, w, h)
        local = timed([str(src), str(Path(tmp) / "local")])
        ray = timed([str(src), str(Path(tmp) / "ray"), "--ray"])
        local_files, ray_files = digest(Path(tmp) / "local"), digest(Path(tmp) / "ray")
        if a.keep:
            import shutil
            shutil.copytree(tmp, a.keep, dirs_exist_ok=True)
        same = sum(ray_files.get(name) == sha for name, sha in local_files.items())
    print(f"{a.clips} clips of {a.frames} frames at {a.size}")
    print(f"{'mode':<8} {'seconds':>8}")
    print(f"{'local':<8} {local:8.1f}")
    print(f"{'ray':<8} {ray:8.1f}")
    print(f"ray / local {ray / local:.2f}; byte-identical outputs: {same} of {len(local_files)}")


if __name__ == "__main__":
    main()
