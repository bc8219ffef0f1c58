"""A keyframe folder as the studio edits it: its shots, each keyframe's grey, automatic and current
colour, and its hints, re-coloured and saved as the files the command line reads.

Saving a keyframe's hints writes, each atomically, the hints file last (it records the other two's
checksums, so that a picture changed since in an image editor, or a save cut off between files, is
known as such: ``vidcolor.hints.hints_source``):

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

import contextlib
import json
import threading
from pathlib import Path

import cv2
import numpy as np

from ..contactsheet import contact_sheet
from ..errors import ImageError
from ..hints import (HINTS_SUFFIXES, SAVED_KEY, clean_hints, file_digest, hints_beside, hints_layer, hints_of_picture,
                     hints_source, read_hints, same_hints, saved_colour, saved_files)
from ..imageio import read_image, rgb8, write_image
from ..propagate import apply_hints, propagate
from ..suggest import next_click, reach
from ..shots import AUTO_FOLDER, COLORED_FOLDER, Keyframe, Shot, ShotMap, grey_pixels
from ..tempfiles import remove, write_text
from ..color import lab_of_pixels


REACH_ALPHA = 110  # of 255: the reach overlay's opacity over the keyframe


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
        # name -> the model's features of the keyframe (``Colorizer.region_features``), which keep
        # a hint to the thing it lands on, as ``vidcolor --keyframes`` spreads it; the studio's
        # model side (``jobs.Jobs``) gives them; None: hints spread along lightness alone
        self.features_of = None
        self.saving = threading.Lock()

    def keyframe(self, name: str) -> tuple[Shot, Keyframe]:
        """The shot and keyframe of a file name the folder lists; nothing else is ever opened."""
        if name not in self.keys:
            raise StudioError(f"no keyframe {name!r} in {self.folder.name}", 404)
        return self.keys[name]

    def picture(self, name: str, which: str) -> np.ndarray:
        """A keyframe's ``grey``, ``automatic`` or ``current`` picture, 8-bit RGB (current: the
        colour the studio saved with the hints that count, else those hints spread over what they
        correct, else a keyframe coloured by hand, else its automatic colour)."""
        self.keyframe(name)
        grey, auto, colored = self.folder / name, self.folder / AUTO_FOLDER / name, self.folder / COLORED_FOLDER / name
        if which == "grey":
            return rgb8(read_image(grey))
        if which == "automatic":
            return rgb8(read_image(auto))
        if which == "current":
            if saved_colour(grey, colored):
                return rgb8(read_image(colored))
            if hints_beside(grey) is not None:  # hints changed outside the studio: their colour now
                return self.recolor(name, {"hints": self.hints(name)["hints"]})  # (a picture's: [], read there)
            return self.base(name)
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
        """The keyframe's hints as the page edits them: the hints file's, where it is what counts
        (``vidcolor.hints.hints_source``); else none, with ``picture_only`` where a hints picture
        counts instead (made, or changed since the studio saved, in an image editor), and ``note``,
        the line that says which counts where both are there."""
        self.keyframe(name)
        source, note = hints_source(self.folder / name)
        data: dict = {"hints": []}
        if source is not None and source.suffix.lower() == ".json":
            try:
                data = json.loads(source.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                raise StudioError(f"{source.name}: not a hints file ({str(err)[:80]}); fix or remove it", 409) from None
        stem = Path(name).stem
        picture_only = source is not None and source.suffix.lower() != ".json"
        answer = {"hints": data.get("hints", []) if isinstance(data, dict) else [],
                  "file": f"{stem}{HINTS_SUFFIXES[0]}" if (self.folder / f"{stem}{HINTS_SUFFIXES[0]}").is_file() else None,
                  "picture_only": picture_only}
        if note:
            answer["note"] = note + ("; painting here starts new hints that replace it when saved" if picture_only else "")
        return answer

    def layer(self, name: str, data) -> np.ndarray:
        """``data``'s hints drawn as the keyframe's RGBA hints layer (``vidcolor.hints.hints_layer``);
        a bad hint is the request's one-line error. Drawn once: its pixels are the hints too."""
        _, key = self.keyframe(name)
        try:
            return hints_layer(data, key.height, key.width, "hints")
        except ImageError as err:
            raise StudioError(str(err)) from None

    def recolor(self, name: str, data) -> np.ndarray:
        """The keyframe coloured with ``data``'s hints (8-bit RGB; a hints file's content)."""
        _, key = self.keyframe(name)
        if not data.get("hints") and self.hints(name)["picture_only"]:  # the layer an editor made
            mask, ab = read_hints(self.folder / f"{Path(name).stem}{HINTS_SUFFIXES[1]}", key.height, key.width)
        else:
            mask, ab = hints_of_picture(self.layer(name, data))
        return apply_hints(self.base(name), mask, ab, self.lab(name), self.features(name))

    def _reached(self, name: str, layer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the pixels the hints of ``layer`` move, the click each belongs to, the hinted pixels):
        ``vidcolor.suggest.reach`` over the keyframe's own spread of them."""
        mask, hint_ab = hints_of_picture(layer)
        lab = self.lab(name)
        auto_ab = lab[1:].transpose(1, 2, 0)
        moved, labels = reach(propagate(lab[0], auto_ab, mask, hint_ab, self.features(name)), auto_ab, mask)
        return moved, labels, mask

    def reach(self, name: str, data) -> np.ndarray:
        """What each of ``data``'s hints reaches on the keyframe, as an RGBA overlay (HxWx4 uint8):
        the pixels a click moved (``vidcolor.suggest.reach``) in that click's own colour, half
        transparent; the rest transparent."""
        layer = self.layer(name, data)
        moved, labels, mask = self._reached(name, layer)
        colours = np.zeros((int(labels.max()) + 1, 3), np.uint8)
        for n in range(1, len(colours)):  # each click's colour: its pixels' mean in the hints layer
            colours[n] = layer[..., :3][mask & (labels == n)].reshape(-1, 3).mean(0).round().astype(np.uint8)
        overlay = np.zeros((*labels.shape, 4), np.uint8)
        overlay[..., :3] = colours[labels]
        overlay[..., 3] = np.where(moved, REACH_ALPHA, 0)
        return overlay

    def suggestion(self, name: str, data, spread: np.ndarray) -> tuple[int, int] | None:
        """(x, y) where the next click is most worth making (``vidcolor.suggest.next_click``) given
        ``data``'s hints and the model's uncertainty ``spread`` over the keyframe; None: nowhere."""
        moved, _, mask = self._reached(name, self.layer(name, data))
        point = next_click(spread, moved, mask)
        return None if point is None else (point[1], point[0])

    def lab(self, name: str) -> np.ndarray:
        """The Lab of what the hints correct (3xHxW), computed once: the page asks for it when a
        keyframe opens, so that its first stroke re-colours as fast as the others."""
        if name not in self._labs:
            self._labs[name] = lab_of_pixels(self.base(name)).numpy()
        return self._labs[name]

    def features(self, name: str) -> np.ndarray | None:
        """The model's features of the keyframe where the studio's model side gives them."""
        return None if self.features_of is None else self.features_of(name)

    def save(self, name: str, data) -> list[str]:
        """Write the keyframe's hints and colour (the module's text); returns the files written or
        removed, relative to the folder. The contact sheet is written again."""
        layer = self.layer(name, data)  # drawn once, and refused before anything is written
        stem = Path(name).stem
        files = [f"{stem}{HINTS_SUFFIXES[0]}", f"{stem}{HINTS_SUFFIXES[1]}", f"{COLORED_FOLDER}/{name}"]
        data_path, layer_path, colored_path = (self.folder / f for f in files)
        with self.saving:
            if not data.get("hints"):
                # a hints picture is the person's own work (made or changed in an image editor)
                # unless it is the very layer the studio saved with its hints file
                recorded = saved_files(data_path).get("layer")
                ours = layer_path.is_file() and data_path.is_file() and (
                    file_digest(layer_path) == recorded if recorded else same_hints(data_path, layer_path))
                files = [f for f, path in zip(files, (data_path, layer_path, colored_path))
                         if path != layer_path or ours]
                # the hints file last: while it is there, it says which files are its own
                for f in files[1:] + files[:1]:
                    remove(self.folder / f)
                with contextlib.suppress(OSError):  # colored/ goes with its last picture
                    (self.folder / COLORED_FOLDER).rmdir()
            else:
                colored = apply_hints(self.base(name), *hints_of_picture(layer), self.lab(name), self.features(name))
                (self.folder / COLORED_FOLDER).mkdir(exist_ok=True)
                # the hints file is written last and records its companions' checksums: a save cut
                # off between files leaves a set that says it is not whole (vidcolor.hints.hints_source)
                write_image(layer_path, layer)
                write_image(colored_path, colored)
                saved = {"layer": file_digest(layer_path), "colored": file_digest(colored_path)}
                content = {**clean_hints(data), SAVED_KEY: saved}  # only what a hint holds
                write_text(data_path, json.dumps(content, indent=1, allow_nan=False) + "\n")
            self.sheet()
        return files

    def sheet(self) -> None:
        """The contact sheet written again, with its hinted column (each file atomically)."""
        contact_sheet(self.map, self.folder, self.film or self.folder.name, self.start_s)

    def thumbnail(self, name: str, which: str, width: int) -> bytes:
        """A keyframe's picture as JPEG bytes, ``width`` px wide (the shot list's)."""
        image = self.picture(name, which)
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        return jpeg(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


CHANGED_CODES = 6  # 8-bit code values: a pixel whose colour moved further than this was reached


def changed_share(before: np.ndarray, after: np.ndarray) -> float:
    """The share of pixels whose colour the hints changed (8-bit RGB pictures of one size)."""
    moved = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > CHANGED_CODES
    return float(moved.mean())


def png(rgba: np.ndarray) -> bytes:
    """RGBA -> PNG bytes (the reach overlay: it needs its transparency)."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgba), cv2.COLOR_RGBA2BGRA),
                            [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise StudioError("the picture could not be encoded", 500)
    return data.tobytes()


def jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """8-bit RGB -> JPEG bytes (what the page shows while painting: a 1080p PNG costs more)."""
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StudioError("the picture could not be encoded", 500)
    return data.tobytes()

