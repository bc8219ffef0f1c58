"""Shots and keyframes a person can see, colour by hand and hand back.

``make_keyframes(model, film, folder)`` goes over the film once: the cut rule of the smoother
(``temporal.CutDetector`` on the same small L* the engine sees) splits it into shots, and every
``SAMPLE_SECONDS`` a frame's encoder features are kept for the drift test. At the end of each shot
its keyframes are chosen from those samples: first the one that best represents the shot (the
sample the others match best, by the measure ``--reference`` fuses with), then, while some sample
is still poorly matched by the keyframes so far, that sample (the place the content drifted
furthest), up to one keyframe per ``SECONDS_PER_KEYFRAME`` of the shot. A second pass writes each
keyframe as a grey PNG at full resolution, its automatic colour in ``auto/``, ``shots.csv`` (the
``vidcolor.shots`` map), the film's path (``film.json``, for ``vidcolor-studio``) and a contact
sheet (``index.html`` and ``contact_sheet.png``). The colour
head runs on the keyframes only.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .color import grey_from_lightness
from .colorizer import Colorizer
from .contactsheet import contact_sheet
from .decode import AVCOL_RANGE_JPEG, Frame, VideoReader
from .errors import ImageError, VidcolorWarning, VideoError
from .picture import colorize_array
from .imageio import read_image, write_image
from .planes import lightness_from_luma, luma_table, split_i420
from .reference import WEIGHT_MAX, coarse_cells, confidence_weight
from .shots import AUTO_FOLDER, FILM_FILE, KEPT, SHOTS_FILE, Keyframe, Shot, ShotMap, grey_checksum, grey_pixels
from .temporal import CutDetector, small_grey
from .folderlock import LOCK_NAME, FolderBusy, FolderLock
from .tempfiles import TEMP_MARKER, already_exists, temp_path

SAMPLE_SECONDS = 0.25  # the drift test looks at one frame in this much film
MAX_SAMPLES = 48  # per shot: a longer shot is sampled more sparsely (the test costs samples^2)
COVERED = 0.6  # a sample is covered when the keyframes would colour this share of it (mean match weight)
# at most one keyframe per this much of a shot, and always one: on test films with drifting pans
# 4 s gave +8.4 dB over grey with true-colour keyframes, 2 s +10.5 dB at twice the keyframes
SECONDS_PER_KEYFRAME = 3.0
# a run between cuts shorter than this is no shot of its own (a lone black frame before the film's
# first picture, a flash): it joins the next shot, or the one before at the film's end
MIN_SHOT_SECONDS = 0.2
REPLACED_MARKER = ".vidcolor-replaced-"  # an old keyframe folder's name while --overwrite swaps it out
BATCH = 8  # sampled frames per encoder pass


def frame_lightness(frame: Frame, info, colorizer: Colorizer) -> np.ndarray:
    """A decoded frame's full-resolution L* (HxW float32), as the film's colour pass sees it."""
    if frame.yuv is not None:
        luma = split_i420(frame.yuv, info.height, info.width)[0]
        return lightness_from_luma(luma, luma_table(info.range == AVCOL_RANGE_JPEG))
    return colorizer.lightness(frame.rgb[None])[0, 0].cpu().numpy()


def frame_grey(frame: Frame, info, colorizer: Colorizer) -> np.ndarray:
    """A decoded frame as the 8-bit grey picture of its L*, full resolution (a keyframe as written)."""
    return grey_from_lightness(torch.from_numpy(frame_lightness(frame, info, colorizer))).numpy()


def pick(cells: torch.Tensor, limit: int) -> list[int]:
    """Indices of the keyframes among a shot's sampled frames ((n, P, C) unit cells): the sample
    the others match best, then the least covered sample while one is below COVERED, at most ``limit``."""
    n = len(cells)
    flat = cells.reshape(-1, cells.shape[-1]).float()
    # weight[i, p, j]: how surely cell p of sample i matches sample j (0..1, as the fusion weighs it)
    weight = torch.stack([confidence_weight((flat @ cells[j].float().T).max(dim=-1).values).view(n, -1)
                          for j in range(n)], dim=-1) / WEIGHT_MAX
    chosen = [int(weight.mean(dim=(0, 1)).argmax())]
    best = weight[..., chosen[0]]
    while len(chosen) < limit:
        cover = best.mean(dim=1)
        worst = int(cover.argmin())
        if cover[worst] >= COVERED:
            break
        chosen.append(worst)
        best = torch.maximum(best, weight[..., worst])
    return sorted(chosen)


class _ShotPicker:
    """Pass one's state: the current shot's sampled frames and their features."""

    def __init__(self, colorizer: Colorizer, sample_every: int):
        self.colorizer = colorizer
        self.sample_every = sample_every
        self.pending: list[tuple[int, torch.Tensor]] = []  # (frame, small L*) awaiting the encoder
        self.samples: list[tuple[int, torch.Tensor]] = []  # (frame, coarse cells) of this shot
        self.stride = sample_every

    def add(self, index: int, first: int, small: torch.Tensor) -> None:
        if (index - first) % self.stride == 0:
            self.pending.append((index, small))
            if len(self.pending) >= BATCH:
                self.encode()

    @torch.inference_mode()
    def encode(self) -> None:
        if not self.pending:
            return
        c = self.colorizer
        small = torch.stack([s for _, s in self.pending]).to(c.device)
        with c._autocast():
            feats = c.model.features(c.config.scale_l(small).contiguous(memory_format=torch.channels_last))
        cells = coarse_cells(feats).half().cpu()
        self.samples.extend((frame, cell) for (frame, _), cell in zip(self.pending, cells))
        self.pending.clear()
        if len(self.samples) > MAX_SAMPLES:  # a long shot: keep every other sample, sample half as often
            self.samples = self.samples[::2]
            self.stride *= 2

    def drop(self) -> None:
        """Forget the samples so far (a run too short to be a shot joins the next one)."""
        self.pending.clear()
        self.samples.clear()
        self.stride = self.sample_every

    def finish(self, limit: int) -> list[int]:
        """The shot's keyframes (frame numbers); the state is cleared for the next shot."""
        self.encode()
        frames = [f for f, _ in self.samples]
        chosen = [frames[i] for i in pick(torch.stack([c for _, c in self.samples]), limit)]
        self.samples.clear()
        self.stride = self.sample_every
        return chosen


