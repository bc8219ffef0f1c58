"""Frames -> batches -> model -> full-resolution colour frames.

One code path for stills and video: the L channel is taken at full resolution, resized to the
model's square input, the network predicts a/b there, a/b are upsampled bilinearly onto the full
resolution L, and Lab goes back to RGB. Everything runs on the model's device.
"""
from __future__ import annotations

import contextlib
import copy
import itertools
import queue
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .color import (LAB_EPSILON, LAB_KAPPA, RGB_TO_XYZ, UINT8_MAX, lab_to_rgb, rgb_to_lightness, srgb_to_linear,
                    to_uint8, to_unit)
from .errors import VidcolorWarning
from .formats import MAX_SIZE, MAX_TEMPERATURE
from .model import ColorNet
from .planes import chroma_from_lab, chroma_matrix, lightness_from_luma, luma_table, split_i420
from .temporal import DEFAULT_STRENGTH, TemporalSmoother

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CPU_BATCH = 8  # frames per forward pass on CPU: larger gains nothing on a few cores
CUDA_BATCH = 32  # on a GPU, enough to keep it busy at 256x256 without much memory


def cpu_has_bf16() -> bool:
    """True where oneDNN has native bf16 kernels (AVX512-BF16 or AMX), so autocast pays."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 runs only on CUDA; use --precision bf16 or fp32 on the CPU")
    return precision


def check_temperature(temperature: float | None, config) -> float | None:
    """The annealed-mean temperature to use, or a clear error: T > 0, classification models only."""
    if temperature is None:
        return config.temperature if config.head == "classification" else None
    if config.head != "classification":
        raise ValueError("--temperature applies only to a classification model; this model regresses a/b "
                         "directly (leave --temperature out)")
    if not 0 < temperature <= MAX_TEMPERATURE:
        raise ValueError(f"--temperature must be > 0 and at most {MAX_TEMPERATURE:g} (lower = the likeliest colour, "
                         f"1 = the plain mean), not {temperature}")
    return float(temperature)


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
    """HxWx3 uint8 sRGB -> HxW float32 L*, with OpenCV's vectorised kernels."""
    y = cv2.transform(cv2.LUT(frame, _Y_TABLE), _Y_SUM)
    lightness = cv2.pow(y, 1.0 / 3.0) * 116.0 - 16.0
    dark = y <= LAB_EPSILON  # below the knee L* is linear in Y
    if dark.any():
        lightness[dark] = y[dark] * LAB_KAPPA
    return lightness


