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
import tempfile
from pathlib import Path

from tqdm import tqdm

from .errors import ImageError
from .options import FolderOptions, ParallelOptions, VideoOptions
from .workers import ModelSpec, colorize_one, run_segment

RETRIES = 3  # new attempts for a file whose worker died
CANCEL_SECONDS = 10.0  # how long cancelled tasks may take to end
LOCAL_NODE_IP = "127.0.0.1"  # a cluster this process starts itself listens on loopback only
RAY_MISSING = "--ray needs Ray: pip install '.[ray]' in the vidcolor checkout (or pip install 'ray>=2.9')"
LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray takes 127.0.0.1 as every node's address
_QUIET = dict(log_to_driver=False, logging_level="error", configure_logging=True)


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


def colorize_folder_ray(spec: ModelSpec, src, dst, options: FolderOptions | None = None,
                        video: VideoOptions | None = None, parallel: ParallelOptions | None = None,
                        progress: bool = True):
    """``colorize_folder`` with one Ray task per file, and one per segment of a film longer than
    ``MAX_SHARE`` x ``parallel.segment_seconds`` (``vidcolor.split``: the driver joins each such
    film when its last segment is back); returns the same FolderSummary."""
    from .tree import FolderSummary, clean_temporaries, folders_under, plan_folder, remove_new_empty_folders

    src, dst = Path(src), Path(dst)
    before = folders_under(dst)
    jobs, summary = plan_folder(src, dst, options or FolderOptions(), FolderSummary())
    run = bar = None
    try:  # joining the cluster and handing it the files (minutes for long films) inside: a bad
        # address leaves no DST this run made, Ctrl-C while submitting cancels what was submitted
        run = _FolderOnRay(spec, video or VideoOptions(), parallel or ParallelOptions(ray=True), summary)
        run.submit(jobs)
        bar = tqdm(total=run.files, unit="file", desc="files (ray)", disable=not progress or not run.files,
                   dynamic_ncols=True)
        for (rel, number), status, value in _finished(run.ray, run.pending):
            bar.update(run.finished(rel, number, status, value))
    except KeyboardInterrupt as err:
        if run is not None:
            run.drain()  # files already written count as done, and are said so
            run.cancel()
        err.summary = summary
        raise
    finally:
        if bar is not None:
            bar.close()
        clean_temporaries(dst)  # what killed attempts left behind
        remove_new_empty_folders(dst, before)  # as local folder mode: no empty folder of the run's own
    summary.done.sort()
    summary.failed.sort()
    return summary


class _FolderOnRay:
    """A folder run's tasks on the cluster: one per file, one per segment of a long film, and what
    each that ends means for the summary."""

    def __init__(self, spec: ModelSpec, video: VideoOptions, parallel: ParallelOptions, summary):
        self.spec, self.video, self.parallel, self.summary = spec, video, parallel, summary
        self.ray = connect(parallel.address)
        gpus = self.ray.cluster_resources().get("GPU", 0)
        resources = {"num_gpus": parallel.gpus_per_task} if gpus else {"num_cpus": 1}
        self.task = self.ray.remote(max_retries=RETRIES, retry_exceptions=False, **resources)(colorize_one)
        self.segment_task = self.ray.remote(max_retries=RETRIES, retry_exceptions=False, **resources)(run_segment)
        self.threads = None if gpus else 1
        self.pending: dict = {}  # task -> (relative name, segment number or None for a whole file)
        self.films: dict = {}  # relative name -> (FilmSplit, results so far) of the films in segments
        self.files = 0  # files handed to the cluster (the bar's total)

    def submit(self, jobs: list) -> None:
        from .files import FILE_ERRORS, one_line
        from .tree import film_options

        for rel, path, out, kind in jobs:
            film = film_options(self.video, rel)
            split = None
            if kind == "video":
                try:
                    split = _long_film(path, out, self.parallel.segment_seconds, film)
                except FILE_ERRORS as err:  # unreadable: failed at planning, never a task
                    self.summary.failed.append((rel, one_line(err, path)))
                    continue
            self.files += 1
            if split is None:
                self.pending[self.task.remote(self.spec, str(path), str(out), kind, film, self.threads)] = (rel, None)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            self.films[rel] = (split, [])
            for job in split.jobs:
                self.pending[self.segment_task.remote(self.spec, self.threads, job)] = (rel, job.segment.number)

    def finished(self, rel: str, number: int | None, status: str, value) -> int:
        """One task ended: the summary told; returns how many files are now settled (0 or 1)."""
        from .files import FILE_ERRORS, one_line

        summary = self.summary
        if number is None:
            if status == "done":
                summary.done.append(rel)
                if value:  # what the worker's file warned of
                    summary.notes.append((rel, value))
            else:
                summary.failed.append((rel, value))
            return 1
        split, results = self.films[rel]
        if status != "done":
            return self._film_failed(rel, split.failure(number, value))
        results.append(value)
        if len(results) < len(split.jobs):
            return 0
        try:
            split.finish(results, self.video.audio)
        except FILE_ERRORS as err:
            return self._film_failed(rel, one_line(err, split.src))
        split.clean()
        self.films.pop(rel)
        summary.done.append(rel)
        notes = dict.fromkeys(note for r in results for note in r.notes)
        if notes:
            summary.notes.append((rel, "; ".join(notes)))
        return 1

    def _film_failed(self, rel: str, reason: str) -> int:
        refs = [ref for ref, (name, _) in self.pending.items() if name == rel]
        for ref in refs:
            del self.pending[ref]
        _cancel(self.ray, refs)
        self.films.pop(rel)[0].clean()
        self.summary.failed.append((rel, reason))
        return 1

    def drain(self) -> None:
        """The whole files whose tasks are back already, taken into the summary without waiting."""
        files = [ref for ref, (_, number) in self.pending.items() if number is None]
        if not files:
            return
        ready, _ = self.ray.wait(files, num_returns=len(files), timeout=0)
        for ref in ready:
            rel, number = self.pending.pop(ref)
            try:
                status, value = self.ray.get(ref)
            except self.ray.exceptions.RayError:
                continue
            self.finished(rel, number, status, value)

    def cancel(self) -> None:
        """Ctrl-C: every task still out cancelled, every film's segments removed."""
        _cancel(self.ray, list(self.pending))
        for split, _ in self.films.values():
            split.clean()


