"""How vidcolor writes a file: the one temporary-name rule, the atomic write built on it, the
check that an output may be written, and the sweep that removes what a killed run left.

Every output is written under a hidden temporary name beside it and renamed when complete
(``.NAME.vidcolor-tmp-HOST-PID...``). The name says which process on which machine owns it, so a
later run writing into the same folder can remove the temporaries of processes that are gone (a
run ended by ``kill -9``, a power cut) without touching those of a run still going, here or on
another node of a cluster sharing the folder. A run ended by Ctrl-C or SIGTERM removes its own.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

from .errors import VideoError

TEMP_MARKER = ".vidcolor-tmp-"  # in the name of every temporary output
HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]  # this machine, in a temporary's name
# the owner of a temporary: the first marker in its name (a segment's own temporary carries the
# driver's name inside it), the host tag and the process id
_OWNER = re.compile(r"^\..*?" + re.escape(TEMP_MARKER) + r"([0-9a-f]{6})-(\d+)(?=[-.]|$)")
_swept: set[str] = set()  # folders this process has swept already


def owner(pid: int | None = None) -> str:
    """``HOST-PID``: this process (or ``pid`` on this machine) as a temporary's owner."""
    return f"{HOST}-{os.getpid() if pid is None else pid}"


def temp_path(dst: str | os.PathLike, tag: str = "", suffix: str | None = None) -> Path:
    """The temporary name of ``dst`` for this process (``tag`` tells apart several of one process),
    with ``dst``'s extension (or ``suffix``) so that writers that go by it still know the type.
    The first temporary a process makes in a folder sweeps that folder of dead owners' ones."""
    dst = Path(dst)
    sweep(dst.parent)
    return dst.with_name(f".{dst.name}{TEMP_MARKER}{owner()}{tag}{dst.suffix if suffix is None else suffix}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's, alive
        return True
    except OSError:
        return True
    return True


def stale(name: str) -> bool:
    """True for the temporary name of a process of this machine that no longer runs."""
    match = _OWNER.match(name)
    return bool(match) and match.group(1) == HOST and not process_alive(int(match.group(2)))


def sweep(folder: str | os.PathLike, again: bool = False) -> list[str]:
    """Remove the temporaries (files or folders) that dead processes of this machine left in
    ``folder``; once per folder and process unless ``again``. Returns the names removed; never fails."""
    key = os.path.abspath(folder)
    if key in _swept and not again:
        return []
    _swept.add(key)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or TEMP_MARKER not in entry.name or not stale(entry.name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass
    return removed


def remove(path: str | os.PathLike) -> None:
    """Remove a temporary, file or folder, if it is there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(dst: str | os.PathLike, tag: str = "", suffix: str | None = None):
    """``with atomic_write(dst) as tmp:`` write ``tmp`` (``temp_path``): when the block ends it
    replaces ``dst`` whole; on any error or Ctrl-C it is removed and ``dst`` is as it was."""
    # an unpredictable name, made here and only here (O_EXCL, no symlink followed): a link planted
    # at a guessable temporary name must not take the write outside the folder
    tmp = temp_path(dst, f"{tag}-{secrets.token_hex(6)}", suffix)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666))
    try:
        yield tmp
        os.replace(tmp, dst)
    finally:
        remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    """A text file (JSON, CSV) written atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def already_exists(path, how: str = "overwrite=True", note: str = "") -> str:
    """The one message for an output that is there already: what replaces it (``--overwrite`` at a
    command line, ``overwrite=True`` from Python), and ``note`` on what replacing keeps."""
    return f"{path}: already exists; pass {how} to replace it{note}"


def check_output(src, dst, overwrite: bool) -> None:
    """``dst`` may be replaced only with ``overwrite``, and never when it is ``src``."""
    if Path(dst).exists():
        if Path(src).exists() and Path(src).resolve() == Path(dst).resolve():
            raise VideoError(f"{dst}: output would overwrite the input; choose another name")
        if not overwrite:
            raise VideoError(already_exists(dst))
