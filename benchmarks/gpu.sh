#!/usr/bin/env bash
# The one command a GPU machine runs for issue 33 (under 8 minutes on the H200 box): the film path's
# stages, end to end against a plain transcode at 360p, 720p and 1080p, colour against the CPU
# path, peak GPU memory and --jobs 2 on one GPU, printed as one table (benchmarks/gpu.py).
#   benchmarks/gpu.sh                    # on the GPU machine, from the repository's root
#   DEVICE=cpu FRAMES=24 benchmarks/gpu.sh   # the dry run on a machine without one
# Uses the Python on PATH with torch (a CUDA build), av, opencv-python-headless, numpy, tqdm and
# click installed; vidcolor itself is taken from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
FRAMES=${FRAMES:-240}
SIZES=${SIZES:-640x360,1280x720,1920x1080}
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" - <<'PY'
import importlib, sys
missing = [m for m in ("torch", "av", "cv2", "numpy", "tqdm", "click") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu.sh: missing Python packages: {', '.join(missing)}")
PY
if [ "$DEVICE" = cuda ]; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true; fi
time "$PYTHON" benchmarks/gpu.py --device "$DEVICE" --frames "$FRAMES" --sizes "$SIZES"