def _finished(ray, pending: dict):
    """``(key, status, value)`` of each task in ``pending`` (task -> key) as it ends, taken out of
    ``pending`` then (a task the caller took out meanwhile is passed over); a task whose worker kept
    dying through every retry comes back failed."""
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            if ref not in pending:
                continue
            key = pending.pop(ref)
            try:
                status, value = ray.get(ref)
            except ray.exceptions.RayError as err:  # retries exhausted: its node kept dying
                status, value = "failed", f"its worker died {RETRIES + 1} times ({type(err).__name__})"
            yield key, status, value


def _cancel(ray, refs: list) -> None:
    """Cancel the tasks, and give their workers a moment to end before their files are removed."""
    for ref in refs:
        ray.cancel(ref, force=True)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=CANCEL_SECONDS)


def _long_film(path: Path, out: Path, segment_seconds: float, video: VideoOptions):
    """The film's FilmSplit where it lasts long enough to be worth splitting, else None (one task)."""
    from .decode import VideoReader
    from .split import split_film
    from .segments import MAX_SHARE

    reader = VideoReader(path)
    duration = reader.info.duration
    reader.close()
    if not duration or duration < MAX_SHARE * segment_seconds:
        return None
    split = split_film(path, out, segment_seconds, video)
    return None if split.whole else split


class RayPool:
    """The Ray cluster as a pool for one film's segments (``vidcolor.parallel``): the interface of
    ``vidcolor.pool.LocalPool``, one Ray task per job, retried by Ray where its worker died."""

    def __init__(self, entry, spec: ModelSpec, parallel: ParallelOptions | None = None):
        parallel = parallel or ParallelOptions(ray=True)
        self.ray = connect(parallel.address)
        resources = self.ray.cluster_resources()
        gpus = resources.get("GPU", 0)
        gpus_per_task = parallel.gpus_per_task
        self.threads = None if gpus else (parallel.threads or 1)  # a CPU task owns its cores
        options = {"num_gpus": gpus_per_task} if gpus else {"num_cpus": self.threads}
        self.task = self.ray.remote(max_retries=RETRIES, retry_exceptions=False, **options)(entry)
        self.spec = spec
        slots = gpus / gpus_per_task if gpus else resources.get("CPU", 1) / self.threads
        self.workers = max(1, int(slots))
        self.pending: dict = {}

    def run(self, jobs: list):
        """Run every job; yields ``(job number, status, value)`` as each finishes, in any order."""
        self.pending = {self.task.remote(self.spec, self.threads, job): number for number, job in enumerate(jobs)}
        yield from _finished(self.ray, self.pending)

    def terminate(self) -> None:
        """Cancel every job still out (their half-written files are the driver's to remove)."""
        _cancel(self.ray, list(self.pending))
        self.pending = {}

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            self.terminate()
