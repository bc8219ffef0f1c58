"""Colour hints: "this region is this colour", given by a person, in two forms.

- A **hints picture** of the grey picture's size: an RGBA layer whose opaque pixels (alpha at
  least half) are the hints, in their colour (what an image editor exports from a layer of
  strokes); or an RGB picture whose pixels with colour (Lab chroma above ``HINT_CHROMA``) are the
  hints and whose grey pixels are not.
- A **hints file** (JSON), in the picture's pixel coordinates::

      {"hints": [
        {"point": [x, y], "color": "#b03a2e", "radius": 4},
        {"stroke": [[x, y], [x, y], ...], "color": [64, 120, 200], "width": 8}
      ]}

  ``color`` is sRGB, "#rrggbb" or [r, g, b] in 0..255; ``radius`` (px, default
  ``DEFAULT_RADIUS``) and ``width`` (px, default ``DEFAULT_WIDTH``) say how much of the picture
  the hint covers. Later hints paint over earlier ones.

A hint sets a/b only: L* is always the picture's own. ``read_hints`` turns either form into the
hinted pixels and their a/b; ``vidcolor.propagate`` spreads them over the picture.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np

from .color import lab_of_pixels, to_8bit
from .errors import ImageError
from .imageio import read_image

HINT_CHROMA = 6.0  # Lab chroma above which a pixel of an RGB hints picture is a hint
OPAQUE = 0.5  # alpha share from which a pixel of an RGBA hints layer is a hint
DEFAULT_RADIUS = 4  # px, a point hint's
DEFAULT_WIDTH = 8  # px, a stroke's
MAX_SIZE = 10_000  # px: the largest radius or width a hint may have
MAX_HINTS = 10_000  # entries of a hints file: more is not a person's hints
MAX_STROKE_POINTS = 100_000  # points of one stroke
HINTS_SUFFIXES = (".hints.json", ".hints.png")  # beside a keyframe NAME.png: NAME.hints.json / NAME.hints.png


def read_hints(source, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A hints picture or file (path) for a ``height`` x ``width`` picture -> (hinted pixels
    (HxW bool), their a/b (HxWx2 float32, 0 elsewhere)). One clear ImageError for what is wrong."""
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"--hints {path}: no such file")
    if path.suffix.lower() == ".json":
        return _hints_of_file(path, height, width)
    try:
        picture = read_image(path)
    except ImageError as err:
        raise ImageError(f"--hints {err}") from None
    if picture.shape[:2] != (height, width):
        raise ImageError(f"--hints {path}: a {picture.shape[1]}x{picture.shape[0]} picture, but the picture it "
                         f"hints is {width}x{height}; paint the hints on a layer of the picture's own size")
    return hints_of_picture(picture)


def hints_of_picture(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An RGBA hints layer (opaque pixels) or an RGB hints picture (pixels with colour) -> (mask, a/b)."""
    picture = to_8bit(picture)
    if picture.ndim == 2 or picture.shape[2] < 3:
        return np.zeros(picture.shape[:2], bool), np.zeros((*picture.shape[:2], 2), np.float32)
    rgb = picture[..., :3]
    if picture.shape[2] == 4:
        return _hinted_ab(rgb, picture[..., 3] >= OPAQUE * 255)
    # a pixel whose channels are equal is grey (chroma 0): only the others can be hints
    mask, ab = _hinted_ab(rgb, (rgb != rgb[..., :1]).any(axis=2))
    mask &= np.hypot(ab[..., 0], ab[..., 1]) > HINT_CHROMA
    return mask, np.where(mask[..., None], ab, 0.0).astype(np.float32)


def _hinted_ab(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask, the a/b of the sRGB pixels under it, 0 elsewhere): Lab of those pixels only (a whole
    1080p frame costs 0.2 s; hints cover a sliver of it)."""
    ab = np.zeros((*mask.shape, 2), np.float32)
    ab[mask] = lab_of_pixels(np.ascontiguousarray(rgb[mask])[None]).numpy()[1:, 0].T
    return mask, ab


def _colour(value, where: str) -> tuple[int, int, int]:
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, (int, float)) and 0 <= v <= 255 for v in value)):
        return tuple(int(round(v)) for v in value)
    raise ImageError(f"{where}: color must be \"#rrggbb\" or [r, g, b] in 0..255, not {value!r}")


