"""What every vidcolor command shares: one-line errors and their exit codes, warnings as one
line, SIGTERM as a clean stop, and the process readied before the heavy modules load."""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading

import click

from .errors import OptionError


class OneLineCommand(click.Command):
    """A click command whose usage errors (an unknown option, a bad choice) read like every other
    error: one line, ``PROG: error: ...``, exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """As click's, with our one-line usage errors; ``standalone_mode=False`` returns the exit code
        instead of leaving the process (what an embedding host or a test runner asks for)."""
        with guarded_stderr():
            try:
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except SystemExit as stop:
                # the command itself (its arguments from sys.argv), not a caller in this process
                # (click's test runner, a host that embeds the command: they must live on)
                if standalone_mode and args is None and stop.code in (130, 143):
                    leave(stop.code)
                raise
            except click.exceptions.UsageError as err:
                click.echo(f"{self.name}: error: {err.format_message()} (see {self.name} --help)", err=True)
                sys.exit(2)
            except click.exceptions.Abort:
                click.echo(f"{self.name}: error: interrupted; no output written", err=True)
                sys.exit(130)
        code = code if isinstance(code, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


class PipeSafeStream:
    """A text stream (the process's stderr) that goes quiet instead of raising once its reader is
    gone: ``vidcolor FILM OUT 2>&1 | tee log`` stopped by Ctrl-C kills ``tee`` too, and the progress
    bar's next write, or the closing line's, must not turn the clean stop into an error (or leave
    the decoder's thread blocked behind a close that never ran)."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()
        self.broken = False

    def _gone(self) -> None:
        with self._lock:
            if self.broken:
                return
            self.broken = True
            # Python flushes the real stderr again at exit: give it somewhere to go
            with contextlib.suppress(OSError, ValueError, AttributeError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self._stream.fileno())
                os.close(null)

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
                self._gone()
            except OSError as err:
                if err.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                self._gone()
            except OSError as err:
                if err.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded_stderr():
    """While a command runs, ``sys.stderr`` is a ``PipeSafeStream`` over what it was (progress bars,
    warnings and the closing line all write through it); put back afterwards."""
    saved = sys.stderr
    if saved is None or isinstance(saved, PipeSafeStream):
        yield
        return
    sys.stderr = PipeSafeStream(saved)
    try:
        yield
    finally:
        sys.stderr = saved


def leave(code: int) -> None:
    """End the process at once with ``code`` after a stop by Ctrl-C or SIGTERM, its clean-up done:
    the exit handlers run (Ray's, multiprocessing's), the interpreter's teardown does not. A film
    interrupted mid-batch can leave an FFmpeg codec context to the garbage collector at teardown,
    whose freeing waited for good on its frame threads (the process hung after printing its line)."""
    import atexit

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    os._exit(code)


def start_heavy(debug: bool) -> None:
    """Ready the process for the heavy modules, before the first of them loads: torch's OpenMP
    workers would otherwise spin between batches on the cores x264 encodes on (benchmarks/README.md:
    +20 % end to end on 2 cores; the user's own setting wins), and FFmpeg's own chatter would break
    the one-line errors. Cheap to call again."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import av

    if not debug:
        av.logging.set_level(av.logging.PANIC)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a scheduler): the same clean stop as Ctrl-C."""


@contextlib.contextmanager
def terminate_cleanly():
    """While the command runs, SIGTERM raises ``Terminated`` in the main thread, so that every
    temporary output is removed and every worker ended on the way out, as for Ctrl-C."""
    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding host): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(err: KeyboardInterrupt, prog: str, what: str) -> None:
    """The closing line of a run stopped by Ctrl-C (exit 130) or SIGTERM (exit 143): "interrupted"
    or "terminated", then ``what`` ("; no output written", " after ...")."""
    how, code = ("terminated", 143) if isinstance(err, Terminated) else ("interrupted", 130)
    fail(f"{how}{what}", code, prog=prog)


def count(n: int, noun: str) -> str:
    """``1 shot``, ``2 shots``: a number with its noun (plural with an s)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def one_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def usage_code(err: BaseException) -> int:
    """The exit status of an error: 2 for a usage error (an option's value, as click's own), 1 else."""
    return 2 if isinstance(err, OptionError) else 1


def fail(message: str, code: int = 1, prog: str = "vidcolor") -> None:
    click.echo(f"{prog}: error: {message}", err=True)
    sys.exit(code)


def warnings_as(prog: str):
    """Warnings shown as one line under the command's own name."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        click.echo(f"{prog}: warning: {message}", err=True)
    return show
