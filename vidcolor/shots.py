"""The shot map of a film: its shots (runs of frames between cuts) and their keyframes, as the
``shots.csv`` a keyframe folder holds.

``vidcolor-keyframes`` writes the folder (``vidcolor.keyframes``); a person colours any keyframe
and hands the folder back; ``vidcolor --keyframes DIR`` reads it here, checked against the film
before any output is written. Frame numbers are 0-based in display order, counted as vidcolor
counts a film's frames; times are seconds from the film's first frame. A keyframe whose pixels are
still those vidcolor wrote (the ``checksum`` column) means "automatic" for its shot.
"""
from __future__ import annotations

import bisect
import csv
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .color import to_8bit
from .errors import ImageError

SHOTS_FILE = "shots.csv"
KEPT = " (keyframes you coloured are kept)"  # what replacing a keyframe folder keeps
AUTO_FOLDER = "auto"  # beside the keyframes: the automatic colour of each one
COLORED_FOLDER = "colored"  # beside auto/: a hinted keyframe's colour as its shot takes it (vidcolor-studio)
FILM_FILE = "film.json"  # beside shots.csv: the film the folder was made from (path, start), for vidcolor-studio
COLUMNS = ("shot", "first_frame", "last_frame", "start_s", "end_s", "keyframe_frame", "keyframe_s", "file",
           "width", "height", "checksum")


def grey_checksum(grey: np.ndarray) -> str:
    """A keyframe's identity: the SHA-256 of its 8-bit grey pixels and their shape, so a file saved
    again unchanged (another PNG encoder, metadata) still counts as untouched."""
    digest = hashlib.sha256(f"{grey.shape[0]}x{grey.shape[1]}:".encode())
    digest.update(np.ascontiguousarray(grey, dtype=np.uint8).tobytes())
    return digest.hexdigest()[:32]


def grey_pixels(image: np.ndarray) -> np.ndarray | None:
    """The 8-bit grey pixels of a picture whose channels are all equal (alpha ignored), else None."""
    image = to_8bit(image)
    if image.ndim == 2:
        return image
    color = image[..., :3] if image.shape[2] >= 3 else image[..., :1]
    if color.shape[2] == 1 or (np.array_equal(color[..., 0], color[..., 1])
                                and np.array_equal(color[..., 1], color[..., 2])):
        return color[..., 0]
    return None


@dataclass
class Keyframe:
    frame: int  # frame number in the film
    time_s: float  # its time, seconds from the film's first frame
    file: str  # the PNG's name in the folder
    width: int
    height: int
    checksum: str  # grey_checksum of the pixels written


@dataclass
class Shot:
    index: int  # 0-based
    first_frame: int
    last_frame: int  # inclusive
    start_s: float
    end_s: float  # where the next shot starts (the film's end for the last)
    keyframes: list[Keyframe] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.last_frame - self.first_frame + 1


