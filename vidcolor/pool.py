"""Local worker processes for ``--jobs N``: the same jobs and guarantees as the Ray pool.

Each worker is a fresh (spawned) Python process with its own model and its share of the cores,
fed one job at a time through its own pipe, so the driver always knows which job each worker
holds. A worker that dies (killed, out of memory) is replaced and its job runs again, up to
``RETRIES`` times; a job that fails for its own reason comes back as such and is not run again.
Workers ignore Ctrl-C: the driver takes it, ends them (``terminate``) and cleans up.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Iterator

RETRIES = 3  # new attempts for a job whose worker died
STOP_SECONDS = 10.0  # how long a worker told to stop may take before it is ended
REPORT_SECONDS = 0.25  # a worker tells the driver its frames done at most this often


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


PR_SET_PDEATHSIG = 1  # Linux prctl(2): the signal a process gets when its parent dies
PARENT_POLL_SECONDS = 1.0  # elsewhere: how often a worker looks whether its driver is still there


def die_with_parent(parent: int) -> None:
    """End this worker when the driver (``parent``) ends, however it ends (``kill -9`` too): on
    Linux the kernel sends SIGKILL at once; elsewhere a thread notices within a second. A worker
    left behind would go on colouring for nobody and hold its cores."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="vidcolor-parent-watch", daemon=True).start()


def _serve(conn, entry, spec, threads, parent: int) -> None:
    """A worker's loop: a job in, ``entry(spec, threads, job)`` out, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver takes Ctrl-C and ends the workers
    die_with_parent(parent)
    lock = threading.Lock()  # progress comes from the job's encoder thread, the result from this one
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if task is None:
            return
        try:
            result = entry(spec, threads, task, Reporter(conn, lock))
        except Exception as err:  # noqa: BLE001 - a bug in one job: its reason, not a dead worker
            result = ("failed", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        try:
            with lock:
                conn.send(result)
        except OSError:  # the driver is gone: nobody to tell
            return


class Reporter:
    """A job's progress (frames written) sent to the driver as ``("progress", n)``, at most every
    ``REPORT_SECONDS``: a worker's bar is the driver's to show."""

    def __init__(self, conn, lock: threading.Lock):
        self.conn, self.lock = conn, lock
        self.unsent, self.last = 0, float("-inf")  # the first frames are told at once

    def __call__(self, frames: int) -> None:
        self.unsent += frames
        now = time.monotonic()
        if now - self.last < REPORT_SECONDS:
            return
        try:
            with self.lock:
                self.conn.send(("progress", self.unsent))
        except OSError:
            return
        self.unsent, self.last = 0, now


class LocalPool:
    """``workers`` processes running ``entry(spec, threads, job, progress)`` (a module-level function
    that returns ``(status, value)`` and may call ``progress(frames)`` as it goes), each with
    ``threads`` torch/OpenCV threads. ``spec`` may be a list: worker slot k takes ``spec[k % len]``
    (one GPU per worker, round robin), and a worker that dies is replaced on its own slot's."""

    def __init__(self, entry, spec, workers: int, threads: int | None = None):
        self.entry = entry
        self.specs = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        self.workers = max(1, workers)
        self.asked_threads = threads
        self.threads = threads  # per process; None: the cores shared among those ``run`` starts
        self.context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
        self.procs: dict = {}  # worker id -> (process, connection)
        self.slots: dict = {}  # worker id -> its slot (which spec it runs)
        self.next_id = 0

    def _start(self, slot: int | None = None) -> int:
        """A new worker on ``slot`` (default: the first free one)."""
        if slot is None:
            slot = min(set(range(self.workers)) - set(self.slots.values()), default=self.next_id)
        spec = self.spec_of(slot)
        parent, child = self.context.Pipe()
        proc = self.context.Process(target=_serve, args=(child, self.entry, spec, self.threads, os.getpid()),
                                    name=f"vidcolor-worker-{self.next_id}", daemon=True)
        proc.start()
        child.close()
        self.procs[self.next_id] = (proc, parent)
        self.slots[self.next_id] = slot
        self.next_id += 1
        return self.next_id - 1

    def spec_of(self, slot: int):
        """The spec worker slot ``slot`` runs (round robin over the specs given)."""
        return self.specs[slot % len(self.specs)]

    def _drop(self, wid: int) -> int:
        """End a worker's pipe and wait for it; returns its slot."""
        proc, conn = self.procs.pop(wid)
        conn.close()
        proc.join(timeout=STOP_SECONDS)
        return self.slots.pop(wid)

    def run(self, jobs: list) -> Iterator[tuple[int, str, object]]:
        """Run every job; yields ``(job number, status, value)`` as each finishes, in any order, and
        on the way ``(number, "progress", frames)`` as a job reports frames done and ``(number,
        "retry", attempt)`` when its worker died and it starts again (its progress so far is void)."""
        pending = deque(range(len(jobs)))
        attempts = [0] * len(jobs)
        held: dict = {}  # worker id -> job number
        if not self.procs:  # the cores shared among the processes that start, not those asked for
            self.threads = self.asked_threads or max(1, available_cores() // max(1, min(self.workers, len(jobs))))
        while len(self.procs) < min(self.workers, len(jobs)):
            self._start()
        while pending or held:
            for wid in [w for w in self.procs if w not in held]:
                if not pending:
                    break
                number = pending.popleft()
                try:
                    self.procs[wid][1].send(jobs[number])
                except OSError:  # it has just died: its end shows below, the job waits for another
                    pending.appendleft(number)
                    continue
                held[wid] = number
            conns = {conn: wid for wid, (proc, conn) in self.procs.items()}
            sentinels = {proc.sentinel: wid for wid, (proc, conn) in self.procs.items()}
            ready = set(wait([*conns, *sentinels]))
            dead = set()
            for conn, wid in conns.items():  # results first: a worker may send and then end
                if conn in ready:
                    try:
                        status, value = conn.recv()
                    except (EOFError, OSError):
                        dead.add(wid)
                        continue
                    if status == "progress":
                        yield held[wid], status, value
                        continue
                    yield held.pop(wid), status, value
            dead |= {wid for sentinel, wid in sentinels.items() if sentinel in ready}
            for wid in dead:
                proc = self.procs[wid][0]
                slot = self._drop(wid)
                code = proc.exitcode
                number = held.pop(wid, None)
                if number is not None:
                    attempts[number] += 1
                    if attempts[number] > RETRIES:
                        yield number, "failed", f"its worker died {RETRIES + 1} times (exit code {code})"
                    else:
                        pending.appendleft(number)
                        yield number, "retry", attempts[number]
                if pending or held:
                    self._start(slot)

    def close(self) -> None:
        """Tell every worker to stop, and wait for them."""
        for wid, (proc, conn) in list(self.procs.items()):
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for wid in list(self.procs):
            self._drop(wid)
        self.terminate()

    def terminate(self) -> None:
        """End every worker now (Ctrl-C, a failed job): they hold nothing worth keeping."""
        for proc, conn in self.procs.values():
            proc.terminate()
        for wid in list(self.procs):
            self._drop(wid)

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.terminate()
