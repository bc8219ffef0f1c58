"""The defects a new user hit in a trial (issue 20): each test failed before its fix."""
import subprocess
import sys
import warnings
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

import vidcolor
from conftest import cli, gradient_image, one_error_line
from media import make_clip, probe
from test_training import colour_folder
from training import evaluate, export, train
from vidcolor import ImageError, VideoError, colorize_image, load_model, write_image
from vidcolor.cli import check_crf
from vidcolor.errors import ModelFileError
from vidcolor.video import colorize_video

REPO = Path(__file__).resolve().parents[1]


def audio_of(path):
    with av.open(str(path)) as c:
        a = c.streams.audio[0].codec_context
        return av.codec.Codec(a.name, "r").canonical_name, a.sample_rate


@pytest.mark.parametrize("codec", ["aac", "mp3", "pcm_s16le"])
def test_44k_audio_into_webm_is_resampled_to_48k_opus(tmp_path, tiny_model, codec):
    src = make_clip(tmp_path / "in.mkv", frames=8, audio=codec, sample_rate=44100)
    with pytest.warns(vidcolor.VidcolorWarning, match="libopus at 48000 Hz"):
        colorize_video(tiny_model, src, tmp_path / "out.webm", progress=False)
    assert audio_of(tmp_path / "out.webm") == ("opus", 48000)
    duration = probe(tmp_path / "out.webm")["audio_packets"][-1][1]
    assert duration == pytest.approx(probe(src)["audio_packets"][-1][1], abs=0.05)


def test_mp3_goes_into_mp4_as_it_is(tmp_path, tiny_model):
    src = make_clip(tmp_path / "in.mkv", frames=8, audio="mp3", sample_rate=44100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "re-encoding" warning, no decoder name
        colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    assert audio_of(tmp_path / "out.mp4") == ("mp3", 44100)
    assert [p[0] for p in probe(tmp_path / "out.mp4")["audio_packets"]] == [p[0] for p in probe(src)["audio_packets"]]


def test_the_api_never_replaces_its_input_nor_an_output_unasked(tmp_path, tiny_model):
    src = make_clip(tmp_path / "same.mp4", frames=4, audio=None)
    before = Path(src).read_bytes()
    with pytest.raises(VideoError, match="overwrite the input"):
        colorize_video(tiny_model, src, src, progress=False, overwrite=True)
    assert Path(src).read_bytes() == before
    (tmp_path / "out.mp4").write_bytes(b"precious")
    with pytest.raises(VideoError, match="overwrite=True"):
        colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False)
    assert (tmp_path / "out.mp4").read_bytes() == b"precious"
    colorize_video(tiny_model, src, tmp_path / "out.mp4", progress=False, overwrite=True)
    assert len(probe(tmp_path / "out.mp4")["times"]) == 4


@pytest.mark.parametrize("option, value, words", [
    ("--codec", "aac", ["--codec must be a video encoder"]),
    ("--codec", "libopus", ["--codec must be a video encoder"]),
    ("--codec", "srt", ["--codec must be a video encoder"]),
    ("--crf", "52", ["--crf 52", "0-51", "libx264"]),
    ("--temperature", "inf", ["--temperature", "and 100"]),
    ("--temperature", "1e30", ["--temperature", "and 100"]),
    ("--temperature", "nan", ["--temperature"]),
    ("--size", "100000", ["--size", "2048"]),
    ("--image-format", "png", ["--image-format applies to folder runs"]),
    ("--gpus-per-task", "0.5", ["--gpus-per-task applies only with --ray"]),
    ("--ray-address", "127.0.0.1:1", ["--ray-address applies only with --ray"]),
])
def test_bad_options_are_one_line_before_any_work(tmp_path, tiny_weights, option, value, words):
    src = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    one_error_line(cli(src, tmp_path / "out.mp4", "--model", tiny_weights, option, value), *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "tiny.pt"]