REACH_OUT = 4  # picture sizes: how far outside the picture a stroke's point may lie (it may cross it)
HINT_KEYS = ("point", "stroke", "color", "radius", "width")  # what a hint holds; nothing else is kept


def _xy(value, where: str, height: int, width: int) -> tuple[int, int]:
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)):
        bound = REACH_OUT * max(height, width)
        if all(-bound <= v <= bound for v in value):
            return int(round(value[0])), int(round(value[1]))
        raise ImageError(f"{where}: the point {_short(value)} lies far outside the {width}x{height} picture")
    raise ImageError(f"{where}: a point is [x, y] in pixels, not {_short(value)}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _outside(points: np.ndarray, reach: int, height: int, width: int) -> bool:
    """True where a hint of these points (N x 2, x y) and this reach (px) covers no pixel of the picture."""
    low, high = points.min(axis=0) - reach, points.max(axis=0) + reach
    return bool(high[0] < 0 or high[1] < 0 or low[0] >= width or low[1] >= height)


def clean_hints(data) -> dict:
    """A hints file's content with only what a hint holds (``HINT_KEYS``): what the studio writes."""
    return {"hints": [{k: entry[k] for k in HINT_KEYS if k in entry} for entry in data["hints"]]}


def _size(entry: dict, key: str, default: int, where: str) -> int:
    value = entry.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= MAX_SIZE:
        raise ImageError(f"{where}: {key} must be a number of pixels from 1 to {MAX_SIZE}, not {_short(value)}")
    return max(1, int(round(value)))


def _hints_of_file(path: Path, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ImageError(f"--hints {path}: not a hints file ({str(err).splitlines()[0][:100]})") from None
    return hints_of_data(data, height, width, f"--hints {path}")


def hints_of_data(data, height: int, width: int, where: str = "hints") -> tuple[np.ndarray, np.ndarray]:
    """A hints file's content (``{"hints": [...]}``, parsed) -> (hinted pixels, their a/b), as
    ``read_hints``; ``where`` names its source in errors."""
    canvas, mask = _paint(data, height, width, where)
    return _hinted_ab(canvas, mask.astype(bool))


def hints_layer(data, height: int, width: int, where: str = "hints") -> np.ndarray:
    """A hints file's content as the equivalent hints picture: an RGBA layer (HxWx4 uint8), its
    hints opaque in their colour, the rest transparent (what an image editor takes as a layer)."""
    canvas, mask = _paint(data, height, width, where)
    return np.concatenate([canvas, (mask * 255)[..., None]], axis=2)


def _paint(data, height: int, width: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The hints of a hints file drawn: their sRGB colours (HxWx3 uint8) and where (HxW uint8 0/1)."""
    entries = data.get("hints") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ImageError(f"{where}: a hints file is {{\"hints\": [...]}} (see the README)")
    if len(entries) > MAX_HINTS:
        raise ImageError(f"{where}: {len(entries)} hints; at most {MAX_HINTS}")
    canvas = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    for n, entry in enumerate(entries):
        at = f"{where}: hint {n + 1}"
        if not isinstance(entry, dict) or ("point" in entry) == ("stroke" in entry):
            raise ImageError(f"{at}: each hint has a \"point\" or a \"stroke\", and a \"color\"")
        colour = _colour(entry.get("color"), at)
        if "point" in entry:
            x, y = _xy(entry["point"], at, height, width)
            radius = _size(entry, "radius", DEFAULT_RADIUS, at)
            if _outside(np.array([[x, y]]), radius - 1, height, width):
                raise ImageError(f"{at}: the point [{x}, {y}] lies wholly outside the {width}x{height} picture")
            for target, value in ((canvas, colour), (mask, 1)):
                cv2.circle(target, (x, y), radius - 1, value, -1, lineType=cv2.LINE_8)
        else:
            stroke = entry["stroke"]
            if not isinstance(stroke, list) or not stroke:
                raise ImageError(f"{at}: a stroke is a list of [x, y] points")
            if len(stroke) > MAX_STROKE_POINTS:
                raise ImageError(f"{at}: a stroke of {len(stroke)} points; at most {MAX_STROKE_POINTS}")
            points = np.array([_xy(p, at, height, width) for p in stroke], np.int32).reshape(-1, 1, 2)
            line = _size(entry, "width", DEFAULT_WIDTH, at)
            if _outside(points.reshape(-1, 2), line // 2 + 1, height, width):
                raise ImageError(f"{at}: the stroke lies wholly outside the {width}x{height} picture")
            for target, value in ((canvas, colour), (mask, 1)):
                cv2.polylines(target, [points], False, value, line, lineType=cv2.LINE_8)
                if len(points) == 1:
                    cv2.circle(target, tuple(points[0, 0]), max(1, line // 2), value, -1)
    return canvas, mask


SAVED_KEY = "saved"  # in a hints file the studio wrote: the SHA-256 of the files it wrote with it


def file_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file's bytes (hex), or None where it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def saved_files(path: Path) -> dict:
    """What a hints file records of the files saved with it (``SAVED_KEY``); {} where none (a hints
    file written by hand, or one that is not JSON: its own error comes when it is read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    saved = data.get(SAVED_KEY) if isinstance(data, dict) else None
    return saved if isinstance(saved, dict) else {}


def hints_source(picture: str | os.PathLike) -> tuple[Path | None, str | None]:
    """Which of the hints beside a keyframe ``NAME.png`` count, and the line that says why when both
    forms are there: ``NAME.hints.json`` where it is alone, or where the studio saved it with the
    ``NAME.hints.png`` beside it (their checksums agree); the picture where it is alone, or where it
    changed after the hints file was saved (an image editor's: the person's newer work wins; also a
    save cut off between its files); of a hand-written pair, the newer."""
    picture = Path(picture)
    stem = picture.name[:-len(picture.suffix)] if picture.suffix else picture.name
    data, layer = (picture.with_name(stem + suffix) for suffix in HINTS_SUFFIXES)
    has_data, has_layer = data.is_file(), layer.is_file()
    if not (has_data and has_layer):
        return (data if has_data else layer if has_layer else None), None
    recorded = saved_files(data).get("layer")
    if recorded is not None:
        if file_digest(layer) == recorded:
            return data, None
        return layer, f"{layer.name} changed after {data.name} was saved: the picture's hints are used"
    if same_hints(data, layer):  # the pair an earlier studio saved, without checksums
        return data, None
    newer = layer if layer.stat().st_mtime > data.stat().st_mtime else data
    return newer, f"{data.name} and {layer.name} both hint {picture.name}: the newer, {newer.name}, is used"


def same_hints(data: Path, layer: Path) -> bool:
    """A hints file and a hints picture that hold the same hints, pixel for pixel."""
    try:
        picture = read_image(layer)
        content = json.loads(data.read_text(encoding="utf-8"))
        drawn = hints_layer(content, *picture.shape[:2])
    except (ImageError, OSError, UnicodeDecodeError, ValueError):
        return False
    return picture.shape == drawn.shape and bool(np.array_equal(picture, drawn))


def hints_beside(picture: str | os.PathLike) -> Path | None:
    """The hints a keyframe folder keeps beside ``NAME.png`` that count (``hints_source``)."""
    return hints_source(picture)[0]


def saved_colour(picture: str | os.PathLike, coloured: str | os.PathLike) -> bool:
    """True where ``coloured`` is the colour the studio saved with the hints that count for
    ``picture``: not stale (hints changed since, by hand or in an editor, or a save cut off)."""
    source = hints_beside(picture)
    if source is None or source.suffix.lower() != ".json" or not Path(coloured).is_file():
        return False
    recorded = saved_files(source).get("colored")
    if recorded is None:  # an earlier studio's save: its colour was written after its hints
        return Path(coloured).stat().st_mtime >= source.stat().st_mtime
    return file_digest(coloured) == recorded
