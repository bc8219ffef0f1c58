"""A run ended from outside: SIGTERM cleans up as Ctrl-C does, workers die with their driver, and
what a killed run left behind is removed by the next run into the same folder."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, cli, run_signalled
from media import make_clip, probe

from vidcolor import tempfiles
from vidcolor.command import Terminated, terminate_cleanly
from vidcolor.imageio import write_image
from vidcolor.options import VideoOptions
from vidcolor.parallel import colorize_video_parallel
from vidcolor.pool import LocalPool
from vidcolor.workers import ModelSpec, run_segment

def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if tempfiles.TEMP_MARKER in p.name)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_film_leaves_no_partial_file(tmp_path, tiny_weights, signum, code, word):
    film = make_clip(tmp_path / "film.mp4", frames=60, width=96, height=64, grey=True)
    proc = run_signalled(signum, 1, film, tmp_path / "out.mp4", "--model", tiny_weights, "--batch-size", "2", "-q")
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip() == f"vidcolor: error: {word}; no output written"
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_sigterm_in_a_folder_run_keeps_the_films_done_and_nothing_partial(tmp_path, tiny_weights):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        make_clip(src / f"film{i}.mp4", frames=30, width=96, height=64, grey=True)
    proc = run_signalled(signal.SIGTERM, 2, src, out, "--model", tiny_weights, "--batch-size", "2", "-q")
    assert proc.returncode == 143, proc.stderr
    assert "terminated after 1 files were completed (kept)" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["film0.mp4"]
    assert len(probe(out / "film0.mp4")["times"]) == 30


def terminates_on_segment_1(spec, threads, job, progress=None):
    """`kill` reaches the driver while the workers are busy."""
    if job.segment.number == 1:
        os.kill(os.getppid(), signal.SIGTERM)
    return run_segment(spec, threads, job, progress)


@pytest.mark.slow
def test_sigterm_to_a_jobs_driver_ends_the_workers_and_removes_every_segment(tmp_path, tiny_weights):
    import multiprocessing
    film = make_clip(tmp_path / "f.mp4", frames=60, width=64, height=48, grey=True, keyint=10)
    out = tmp_path / "out"
    out.mkdir()
    spec = ModelSpec(model=str(tiny_weights), device="cpu", size=32)
    with pytest.raises(Terminated):
        with terminate_cleanly():
            with LocalPool(terminates_on_segment_1, spec, 2, threads=1) as pool:
                colorize_video_parallel(pool, film, out / "f.mp4", VideoOptions(), segment_seconds=0.8, progress=False)
    assert list(out.iterdir()) == []
    assert multiprocessing.active_children() == []


def sleeps(spec, threads, job, progress=None):
    Path(job, f"{os.getpid()}.pid").write_text("")
    time.sleep(120)
    return "done", None


def process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return True


DRIVER = r"""
import sys
sys.path.insert(0, sys.argv[2])
from test_signals import sleeps
from vidcolor.pool import LocalPool
with LocalPool(sleeps, None, 2, threads=1) as pool:
    list(pool.run([sys.argv[1], sys.argv[1]]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_their_driver_even_when_it_is_killed(tmp_path):
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path), str(Path(__file__).parent)], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*.pid"))) < 2:  # both workers hold a job
            assert time.monotonic() < deadline and driver.poll() is None, "the workers never started"
            time.sleep(0.1)
        workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
        driver.kill()
        driver.wait(timeout=60)
        deadline = time.monotonic() + 30
        while not all(process_gone(pid) for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its driver"
            time.sleep(0.1)
    finally:
        driver.kill()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_later_run_removes_what_dead_runs_left_and_nothing_else(tmp_path, tiny_weights):
    dead, host = dead_pid(), tempfiles.HOST
    other_host = "0" * 6 if host != "0" * 6 else "1" * 6
    stale = [f".v.mp4.vidcolor-tmp-{host}-{dead}.mp4",  # a film's temporary
             f".v.mp4.vidcolor-tmp-{host}-{dead}-5f3a9c01-segment-0001.mp4",  # a --jobs segment
             f"..v.mp4.vidcolor-tmp-{host}-{dead}-5f3a9c01-segment-0002.mp4.vidcolor-tmp-{host}-1.mp4"]
    kept = [f".v.mp4.vidcolor-tmp-{host}-{os.getpid()}.mp4",  # a run still going
            f".v.mp4.vidcolor-tmp-{other_host}-{dead}.mp4",  # another node's, on a shared folder
            ".notes.txt", "v.mp4"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / f".keys.vidcolor-tmp-{host}-{dead}").mkdir()  # a keyframe folder half made
    write_image(tmp_path / "grey.png", np.full((16, 16), 100, np.uint8))
    tempfiles._swept.discard(os.path.abspath(tmp_path))
    result = cli(tmp_path / "grey.png", tmp_path / "colour.png", "--model", tiny_weights)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["grey.png", "colour.png", tiny_weights.name])


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["dies", "reads"])
def test_ctrl_c_exits_130_when_stderr_is_a_pipe(tmp_path, tiny_weights, reader):
    """`vidcolor FILM OUT 2>&1 | tee log` stopped by Ctrl-C: the pipe's reader dies with the run (or
    keeps reading): the run still ends at once with 130, and writes nothing."""
    film = make_clip(tmp_path / "film.mp4", frames=2000, width=96, height=64, grey=True)
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-c", "from vidcolor.cli import main; main()", str(film), str(out),
                             "--model", tiny_weights, "--batch-size", "2"],
                            cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        seen = b""
        while b"frame/s" not in seen:  # the progress bar is running
            chunk = proc.stderr.read1(4096)
            assert chunk, "the run ended before its progress bar showed"
            seen += chunk
        if reader == "dies":
            proc.stderr.close()
        proc.send_signal(signal.SIGINT)
        if reader == "reads":
            rest = proc.communicate(timeout=60)[1].decode()
            assert rest.rstrip().endswith("vidcolor: error: interrupted; no output written"), rest[-300:]
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
        proc.wait()
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_dead_pipe_on_stderr_is_quiet_not_an_error():
    from vidcolor.command import PipeSafeStream

    class Dead:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            raise OSError("no descriptor")

    stream = PipeSafeStream(Dead())
    assert stream.write("progress\n") == len("progress\n") and stream.broken
    stream.flush()
    assert stream.write("the closing line\n") == len("the closing line\n")


def test_a_folder_run_leaves_other_live_runs_temporaries_alone(tmp_path, tiny_weights):
    """Two folder runs into one DST (or a Ray run's end): each sweeps only what dead runs left, at
    every depth; a live run's temporaries (this host's or another node's) are untouched."""
    dead, host = dead_pid(), tempfiles.HOST
    src, dst = tmp_path / "in", tmp_path / "out"
    (src / "a").mkdir(parents=True)
    write_image(src / "a" / "grey.png", np.full((16, 16), 100, np.uint8))
    (dst / "a").mkdir(parents=True)
    live = [f".x.png.vidcolor-tmp-{host}-{os.getpid()}.png", f".y.mp4.vidcolor-tmp-{'0' * 6 if host != '0' * 6 else '1' * 6}-{dead}.mp4"]
    stale = f".z.png.vidcolor-tmp-{host}-{dead}.png"
    for folder in (dst, dst / "a"):
        for name in live + [stale]:
            (folder / name).write_bytes(b"x")
    result = cli(src, dst, "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.output
    for folder in (dst, dst / "a"):
        names = sorted(p.name for p in folder.iterdir() if tempfiles.TEMP_MARKER in p.name)
        assert names == sorted(live), (folder, names)
