"""One film over many workers (--jobs): the segment plan, the local pool's retries, the join
against a local run (frames, times, sound, colour), and nothing partial left on any failure."""
import errno
import multiprocessing
import os
import re
import signal
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import cli, one_error_line
from media import make_clip, make_shots_film, probe

import vidcolor
from vidcolor.decode import VideoReader
from vidcolor.errors import VideoError
from vidcolor.options import VideoOptions
from vidcolor.parallel import colorize_video_parallel
from vidcolor.pool import RETRIES, LocalPool
from vidcolor.segments import SETTLED, FilmIndex, plan_segments, scan_film, warmup_frames
from vidcolor.workers import ModelSpec, run_segment

RATE = 25
KEYINT = 10  # the test films' keyframe interval: several places to split a 3-second film


def index_of(frames: int, keyframes: list[int], rate: int = RATE) -> FilmIndex:
    return FilmIndex(np.arange(frames, dtype=np.int64) * 512, keyframes, 1 / (512 * rate))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean()
    return float(10 * np.log10(255 ** 2 / max(mse, 1e-10)))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "vidcolor-" in p.name)


# --- the plan ---------------------------------------------------------------------------------

def test_warm_up_leaves_less_than_settled_of_the_history():
    for strength in (0.3, 0.6, 0.9):
        w = warmup_frames(strength)
        assert strength ** w <= SETTLED < strength ** (w - 1)
    assert warmup_frames(0.0) == 0


def test_segments_cover_the_film_once_and_start_at_keyframes():
    index = index_of(300, list(range(0, 300, 12)))  # 12 s at 25 fps, a keyframe every 12 frames
    plan = plan_segments(index, 2.0, 14)
    assert [s.number for s in plan] == list(range(len(plan)))
    assert plan[0].start == 0 and plan[-1].end == 300
    assert all(a.end == b.start for a, b in zip(plan, plan[1:]))
    for seg in plan:
        assert seg.start % 12 == 0  # a source keyframe
        assert 1.0 <= seg.frames / RATE <= 3.0 or seg is plan[-1]
        assert seg.warmup == (0 if seg.start == 0 else 14)
        first = seg.start - seg.warmup
        assert seg.seek_pts <= seg.first_pts == index.pts[first]  # decoding starts at or before the warm-up
        assert seg.seek_pts // 512 in index.sync_frames
        assert seg.end_pts == (index.pts[seg.end] if seg.end < 300 else None)


def test_a_shot_start_near_the_target_wins_over_a_keyframe_and_needs_no_warm_up():
    index = index_of(200, list(range(0, 200, 10)))
    plan = plan_segments(index, 2.0, 14, shot_starts=[37, 123])  # 1.48 s and 4.92 s
    assert [s.start for s in plan][:2] == [0, 37]
    assert plan[1].warmup == 0 and plan[1].seek_pts == 30 * 512  # decoded from the keyframe before it
    assert any(s.start == 123 and s.warmup == 0 for s in plan)


def test_a_film_that_cannot_be_split_is_one_whole_segment():
    index = FilmIndex(np.arange(100, dtype=np.int64), [0], 0.04, "two of its frames share a timestamp")
    assert [(s.number, s.start, s.end) for s in plan_segments(index, 1.0, 14)] == [(None, 0, 100)]
    # with one keyframe only there is nowhere to split
    assert [s.number for s in plan_segments(index_of(100, [0]), 1.0, 14)] == [None]


def test_the_scan_finds_every_frame_and_the_keyframes(tmp_path):
    film = make_clip(tmp_path / "k.mp4", frames=45, keyint=KEYINT, audio=None)
    reader = VideoReader(film)
    index = scan_film(reader)
    reader.close()
    assert index.frames == 45 and index.why_not is None
    assert index.sync_frames[0] == 0 and max(np.diff(index.sync_frames + [45])) <= KEYINT
    avi = make_clip(tmp_path / "k.avi", frames=10, codec="mpeg4", audio=None)
    reader = VideoReader(avi)
    assert "AVI" in scan_film(reader).why_not
    reader.close()


