"""Folder mode on a Ray cluster: one task per file, the same guarantees as ``colorize_folder``.

The driver walks SRC, decides each output path and what to skip exactly as local folder mode
does, and submits one Ray task per file (a film's frames stay in order on one worker). Each task
asks for a GPU, or a fraction of one, where the cluster has GPUs, else a CPU; the model is loaded
once per worker process and kept for the files that follow. SRC and DST must be paths every node
sees (a shared filesystem): a worker that cannot see a file fails it with that reason.

Faults: a worker that dies mid-file (node lost, process killed) is a system failure, and Ray runs
the task again elsewhere (``RETRIES``); a file that fails for its own reason (bad input) comes
back as a failure at once and is never retried. Outputs are written under a temporary name and
renamed when complete, so a killed attempt leaves at most a temporary, which the driver removes
when the run ends. Ctrl-C cancels the tasks still queued or running, removes their temporaries,
and raises KeyboardInterrupt carrying the summary so far.
"""
from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .errors import ImageError
from .options import VideoOptions

RETRIES = 3  # new attempts for a file whose worker died
LOCAL_NODE_IP = "127.0.0.1"  # a cluster this process starts itself listens on loopback only
RAY_MISSING = "--ray needs Ray: pip install 'vidcolor[ray]'"
LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray takes 127.0.0.1 as every node's address
_QUIET = dict(log_to_driver=False, logging_level="error", configure_logging=True)


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to build its Colorizer: plain data, sent with every task."""
    model: str = "default"
    device: str = "auto"
    precision: str = "auto"
    size: int | None = None
    temperature: float | None = None
    reference: str | None = None  # a colour reference (an image or a folder of them) every node sees


_WORKER_COLORIZERS: dict = {}  # per worker process: ModelSpec -> Colorizer, loaded on first use


def _colorizer(spec: ModelSpec):
    if spec not in _WORKER_COLORIZERS:
        from .colorizer import Colorizer
        from .weights import load_model
        _WORKER_COLORIZERS[spec] = Colorizer(load_model(spec.model, spec.device), precision=spec.precision,
                                             size=spec.size, temperature=spec.temperature,
                                             reference=spec.reference)
    return _WORKER_COLORIZERS[spec]


def colorize_one(spec: ModelSpec, path: str, out: str, kind: str, video: VideoOptions,
                 batch_size: int | None, threads: int | None = None,
                 keyframes: str | None = None) -> tuple[str, str | None]:
    """One file on a worker: (status, reason) with status "done" (the reason: its warnings, if any)
    or "failed". Errors of the file
    itself come back as a reason; anything else (the process dying) is Ray's to retry."""
    from .folder import FILE_ERRORS, colorize_file, one_line

    if threads:  # a CPU task owns one core: torch's own pool would fight the other workers for it
        import torch
        torch.set_num_threads(threads)
    if not Path(path).is_file():
        return "failed", (f"not visible on node {socket.gethostname()}: SRC and DST must be on a filesystem "
                          "every node of the cluster sees")
    try:
        notes = colorize_file(_colorizer(spec), Path(path), Path(out), kind, batch_size, False, video,
                              Path(keyframes) if keyframes else None)
        return "done", "; ".join(notes) or None
    except FILE_ERRORS as err:
        return "failed", one_line(err, path)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ImageError(RAY_MISSING) from None
    return ray


def start_local(num_cpus: int | None = None):
    """Start a one-machine cluster whose processes listen and talk on 127.0.0.1 only. Ray would
    otherwise bind the machine's own interface address even when told 127.0.0.1; a cluster of one
    node needs no address but loopback (Ray's own switch for that is the env var below, read by
    every process it starts, and its constant in this process)."""
    os.environ[LOOPBACK_ONLY_ENV] = "0"
    ray = _import_ray()
    import ray._private.ray_constants as constants
    constants.ENABLE_RAY_CLUSTER = False
    ray.init(num_cpus=num_cpus, _node_ip_address=LOCAL_NODE_IP, include_dashboard=False, **_QUIET)
    return ray


def connect(address: str | None = None):
    """Join the cluster at ``address``; with none, the one RAY_ADDRESS names or ``ray start`` left on
    this machine, else start a local one on 127.0.0.1. Returns the ray module."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    existing = address or os.environ.get("RAY_ADDRESS") or Path(tempfile.gettempdir(), "ray",
                                                                  "ray_current_cluster").exists()
    if not existing:
        return start_local()
    try:
        ray.init(address=address or "auto", **_QUIET)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise ImageError(f"--ray-address {address or 'auto'}: cannot join that cluster "
                         f"({str(err).splitlines()[0][:120]})") from None
    return ray


def colorize_folder_ray(spec: ModelSpec, src, dst, image_format: str | None = None, video_ext: str | None = None,
                        overwrite: bool = False, progress: bool = True, batch_size: int | None = None,
                        include_hidden: bool = False, address: str | None = None, gpus_per_task: float = 1.0,
                        video: VideoOptions | None = None, keyframes=None):
    """``colorize_folder`` with one Ray task per file; returns the same FolderSummary."""
    video = video or VideoOptions()
    from .folder import FolderSummary, clean_temporaries, film_keyframes, plan_folder

    src, dst = Path(src), Path(dst)
    jobs, summary = plan_folder(src, dst, image_format, video_ext, overwrite, include_hidden, FolderSummary())
    ray = connect(address)
    gpus = ray.cluster_resources().get("GPU", 0)
    resources = {"num_gpus": gpus_per_task} if gpus else {"num_cpus": 1}
    task = ray.remote(max_retries=RETRIES, retry_exceptions=False, **resources)(colorize_one)
    threads = None if gpus else 1
    pending = {task.remote(spec, str(path), str(out), kind, video, batch_size, threads,
                           str(film_keyframes(keyframes, rel) or "") or None): rel
               for rel, path, out, kind in jobs}
    bar = tqdm(total=len(pending), unit="file", desc="files (ray)", disable=not progress, dynamic_ncols=True)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                rel = pending.pop(ref)
                try:
                    status, reason = ray.get(ref)
                except ray.exceptions.RayError as err:  # retries exhausted: the file's node kept dying
                    status, reason = "failed", f"its worker died {RETRIES + 1} times ({type(err).__name__})"
                if status == "done":
                    summary.done.append(rel)
                    if reason:  # what the worker's file warned of
                        summary.notes.append((rel, reason))
                else:
                    summary.failed.append((rel, reason))
                bar.update(1)
    except KeyboardInterrupt as err:
        for ref in pending:
            ray.cancel(ref, force=True)
        clean_temporaries(dst)
        err.summary = summary
        raise
    finally:
        bar.close()
    clean_temporaries(dst)  # what killed attempts left behind
    summary.done.sort()
    summary.failed.sort()
    return summary