def find_shots(colorizer: Colorizer, film, progress: bool = False) -> tuple[list[tuple[int, int, list[int]]],
                                                                          list[float], object, float]:
    """Pass one: [(first frame, last frame, keyframe frames)] per shot, each frame's time in
    seconds from the first, the film's VideoInfo, and the first frame's own time (a player's clock
    starts there: a film cut from a broadcast often starts past 0)."""
    reader = VideoReader(film, planar=True)
    info = reader.info
    rate = float(info.rate) if info.rate else 25.0
    picker = _ShotPicker(colorizer, max(1, round(SAMPLE_SECONDS * rate)))
    detector = CutDetector()
    grid = colorizer.model.output_side(colorizer.size)
    shots, times, first, origin, t0 = [], [], 0, 0, None
    shortest = max(2, round(MIN_SHOT_SECONDS * rate))
    bar = tqdm(total=info.frames or None, unit="frame", desc=f"shots of {Path(film).name}", disable=not progress,
               dynamic_ncols=True)

    def close(last: int) -> None:
        seconds = (last - first + 1) / rate
        shots.append((first, last, picker.finish(max(1, math.floor(seconds / SECONDS_PER_KEYFRAME)))))

    try:
        index = -1
        for item in reader.items():
            index += 1
            t0 = item.pts if t0 is None else t0
            times.append(float((item.pts - t0) * info.time_base))
            if item.yuv is not None:
                small, _ = colorizer.small_lightness_planes(item.yuv[None], info.range == AVCOL_RANGE_JPEG)
            else:
                small = colorizer.small_lightness(item.rgb[None])
            small = small[0].float()
            cut, _, _ = detector(small_grey(small[0].cpu().numpy(), (grid, grid)))
            if cut:
                if index - first >= shortest:
                    close(index - 1)
                    first = index
                else:  # too short for a shot: it joins this one, whose keyframes come from here on
                    picker.drop()
                origin = index
            picker.add(index, origin, small)
            bar.update(1)
        if bar.total not in (None, bar.n):  # the container's count was an estimate (an AVI's index)
            bar.total = bar.n
            bar.refresh()
    finally:
        bar.close()
        reader.close()
    if index < 0:
        raise VideoError(f"{film}: no video frames could be decoded")
    if shots and index - first + 1 < shortest:  # a short run at the end joins the shot before
        shots[-1] = (shots[-1][0], index, shots[-1][2])
    else:
        close(index)
    return shots, times, info, float(t0 * info.time_base) if info.time_base else 0.0


