"""The engine: batches of frames -> model -> full-resolution colour, for stills and films alike.

The prediction is one: L* resized to the model's square input, the network's a/b there, a/b
upsampled bilinearly onto the full-resolution L*. Frames reach it in one of two layouts: RGB
(stills, films of unusual pixel formats: ``colorize_frames``, Lab back to RGB) or a film's own
I420 planes (``colorize_planes``: the luma kept, new Cb/Cr computed; vidcolor.planes with
OpenCV on the CPU, vidcolor.planes_torch on the model's device elsewhere: only uint8 planes cross
to and from a GPU). ``on_cpu`` chooses OpenCV's maths where it is faster than torch's.
"""
from __future__ import annotations

import contextlib
import copy

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .color import (LAB_EPSILON, LAB_KAPPA, RGB_TO_XYZ, UINT8_MAX, lab_to_rgb, rgb_to_lightness, srgb_to_linear,
                    to_uint8, to_unit)
from .errors import OptionError
from .models import ColorModel
from .options import CPU_BATCH, CUDA_BATCH, check_precision, check_size, check_temperature
from .planes import chroma_from_lab, chroma_matrix, lightness_from_luma, luma_table, split_i420
from .planes_torch import TorchPlanes, planes_of
from .reference import Reference


NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # /proc/cpuinfo flags of CPUs that compute in bf16


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (Linux), or None where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def cpu_has_bf16() -> bool:
    """True where oneDNN has native bf16 kernels (AVX512-BF16 or AMX), so autocast pays. oneDNN
    also says yes on plain AVX-512 (Ice Lake), where it emulates bf16: the default model ran at 39
    frames/s there against 58 in fp32, so the CPU's own flags must say so too, where they can be read."""
    try:
        supported = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
    flags = cpu_flags()
    return supported and (flags is None or bool(NATIVE_BF16_FLAGS & flags))


AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # precision -> autocast dtype


def training_precision(amp: str, device: torch.device) -> str:
    """What a training run computes in for ``--amp`` (auto, off, bf16, fp16) on ``device``: auto is
    bf16 where the hardware has it (Ampere and later GPUs, CPUs with native bf16), else fp16 on
    CUDA and fp32 on the CPU. Training tolerates bf16 on CUDA (its gradients are fp32); inference
    there does not: ``inference_precision``."""
    if amp == "off":
        return "fp32"
    if amp == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if amp not in ("bf16", "fp16"):
        raise OptionError(f"--amp must be one of auto, off, bf16, fp16, not {amp!r}")
    return amp


def inference_precision(trained: str, device: torch.device) -> str:
    """The precision inference runs in for a model trained in ``trained`` on ``device``: the same,
    but fp16 where training ran bf16 on CUDA (``resolve_precision`` refuses bf16 there). Training's
    validation colours through this rule, so that it is what a user's run will see."""
    if trained == "bf16" and device.type == "cuda":
        return "fp16"
    return resolve_precision(trained, device)


def resolve_precision(precision: str, device: torch.device) -> str:
    if check_precision(precision) == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise OptionError("fp16 runs only on CUDA; use precision bf16 or fp32 on the CPU")
    if precision == "bf16" and device.type == "cuda":  # measured on an H200: 33 dB from fp32, fp16 above 45
        raise OptionError("bf16 on CUDA colours visibly off fp32 (33 dB); use precision fp16 (the default there) "
                          "or fp32")
    return precision


def model_temperature(temperature: float | None, config) -> float | None:
    """The annealed-mean temperature to use: the one asked for (checked), else the model's own;
    a temperature for a regression model is an error."""
    if temperature is None:
        return config.temperature if config.head == "classification" else None
    if config.head != "classification":
        raise OptionError("temperature applies only to a classification model; this model regresses a/b "
                          "directly (leave the temperature out)")
    return check_temperature(temperature)


def default_batch_size(device: torch.device) -> int:
    return CUDA_BATCH if device.type == "cuda" else CPU_BATCH


