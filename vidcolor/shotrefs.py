"""What ``--keyframes DIR`` needs while a film is coloured: each shot's keyframes (from the folder
``vidcolor-keyframes`` made, coloured by hand where wanted) as the reference the engine fuses with.
The film driver and a worker's segment use it; the keyframes driver (``vidcolor.keyframes``) only
writes the folder."""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

from .color import lab_of_pixels
from .colorizer import Colorizer
from .errors import ImageError, VidcolorWarning
from .imageio import read_image
from .hints import hints_source, read_hints
from .picture import colorize_array
from .propagate import apply_hints
from .reference import Reference
from .shots import Shot, ShotMap, grey_checksum, grey_pixels

PALETTE_ALPHA = 1.0  # how hard a shot's keyframe palette weighs the automatic colour (reference.Reference)
# an automatic keyframe's say where it matches, as a fraction of a coloured one's: it holds the
# shot's colour steady without overriding the network's per-frame guess (on the test films, all
# frames: 1.0 gave +1.77 dB over grey, 0.5 +1.84, 0.25 +1.85, per-frame automatic +1.78; warping
# error 0.83, 0.84, 0.84 against 0.86 x the original's)
AUTOMATIC_STRENGTH = 0.5


class ShotReferences:
    """``vidcolor FILM OUT --keyframes DIR``: each shot's colour from its own keyframes only. A
    keyframe still as vidcolor wrote it stands for its automatic colour (decided once, then held
    through the shot); a coloured one, or a colour photo of the scene under its name, for itself;
    one with hints beside it (``NAME.hints.png`` or ``NAME.hints.json``, ``vidcolor.hints``) for
    its colour with the hints spread over it, as a coloured one.
    Every file is checked here, before any output is written."""

    def __init__(self, colorizer: Colorizer, folder: str | os.PathLike, width: int, height: int,
                 frames: int | None, film):
        if not colorizer.model.feature_strides:
            raise ImageError("--keyframes needs a model with an ImageNet encoder (the lite0-unet body, as the "
                             f"default model's); this one is the {colorizer.config.body} body")
        self.folder = Path(folder)
        self.map = ShotMap.read(self.folder)
        self.map.check_film(frames, width, height, film)
        self.colorizer = colorizer
        self.plain = copy.copy(colorizer)
        self.plain.reference = None
        self.automatic: set[str] = set()  # files still as vidcolor wrote them (and no hints beside them)
        self.hints: dict[str, tuple] = {}  # file -> (hinted pixels, their a/b): NAME.hints.png/json beside it
        for key in self.map.keyframes:
            path = self.folder / key.file
            try:
                image = read_image(path)
            except ImageError as err:
                raise ImageError(f"keyframe {err}") from None
            beside, note = hints_source(path)
            if note:
                warnings.warn(f"keyframe {note}", VidcolorWarning, stacklevel=2)
            if beside is not None:
                self.hints[key.file] = read_hints(beside, *image.shape[:2])
            grey = grey_pixels(image)
            if grey is not None and grey_checksum(grey) == key.checksum:
                if beside is None:
                    self.automatic.add(key.file)
            elif image.shape[:2] != (height, width) and grey is not None:
                raise ImageError(f"{path}: a grey picture of {image.shape[1]}x{image.shape[0]}, but the film is "
                                 f"{width}x{height}: colour the keyframe as it was written, or put a colour photo "
                                 "of the scene under its name")

    def reference(self, shot: Shot) -> Reference:
        """The shot's keyframes as one reference, with their palette where a person gave the colours."""
        images, names = [], []
        for key in shot.keyframes:
            path = self.folder / key.file
            image = read_image(path)
            grey = grey_pixels(image)
            if key.file in self.automatic or (key.file in self.hints and grey is not None):
                image = colorize_array(self.plain, grey)  # the automatic colour (the hints correct it)
            if key.file in self.hints:
                lab = lab_of_pixels(image[..., :3]).numpy()
                image = apply_hints(image, *self.hints[key.file], lab, self.plain.region_features(lab[0]))
            images.append(image)
            names.append(str(path))
        c = self.colorizer
        # the palette is evidence only where a person gave the colours: an automatic keyframe's
        # palette is the network's own guess (on test films it cost 0.08 dB over leaving it out)
        colored = any(key.file not in self.automatic for key in shot.keyframes)
        return Reference(c.model, c.size, images, names, allow_grey=True, palette=PALETTE_ALPHA if colored else 0.0,
                         strength=1.0 if colored else AUTOMATIC_STRENGTH)