# --- the local pool ---------------------------------------------------------------------------

def dies_once(spec, threads, job, progress=None):
    """A job whose worker is killed the first time it runs it (a marker file remembers)."""
    marker = Path(job) / "tried"
    if not marker.exists():
        marker.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return "done", threads


def always_dies(spec, threads, job, progress=None):
    with open(Path(job) / "attempts", "a") as f:
        f.write("x")
    os._exit(3)


def fails_for_itself(spec, threads, job, progress=None):
    with open(Path(job) / "attempts", "a") as f:
        f.write("x")
    return "failed", "damaged video"


@pytest.mark.slow
def test_a_job_whose_worker_died_runs_again_on_a_new_worker(tmp_path):
    with LocalPool(dies_once, None, 2, threads=1) as pool:
        results = list(pool.run([str(tmp_path)]))
    assert results == [(0, "retry", 1), (0, "done", 1)]


@pytest.mark.slow
def test_a_job_that_keeps_killing_its_worker_fails_after_the_retries(tmp_path):
    (tmp_path / "a").mkdir()
    with LocalPool(always_dies, None, 1, threads=1) as pool:
        *retries, (number, status, reason) = list(pool.run([str(tmp_path / "a")]))
    assert retries == [(0, "retry", k) for k in range(1, RETRIES + 1)]
    assert status == "failed" and f"died {RETRIES + 1} times" in reason and "exit code 3" in reason
    assert (tmp_path / "a" / "attempts").read_text() == "x" * (RETRIES + 1)


def its_threads(spec, threads, job, progress=None):
    return "done", threads


@pytest.mark.slow
def test_one_job_gets_every_core_whatever_the_workers_asked():
    """An unsplittable film is one job: its one process takes all the cores, not 1/N of them."""
    from vidcolor.pool import available_cores
    with LocalPool(its_threads, None, 4) as pool:
        assert list(pool.run(["a"])) == [(0, "done", available_cores())]
    with LocalPool(its_threads, None, 2, threads=1) as pool:
        assert list(pool.run(["a"])) == [(0, "done", 1)]


def its_spec(spec, threads, job, progress=None):
    """Which spec (device) the worker runs; the job "die:DIR" kills its worker the first time."""
    if job.startswith("die:"):
        dies_once(spec, threads, job[4:])
    return "done", spec


@pytest.mark.slow
def test_workers_take_their_devices_round_robin_and_a_replacement_keeps_its_slot(tmp_path):
    """--devices: worker slot k runs spec k mod n (one GPU per worker); a worker that dies comes
    back on its own slot's device, not on the next one's."""
    from vidcolor.workers import specs_on

    specs = specs_on(ModelSpec(device="cpu"), ("cpu", "cpu"))
    assert [s.device for s in specs] == ["cpu", "cpu"]
    assert specs_on(ModelSpec(device="cpu"), None) == [ModelSpec(device="cpu")]  # no GPUs here: as it was
    with LocalPool(its_spec, ["A", "B"], 2, threads=1) as pool:
        results = list(pool.run(["x", "y"]))
        assert sorted(v for _, status, v in results if status == "done") == ["A", "B"]
        assert sorted(pool.slots.values()) == [0, 1]
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        results = list(pool.run([f"die:{tmp_path / 'a'}", f"die:{tmp_path / 'b'}"]))
        assert [status for _, status, _ in results].count("retry") == 2
        assert sorted(v for _, status, v in results if status == "done") == ["A", "B"]
        assert sorted(pool.slots.values()) == [0, 1] and pool.next_id == 4


@pytest.mark.slow
def test_a_job_that_fails_for_its_own_reason_is_not_run_again(tmp_path):
    with LocalPool(fails_for_itself, None, 2, threads=1) as pool:
        assert list(pool.run([str(tmp_path)])) == [(0, "failed", "damaged video")]
    assert (tmp_path / "attempts").read_text() == "x"