def test_crf_range_follows_the_codec():
    check_crf(63, None, [Path("a.webm")], None)  # VP9: 0-63
    check_crf(51, "libx265", [Path("a.mkv")], None)
    with pytest.raises(ValueError, match="0-51"):
        check_crf(60, None, [Path("a.mkv")], None)
    check_crf(60, None, None, "webm")  # a folder run whose videos all become .webm
    with pytest.raises(ValueError, match="--video-ext webm"):
        check_crf(60, None, None, None)  # a folder run keeps .mp4 as H.264


def test_ray_as_the_first_option_leaves_src_and_dst_alone(tmp_path, tiny_weights):
    write_image(tmp_path / "a.png", gradient_image(10, 10))
    # before: --ray took a value and swallowed SRC ("Missing argument 'DST'")
    one_error_line(cli("--ray", tmp_path / "a.png", tmp_path / "o.png", "--model", tiny_weights),
                   "--ray colourizes folders")


@pytest.mark.parametrize("content, words", [
    (b"\xff\xd8\xff\xe0" + bytes(200), "not a vidcolor weights file"),  # a JPEG
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "not a vidcolor weights file"),  # a PNG
    (None, "is a folder"),
])
def test_model_that_is_not_weights_says_so(tmp_path, content, words):
    path = tmp_path / "model.pt"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=words):
        load_model(path, device="cpu")


@pytest.mark.slow
def test_truncated_png_prints_one_line_only(tmp_path, tiny_weights):
    ok, data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (tmp_path / "cut.png").write_bytes(data.tobytes()[: data.size // 2])
    proc = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "cut.png"), str(tmp_path / "o.png"),
                           "--model", str(tiny_weights)], capture_output=True, text=True, cwd=REPO, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("vidcolor: error:"), proc.stderr
    assert not (tmp_path / "o.png").exists()


def test_an_empty_array_is_an_image_error(tiny_model):
    for shape in ((0, 5), (5, 0, 3), (0, 0)):
        with pytest.raises(ImageError, match="empty"):
            colorize_image(tiny_model, np.zeros(shape, np.uint8))


def test_a_folder_without_media_leaves_no_output_folder(tmp_path, tiny_weights):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("no pictures here")
    result = cli(tmp_path / "src", tmp_path / "dst", "--model", tiny_weights, "-q")
    assert result.exit_code == 1 and "no photo or video" in result.output
    assert not (tmp_path / "dst").exists()
    (tmp_path / "kept").mkdir()  # a folder the user made stays
    cli(tmp_path / "src", tmp_path / "kept", "--model", tiny_weights, "-q")
    assert (tmp_path / "kept").is_dir()


def test_gif_is_not_written_and_an_animated_one_says_it_keeps_one_frame(tmp_path, tiny_model):
    with pytest.raises(ImageError, match="'.gif'"):
        write_image(tmp_path / "x.gif", gradient_image(8, 8))
    assert not (tmp_path / "x.gif").exists()
    frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(3)]
    assert cv2.imwritemulti(str(tmp_path / "anim.gif"), frames)
    with pytest.warns(vidcolor.VidcolorWarning, match="animated GIF of 3 frames"):
        colorize_image(tiny_model, tmp_path / "anim.gif")


def test_export_checks_its_output_first(tmp_path, monkeypatch, capsys):
    weights = tmp_path / "fake.pt"
    torch.save({"model": {}, "config": {}, "epoch": 0}, weights)
    for out, extra, words in ((tmp_path / "nodir" / "out.pt", [], "does not exist"),
                              (weights, [], "--overwrite")):
        with pytest.raises(SystemExit) as info:
            export.cli([str(weights), str(out), *extra])
        assert str(info.value.code).startswith("vidcolor-export: error:") and words in str(info.value.code)
    assert not (tmp_path / "nodir").exists()


