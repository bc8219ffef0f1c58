"""Image folders for training: stable IDs, a saved train/validation/test split that grows with the
folder, and a dataset that keeps decoded photos in RAM (or streams them from disk by ID)."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from vidcolor.color import GREY_CHROMA, lab_of_pixels, mean_chroma
from vidcolor.imageio import quiet_decoder
from vidcolor.options import IMAGE_EXTENSIONS
from vidcolor.tempfiles import write_text
from vidcolor.models import ModelConfig

SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
CROP_SCALE = (0.15, 1.0)  # area fraction of a random-resized crop: close-ups to the whole photo
CROP_RATIO = (3 / 4, 4 / 3)  # aspect range of a crop before it is squashed to a square
THUMB_SIDE = 128  # side images are reduced to when checking for grey
# cached photos keep a shorter side of this many training sides: a crop of 15 % of the area is
# then still about as large as the training side, so crops lose no detail against the full photo
CACHE_SIDES = 3
MIN_PHOTOS = 10  # usable colour photos a folder needs: 8 or so to train on, one to validate, one to test


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
        with quiet_decoder():  # libpng and libjpeg print their complaints themselves; a bad photo is reported once
            bgr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), flag)
    except (cv2.error, OSError, ValueError):
        return None
    if bgr is None or bgr.size == 0:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_lab_np(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> (3,H,W) float Lab, through vidcolor's one colour conversion."""
    return lab_of_pixels(rgb)


def check_image(path: Path) -> str | None:
    """None for a usable colour image, else why it is skipped."""
    rgb = load_rgb(path, reduce=4)
    if rgb is None:
        return "unreadable"
    scale = THUMB_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if mean_chroma(rgb_to_lab_np(rgb)) < GREY_CHROMA:
        return "grey"
    return None