def resize_to_model(lightness: torch.Tensor, size: int) -> torch.Tensor:
    """(N,1,H,W) -> (N,1,size,size): area averaging when shrinking (as INTER_AREA), bilinear when growing."""
    h, w = lightness.shape[-2:]
    if h >= size and w >= size:
        return F.interpolate(lightness, size=(size, size), mode="area")
    return F.interpolate(lightness, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def bilinear_rows(out_len: int, in_len: int, start: int, stop: int, device, dtype=torch.float32) -> torch.Tensor:
    """Rows start..stop of the (out_len, in_len) matrix of 1-D bilinear resampling with
    align_corners=False, the weights F.interpolate uses; lets a tall image be composed in strips."""
    pos = ((torch.arange(start, stop, device=device, dtype=torch.float64) + 0.5) * in_len / out_len - 0.5)
    pos = pos.clamp(min=0.0, max=in_len - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=in_len - 1)
    frac = (pos - lo).to(dtype)
    m = torch.zeros(stop - start, in_len, device=device, dtype=dtype)
    rows = torch.arange(stop - start, device=device)
    m.index_put_((rows, lo), 1.0 - frac, accumulate=True)
    m.index_put_((rows, hi), frac, accumulate=True)
    return m


# each sRGB code value's contribution to relative luminance Y, per channel (R, G, B)
_Y_TABLE = (srgb_to_linear(torch.arange(256, dtype=torch.float64) / UINT8_MAX)[:, None]
            * torch.tensor(RGB_TO_XYZ[1], dtype=torch.float64)).float().numpy().reshape(1, 256, 3)
_Y_SUM = np.ones((1, 3), np.float32)


def _lightness_cv(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 sRGB -> HxW float32 L*, with OpenCV's vectorised kernels: the formula of
    ``color.lightness_from_y`` (tested equal to 1e-4 L*) at a fraction of torch's time."""
    y = cv2.transform(cv2.LUT(frame, _Y_TABLE), _Y_SUM)
    lightness = cv2.pow(y, 1.0 / 3.0) * 116.0 - 16.0
    dark = y <= LAB_EPSILON  # below the knee L* is linear in Y
    if dark.any():
        lightness[dark] = y[dark] * LAB_KAPPA
    return lightness


class Colorizer:
    """Runs a model over batches of frames of any size; the one place inference happens."""

    def __init__(self, model: ColorModel, precision: str = "auto", size: int | None = None,
                 temperature: float | None = None, reference=None):
        """``reference``: colour reference(s), paths (an image or a folder of them) or arrays, or
        a ``vidcolor.reference.Reference``: where a frame matches one, its colours win."""
        self.model = model.eval()
        self.config = model.config
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        self.size = self.config.size if size is None else check_size(size, model.stride)
        self.temperature = model_temperature(temperature, self.config)
        self.model.to(memory_format=torch.channels_last)
        # full-resolution colour maths through OpenCV on the CPU; torch on the device elsewhere
        self.on_cpu = self.device.type == "cpu"
        # a film's Y'CbCr planes: OpenCV's maths on the CPU (vidcolor.planes), torch's on the
        # model's device elsewhere (vidcolor.planes_torch; "torch" on the CPU runs the same code)
        self.plane_maths = "opencv" if self.on_cpu else "torch"
        self._torch_planes = None
        self.reference = None if reference is None else Reference.of(reference, self.model, self.size)

    @classmethod
    def of(cls, model_or_colorizer, precision: str = "auto", size: int | None = None,
           temperature: float | None = None, reference=None) -> "Colorizer":
        """A Colorizer built around a bare model, or the one given: as it is where no setting is
        given, else a copy with the settings given (precision "auto" counts as not given)."""
        if not isinstance(model_or_colorizer, cls):
            return cls(model_or_colorizer, precision=precision, size=size, temperature=temperature,
                       reference=reference)
        colorizer = model_or_colorizer
        if precision == "auto" and size is None and temperature is None and reference is None:
            return colorizer
        colorizer = copy.copy(colorizer)
        if precision != "auto":
            colorizer.precision = resolve_precision(precision, colorizer.device)
        if temperature is not None:
            colorizer.temperature = model_temperature(temperature, colorizer.config)
        if size is not None and size != colorizer.size:
            colorizer.size = check_size(size, colorizer.model.stride)
            if reference is None and colorizer.reference is not None:  # encoded at the old side
                reference = colorizer.reference.sources
        if reference is not None:
            colorizer.reference = Reference.of(reference, colorizer.model, colorizer.size)
        return colorizer

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def predict_ab(self, lightness: torch.Tensor, steady=None) -> torch.Tensor:
        """(N,1,H,W) L* at full resolution -> (N,2,s,s) a/b at the model's output side s (S for
        regression, S/2 for classification), in Lab units. ``steady``: the caller's step between
        prediction and colour, (small L*, a/b) -> a/b (a film driver's smoother steadies frames in
        display order along their motion on that grid)."""
        return self.predict_small(resize_to_model(lightness.to(self.device, torch.float32), self.size), steady)

    @torch.inference_mode()
    def predict_small(self, small: torch.Tensor, steady=None) -> torch.Tensor:
        """``predict_ab`` for L* already at the model's input side: (N,1,S,S) -> (N,2,s,s)."""
        small = small.to(self.device, torch.float32)
        net_in = self.config.scale_l(small).contiguous(memory_format=torch.channels_last)
        with self._autocast():
            if self.reference is None:
                logits = self.model(net_in)
            else:
                logits, feats = self.model.forward_features(net_in)
        # the annealed mean in fp32: a softmax at T 0.38 over bf16 logits would band the colours
        if self.reference is None:
            ab = self.model.decode(logits, self.temperature)
        else:  # the reference's colour mixed in where it matches
            ab = self.model.decode(self.reference.fuse(logits, feats, self.model.ab_bins), self.temperature)
        return ab if steady is None else steady(small, ab)

    @torch.inference_mode()
    def region_features(self, lightness: np.ndarray) -> np.ndarray | None:
        """What the model sees at each place of a picture of L* ``lightness`` (HxW): the map its
        head reads, (C,s,s) float32 at its output side, for hints (``vidcolor.propagate``); None
        for a model without one."""
        small = resize_to_model(torch.from_numpy(np.ascontiguousarray(lightness, np.float32))[None, None]
                                .to(self.device), self.size)
        with self._autocast():
            features = self.model.head_features(self.config.scale_l(small).contiguous(memory_format=torch.channels_last))
        return None if features is None else features[0].float().cpu().numpy()

    def upsample_ab(self, ab_small: torch.Tensor, rows: int, width: int, top: int = 0,
                    height: int | None = None) -> torch.Tensor:
        """a/b rows top..top+rows of the bilinear (align_corners=False) upsampling of (N,2,S,S) to
        an image of ``height`` x ``width``: lets a tall still be composed in strips."""
        ab = self._ab_rows(ab_small, rows, top, height).permute(0, 3, 1, 2)
        return F.interpolate(ab, size=(rows, width), mode="bilinear", align_corners=False)

    @staticmethod
    def _ab_rows(ab_small: torch.Tensor, rows: int, top: int, height: int | None) -> torch.Tensor:
        """The vertical half of the upsampling: rows top..top+rows of (N,2,S,S) resampled to
        ``height`` rows, still S wide, channels last (N,rows,S,2)."""
        ry = bilinear_rows(height or rows, ab_small.shape[-2], top, top + rows, ab_small.device)
        return torch.einsum("hs,ncsw->nhwc", ry, ab_small.float())

    @torch.inference_mode()
    def compose(self, lightness: torch.Tensor, ab_small: torch.Tensor, top: int = 0,
                height: int | None = None) -> torch.Tensor:
        """Join full-resolution L rows top..top+h of an image of ``height`` rows with the a/b of
        ``predict_ab`` upsampled bilinearly onto them; returns sRGB in 0..1, (N,3,h,W)."""
        rows, width = lightness.shape[-2:]
        ab = self.upsample_ab(ab_small, rows, width, top, height)
        return lab_to_rgb(torch.cat((lightness.to(ab.device), ab), dim=1))

    @torch.inference_mode()
    def compose_uint8(self, lightness: torch.Tensor, ab_small: torch.Tensor, top: int = 0,
                      height: int | None = None) -> torch.Tensor:
        """``compose`` straight to (N,h,W,3) uint8 RGB. On CUDA it is torch on the device; on the
        CPU, OpenCV's vectorised Lab->RGB, about six times faster than torch's op-by-op passes
        over full-resolution frames and within 1 code value of them."""
        if not self.on_cpu:
            return to_uint8(self.compose(lightness, ab_small, top, height)).permute(0, 2, 3, 1)
        rows, width = lightness.shape[-2:]
        ab_rows = self._ab_rows(ab_small, rows, top, height).numpy()
        out = np.empty((len(lightness), rows, width, 3), np.uint8)
        for i, (light, ab) in enumerate(zip(lightness[:, 0].numpy(), ab_rows)):
            ab = cv2.resize(ab, (width, rows), interpolation=cv2.INTER_LINEAR)  # same weights as F.interpolate
            rgb = cv2.cvtColor(cv2.merge([np.ascontiguousarray(light, np.float32), ab]), cv2.COLOR_Lab2RGB)
            np.maximum(rgb, 0.0, out=rgb)  # convertScaleAbs would mirror negatives
            out[i] = cv2.convertScaleAbs(rgb, alpha=UINT8_MAX)
        return torch.from_numpy(out)

    @torch.inference_mode()
    def lightness(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(N,H,W,3) uint8 RGB -> (N,1,H,W) float32 L* on the model's device. On the CPU through
        OpenCV: a table of each channel's linear-light share of Y, their sum, a cube root (exact
        to 1e-4 L*, twice as fast as cvtColor, which also computes a and b); torch elsewhere."""
        if self.on_cpu:
            arr = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
            return torch.from_numpy(np.stack([_lightness_cv(f) for f in arr]))[:, None]
        rgb = to_unit(torch.as_tensor(frames).to(self.device, non_blocking=True)).permute(0, 3, 1, 2)
        return rgb_to_lightness(rgb)

    @torch.inference_mode()
    def small_lightness(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(N,H,W,3) uint8 RGB -> (N,1,S,S) L* at the model's side, as ``colorize_frames`` feeds it."""
        return resize_to_model(self.lightness(frames).to(self.device, torch.float32), self.size)

    @torch.inference_mode()
    def colorize_planes(self, frames: np.ndarray, matrix: int, full_range: bool, steady=None,
                        inplace: bool = False) -> np.ndarray:
        """(N, 3H/2, W) uint8 I420 frames (PyAV's yuv420p layout, even H and W) -> new frames of the
        same layout: the luma plane as it was, Cb/Cr computed at chroma resolution from the
        predicted a/b and the L* of each chroma pixel. The model's L* comes from the luma shrunk to
        its side. ``matrix`` (AVColorSpace) and ``full_range`` describe the stream; see planes.py.
        ``inplace`` writes the chroma into ``frames`` and returns them (no copy of the batch)."""
        if self.plane_maths == "torch":
            return self._colorize_planes_torch(frames, matrix, full_range, steady, inplace)
        n, rows, width = frames.shape
        height = rows * 2 // 3
        table = luma_table(full_range)
        half = (width // 2, height // 2)
        small, halves = self.small_lightness_planes(frames, full_range)
        ab = self.predict_small(small, steady)
        ab = np.ascontiguousarray(ab.permute(0, 2, 3, 1).cpu().numpy(), dtype=np.float32)
        transform = chroma_matrix(matrix, full_range)
        out = frames if inplace else frames.copy()
        for i, y in enumerate(halves):
            light = lightness_from_luma(y, table)
            cb, cr = chroma_from_lab(light, cv2.resize(ab[i], half, interpolation=cv2.INTER_LINEAR), transform)
            _, u, v = split_i420(out[i], height, width)
            u[:], v[:] = cb, cr
        return out

    def _colorize_planes_torch(self, frames: np.ndarray, matrix: int, full_range: bool, steady=None,
                               inplace: bool = False) -> np.ndarray:
        """``colorize_planes`` with every step on the model's device (vidcolor.planes_torch): the
        frames go up as uint8, the Cb/Cr planes come back as uint8, the same shrinking and rounding
        as OpenCV's path."""
        n, rows, width = frames.shape
        height = rows * 2 // 3
        maths = self._torch_planes
        if maths is None or maths.key != (self.device, matrix, full_range):
            maths = self._torch_planes = TorchPlanes(self.device, matrix, full_range)
        luma = planes_of(maths.upload(np.ascontiguousarray(frames)), height, width)[0].float()
        half = (height // 2, width // 2)
        halves = maths.shrink(luma, half)  # a 2x2 mean: the chroma's grid
        source = {"half": halves, "full": luma}.get(self._model_source(min(half)))
        if source is None:  # "quarter"
            source = maths.shrink(halves, (half[0] // 2, half[1] // 2))
        small = maths.lightness(maths.shrink(source, (self.size, self.size)))
        ab = self.predict_small(small, steady).float()
        ab = F.interpolate(ab, size=half, mode="bilinear", align_corners=False)
        chroma = maths.chroma(maths.lightness(halves), ab).cpu().numpy()
        out = frames if inplace else frames.copy()
        for i in range(n):
            _, u, v = split_i420(out[i], height, width)
            u[:], v[:] = chroma[i, 0], chroma[i, 1]
        return out

    def _model_source(self, half_side: int) -> str:
        """Which luma the model's input is shrunk from, for a film whose chroma grid's shorter side
        is ``half_side`` (both plane paths): the chroma-size luma halved again ("quarter": the fast
        exact 2x2 mean, then the odd factor), the chroma-size luma ("half"), or the full luma
        ("full": small films, shrunk or grown)."""
        if half_side >= 2 * self.size:
            return "quarter"
        return "half" if half_side >= self.size else "full"

    def small_lightness_planes(self, frames: np.ndarray, full_range: bool) -> tuple[torch.Tensor, list[np.ndarray]]:
        """(N, 3H/2, W) uint8 I420 frames -> ((N,1,S,S) L* at the model's side, each frame's luma at
        chroma resolution): exactly what ``colorize_planes`` feeds the model."""
        n, rows, width = frames.shape
        height = rows * 2 // 3
        half = (width // 2, height // 2)
        # the luma at chroma resolution (a 2x2 mean: OpenCV's fast exact-halving path) serves both
        # the chroma and, shrunk further, the model: 1080p to 128 px from 960x540 costs a fifth
        halves = [cv2.resize(split_i420(f, height, width)[0], half, interpolation=cv2.INTER_AREA) for f in frames]
        source = self._model_source(min(half))
        if source == "quarter":
            sources = [cv2.resize(y, (half[0] // 2, half[1] // 2), interpolation=cv2.INTER_AREA) for y in halves]
            interpolation = cv2.INTER_AREA
        elif source == "half":
            sources, interpolation = halves, cv2.INTER_AREA
        else:  # small films: from the full luma, shrunk or grown
            sources = [split_i420(f, height, width)[0] for f in frames]
            interpolation = cv2.INTER_AREA if min(width, height) >= self.size else cv2.INTER_LINEAR
        small = np.stack([cv2.resize(y, (self.size, self.size), interpolation=interpolation) for y in sources])
        return torch.from_numpy(lightness_from_luma(small, luma_table(full_range)))[:, None], halves

    @torch.inference_mode()
    def colorize_frames(self, frames: torch.Tensor | np.ndarray, steady=None) -> torch.Tensor:
        """(N,H,W,3) uint8 RGB frames -> (N,H,W,3) uint8 colourized, on the model's device;
        ``steady`` as for ``predict_ab`` (a film's smoother, ``TemporalSmoother.steady``)."""
        lightness = self.lightness(frames)
        return self.compose_uint8(lightness, self.predict_ab(lightness, steady))