def _keyframe_pictures(colorizer: Colorizer, film, wanted: set[int], progress: bool):
    """Pass two: (frame number, full-resolution grey uint8) of each wanted frame, in order."""
    reader = VideoReader(film, planar=True)
    last = max(wanted)  # decoding stops there
    bar = tqdm(total=last + 1, unit="frame", desc="keyframes", disable=not progress, dynamic_ncols=True)
    try:
        for index, item in enumerate(reader.items()):
            bar.update(1)
            if index in wanted:
                yield index, frame_grey(item, reader.info, colorizer)
            if index >= last:
                break
    finally:
        bar.close()
        reader.close()


def _kept_from(folder: Path) -> tuple[dict[str, Path], list[Path], ShotMap | None]:
    """What of an earlier keyframe folder is a person's, to keep: the files they made or changed
    (by name: everything but what vidcolor wrote there and nobody touched since), the folders
    (every one but ``auto/``, which is made again: the studio's ``colored/`` and ``render/``,
    anything a person put there); and that folder's shot map (None: none readable)."""
    if not folder.is_dir():
        return {}, [], None
    ours = {SHOTS_FILE, FILM_FILE, "index.html", "contact_sheet.png", LOCK_NAME}
    untouched, earlier = set(), None
    with contextlib.suppress(ImageError):
        earlier = ShotMap.read(folder)
        for k in earlier.keyframes:
            with contextlib.suppress(ImageError):
                grey = grey_pixels(read_image(folder / k.file))
                if grey is not None and grey_checksum(grey) == k.checksum:
                    untouched.add(k.file)
    entries = [p for p in folder.iterdir() if TEMP_MARKER not in p.name and p.name not in ours]
    kept = {p.name: p for p in entries if p.is_file() and not p.is_symlink() and p.name not in untouched}
    folders = [p for p in entries if p.is_dir() and not p.is_symlink() and p.name != AUTO_FOLDER]
    return kept, folders, earlier


def _check_same_film(earlier: ShotMap, folder: Path, film: Path, width: int, height: int, frames: int | None) -> None:
    """Refuse to replace a folder where a person coloured keyframes of another film: they would be
    kept under names that mean other frames of this one."""
    try:
        earlier.check_film(frames, width, height, film)
    except ImageError:
        key = earlier.keyframes[0]
        raise ImageError(f"{folder}: holds keyframes you coloured for another film ({earlier.frames} frames, "
                         f"{key.width}x{key.height}; {film.name} is {width}x{height}"
                         + (f", {frames} frames" if frames is not None else "")
                         + "): choose another folder, or move that one away") from None