def split_of(image_id: str, seed: int = 0) -> str:
    """The split an image ID belongs to, from a hash of (seed, ID) alone: adding photos to a folder
    never moves an existing one to another split."""
    digest = hashlib.sha256(f"{seed}:{image_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2 ** 64
    edge = SPLIT_FRACTIONS["train"]
    if u < edge:
        return "train"
    return "validation" if u < edge + SPLIT_FRACTIONS["validation"] else "test"


def _assign(split: dict, root: Path, ids: list[str], seed: int) -> list[str]:
    """Check ``ids`` and put each usable one in its hashed split; returns the skipped ones."""
    skipped = []
    for image_id in ids:
        reason = check_image(root / image_id)
        if reason:
            split["skipped"][image_id] = reason
            skipped.append(image_id)
        else:
            split[split_of(image_id, seed)].append(image_id)
    return skipped


def make_split(root: str | os.PathLike, split_path: str | os.PathLike, seed: int = 0,
               base: str | os.PathLike | None = None) -> dict:
    """The train/validation/test split of the photos under ``root``, saved as ``split_path``.

    An existing split (``split_path``, else ``base``) is kept as it is and photos new to the folder
    are added to it; every new photo goes to the split a hash of its ID names (80/10/10), so the
    numbers of an old split stay comparable as the corpus grows. Unreadable and grey photos are
    skipped, with one warning that lists them."""
    split_path, root = Path(split_path), Path(root)
    source = split_path if split_path.is_file() else Path(base) if base else None
    ids = scan_images(root)
    if source is not None:
        try:
            split = json.loads(source.read_text())
        except (OSError, ValueError) as err:
            raise DataError(f"{source} is not a readable split file ({err}); delete it to make a new split")
        missing = [k for k in SPLIT_FRACTIONS if not isinstance(split, dict) or k not in split]
        if missing:
            raise DataError(f"{source} lacks {missing}; delete it to make a new split")
        known = {i for k in SPLIT_FRACTIONS for i in split[k]}
        present = set(ids)
        gone = known - present
        if known and len(gone) > len(known) // 2:
            raise DataError(f"{source} lists {len(gone)} of its {len(known)} photos that are not under {root}: "
                            "it was made for another folder; pass the right --data or another --split")
        split.setdefault("skipped", {})
        new = [i for i in ids if i not in known and i not in split["skipped"]]
        if not new and source == split_path:
            return split
    else:
        if not ids:
            raise DataError(f"no images found under {root} (looked for {', '.join(IMAGE_EXTENSIONS)})")
        split = {"train": [], "validation": [], "test": [], "skipped": {}}
        new = ids
    skipped = _assign(split, root, new, seed)
    if skipped:
        counts = {r: sum(1 for i in skipped if split["skipped"][i] == r) for r in set(split["skipped"][i] for i in skipped)}
        warnings.warn(f"skipped {len(skipped)} of {len(ids)} images ({counts}): {', '.join(sorted(skipped))}",
                      stacklevel=2)
    usable = sum(len(split[k]) for k in SPLIT_FRACTIONS)
    if usable < MIN_PHOTOS:
        raise DataError(f"{root}: only {usable} usable colour images (of {len(ids)}); need at least {MIN_PHOTOS} "
                        "(most to train on, one each to validate and test)")
    for part in ("validation", "test"):  # a tiny folder may hash none into a split: lend it one
        if not split[part]:
            donor = max(("train", "validation", "test"), key=lambda k: len(split[k]))
            split[part].append(split[donor].pop())
    for k in SPLIT_FRACTIONS:
        split[k] = sorted(split[k])
    split.update(seed=seed, root=str(root), rule="new photos: sha256('seed:ID') < 0.8 train, < 0.9 validation, else test")
    split_path.parent.mkdir(parents=True, exist_ok=True)
    write_text(split_path, json.dumps(split, indent=1))
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


def shrink_for_cache(rgb: np.ndarray, size: int) -> np.ndarray:
    """The photo with its shorter side cut to CACHE_SIDES x ``size`` (never enlarged)."""
    scale = CACHE_SIDES * size / min(rgb.shape[:2])
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


class ColorImages(Dataset):
    """Images by ID from ``root``. Training items are random-resized crops with flips, drawn from
    an RNG seeded by (seed, epoch, index), so an epoch is the same however it is split among
    workers or resumed. Evaluation items are whole images squashed to size x size, as at inference.

    With ``cache`` every photo is decoded once, reduced to what crops of ``size`` need (training)
    or to its size x size square (evaluation), and kept in RAM: no loader worker has to take a core
    to decode JPEGs again every epoch. 958 photos at a training side of 128 take about 0.5 GB."""

    def __init__(self, root, ids: list[str], config: ModelConfig, size: int, train: bool,
                 seed: int = 0, length: int | None = None, cache: bool = False):
        self.root = Path(root)
        self.ids = list(ids)
        self.config = config
        self.size = size
        self.train = train
        self.seed = seed
        self.length = length or len(self.ids)
        self.epoch = 0
        self.cached: list[np.ndarray] | None = None
        if cache:
            self.cached = [self._prepare(self._decode(i)) for i in range(len(self.ids))]

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _decode(self, index: int) -> np.ndarray:
        path = self.root / self.ids[index % len(self.ids)]
        # reduced JPEG decoding is faster and still holds what a small crop needs
        rgb = load_rgb(path, reduce=2 if self.train and self.size <= 128 else 1)
        if rgb is None or min(rgb.shape[:2]) < 8:
            rgb = load_rgb(path)
        if rgb is None:
            raise DataError(f"{path} became unreadable during training")
        return rgb

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        if self.train:
            return shrink_for_cache(rgb, self.size)
        return cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)

    def image(self, index: int) -> np.ndarray:
        """The photo as this dataset uses it (reduced for crops, or squashed for evaluation)."""
        if self.cached is not None:
            return self.cached[index % len(self.ids)]
        return self._prepare(self._decode(index))

    def __getitem__(self, index: int):
        rgb = self.image(index)
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            rgb = random_resized_crop(rgb, self.size, rng)
            if rng.random() < 0.5:
                rgb = np.ascontiguousarray(rgb[:, ::-1])
            return lab_pair(rgb, self.config)
        return torch.from_numpy(rgb)
