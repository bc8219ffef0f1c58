"""Image folders for training: stable IDs, a saved train/validation/test split, and a dataset
that streams images from disk by ID (never the whole set in memory)."""
from __future__ import annotations

import json
import os
import random
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from vidcolor.color import rgb_to_lab
from vidcolor.image import IMAGE_EXTENSIONS
from vidcolor.model import ModelConfig

SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
GREY_CHROMA = 3.0  # mean Lab chroma under which an image counts as (near-)grey: nothing to learn
CROP_SCALE = (0.15, 1.0)  # area fraction of a random-resized crop: close-ups to the whole photo
CROP_RATIO = (3 / 4, 4 / 3)  # aspect range of a crop before it is squashed to a square
THUMB_SIDE = 128  # side images are reduced to when checking for grey


class DataError(ValueError):
    """A data folder that cannot be trained on."""


def scan_images(root: str | os.PathLike) -> list[str]:
    """Relative POSIX paths of image files under ``root``, sorted: the stable image IDs."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def load_rgb(path: str | os.PathLike, reduce: int = 1) -> np.ndarray | None:
    """HxWx3 uint8 RGB, or None when the file cannot be decoded. ``reduce`` in (1, 2, 4, 8)
    lets the JPEG decoder skip work when only a small picture is needed."""
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    try:
        bgr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), flag)
    except (cv2.error, OSError, ValueError):
        return None
    if bgr is None or bgr.size == 0:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_lab_np(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> (3,H,W) float Lab, through vidcolor's one colour conversion."""
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)


def mean_chroma(rgb: np.ndarray) -> float:
    lab = rgb_to_lab_np(rgb)
    return float(torch.sqrt(lab[1] ** 2 + lab[2] ** 2).mean())


def check_image(path: Path) -> str | None:
    """None for a usable colour image, else why it is skipped."""
    rgb = load_rgb(path, reduce=4)
    if rgb is None:
        return "unreadable"
    scale = THUMB_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if mean_chroma(rgb) < GREY_CHROMA:
        return "grey"
    return None


def make_split(root: str | os.PathLike, split_path: str | os.PathLike, seed: int = 0) -> dict:
    """Load ``split_path`` if it exists, else scan ``root``, drop unreadable and grey images
    (one warning lists them), shuffle the IDs with ``seed`` and save an 80/10/10 split."""
    split_path = Path(split_path)
    if split_path.is_file():
        split = json.loads(split_path.read_text())
        missing = [k for k in SPLIT_FRACTIONS if k not in split]
        if missing:
            raise DataError(f"{split_path} lacks {missing}; delete it to make a new split")
        return split
    root = Path(root)
    ids = scan_images(root)
    if not ids:
        raise DataError(f"no images found under {root} (looked for {', '.join(IMAGE_EXTENSIONS)})")
    skipped = {}
    for image_id in ids:
        reason = check_image(root / image_id)
        if reason:
            skipped[image_id] = reason
    usable = [i for i in ids if i not in skipped]
    if skipped:
        counts = {r: sum(1 for v in skipped.values() if v == r) for r in set(skipped.values())}
        warnings.warn(f"skipped {len(skipped)} of {len(ids)} images ({counts}): {', '.join(sorted(skipped))}",
                      stacklevel=2)
    if len(usable) < 3:
        raise DataError(f"{root}: only {len(usable)} usable colour images (of {len(ids)}); "
                        "need at least 3 for train/validation/test")
    random.Random(seed).shuffle(usable)
    n_val = max(1, round(len(usable) * SPLIT_FRACTIONS["validation"]))
    n_test = max(1, round(len(usable) * SPLIT_FRACTIONS["test"]))
    split = {"train": usable[:len(usable) - n_val - n_test],
             "validation": usable[len(usable) - n_val - n_test:len(usable) - n_test],
             "test": usable[len(usable) - n_test:],
             "skipped": skipped, "seed": seed, "root": str(root)}
    split_path.parent.mkdir(parents=True, exist_ok=True)
    split_path.write_text(json.dumps(split, indent=1))
    return split


def random_resized_crop(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop of 15-100% of the area and 3:4-4:3 aspect, resized to size x size."""
    h, w = rgb.shape[:2]
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        aspect = np.exp(rng.uniform(np.log(CROP_RATIO[0]), np.log(CROP_RATIO[1])))
        cw = int(round(np.sqrt(target * aspect)))
        ch = int(round(np.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            y = int(rng.integers(0, h - ch + 1))
            x = int(rng.integers(0, w - cw + 1))
            rgb = rgb[y:y + ch, x:x + cw]
            break
    interp = cv2.INTER_AREA if min(rgb.shape[:2]) >= size else cv2.INTER_LINEAR
    return cv2.resize(rgb, (size, size), interpolation=interp)


def lab_pair(rgb: np.ndarray, config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """size x size RGB -> (L in network units (1,S,S), a/b target in -1..1 (2,S,S))."""
    lab = rgb_to_lab_np(rgb)
    return config.scale_l(lab[:1]), (lab[1:] / config.ab_scale).clamp(-1.0, 1.0)


class ColourImages(Dataset):
    """Images by ID from ``root``. Training items are random-resized crops with flips, drawn from
    an RNG seeded by (seed, epoch, index), so an epoch is the same however it is split among
    workers or resumed. Evaluation items are whole images squashed to size x size, as at inference."""

    def __init__(self, root, ids: list[str], config: ModelConfig, size: int, train: bool,
                 seed: int = 0, length: int | None = None):
        self.root = Path(root)
        self.ids = list(ids)
        self.config = config
        self.size = size
        self.train = train
        self.seed = seed
        self.length = length or len(self.ids)
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def image(self, index: int) -> np.ndarray:
        path = self.root / self.ids[index % len(self.ids)]
        # half-resolution decoding is twice as fast and still holds a 128 crop's detail
        rgb = load_rgb(path, reduce=2 if self.train and self.size <= 128 else 1)
        if rgb is None or min(rgb.shape[:2]) < 8:
            rgb = load_rgb(path)
        if rgb is None:
            raise DataError(f"{path} became unreadable during training")
        return rgb

    def __getitem__(self, index: int):
        rgb = self.image(index)
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            rgb = random_resized_crop(rgb, self.size, rng)
            if rng.random() < 0.5:
                rgb = np.ascontiguousarray(rgb[:, ::-1])
            return lab_pair(rgb, self.config)
        return torch.from_numpy(cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA))
