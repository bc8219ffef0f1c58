"""A keyframe folder as the studio edits it: its shots, each keyframe's grey, automatic and current
colour, and its hints, re-coloured and saved as the files the command line reads.

Saving a keyframe's hints writes, each atomically:

- ``NAME.hints.json``: the hints as points and strokes (``vidcolor.hints``), what
  ``vidcolor FILM OUT --keyframes DIR`` reads beside ``NAME.png``;
- ``NAME.hints.png``: the same hints as an RGBA layer, to go on with in an image editor;
- ``colored/NAME.png``: the keyframe as its shot will take it (its automatic colour with the hints
  spread over it), for the contact sheet and for a person to look at or paint on further.

``NAME.png`` itself is never written: the grey keyframe stays the picture the hints are painted on,
and its checksum in ``shots.csv`` stays true. Saving no hints removes the three files (the shot
goes back to its automatic colour), but never a hints picture made elsewhere with no hints file
beside it.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np

from ..contactsheet import contact_sheet
from ..errors import ImageError
from ..hints import HINTS_SUFFIXES, hints_beside, hints_layer, hints_of_data, hints_of_picture, read_hints
from ..imageio import read_image, rgb8, write_image
from ..propagate import apply_hints
from ..shots import AUTO_FOLDER, COLORED_FOLDER, Keyframe, Shot, ShotMap, grey_pixels
from ..tempfiles import remove, write_text
from ..color import lab_of_pixels


class StudioError(ValueError):
    """A request the studio cannot carry out, in one line; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Workbench:
    """One keyframe folder. Thread-safe: the server's threads share it; saves are one at a time
    (``saving``, which the command also takes on its way out, so a save under way finishes)."""

    def __init__(self, folder, film: str | None = None, start_s: float = 0.0):
        self.folder = Path(folder)
        self.map = ShotMap.read(self.folder)
        self.film = film  # named on the contact sheet
        self.start_s = start_s
        self.keys: dict[str, tuple[Shot, Keyframe]] = {k.file: (s, k) for s in self.map.shots for k in s.keyframes}
        self._bases: dict[str, np.ndarray] = {}  # what the hints correct, 8-bit RGB
        self._labs: dict[str, np.ndarray] = {}  # and its Lab, computed once
        self.saving = threading.Lock()

    def keyframe(self, name: str) -> tuple[Shot, Keyframe]:
        """The shot and keyframe of a file name the folder lists; nothing else is ever opened."""
        if name not in self.keys:
            raise StudioError(f"no keyframe {name!r} in {self.folder.name}", 404)
        return self.keys[name]

    def picture(self, name: str, which: str) -> Path:
        """The file of a keyframe's ``grey``, ``automatic`` or ``current`` picture (current: the
        coloured keyframe saved here, else a keyframe coloured by hand, else its automatic colour)."""
        self.keyframe(name)
        grey, auto, colored = self.folder / name, self.folder / AUTO_FOLDER / name, self.folder / COLORED_FOLDER / name
        if which == "grey":
            return grey
        if which == "automatic":
            return auto
        if which == "current":
            if colored.is_file() and hints_beside(grey) is not None:
                return colored
            return grey if self._hand_coloured(name) else auto
        raise StudioError(f"no picture {which!r} (grey, automatic or current)", 404)

    def _hand_coloured(self, name: str) -> bool:
        return grey_pixels(read_image(self.folder / name)) is None

    def base(self, name: str) -> np.ndarray:
        """What the hints correct (8-bit RGB): a keyframe coloured by hand, else its automatic
        colour; as ``vidcolor --keyframes`` takes it (``vidcolor.shotrefs``). Read once."""
        if name not in self._bases:
            _, key = self.keyframe(name)
            path = self.folder / name if self._hand_coloured(name) else self.folder / AUTO_FOLDER / name
            if not path.is_file():
                raise StudioError(f"{path}: missing; run vidcolor-keyframes again to write it", 409)
            image = rgb8(read_image(path))
            if image.shape[:2] != (key.height, key.width):
                raise StudioError(f"{path}: {image.shape[1]}x{image.shape[0]}, but the keyframe is "
                                  f"{key.width}x{key.height}", 409)
            self._bases[name] = image
        return self._bases[name]

    def hints(self, name: str) -> dict:
        """The keyframe's hints file as the page edits it, and whether a hints picture is there."""
        self.keyframe(name)
        stem = self.folder / Path(name).stem
        path, layer = Path(f"{stem}{HINTS_SUFFIXES[0]}"), Path(f"{stem}{HINTS_SUFFIXES[1]}")
        data: dict = {"hints": []}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                raise StudioError(f"{path.name}: not a hints file ({str(err)[:80]}); fix or remove it", 409) from None
        return {"hints": data.get("hints", []), "file": path.name if path.is_file() else None,
                "picture_only": layer.is_file() and not path.is_file()}

    def recolor(self, name: str, data) -> np.ndarray:
        """The keyframe coloured with ``data``'s hints (8-bit RGB; a hints file's content)."""
        _, key = self.keyframe(name)
        base = self.base(name)
        if not data.get("hints") and self.hints(name)["picture_only"]:  # the layer an editor made
            mask, ab = read_hints(self.folder / f"{Path(name).stem}{HINTS_SUFFIXES[1]}", key.height, key.width)
        else:
            try:
                mask, ab = hints_of_data(data, key.height, key.width, "hints")
            except ImageError as err:
                raise StudioError(str(err)) from None
        return apply_hints(base, mask, ab, self.lab(name))

    def lab(self, name: str) -> np.ndarray:
        """The Lab of what the hints correct (3xHxW), computed once: the page asks for it when a
        keyframe opens, so that its first stroke re-colours as fast as the others."""
        if name not in self._labs:
            self._labs[name] = lab_of_pixels(self.base(name)).numpy()
        return self._labs[name]

    def save(self, name: str, data) -> list[str]:
        """Write the keyframe's hints and colour (the module's text); returns the files written or
        removed, relative to the folder. The contact sheet is written again."""
        _, key = self.keyframe(name)
        try:  # drawn once, and refused before anything is written
            layer = hints_layer(data, key.height, key.width, "hints")
        except ImageError as err:
            raise StudioError(str(err)) from None
        stem = Path(name).stem
        files = [f"{stem}{HINTS_SUFFIXES[0]}", f"{stem}{HINTS_SUFFIXES[1]}", f"{COLORED_FOLDER}/{name}"]
        with self.saving:
            if not data.get("hints"):
                # a hints picture made in an image editor (no hints file beside it) is the person's
                # own work: only a layer the studio wrote with its hints file goes with them
                ours = files if (self.folder / files[0]).is_file() else files[:1] + files[2:]
                for f in ours:
                    remove(self.folder / f)
                files = ours
            else:
                colored = apply_hints(self.base(name), *hints_of_picture(layer), self.lab(name))
                write_text(self.folder / files[0], json.dumps({"hints": data["hints"]}, indent=1) + "\n")
                write_image(self.folder / files[1], layer)
                (self.folder / COLORED_FOLDER).mkdir(exist_ok=True)
                write_image(self.folder / files[2], colored)
            self.sheet()
        return files

    def sheet(self) -> None:
        """The contact sheet written again, with its hinted column (each file atomically)."""
        contact_sheet(self.map, self.folder, self.film or self.folder.name, self.start_s)

    def thumbnail(self, name: str, which: str, width: int) -> bytes:
        """A keyframe's picture as JPEG bytes, ``width`` px wide (the shot list's)."""
        image = rgb8(read_image(self.picture(name, which)))
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        return jpeg(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


def jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """8-bit RGB -> JPEG bytes (what the page shows while painting: a 1080p PNG costs more)."""
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StudioError("the picture could not be encoded", 500)
    return data.tobytes()