def test_evaluate_errors_name_the_program_and_whole_names_fit_the_table(tmp_path):
    with pytest.raises(SystemExit) as info:
        evaluate.cli(["--model", "default", "--data", str(tmp_path / "nope")])
    assert str(info.value.code).startswith("vidcolor-evaluate: error: --data")
    name = "digikam-data__a-long-name-of-a-photo-with-a-background.jpg"
    row = dict(image=name, psnr=20.0, psnr_grey=19.0, colourfulness=10.0, colourfulness_truth=12.0, ab_error=5.0)
    mean = {k: v for k, v in row.items() if k != "image"}
    report = {"images": 1, "per_image": [row], "mean": {**mean, "colourfulness_ratio": 0.8}}
    assert name in evaluate.format_table(report)


def grey_folder(root: Path) -> Path:
    root.mkdir()
    for i in range(12):
        cv2.imwrite(str(root / f"g{i}.png"), np.full((40, 40, 3), 20 * i, np.uint8))
    return root


def test_training_warnings_are_one_line_with_the_program_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        train.cli(["--data", str(grey_folder(tmp_path / "grey")), "--out", str(tmp_path / "r"), "--size", "32"])
    assert "need at least 10" in str(info.value.code)
    err = capsys.readouterr().err
    assert err.startswith("vidcolor-train: warning: skipped 12") and "UserWarning" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_resume_takes_the_recipe_and_every_epoch_is_reported(tmp_path, capsys):
    data = colour_folder(tmp_path / "photos")
    common = ["--data", str(data), "--out", str(tmp_path / "run"), "--samples-per-epoch", "4", "--batch-size", "4",
              "--quiet"]
    train.cli([*common, "--recipe", "adam-ce-classify", "--size", "32", "--epochs", "1"])
    err = capsys.readouterr().err
    assert "vidcolor-train: epoch 1/1: loss" in err and "dB over grey" in err and "(best so far)" in err
    assert "vidcolor-train: done: 1 epochs, 4 crops" in err
    train.cli([*common, "--resume", "--epochs", "2"])  # no --recipe, no --size: the run's own
    assert "epoch 2/2" in capsys.readouterr().err
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["config"]["head"] == "classification" and ckpt["config"]["size"] == 32
    with pytest.raises(SystemExit) as info:
        train.cli([*common, "--resume", "--epochs", "3", "--recipe", "adam-mae-swish"])
    message = str(info.value.code)
    assert message.startswith("vidcolor-train: error: --resume") and "--recipe adam-ce-classify" in message
    assert "\n" not in message


@pytest.mark.slow
def test_resume_keeps_the_runs_plan_and_refits_a_new_one(tmp_path, capsys):
    """A run planned for 4 epochs and stopped after 1 resumes as epoch 2/4 on its own cosine; a
    finished run given a larger --epochs trains above the floor rate, the cosine refitted to it."""
    import math
    data = colour_folder(tmp_path / "photos")
    common = ["--data", str(data), "--out", str(tmp_path / "run"), "--samples-per-epoch", "4", "--batch-size", "4",
              "--quiet"]
    train.cli([*common, "--recipe", "adam-mae-swish", "--size", "32", "--epochs", "4", "--max-minutes", "1e-6"])
    capsys.readouterr()
    train.cli([*common, "--resume", "--max-minutes", "1e-6"])  # no --epochs: the run's own 4
    err = capsys.readouterr().err
    assert "resuming at epoch 2 of 4, on the run's own schedule" in err and "epoch 2/4" in err
    lrs = [float(row.split(",")[6]) for row in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    cosine = lambda e, t: 3e-4 * (0.05 + 0.95 * (1 + math.cos(math.pi * e / t)) / 2)  # noqa: E731
    assert lrs == pytest.approx([cosine(0, 4), cosine(1, 4)])
    train.cli([*common, "--resume"])  # to the end of its plan: the floor
    with pytest.raises(SystemExit, match="has finished its 4 epochs; give a larger --epochs"):
        train.cli([*common, "--resume"])
    train.cli([*common, "--resume", "--epochs", "6"])
    err = capsys.readouterr().err
    assert "resuming at epoch 5 of 6 (the run planned 4)" in err
    lrs = [float(row.split(",")[6]) for row in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert len(lrs) == 6 and lrs[4] == pytest.approx(cosine(4, 6)) and lrs[4] > 2 * cosine(4, 4)