# --- the film against a local run --------------------------------------------------------------

def frames_of(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.slow
@pytest.mark.parametrize("name, audio", [("film.mp4", "aac"), ("film.mkv", "ac3")])
def test_jobs_write_the_film_a_local_run_writes(tmp_path, tiny_weights, name, audio):
    film = make_clip(tmp_path / name, frames=75, width=96, height=64, grey=True, keyint=KEYINT, audio=audio)
    local, split = tmp_path / f"local{Path(name).suffix}", tmp_path / "out" / f"jobs{Path(name).suffix}"
    split.parent.mkdir()
    model = ["--model", str(tiny_weights), "--size", "32"]
    assert cli(film, local, *model, "-q").exit_code == 0
    result = cli(film, split, *model, "--jobs", "2", "--segment-seconds", "0.8")
    assert result.exit_code == 0, result.output
    assert re.search(r"75 frames in [3-5] segments on 2 workers", result.output), result.output
    a, b = probe(local), probe(split)
    assert b["times"] == a["times"] and len(b["times"]) == 75
    assert b["duration"] == a["duration"] and b["rate"] == a["rate"]  # not a frame short
    assert b["audio_packets"] == a["audio_packets"] and a["audio_packets"]
    assert b["audio"] == a["audio"] and b["size"] == a["size"]
    scores = [psnr(x, y) for x, y in zip(a["rgb"], b["rgb"])]
    assert np.mean(scores) >= 40 and min(scores) >= 33, (np.mean(scores), min(scores))
    assert leftovers(split.parent) == []


def mpeg2_ts(path, frames: int = 60) -> str:
    """MPEG-2 in MPEG-TS, as broadcast archives hold it: open GOPs, and no index (seeks are estimates)."""
    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("mpeg2video", rate=RATE, options={"g": "12", "bf": "2"})
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        for i in range(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(grey_pattern(i), format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    return str(path)


def grey_pattern(i: int) -> np.ndarray:
    from media import pattern
    return np.repeat(pattern(i, 96, 64).mean(-1, keepdims=True).astype(np.uint8), 3, -1)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mpeg-ts", "variable frame rate"])
def test_jobs_match_local_on_a_film_without_an_index_and_on_a_variable_frame_rate(tmp_path, tiny_weights, kind):
    if kind == "mpeg-ts":
        film = mpeg2_ts(tmp_path / "f.ts")
    else:
        steps = np.random.default_rng(0).choice([400, 512, 700, 1024], 59)
        film = make_clip(tmp_path / "f.mp4", frames=60, pts=np.cumsum([0, *steps]).tolist(),
                         time_base=Fraction(1, 12800), grey=True, keyint=KEYINT, audio=None)
    model = ["--model", str(tiny_weights)]
    assert cli(film, tmp_path / "local.mp4", *model, "-q").exit_code == 0
    result = cli(film, tmp_path / "split.mp4", *model, "--jobs", "2", "--segment-seconds", "0.8")
    assert result.exit_code == 0, result.output
    assert re.search(r"60 frames in [2-5] segments on 2 workers", result.output), result.output
    a, b = probe(tmp_path / "local.mp4"), probe(tmp_path / "split.mp4")
    assert b["times"] == a["times"] and len(a["times"]) == 60
    assert b["duration"] == a["duration"] and b["rate"] == a["rate"]  # not a frame short
    scores = [psnr(x, y) for x, y in zip(a["rgb"], b["rgb"])]
    assert np.mean(scores) >= 40 and min(scores) >= 33, (np.mean(scores), min(scores))


@pytest.mark.slow
def test_color_at_a_boundary_inside_a_shot_is_the_local_color(tmp_path, tiny_model, tiny_weights):
    """Lossless output, so only the colour can differ: the warm-up carries the smoother's history
    across each boundary (without it the first frames after one would differ)."""
    film = make_clip(tmp_path / "f.mp4", frames=60, width=64, height=48, grey=True, keyint=KEYINT, audio=None)
    options = VideoOptions(crf=0, smoothing=0.6)
    vidcolor.colorize_video(tiny_model, film, tmp_path / "local.mp4", options, progress=False, size=32)
    spec = ModelSpec(model=str(tiny_weights), device="cpu", size=32)
    with LocalPool(run_segment, spec, 2, threads=1) as pool:
        summary = colorize_video_parallel(pool, film, tmp_path / "split.mp4", options, segment_seconds=0.8,
                                          progress=False)
    assert summary["segments"] >= 2 and summary["unsplit"] is None
    scores = [psnr(x, y) for x, y in zip(frames_of(tmp_path / "local.mp4"), frames_of(tmp_path / "split.mp4"))]
    assert len(scores) == 60 and min(scores) >= 48, min(scores)


@pytest.mark.slow
def test_jobs_with_keyframes_split_at_shots_and_color_each_shot_from_its_own(tmp_path):
    film = tmp_path / "shots.mp4"
    starts = make_shots_film(film, (20, 24, 18), width=96, height=64)
    model = vidcolor.load_model("default", device="cpu")
    from vidcolor.keyframes import make_keyframes
    make_keyframes(model, film, tmp_path / "keys", progress=False)
    vidcolor.colorize_video(model, film, tmp_path / "local.mp4", progress=False, keyframes=tmp_path / "keys")
    with LocalPool(run_segment, ModelSpec(device="cpu"), 2, threads=1) as pool:
        summary = colorize_video_parallel(pool, film, tmp_path / "split.mp4", VideoOptions(keyframes=tmp_path / "keys"),
                                          segment_seconds=0.8, progress=False)
    assert summary["segments"] == 3  # one per shot: each shot start is near a target
    scores = [psnr(x, y) for x, y in zip(frames_of(tmp_path / "local.mp4"), frames_of(tmp_path / "split.mp4"))]
    assert len(scores) == sum((20, 24, 18)) and np.mean(scores) >= 40 and min(scores) >= 33, starts


@pytest.mark.slow
def test_a_film_that_cannot_be_split_goes_to_one_worker_whole(tmp_path, tiny_weights):
    film = make_clip(tmp_path / "f.avi", frames=20, codec="mpeg4", audio=None)
    result = cli(film, tmp_path / "out.mp4", "--model", str(tiny_weights), "--size", "32", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "20 frames in 1 segment on 1 worker (an AVI's frames" in result.output
    assert len(probe(tmp_path / "out.mp4")["times"]) == 20
    assert leftovers(tmp_path) == []


# --- nothing partial ----------------------------------------------------------------------------

def fails_on_segment_1(spec, threads, job, progress=None):
    if job.segment.number == 1:
        return "failed", "No space left on device"
    return run_segment(spec, threads, job, progress)


def interrupts_on_segment_1(spec, threads, job, progress=None):
    """Ctrl-C reaches the driver while the workers are busy."""
    if job.segment.number == 1:
        os.kill(os.getppid(), signal.SIGINT)
    return run_segment(spec, threads, job, progress)


@pytest.mark.slow
@pytest.mark.parametrize("entry, error, name", [(fails_on_segment_1, VideoError, "f.mp4"),
                                               (interrupts_on_segment_1, KeyboardInterrupt, "f.mp4"),
                                               (fails_on_segment_1, VideoError, "film [1080p].mp4")])
def test_a_failed_segment_or_ctrl_c_leaves_nothing(tmp_path, tiny_weights, entry, error, name):
    film = make_clip(tmp_path / "f.mp4", frames=60, width=64, height=48, grey=True, keyint=KEYINT)
    out = tmp_path / "out"
    out.mkdir()
    spec = ModelSpec(model=str(tiny_weights), device="cpu", size=32)
    with pytest.raises(error) as caught:
        with LocalPool(entry, spec, 2, threads=1) as pool:
            colorize_video_parallel(pool, film, out / name, segment_seconds=0.8, progress=False)
    if error is VideoError:
        assert re.search(r"segment 1 \(frames \d+ to \d+\): No space left on device$", str(caught.value))
    assert list(out.iterdir()) == []
    assert multiprocessing.active_children() == []  # every worker ended


@pytest.mark.slow
def test_a_full_disk_at_the_join_leaves_nothing(tmp_path, tiny_weights, monkeypatch):
    film = make_clip(tmp_path / "f.mp4", frames=40, width=64, height=48, grey=True, keyint=KEYINT)
    out = tmp_path / "out"
    out.mkdir()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("vidcolor.split.join_segments", full)
    spec = ModelSpec(model=str(tiny_weights), device="cpu", size=32)
    with pytest.raises(OSError, match="No space"):
        with LocalPool(run_segment, spec, 2, threads=1) as pool:
            colorize_video_parallel(pool, film, out / "f.mp4", segment_seconds=0.8, progress=False)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--jobs", "2", "--ray"], "--jobs and --ray exclude each other"),
    (["--segment-seconds", "5"], "--segment-seconds applies only with --jobs or --ray"),
    (["--threads", "2"], "--threads applies only with --jobs or --ray"),
    (["--jobs", "2", "--segment-seconds", "0"], "--segment-seconds must be at least 0.1 seconds"),
    (["--jobs", "2", "--segment-seconds", "inf"], "--segment-seconds must be at least 0.1 seconds (and finite), not inf"),
    (["--include-hidden"], "--include-hidden applies only to a folder SRC"),
    (["--jobs", "0"], "'--jobs': 0 is not in the range"),
    (["--devices", "cpu"], "--devices applies only with --jobs"),
    (["--jobs", "2", "--devices", "gpu0"], "--devices must be devices separated by commas"),
    (["--jobs", "2", "--devices", "cuda:0"], "--devices cuda was asked for but no CUDA GPU is available"),
])
def test_bad_parallel_options_fail_in_one_line_before_any_work(tmp_path, args, message):
    film = make_clip(tmp_path / "f.mp4", frames=5, audio=None)
    result = cli(film, tmp_path / "out.mp4", *args)
    one_error_line(result, message)
    assert not (tmp_path / "out.mp4").exists()


def test_jobs_refuse_a_still_and_a_folder(tmp_path):
    film = make_clip(tmp_path / "f.mp4", frames=5, audio=None)
    one_error_line(cli(film, tmp_path / "o.png", "--jobs", "2"), "--jobs applies to films")
    one_error_line(cli(tmp_path, tmp_path / "o", "--jobs", "2"), "for a folder use --ray")


@pytest.mark.slow
def test_workers_report_their_frames_as_they_go(tmp_path, tiny_weights):
    """The driver's bar moves inside segments: each job reports frames before it is done, never
    more than it holds."""
    film = make_clip(tmp_path / "f.mp4", frames=60, width=64, height=48, grey=True, keyint=KEYINT, audio=None)
    out = tmp_path / "out.mp4"
    from vidcolor.split import split_film
    split = split_film(film, out, 0.8, VideoOptions(batch_size=2))
    spec = ModelSpec(model=str(tiny_weights), device="cpu", size=32)
    told, done = {}, {}
    try:
        with LocalPool(run_segment, spec, 2, threads=1) as pool:
            for number, status, value in pool.run(split.jobs):
                if status == "progress":
                    assert number not in done
                    told[number] = told.get(number, 0) + value
                elif status == "done":
                    done[number] = value.frames
    finally:
        split.clean()
    assert len(done) == len(split.jobs) > 1 and sum(done.values()) == 60
    assert set(told) == set(done) and all(0 < told[n] <= done[n] for n in done)


def test_more_jobs_than_cores_is_said(tmp_path, tiny_weights, monkeypatch):
    import os
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    film = make_clip(tmp_path / "f.mp4", frames=4, width=64, height=48, audio=None)
    result = cli(film, tmp_path / "nowhere" / "out.mp4", "--jobs", "64", "--model", tiny_weights)
    assert "warning: --jobs 64 on 2 cores" in result.output