@dataclass
class ShotMap:
    shots: list[Shot]

    @property
    def frames(self) -> int:
        """The film's frame count."""
        return self.shots[-1].last_frame + 1 if self.shots else 0

    @property
    def keyframes(self) -> list[Keyframe]:
        return [k for s in self.shots for k in s.keyframes]

    @functools.cached_property
    def _starts(self) -> list[int]:
        return [s.first_frame for s in self.shots]

    def shot_of(self, frame: int) -> Shot:
        """The shot that holds ``frame`` (the film driver asks for every frame: the shots' first
        frames are listed once)."""
        return self.shots[bisect.bisect_right(self._starts, frame) - 1]

    def write(self, folder: Path) -> None:
        """``folder/shots.csv``, one row per keyframe."""
        with open(Path(folder) / SHOTS_FILE, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for s in self.shots:
                for k in s.keyframes:
                    writer.writerow([s.index, s.first_frame, s.last_frame, f"{s.start_s:.6f}", f"{s.end_s:.6f}",
                                     k.frame, f"{k.time_s:.6f}", k.file, k.width, k.height, k.checksum])

    @classmethod
    def read(cls, folder: str | os.PathLike) -> "ShotMap":
        """The shot map of a keyframe folder, checked: every shot in order with no frame left out,
        every keyframe inside its shot and its file there; one clear line for what is wrong."""
        folder = Path(folder)
        path = folder / SHOTS_FILE
        if not folder.is_dir():
            raise ImageError(f"--keyframes {folder}: no such folder (make it with vidcolor-keyframes FILM {folder})")
        if not path.is_file():
            raise ImageError(f"--keyframes {folder}: no {SHOTS_FILE} in it (make the folder with vidcolor-keyframes)")
        try:
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise ImageError(f"{path}: cannot be read ({err})") from None
        missing = [c for c in COLUMNS if not rows or c not in rows[0]]
        if missing:
            raise ImageError(f"{path}: " + ("no rows" if not rows else f"lacks the columns {', '.join(missing)}"))
        shots: list[Shot] = []
        for line, row in enumerate(rows, start=2):
            try:
                index, first, last = int(row["shot"]), int(row["first_frame"]), int(row["last_frame"])
                key = Keyframe(int(row["keyframe_frame"]), float(row["keyframe_s"]), row["file"],
                               int(row["width"]), int(row["height"]), row["checksum"])
                start, end = float(row["start_s"]), float(row["end_s"])
            except (TypeError, ValueError):
                raise ImageError(f"{path}: line {line} is not a shot row (numbers expected)") from None
            if not shots or shots[-1].index != index:
                expected = shots[-1].last_frame + 1 if shots else 0
                if index != len(shots) or first != expected or last < first:
                    raise ImageError(f"{path}: line {line}: shot {index} should be shot {len(shots)} starting at "
                                     f"frame {expected}; the shots must follow each other with no frame left out")
                shots.append(Shot(index, first, last, start, end))
            shot = shots[-1]
            if (first, last) != (shot.first_frame, shot.last_frame):
                raise ImageError(f"{path}: line {line}: shot {index} is listed with two frame ranges")
            if not first <= key.frame <= last:
                raise ImageError(f"{path}: line {line}: keyframe {key.frame} is outside its shot ({first}-{last})")
            if Path(key.file).name != key.file or not key.file:
                raise ImageError(f"{path}: line {line}: the file {key.file!r} must be a name in the folder")
            if not (folder / key.file).is_file():
                raise ImageError(f"{folder / key.file}: missing (a keyframe listed in {SHOTS_FILE}); put it back, or "
                                 f"run vidcolor-keyframes again")
            shot.keyframes.append(key)
        return cls(shots)

    def check_film(self, frames: int | None, width: int, height: int, film) -> None:
        """One clear line when this map was made from another film (another frame count or size);
        ``frames`` None where the film's count is not known before decoding (the size still is)."""
        if frames is not None and frames != self.frames:
            raise ImageError(f"{SHOTS_FILE} lists {self.frames} frames but {film} has {frames}: it was made from "
                             f"another film (run vidcolor-keyframes on this one)")
        for k in self.keyframes:
            if (k.width, k.height) != (width, height):
                raise ImageError(f"{SHOTS_FILE} was made from a {k.width}x{k.height} film but {film} is "
                                 f"{width}x{height} (run vidcolor-keyframes on this one)")


def recorded_path(folder: str | os.PathLike) -> Path | None:
    """The film path ``vidcolor-keyframes`` recorded in a folder, whether or not it is still there."""
    try:
        return Path(json.loads((Path(folder) / FILM_FILE).read_text(encoding="utf-8"))["film"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def recorded_film(folder: str | os.PathLike) -> tuple[Path | None, float]:
    """The film a keyframe folder was made from, as ``vidcolor-keyframes`` recorded it: its path
    where that file is still there (None otherwise: an older folder, a film moved away), and its
    first frame's time (a player's clock starts there; 0 where nothing was recorded)."""
    try:
        record = json.loads((Path(folder) / FILM_FILE).read_text(encoding="utf-8"))
        path, start = Path(record["film"]), float(record.get("start_s", 0.0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, 0.0
    return (path if path.is_file() else None), start