def make_keyframes(model_or_colorizer, film: str | os.PathLike, folder: str | os.PathLike, overwrite: bool = False,
              progress: bool = True, precision: str = "auto", size: int | None = None,
              temperature: float | None = None) -> ShotMap:
    """Find ``film``'s shots and keyframes and write them to ``folder`` (see the module's text).
    An existing folder is replaced only with ``overwrite``, and even then every keyframe a person
    coloured there, and any other file or folder they (or the studio: ``colored/``, ``render/``) put
    in, is kept; a folder with keyframes coloured for another film, or one a studio has open, is
    refused. Returns the shot map."""
    film, folder = Path(film), Path(folder)
    colorizer = Colorizer.of(model_or_colorizer, precision, size, temperature)
    if not colorizer.model.feature_strides:
        raise ImageError("keyframes need a model with an ImageNet encoder (the lite0-unet body, as the default "
                         f"model's); this one is the {colorizer.config.body} body")
    if folder.exists() and not overwrite:
        raise ImageError(already_exists(folder, note=KEPT))
    if folder.exists() and not folder.is_dir():
        raise ImageError(f"{folder}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise ImageError(f"{folder}: its parent folder {folder.parent} does not exist")
    if not os.access(folder.parent, os.W_OK | os.X_OK):  # said before the film is scanned
        raise ImageError(f"{folder.parent}: output folder is not writable")
    lock = None
    if folder.is_dir():  # replaced as a whole: not while a studio has it open
        try:
            lock = FolderLock(folder, "vidcolor-keyframes, replacing it").acquire()
        except FolderBusy as err:
            raise ImageError(str(err)) from None
    try:
        return _make_keyframes(colorizer, film, folder, progress)
    finally:
        if lock is not None:
            lock.release()


def _make_keyframes(colorizer: Colorizer, film: Path, folder: Path, progress: bool) -> ShotMap:
    kept, folders, earlier = _kept_from(folder)
    if earlier is not None and not set(kept) & {k.file for k in earlier.keyframes}:
        earlier = None  # nothing coloured there: the folder is simply replaced
    if earlier is not None:  # refused before the film is read, where its container counts its frames
        reader = VideoReader(film)
        info = reader.info
        reader.close()
        _check_same_film(earlier, folder, film, info.width, info.height, info.frames if info.frames_exact else None)
    found, times, info, start = find_shots(colorizer, film, progress)
    if earlier is not None:
        _check_same_film(earlier, folder, film, info.width, info.height, len(times))
    end = times[-1] + (float(1 / info.rate) if info.rate else 0.0)
    shots = [Shot(i, first, last, times[first], times[last + 1] if last + 1 < len(times) else end)
             for i, (first, last, _) in enumerate(found)]
    wanted = {f: s for s, (_, _, frames) in zip(shots, found) for f in frames}
    tmp = temp_path(folder, suffix="")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / AUTO_FOLDER).mkdir(parents=True)
    plain = copy.copy(colorizer)  # the automatic colour: no reference
    plain.reference = None
    try:
        for frame, grey in _keyframe_pictures(colorizer, film, set(wanted), progress):
            shot = wanted[frame]
            name = f"shot{shot.index:04d}_f{frame:07d}.png"
            write_image(tmp / name, grey)
            write_image(tmp / AUTO_FOLDER / name, colorize_array(plain, grey))
            shot.keyframes.append(Keyframe(frame, times[frame], name, grey.shape[1], grey.shape[0],
                                           grey_checksum(grey)))
        for name, path in kept.items():  # a person's work is never thrown away
            shutil.copy2(path, tmp / name)
        shot_map = ShotMap(shots)
        shot_map.write(tmp)
        (tmp / FILM_FILE).write_text(json.dumps({"film": str(film.resolve()), "start_s": start}) + "\n",
                                     encoding="utf-8")
        contact_sheet(shot_map, tmp, film.name, start)
        if folder.exists():
            # the folder being replaced waits under a name no sweep removes (not a temporary's): a kill
            # between these renames leaves it whole beside the new one, never lost
            old = folder.with_name(f".{folder.name}{REPLACED_MARKER}{os.getpid()}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            for kept_folder in folders:  # moved, not copied: a render/ may hold whole films
                os.replace(old / kept_folder.name, folder / kept_folder.name)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    colored = sorted(set(kept) & {k.file for k in shot_map.keyframes})
    if colored:
        warnings.warn(f"{folder}: kept {len(colored)} keyframe(s) you coloured ({', '.join(colored[:3])}"
                      f"{', ...' if len(colored) > 3 else ''})", VidcolorWarning, stacklevel=2)
    return shot_map
