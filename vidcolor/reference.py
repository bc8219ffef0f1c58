"""Colour from a reference: a colour photo of the same place or a hand-coloured keyframe sets the
colours where it matches what the model sees; elsewhere the automatic colour stays.

Training-free, after the part of Deep Exemplar-based Video Colorization (He et al. 2018),
BiSTNet (2023) and ColorMNet (2024) that needs no learning: feature matching plus attention.

- Features: the reference is turned grey (only its L*, so both sides look alike to the encoder),
  squashed to the model's side and run through the model's ImageNet encoder (the lite0-unet body);
  the maps at stride 8 and 16 (the latter upsampled) are each centred (the picture's mean per
  channel taken out) and L2-normalised per cell, then joined. A frame's own features come out of
  the same forward pass that predicts its colour, so matching costs one small product a frame.
- Matching: cosine similarity of every frame cell with every reference cell; a softmax over the
  reference cells at ``MATCH_TEMPERATURE`` (Deep Exemplar's 0.01) carries the reference's a/b,
  area-pooled to the same grid, onto the frame; a cell's confidence is its best cosine. With
  several references each cell takes the one it matches best (BiSTNet's rule).
- Fusion: the carried a/b become a soft distribution over the a/b bins (the training targets'
  encoding) and are mixed into the network's distribution with a weight that rises from 0 at
  cosine ``CONFIDENCE_LOW`` to ``WEIGHT_MAX`` at ``CONFIDENCE_HIGH``; the annealed mean decodes
  the mixture as usual. An unrelated reference matches weakly and leaves the automatic colour.
  The constants were chosen on validation photos (benchmarks/reference.py, the model card).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .color import GREY_CHROMA, mean_chroma, rgb_to_lab
from .errors import ImageError
from .imageio import read_image, unit_rgb
from .models.abbins import soft_encode
from .options import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

MATCH_STRIDES = (8, 16)  # encoder maps matched, joined on the stride-8 grid
MATCH_TEMPERATURE = 0.01  # softmax temperature over cosine similarities (Deep Exemplar's)
CONFIDENCE_LOW = 0.45  # best cosine at and below which the reference has no say
CONFIDENCE_HIGH = 0.75  # best cosine from which it has WEIGHT_MAX
WEIGHT_MAX = 0.9  # the reference's share of the colour distribution where it matches surely
MIN_PROBABILITY = 1e-8  # floor before the log: the mixture is decoded as log-probabilities
# a shot's keyframes: their a/b histogram weighs the network's guess (p_net x palette^alpha) where
# nothing matches, so the automatic colour cannot bring in a colour the shot never had; every bin
# keeps PALETTE_FLOOR of the prior (a colour the keyframes lack is unlikely, not impossible)
PALETTE_FLOOR = 1e-4


def reference_paths(source: str | os.PathLike) -> list[Path]:
    """An image file, or the images in a folder (sorted; hidden files left out)."""
    path = Path(source)
    if not path.exists():
        raise ImageError(f"--reference {path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ImageError(f"--reference {path}: the folder holds no image ({', '.join(IMAGE_EXTENSIONS[:4])}, ...)")
        return files
    return [path]


def _cells(feats: dict[int, torch.Tensor]) -> torch.Tensor:
    """Encoder maps -> (N, P, C) unit vectors, one per cell of the stride-8 grid."""
    grid = feats[MATCH_STRIDES[0]].shape[-2:]
    parts = []
    for stride in MATCH_STRIDES:
        f = feats[stride].float()
        if f.shape[-2:] != grid:
            f = F.interpolate(f, size=grid, mode="bilinear", align_corners=False)
        f = f - f.mean(dim=(2, 3), keepdim=True)
        parts.append(F.normalize(f, dim=1))
    joined = torch.cat(parts, dim=1) / len(parts) ** 0.5  # still unit length per cell
    return joined.flatten(2).transpose(1, 2).contiguous()


def confidence_weight(confidence: torch.Tensor) -> torch.Tensor:
    """The reference's share of the colour distribution for a cell's best cosine."""
    ramp = (confidence - CONFIDENCE_LOW) / (CONFIDENCE_HIGH - CONFIDENCE_LOW)
    return WEIGHT_MAX * ramp.clamp(0.0, 1.0)


def coarse_cells(feats: dict[int, torch.Tensor]) -> torch.Tensor:
    """``_cells`` pooled 2 x 2 (the stride-16 grid) and normalised again: (N, P/4, C), for comparing
    whole frames cheaply (the keyframe picker's drift test)."""
    cells = _cells(feats)
    h, w = feats[MATCH_STRIDES[0]].shape[-2:]
    grid = cells.transpose(1, 2).reshape(cells.shape[0], -1, h, w)
    return F.normalize(F.avg_pool2d(grid, 2, ceil_mode=True), dim=1).flatten(2).transpose(1, 2).contiguous()


class Reference:
    """One or more colour references encoded for a model at one input side: their cells' features
    (R, K, C) and a/b (R, K, 2). Built once per film (or folder run) and used for every frame.

    For a shot's keyframes (``vidcolor.keyframes``): ``allow_grey`` takes a nearly neutral picture
    as the colours it gives (a street coloured nearly neutral on purpose); ``palette`` (alpha > 0)
    weighs the network's share by the references' a/b histogram; ``strength`` scales the
    references' share of the mixture."""

    def __init__(self, model, size: int, images: list[np.ndarray], names: list[str], allow_grey: bool = False,
                 palette: float = 0.0, strength: float = 1.0):
        if not set(MATCH_STRIDES) <= set(model.feature_strides):
            raise ImageError(f"a reference needs a model with an ImageNet encoder (the lite0-unet body, as the "
                             f"default model's); this one is the {model.config.body} body")
        self.names = names
        self.sources = images  # kept to encode them again for another input side
        self.size = size
        device = next(model.parameters()).device
        features, abs_ = [], []
        with torch.inference_mode():
            for image, name in zip(images, names):
                lab = _lab_of(image).to(device)
                chroma = mean_chroma(lab)
                if chroma < GREY_CHROMA and not allow_grey:
                    raise ImageError(f"--reference {name}: it is grey (mean chroma {chroma:.1f}); a reference gives "
                                     "its colours, so it must be a colour picture")
                small = F.interpolate(lab[None], size=(size, size), mode="area")
                _, feats = model.forward_features(model.config.scale_l(small[:, :1]).contiguous(
                    memory_format=torch.channels_last))
                cells = _cells(feats)[0]
                h, w = feats[MATCH_STRIDES[0]].shape[-2:]
                # a/b at twice the matching grid's resolution: each cell's 2 x 2 sub-cells
                ab = F.interpolate(lab[None, 1:], size=(2 * h, 2 * w), mode="area")[0]
                ab = ab.view(2, h, 2, w, 2).permute(2, 4, 1, 3, 0).reshape(4, h * w, 2)
                features.append(cells)
                abs_.append(ab.contiguous())
        self.features = torch.stack(features)  # (R, K, C)
        self.ab = torch.stack(abs_)  # (R, 4, K, 2): sub-cell (dy, dx) = 2 dy + dx of each cell
        self.strength = float(strength)  # scales the references' share of the mixture (1: as measured for photos)
        self.palette_alpha = float(palette)
        self.palette = self._palette(model.ab_bins) if palette else None

    def _palette(self, bins: torch.Tensor) -> torch.Tensor:
        """(Q,) the references' a/b over the bins (soft-encoded, as the training targets), floored."""
        ab = self.ab.reshape(-1, 2).T[None, :, :, None].to(bins.device)  # (1, 2, M, 1)
        idx, w = soft_encode(ab, bins)
        hist = torch.zeros(1, len(bins), *ab.shape[-2:], device=bins.device).scatter_add_(1, idx, w).sum((0, 2, 3))
        hist = hist / hist.sum() + PALETTE_FLOOR
        return (hist / hist.sum()) ** self.palette_alpha

    @classmethod
    def of(cls, reference, model, size: int) -> "Reference":
        """``reference`` as given when it is a Reference, else encoded from its sources."""
        return reference if isinstance(reference, cls) else cls.from_sources(model, size, reference)

    @classmethod
    def from_sources(cls, model, size: int, sources) -> "Reference":
        """From paths (files or folders of images) or HxWx3 arrays, one or a list of them."""
        if isinstance(sources, (str, os.PathLike, np.ndarray)):
            sources = [sources]
        images, names = [], []
        for source in sources:
            if isinstance(source, np.ndarray):
                images.append(source)
                names.append(f"array {len(names) + 1}")
                continue
            for path in reference_paths(source):
                if path.suffix.lower() in VIDEO_EXTENSIONS and path.suffix.lower() != ".gif":
                    raise ImageError(f"--reference {path}: a video; a reference is a picture (a colour photo, or "
                                     "one frame coloured by hand; vidcolor-keyframes gives a film's frames to colour)")
                try:
                    images.append(read_image(path))
                except ImageError as err:
                    raise ImageError(f"--reference {err}") from None
                names.append(str(path))
        if not images:
            raise ImageError("--reference: no reference image given")
        return cls(model, size, images, names)

    def match(self, feats: dict[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """A frame's encoder maps -> (carried a/b (N,2,2h,2w), best cosine (N,1,h,w)), h x w the
        stride-8 grid. The attention is computed between stride-8 cells; the a/b it carries are at
        stride 4: sub-cell (dy, dx) of a frame cell takes sub-cell (dy, dx) of the reference cells
        it attends to, so an identical reference gives back its colours at the finer grid."""
        h, w = feats[MATCH_STRIDES[0]].shape[-2:]
        cells = _cells(feats)  # (N, P, C)
        features, ab = self.features.to(cells.device), self.ab.to(cells.device)
        best_ab, best_conf = self._best(cells, [(features[r], ab[r]) for r in range(len(features))])
        n = cells.shape[0]
        # (N, dy, dx, y, x, 2) -> (N, 2, 2h, 2w)
        fine = best_ab.view(n, 2, 2, h, w, 2).permute(0, 5, 3, 1, 4, 2).reshape(n, 2, 2 * h, 2 * w)
        return fine, best_conf.reshape(n, 1, h, w)

    @staticmethod
    def _best(cells: torch.Tensor, sources: list) -> tuple[torch.Tensor, torch.Tensor]:
        """Each cell's a/b carried from the source it matches best (BiSTNet's rule), and that cosine."""
        best_ab, best_conf = None, None
        for source_features, source_ab in sources:
            similarity = cells @ source_features.to(cells.device).T  # (N, P, K)
            confidence = similarity.max(dim=-1).values
            attention = torch.softmax(similarity / MATCH_TEMPERATURE, dim=-1)
            carried = torch.einsum("npk,skc->nspc", attention, source_ab.to(cells.device))  # (N, 4, P, 2)
            if best_conf is None:
                best_ab, best_conf = carried, confidence
            else:
                better = confidence > best_conf
                best_ab = torch.where(better[:, None, :, None], carried, best_ab)
                best_conf = torch.maximum(confidence, best_conf)
        return best_ab, best_conf

    def fuse(self, logits: torch.Tensor, feats: dict[int, torch.Tensor], bins: torch.Tensor) -> torch.Tensor:
        """The network's logits (N,Q,h,w) -> log-probabilities of the mixture with the reference's
        colour, weighted by how surely each cell matches; decode them with the annealed mean."""
        carried, confidence = self.match(feats)
        size = logits.shape[-2:]
        carried = F.interpolate(carried, size=size, mode="bilinear", align_corners=False)
        weight = self.strength * confidence_weight(F.interpolate(confidence, size=size, mode="bilinear",
                                                                 align_corners=False))
        idx, w = soft_encode(carried, bins)
        target = torch.zeros(logits.shape, device=logits.device).scatter_add_(1, idx, w)
        p_net = torch.softmax(logits.float(), dim=1)
        if self.palette is not None:  # the network's guess limited to the colours the shot has
            p_net = p_net * self.palette.to(p_net.device).view(1, -1, 1, 1)
            p_net = p_net / p_net.sum(dim=1, keepdim=True).clamp_min(MIN_PROBABILITY)
        p = (1.0 - weight) * p_net + weight * target
        return torch.log(p.clamp_min(MIN_PROBABILITY)).contiguous(memory_format=torch.channels_last)


def _lab_of(image: np.ndarray) -> torch.Tensor:
    """HxW{,x1,x3,x4} uint8/uint16 -> (3,H,W) Lab (alpha dropped, grey replicated), the way a
    still's pixels reach the model."""
    return rgb_to_lab(unit_rgb(np.ascontiguousarray(image))[0].contiguous())
