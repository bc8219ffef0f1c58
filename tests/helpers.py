"""Helpers the tests share: small pictures and photo folders made on the spot, the vidcolor
command run in-process, and the one-line-error check. Media files (clips with sound) are made by
media.py; fixtures are in conftest.py."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]  # the checkout
TINY_SIZE = 32  # model input side for tests: fast, still a multiple of 8
TRAIN_SIZE = 32  # training side for the toolkit's tests


def gradient_image(height: int, width: int, channels: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with some noise: varied L, not flat."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0.5 * np.sin(x / 7.0)], axis=-1)
    base = np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1)
    peak = np.iinfo(dtype).max
    img = (base * peak).round().astype(dtype)
    if channels == 1:
        return img[..., 1]
    if channels == 4:
        alpha = (np.linspace(0, 1, width)[None, :].repeat(height, 0) * peak).astype(dtype)
        return np.concatenate([img, alpha[..., None]], axis=-1)
    return img


def cli(*args):
    """The vidcolor command run in-process on ``args`` (paths allowed)."""
    from click.testing import CliRunner

    from vidcolor.cli import main
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result, *words, code: int | None = None):
    """A failed run said one line (no traceback) holding each of ``words``; with ``code``, exited with it."""
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert code is None or result.exit_code == code, (result.exit_code, result.output)
    for w in words:
        assert w in lines[0], (w, lines[0])


def color_photo(seed: int, h: int = 72, w: int = 96) -> np.ndarray:
    """A 'photo' with structure: a sky-like band over a green-ish ground, hues varying by seed."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.3, 0.6))
    img[:horizon] = np.array([80, 140, 230]) * rng.uniform(0.7, 1.0)
    img[horizon:] = np.array([60, 150, 50]) * rng.uniform(0.6, 1.0)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def color_folder(root: Path, count: int = 12) -> Path:
    """A folder of ``count`` colour photos only (no grey or broken ones): nothing is skipped."""
    root.mkdir(parents=True)
    for i in range(count):
        cv2.imwrite(str(root / f"p{i:02d}.jpg"), cv2.cvtColor(color_photo(i), cv2.COLOR_RGB2BGR))
    return root


def args_for(data, out, **over) -> Namespace:
    """vidcolor-train's arguments for a small, quick run on ``data`` into ``out``, with ``over`` set."""
    from training.train import get_args_parser

    args = get_args_parser().parse_args(["--data", str(data), "--out", str(out)])
    # the paper's small network unless a test names another recipe: the shipped one needs its ImageNet wheel
    defaults = dict(recipe="adam-mae-swish", size=TRAIN_SIZE, epochs=1, batch_size=4, samples_per_epoch=8, workers=0,
                    quiet=True, threads=None)
    for key, value in {**defaults, **over}.items():
        setattr(args, key, value)
    return args


# runs the vidcolor command with a hook: the process signals itself once the N-th output
# writer has written some frames, so the signal lands mid-film every time
SIGNALLING_RUN = r"""
import os, signal, sys
from vidcolor import encode
from vidcolor.cli import main
signum, nth = int(sys.argv[1]), int(sys.argv[2])
state = {"writers": 0}
orig_init, orig_write = encode.VideoWriter.__init__, encode.VideoWriter.write_frame
def init(self, *args, **kwargs):
    orig_init(self, *args, **kwargs)
    state["writers"] += 1
    self.nth = state["writers"]
def write_frame(self, frame):
    orig_write(self, frame)
    if self.nth == nth and self.frames_written == 5:
        os.kill(os.getpid(), signum)
encode.VideoWriter.__init__, encode.VideoWriter.write_frame = init, write_frame
sys.argv = ["vidcolor"] + sys.argv[3:]
main()
"""


def run_signalled(signum: int, nth: int, *args):
    """The vidcolor command on ``args``, signalling itself with ``signum`` 5 frames into its ``nth`` film."""
    import os
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-c", SIGNALLING_RUN, str(int(signum)), str(nth), *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
