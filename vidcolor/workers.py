"""What a worker process runs, on a Ray cluster (``vidcolor.cluster``) or among local worker
processes (``vidcolor.pool``): plain data in, the model loaded once per process and kept.

A job that fails for its own reason (a damaged film, a full disk) comes back as ``("failed",
reason)`` and is not run again; only a worker that dies (killed, its node lost) makes its job run
again elsewhere.
"""
from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .options import VideoOptions


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to build its Colorizer: plain data, sent with every task."""
    model: str = "default"
    device: str = "auto"
    precision: str = "auto"
    size: int | None = None
    temperature: float | None = None
    reference: str | None = None  # a colour reference (an image or a folder of them) every node sees


def specs_on(spec: ModelSpec, devices: tuple[str, ...] | None) -> list[ModelSpec]:
    """One spec per device for local workers taken round robin (``--devices``); without devices,
    every visible GPU where the spec's device is auto or cuda and there are several, else the spec
    as it is. Each device is checked here, in the driver, before any worker starts."""
    from .weights import resolve_device

    if devices is None and spec.device in ("auto", "cuda"):
        import torch
        if torch.cuda.is_available() and torch.cuda.device_count() > 1:
            devices = tuple(f"cuda:{i}" for i in range(torch.cuda.device_count()))
    if not devices:
        return [spec]
    return [dataclasses.replace(spec, device=str(resolve_device(d, "--devices"))) for d in devices]


_WORKER_COLORIZERS: dict = {}  # per worker process: ModelSpec -> Colorizer, loaded on first use


def worker_colorizer(spec: ModelSpec):
    if spec not in _WORKER_COLORIZERS:
        from .colorizer import Colorizer
        from .weights import load_model
        _WORKER_COLORIZERS[spec] = Colorizer(load_model(spec.model, spec.device), precision=spec.precision,
                                             size=spec.size, temperature=spec.temperature,
                                             reference=spec.reference)
    return _WORKER_COLORIZERS[spec]


def set_threads(threads: int | None) -> None:
    """Give torch and OpenCV this process's share of the cores: their own pools would otherwise each
    take every core and fight the other workers for them."""
    if threads:
        import cv2
        import torch
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        cv2.setNumThreads(threads)


def unseen() -> str:
    """Why a worker fails a file it cannot see."""
    return (f"not visible on node {socket.gethostname()}: SRC and DST must be on a filesystem every node of the "
            "cluster sees")


def colorize_one(spec: ModelSpec, path: str, out: str, kind: str, video: VideoOptions,
                 threads: int | None = None) -> tuple[str, str | None]:
    """One file on a worker: (status, reason) with status "done" (the reason: its warnings, if any)
    or "failed". Errors of the file itself come back as a reason; anything else (the process
    dying) is Ray's to retry."""
    from .files import FILE_ERRORS, colorize_file, one_line

    set_threads(threads)  # a CPU task owns one core
    if not Path(path).is_file():
        return "failed", unseen()
    try:
        notes = colorize_file(worker_colorizer(spec), Path(path), Path(out), kind, video, False)
        return "done", "; ".join(notes) or None
    except FILE_ERRORS as err:
        return "failed", one_line(err, path)


@dataclass(frozen=True)
class SegmentJob:
    """One segment of a film (``vidcolor.segments.Segment``) to colour into ``out``; a segment
    numbered None is the whole film, written straight to ``out`` with its audio (a film that
    cannot be split)."""
    src: str
    out: str
    segment: object
    video: VideoOptions


def run_segment(spec: ModelSpec, threads: int | None, job: SegmentJob, progress=None):
    """A worker's entry: ``("done", SegmentResult)`` or ``("failed", one-line reason)``;
    ``progress(frames)``, where given, hears of the frames written as they are."""
    from .files import FILE_ERRORS, colorize_file, one_line
    from .segments import SegmentResult
    from .video import colorize_segment

    set_threads(threads)
    if not Path(job.src).is_file():
        return "failed", unseen()
    try:
        colorizer = worker_colorizer(spec)
        if job.segment.number is None:
            notes = colorize_file(colorizer, Path(job.src), Path(job.out), "video", job.video, progress or False)
            return "done", SegmentResult(None, job.out, np.zeros((0, 3), np.int64), job.segment.frames,
                                         notes=tuple(notes))
        return "done", colorize_segment(colorizer, job.src, job.out, job.segment, job.video, progress)
    except FILE_ERRORS as err:
        return "failed", one_line(err, job.src)
