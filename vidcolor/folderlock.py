"""A keyframe folder's lock: one process at a time may change it as a whole (a studio serving it,
``vidcolor-keyframes --overwrite`` replacing it).

The lock is an OS lock (``flock``) on ``FOLDER/.studio.lock``: the kernel drops it when its
process ends, however it ends, so nothing goes stale; two processes starting together cannot both
take it. The file holds the holder's pid and what it is doing, for the message the other one
gives. Where the OS has no ``flock`` (Windows), the lock is advisory only: the file is written and
removed, nothing is refused.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".studio.lock"  # in the folder: the lock's file


STUDIO = "vidcolor-studio"  # a studio's note begins so: "vidcolor-studio at ADDRESS"


class FolderBusy(Exception):
    """The folder's lock is held by another process; the message says who, as the lock's file tells."""

    def __init__(self, folder: Path, holder: str):
        pid, _, note = holder.partition(" ")
        if note.startswith(STUDIO):
            message = (f"{folder}: another vidcolor-studio (pid {pid}) has it open{note[len(STUDIO):]}; use that "
                       "one, or stop it first")
        else:
            message = f"{folder}: in use by {note or 'another vidcolor command'} (pid {pid}); try again when it is done"
        super().__init__(message)


class FolderLock:
    """``FolderLock(folder, note).acquire()`` takes the folder's lock or raises ``FolderBusy``;
    ``release()`` removes the file and drops the lock. ``note`` is what the holder is doing."""

    def __init__(self, folder: str | os.PathLike, note: str):
        self.path = Path(folder) / LOCK_NAME
        self.note = note
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        for _ in range(10):  # a holder may remove the file between our open and our lock: open again
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise FolderBusy(self.path.parent, _read(fd)) from None
                    if not _same_file(fd, self.path):  # locked a file its holder has just removed
                        os.close(fd)
                        continue
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()} {self.note}\n".encode())
            except BaseException:
                os.close(fd)
                raise
            self.fd = fd
            return self
        raise FolderBusy(self.path.parent, f"? {self.path} (could not be claimed)")

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked: the next one locks a file of its own
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> str:
    with contextlib.suppress(OSError):
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 4096).decode("utf-8", "replace").strip()
    return ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
