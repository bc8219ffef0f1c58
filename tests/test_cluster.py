"""Folder mode on a real local Ray cluster (127.0.0.1 only): same outputs, retries, clear reasons."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import gradient_image
from media import make_clip, probe

import vidcolor.cluster as cluster_module
from vidcolor import colorize_folder, colorize_video, load_model, write_image
from vidcolor.cluster import LOOPBACK_ONLY_ENV, ModelSpec, RayPool, colorize_folder_ray, colorize_one, start_local
from vidcolor.options import ParallelOptions, VideoOptions
from vidcolor.parallel import colorize_video_parallel
from vidcolor.workers import run_segment

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ[LOOPBACK_ONLY_ENV] = "0"  # before Ray is imported: every address it takes is 127.0.0.1
ray = pytest.importorskip("ray")  # CI installs the [ray] extra, so this runs there


KILL_HOOK = Path(__file__).parent / "killhook"  # its sitecustomize kills a worker on request


@pytest.fixture(scope="module")
def kill_request(tmp_path_factory) -> Path:
    """Where a test puts a file to have one Ray worker kill itself 5 frames into a file."""
    return tmp_path_factory.mktemp("kill") / "request"


@pytest.fixture(scope="module")
def cluster(kill_request):
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "VIDCOLOR_TEST_KILL_REQUEST")}
    # every process Ray starts inherits these: its workers load the kill hook
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KILL_HOOK), saved["PYTHONPATH"]]))
    os.environ["VIDCOLOR_TEST_KILL_REQUEST"] = str(kill_request)
    start_local(num_cpus=2)
    for key, value in saved.items():  # this process and the tests' subprocesses go on without it
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    # nothing may listen on or talk to the machine's own interface address
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    yield ray
    ray.shutdown()


def tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    write_image(root / "a.png", gradient_image(30, 40))
    write_image(root / "sub" / "b.jpg", gradient_image(25, 35, seed=1))
    write_image(root / "c.png", gradient_image(20, 20, channels=1, seed=2))
    (root / "broken.jpg").write_text("not a photo")
    (root / "notes.txt").write_text("shot list")
    return root


def files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_same_outputs_and_summary_as_local_folder_mode(cluster, tmp_path, tiny_model, tiny_weights):
    src = tree(tmp_path / "in")
    local = colorize_folder(tiny_model, src, tmp_path / "local", progress=False)
    spec = ModelSpec(model=str(tiny_weights), device="cpu", precision="auto")
    remote = colorize_folder_ray(spec, src, tmp_path / "ray", progress=False)
    assert files(tmp_path / "local") == files(tmp_path / "ray")  # byte for byte
    assert remote.done == local.done and remote.ignored == local.ignored
    assert remote.failed == local.failed and remote.failed[0][0] == "broken.jpg"
    again = colorize_folder_ray(spec, src, tmp_path / "ray", progress=False)
    assert again.done == [] and sorted(again.skipped) == sorted(local.done)  # a rerun resumes


@pytest.mark.slow
def test_a_ray_run_where_every_file_fails_leaves_no_output_folder(cluster, tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    (src / "broken.jpg").write_text("not a photo")
    (src / "empty.png").write_bytes(b"")
    spec = ModelSpec(model=str(tiny_weights), device="cpu", precision="auto")
    summary = colorize_folder_ray(spec, src, tmp_path / "out", progress=False)
    assert sorted(rel for rel, _ in summary.failed) == ["broken.jpg", "empty.png"] and not summary.done
    assert not (tmp_path / "out").exists()  # as local folder mode


def killed_worker(request: Path) -> int | None:
    """The pid of the worker that claimed the kill request (and died), or None."""
    claimed = list(request.parent.glob(request.name + ".*"))
    for path in claimed:
        path.unlink()
    return int(claimed[0].suffix[1:]) if claimed else None


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_leaves_nothing_partial(cluster, kill_request, tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "film.mp4", frames=60, width=320, height=240, audio=None, grey=True)
    spec = ModelSpec(model=str(tiny_weights), device="cpu", precision="fp32")
    kill_request.touch()  # the worker dies 5 frames into the film, its temporary half written
    summary = colorize_folder_ray(spec, src, tmp_path / "out", progress=False)
    assert not kill_request.exists() and killed_worker(kill_request), "no worker died mid-file"
    assert summary.done == ["film.mp4"] and not summary.failed
    assert len(probe(tmp_path / "out" / "film.mp4")["times"]) == 60
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["film.mp4"]  # no temporary left


def test_a_worker_that_cannot_see_the_file_says_so(tmp_path, tiny_weights):
    status, reason = colorize_one(ModelSpec(model=str(tiny_weights)), str(tmp_path / "elsewhere.png"),
                                  str(tmp_path / "out.png"), "image", VideoOptions())
    assert status == "failed" and "not visible on node" in reason and "every node" in reason, (status, reason)


def test_without_ray_the_cli_says_what_to_install(monkeypatch, tmp_path, tiny_weights):
    from click.testing import CliRunner

    from vidcolor.cli import main
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", gradient_image(8, 8))
    result = CliRunner().invoke(main, [str(tmp_path / "in"), str(tmp_path / "out"), "--ray", "--model",
                                       str(tiny_weights)])
    assert result.exit_code == 1 and "pip install '.[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_ray_option_refuses_a_still(tmp_path, tiny_weights):
    from click.testing import CliRunner

    from vidcolor.cli import main
    write_image(tmp_path / "a.png", gradient_image(8, 8))
    result = CliRunner().invoke(main, [str(tmp_path / "a.png"), str(tmp_path / "o.png"), "--ray", "--ray-address", "127.0.0.1:1"])
    assert result.exit_code == 2 and "--ray colourizes films and folders; " in result.output


@pytest.mark.slow
def test_one_film_in_segments_on_ray_survives_a_killed_worker_and_matches_local(cluster, kill_request, tmp_path,
                                                                                 tiny_weights):
    film = make_clip(tmp_path / "film.mp4", frames=120, width=320, height=240, grey=True, keyint=20)
    out = tmp_path / "out"
    out.mkdir()
    spec = ModelSpec(model=str(tiny_weights), device="cpu", precision="fp32")
    colorize_video(load_model(str(tiny_weights), "cpu"), film, tmp_path / "local.mp4", precision="fp32",
                   progress=False)
    result = {}
    kill_request.touch()  # one worker dies 5 frames into its segment
    with RayPool(run_segment, spec) as pool:
        result["s"] = colorize_video_parallel(pool, film, out / "film.mp4", segment_seconds=1.6, progress=False)
    assert not kill_request.exists() and killed_worker(kill_request), "no worker died mid-segment"
    assert result["s"]["segments"] == 3 and result["s"]["frames"] == 120
    a, b = probe(tmp_path / "local.mp4"), probe(out / "film.mp4")
    assert b["times"] == a["times"] and b["audio_packets"] == a["audio_packets"] and a["audio_packets"]
    scores = [10 * np.log10(255 ** 2 / max(((x.astype(float) - y) ** 2).mean(), 1e-10)) for x, y in zip(a["rgb"], b["rgb"])]
    assert np.mean(scores) >= 40 and min(scores) >= 33
    assert [p.name for p in out.iterdir()] == ["film.mp4"]  # no segment or temporary left


@pytest.mark.slow
def test_a_folder_on_ray_splits_its_long_films_and_matches_local_folder_mode(cluster, tmp_path, tiny_model,
                                                                             tiny_weights, monkeypatch):
    src = tmp_path / "in"
    (src / "reels").mkdir(parents=True)
    make_clip(src / "reels" / "long.mkv", frames=75, width=96, height=64, grey=True, keyint=10, audio="ac3")
    make_clip(src / "short.mp4", frames=12, width=96, height=64, grey=True)
    write_image(src / "a.png", gradient_image(30, 40))
    colorize_folder(tiny_model, src, tmp_path / "local", progress=False)
    spec = ModelSpec(model=str(tiny_weights), device="cpu", precision="auto")
    splits, plan = {}, cluster_module._long_film

    def long_film(path, *args):
        splits[path.name] = plan(path, *args)
        return splits[path.name]

    monkeypatch.setattr(cluster_module, "_long_film", long_film)
    summary = colorize_folder_ray(spec, src, tmp_path / "ray", parallel=ParallelOptions(ray=True, segment_seconds=0.8),
                                  progress=False)
    assert splits["short.mp4"] is None and len(splits["long.mkv"].jobs) >= 3  # the long film went in segments
    assert summary.done == ["a.png", "reels/long.mkv", "short.mp4"] and not summary.failed
    for rel in ("reels/long.mkv", "short.mp4"):
        a, b = probe(tmp_path / "local" / rel), probe(tmp_path / "ray" / rel)
        assert b["times"] == a["times"] and b["audio_packets"] == a["audio_packets"]
        scores = [10 * np.log10(255 ** 2 / max(((x.astype(float) - y) ** 2).mean(), 1e-10))
                  for x, y in zip(a["rgb"], b["rgb"])]
        assert np.mean(scores) >= 40 and min(scores) >= 33, (rel, np.mean(scores), min(scores))
    assert sorted(p.name for p in (tmp_path / "ray" / "reels").iterdir()) == ["long.mkv"]  # no segment left
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == ["a.png", "reels", "short.mp4"]


def test_a_cluster_that_cannot_be_joined_leaves_no_output_folder(tmp_path, tiny_weights, monkeypatch):
    from click.testing import CliRunner

    from vidcolor import cluster
    from vidcolor.cli import main
    from vidcolor.errors import ImageError

    def refuse(address=None):
        raise ImageError(f"--ray-address {address}: cannot join that cluster (refused)")

    monkeypatch.setattr(cluster, "connect", refuse)
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", gradient_image(8, 8))
    result = CliRunner().invoke(main, [str(src), str(tmp_path / "out"), "--ray", "--ray-address", "127.0.0.1:1",
                                       "--model", str(tiny_weights)])
    assert result.exit_code == 1 and "cannot join that cluster" in result.output, result.output
    assert not (tmp_path / "out").exists()