class Colorizer:
    """Runs a ColorNet over batches of frames of any size; the one place inference happens."""

    def __init__(self, model: ColorNet, precision: str = "auto", size: int | None = None,
                 temperature: float | None = None, reference=None):
        """``reference``: colour reference(s), paths (an image or a folder of them) or arrays, or
        a ``vidcolor.reference.Reference``: where a frame matches one, its colours win."""
        self.model = model.eval()
        self.config = model.config
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        self.size = self.config.size if size is None else size
        step = self.config.downsample
        if self.size <= 0 or self.size % step or self.size > MAX_SIZE:
            raise ValueError(f"--size must be a positive multiple of {step} up to {MAX_SIZE} for this model, "
                             f"not {self.size}")
        self.temperature = check_temperature(temperature, self.config)
        self.model.to(memory_format=torch.channels_last)
        # full-resolution colour maths through OpenCV on the CPU; torch on the device elsewhere
        self.opencv = self.device.type == "cpu"
        self.reference = None
        if reference is not None:
            from .reference import Reference
            self.reference = Reference.of(reference, self.model, self.size)

    @classmethod
    def of(cls, model_or_colorizer, precision: str = "auto", size: int | None = None,
           temperature: float | None = None, reference=None) -> "Colorizer":
        """A Colorizer as given (a copy with ``reference``, when one is given), or one built around
        a bare model: what every public entry takes."""
        if isinstance(model_or_colorizer, cls):
            if reference is None:
                return model_or_colorizer
            from .reference import Reference
            colorizer = copy.copy(model_or_colorizer)
            colorizer.reference = Reference.of(reference, colorizer.model, colorizer.size)
            return colorizer
        return cls(model_or_colorizer, precision=precision, size=size, temperature=temperature, reference=reference)

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.inference_mode()
    def predict_ab(self, lightness: torch.Tensor, smoother=None) -> torch.Tensor:
        """(N,1,H,W) L* at full resolution -> (N,2,s,s) a/b at the model's output side s (S for
        regression, S/2 for classification), in Lab units. With a ``vidcolor.temporal``
        smoother the frames (in display order) are smoothed along their motion on that grid."""
        return self.predict_small(resize_to_model(lightness.to(self.device, torch.float32), self.size), smoother)

    @torch.inference_mode()
    def predict_small(self, small: torch.Tensor, smoother=None) -> torch.Tensor:
        """``predict_ab`` for L* already at the model's input side: (N,1,S,S) -> (N,2,s,s)."""
        small = small.to(self.device, torch.float32)
        net_in = self.config.scale_l(small).contiguous(memory_format=torch.channels_last)
        with self._autocast():
            if self.reference is None:
                logits = self.model(net_in)
            else:
                logits, feats = self.model.forward_features(net_in)
        if self.reference is not None:  # the reference's colour mixed in where it matches
            logits = self.reference.fuse(logits, feats, self.model.ab_bins)
        # the annealed mean in fp32: a softmax at T 0.38 over bf16 logits would band the colours
        ab = self.model.decode(logits, self.temperature)
        if smoother is None:
            return ab
        small_np, ab_np = small[:, 0].cpu().numpy(), ab.cpu().numpy()
        steady = np.stack([smoother(light, frame_ab) for light, frame_ab in zip(small_np, ab_np)])
        return torch.from_numpy(steady).to(ab.device)

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
        if not self.opencv:
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
        if self.opencv:
            arr = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
            return torch.from_numpy(np.stack([_lightness_cv(f) for f in arr]))[:, None]
        rgb = to_unit(torch.as_tensor(frames).to(self.device, non_blocking=True)).permute(0, 3, 1, 2)
        return rgb_to_lightness(rgb)

    @torch.inference_mode()
    def colorize_planes(self, frames: np.ndarray, matrix: int, full_range: bool, smoother=None,
                        inplace: bool = False) -> np.ndarray:
        """(N, 3H/2, W) uint8 I420 frames (PyAV's yuv420p layout, even H and W) -> new frames of the
        same layout: the luma plane as it was, Cb/Cr computed at chroma resolution from the
        predicted a/b and the L* of each chroma pixel. The model's L* comes from the luma shrunk to
        its side. ``matrix`` (AVColorSpace) and ``full_range`` describe the stream; see planes.py.
        ``inplace`` writes the chroma into ``frames`` and returns them (no copy of the batch)."""
        n, rows, width = frames.shape
        height = rows * 2 // 3
        table = luma_table(full_range)
        half = (width // 2, height // 2)
        # the luma at chroma resolution (a 2x2 mean: OpenCV's fast exact-halving path) serves both
        # the chroma and, shrunk further, the model: 1080p to 128 px from 960x540 costs a fifth
        halves = [cv2.resize(split_i420(f, height, width)[0], half, interpolation=cv2.INTER_AREA) for f in frames]
        if min(half) >= 2 * self.size:  # halve again (the fast exact 2x2 mean), then the odd factor
            sources = [cv2.resize(y, (half[0] // 2, half[1] // 2), interpolation=cv2.INTER_AREA) for y in halves]
            interpolation = cv2.INTER_AREA
        elif min(half) >= self.size:
            sources, interpolation = halves, cv2.INTER_AREA
        else:  # small films: from the full luma, shrunk or grown
            sources = [split_i420(f, height, width)[0] for f in frames]
            interpolation = cv2.INTER_AREA if min(width, height) >= self.size else cv2.INTER_LINEAR
        small = np.stack([cv2.resize(y, (self.size, self.size), interpolation=interpolation) for y in sources])
        ab = self.predict_small(torch.from_numpy(lightness_from_luma(small, table))[:, None], smoother)
        ab = np.ascontiguousarray(ab.permute(0, 2, 3, 1).cpu().numpy(), dtype=np.float32)
        transform = chroma_matrix(matrix, full_range)
        out = frames if inplace else frames.copy()
        for i, y in enumerate(halves):
            light = lightness_from_luma(y, table)
            cb, cr = chroma_from_lab(light, cv2.resize(ab[i], half, interpolation=cv2.INTER_LINEAR), transform)
            _, u, v = split_i420(out[i], height, width)
            u[:], v[:] = cb, cr
        return out

    @torch.inference_mode()
    def colorize_frames(self, frames: torch.Tensor | np.ndarray, smoother=None) -> torch.Tensor:
        """(N,H,W,3) uint8 RGB frames -> (N,H,W,3) uint8 colourized, on the model's device;
        ``smoother`` (a ``vidcolor.temporal.TemporalSmoother``) steadies a video's colour."""
        lightness = self.lightness(frames)
        return self.compose_uint8(lightness, self.predict_ab(lightness, smoother))


QUEUE_BATCHES = 2  # batches each queue may hold: enough to overlap the stages, bounded memory
BATCH_BYTES = 256 * 2 ** 20  # RGB bytes one batch of frames may hold: 42 frames of 1080p, 8 of 4K
_DONE = object()  # end-of-stream marker between the threads


class _Stage:
    """A worker thread whose error reaches the caller and whose queue puts give way to a stop."""

    def __init__(self, name: str, target, stop: threading.Event):
        self.error: BaseException | None = None
        self.stop = stop
        self.thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)

    def _run(self, target) -> None:
        try:
            target()
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            self.error = err
            self.stop.set()


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return _DONE


def colorize_video(model_or_colorizer, src, dst, batch_size: int | None = None, precision: str = "auto",
                   size: int | None = None, codec: str | None = None, crf: int = 18, preset: str = "medium",
                   audio: bool = True, progress: bool = True, temperature: float | None = None,
                   smoothing: float = DEFAULT_STRENGTH, planar: bool | None = None, overwrite: bool = False,
                   reference=None) -> dict:
    """Colourize the video ``src`` into ``dst``: decode thread -> batched model on this thread ->
    encode thread, joined by bounded queues. Keeps every frame with its pts, the time base,
    rotation and colour tags, and copies audio and subtitle streams. Returns a summary dict.
    On any error or Ctrl-C no output file is left behind. ``temperature`` (classification models
    only): lower = each pixel's likeliest colour, 1 = the average; default the model's own. ``smoothing`` in [0, 1): how strongly
    the colour follows the motion from frame to frame (``vidcolor.temporal``); 0 colours every
    frame on its own. ``planar`` (default: on the CPU) keeps 8-bit 4:2:0 films in their Y'CbCr
    planes: the luma is written back as it was and only the chroma is computed (vidcolor.planes);
    False forces the RGB path. An existing ``dst`` is replaced only with ``overwrite``; ``dst``
    may never be ``src`` (inputs are only read). ``reference``: colour reference(s) (paths, arrays
    or a ``vidcolor.reference.Reference``), encoded once for the whole film."""
    from .video import AVCOL_RANGE_JPEG, Frame, VideoError, VideoReader, VideoWriter

    if Path(dst).exists():
        if Path(src).exists() and Path(src).resolve() == Path(dst).resolve():
            raise VideoError(f"{dst}: output would overwrite the input; choose another name")
        if not overwrite:
            raise VideoError(f"{dst}: already exists; pass overwrite=True to replace it")
    colorizer = Colorizer.of(model_or_colorizer, precision, size, temperature, reference)
    smoother = TemporalSmoother(smoothing) if smoothing else None
    batch_size = batch_size or default_batch_size(colorizer.device)
    # on the CPU 8-bit 4:2:0 films stay in their planes (vidcolor.planes); elsewhere frames are RGB
    reader = VideoReader(src, planar=colorizer.opencv if planar is None else planar)
    # frames in flight: a batch being coloured plus QUEUE_BATCHES in each queue; bound their bytes
    frame_bytes = 3 * max(reader.info.width, 1) * max(reader.info.height, 1)
    fits = max(1, BATCH_BYTES // frame_bytes)
    if batch_size > fits:
        warnings.warn(f"batch size {batch_size} lowered to {fits}: {batch_size} frames of "
                      f"{reader.info.width}x{reader.info.height} would hold {batch_size * frame_bytes / 2 ** 20:.0f} MB "
                      "per batch in memory", VidcolorWarning, stacklevel=2)
        batch_size = fits
    try:
        writer = VideoWriter(dst, reader.info, codec=codec, crf=crf, preset=preset, audio=audio)
    except BaseException:
        reader.close()
        raise
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES * batch_size)
    coloured: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES * batch_size)
    passthrough = writer.passthrough
    bar = tqdm(total=reader.info.frames or None, unit="frame", desc=Path(src).name, disable=not progress,
               dynamic_ncols=True)
    counts = {"frames": 0, "packets": 0}

    def decode() -> None:
        for item in reader.items(passthrough):
            if not _put(decoded, item, stop):
                return
        _put(decoded, _DONE, stop)

    def encode() -> None:
        while True:
            item = _get(coloured, stop)
            if item is _DONE:
                return
            if isinstance(item, Frame):
                writer.write_frame(item)
                counts["frames"] += 1
                bar.update(1)
            else:
                writer.write_packet(item)
                counts["packets"] += 1

    stages = [_Stage("vidcolor-decode", decode, stop), _Stage("vidcolor-encode", encode, stop)]
    for stage in stages:
        stage.thread.start()
    main_error: BaseException | None = None
    try:
        pending: list = []  # frames and packets in demux order, up to one batch of frames

        def flush() -> bool:
            frames = [item for item in pending if isinstance(item, Frame)]
            # consecutive runs of planar (I420) and RGB frames, in display order for the smoother
            for planar, run in itertools.groupby(frames, key=lambda f: f.yuv is not None):
                run = list(run)
                if planar:
                    out = colorizer.colorize_planes(np.stack([f.yuv for f in run]), reader.info.matrix,
                                                    reader.info.range == AVCOL_RANGE_JPEG, smoother, inplace=True)
                    for frame, yuv in zip(run, out):
                        frame.yuv = yuv
                else:
                    out = colorizer.colorize_frames(np.stack([f.rgb for f in run]), smoother)
                    for frame, rgb in zip(run, out.cpu().numpy()):
                        frame.rgb = rgb
            for item in pending:
                if not _put(coloured, item, stop):
                    return False
            pending.clear()
            return True

        n_frames = 0
        while True:
            item = _get(decoded, stop)
            if item is _DONE:
                break
            pending.append(item)
            if isinstance(item, Frame):
                n_frames += 1
                if n_frames % batch_size == 0 and not flush():
                    break
        if not stop.is_set() and flush():
            _put(coloured, _DONE, stop)
        stages[1].thread.join()
    except BaseException as err:  # noqa: BLE001 - re-raised below, after the cleanup
        main_error = err
    finally:
        stop.set()
        for stage in stages:
            stage.thread.join()
        bar.close()
        reader.close()
    error = main_error or next((s.error for s in stages if s.error is not None), None)
    if error is None and counts["frames"] == 0:
        error = VideoError(f"{src}: no video frames could be decoded")
    if error is not None:
        writer.abort()
        raise error
    writer.close()
    return {"frames": counts["frames"], "packets_copied": counts["packets"], "width": reader.info.width,
            "height": reader.info.height, "time_base": str(reader.info.time_base), "batch_size": batch_size,
            "scene_cuts": smoother.cuts if smoother else None}
