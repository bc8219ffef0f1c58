import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import REPO, cli, gradient_image, one_error_line
from media import make_clip

import vidcolor
from vidcolor import read_image, write_image
from vidcolor.cli import main
from vidcolor.cliargs import check_crf


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_image_end_to_end(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(45, 67, channels=1))
    before = (tmp_path / "in.png").read_bytes()
    result = run(tmp_path / "in.png", tmp_path / "out.jpg", "--model", tiny_weights, "--quiet")
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out.jpg").shape == (45, 67, 3)
    assert (tmp_path / "in.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.jpg", "tiny.pt"]


def test_errors_are_one_line_and_distinct(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(8, 8))
    (tmp_path / "junk.png").write_text("not an image")
    cases = {
        "no such file": (tmp_path / "missing.png", tmp_path / "o.png"),
        "does not exist": (tmp_path / "in.png", tmp_path / "nodir" / "o.png"),
        "not an image OpenCV can decode": (tmp_path / "junk.png", tmp_path / "o.png"),
        "is not a vidcolor weights file": (tmp_path / "in.png", tmp_path / "o.png", "--model", tmp_path / "junk.png"),
    }
    for needle, args in cases.items():
        if "--model" not in args:
            args = (*args, "--model", tiny_weights)
        result = run(*args)
        assert result.exit_code == 1, (needle, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vidcolor: error:") and needle in lines[0], result.output
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output_folder(tmp_path, tiny_weights):
    if os.geteuid() == 0:
        # root ignores permission bits; a path under a regular file cannot be created by anyone
        blocked = tmp_path / "file.txt"
        blocked.write_text("x")
        target = blocked / "out.png"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "out.png"
    write_image(tmp_path / "in.png", gradient_image(8, 8))
    result = run(tmp_path / "in.png", target, "--model", tiny_weights)
    assert result.exit_code == 1 and result.output.count("\n") == 1


def test_real_subprocess_and_module_entry(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(30, 20))
    proc = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "in.png"), str(tmp_path / "o.png"),
                           "--model", str(tiny_weights), "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert read_image(tmp_path / "o.png").shape == (30, 20, 3)
    proc = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "none.png"), str(tmp_path / "x.png")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_a_folder_as_dst_for_one_file_keeps_the_name(tmp_path, tiny_weights):
    write_image(tmp_path / "photo.jpg", gradient_image(20, 30))
    (tmp_path / "some_folder").mkdir()
    result = cli(tmp_path / "photo.jpg", tmp_path / "some_folder", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "some_folder" / "photo.jpg").shape == (20, 30, 3)
    one_error_line(cli(tmp_path / "photo.jpg", str(tmp_path / "missing") + "/", "--model", tiny_weights),
                   "existing folder")


def test_single_file_refuses_to_overwrite_unless_asked(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(20, 30))
    (tmp_path / "out.png").write_bytes(b"precious")
    one_error_line(cli(tmp_path / "in.png", tmp_path / "out.png", "--model", tiny_weights), "--overwrite")
    assert (tmp_path / "out.png").read_bytes() == b"precious"
    result = cli(tmp_path / "in.png", tmp_path / "out.png", "--model", tiny_weights, "--overwrite", "-q")
    assert result.exit_code == 0 and read_image(tmp_path / "out.png").shape == (20, 30, 3)


def test_a_video_into_an_image_name_says_so(tmp_path, tiny_weights):
    clip = make_clip(tmp_path / "clip.mkv", frames=3, audio=None)
    one_error_line(cli(clip, tmp_path / "out.png", "--model", tiny_weights), "a video cannot be written as an image")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("option, value, words", [
    ("--image-format", "heic", ["heic", "png"]),
    ("--video-ext", "avi", ["avi", "mkv"]),
    ("--size", "0", ["multiple of 8"]),
    ("--size", "60", ["multiple of 8"]),
    ("--codec", "nonsense264", ["nonsense264"]),
])
def test_options_are_checked_before_any_file_is_touched(tmp_path, tiny_weights, option, value, words):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "a.mp4", frames=3, audio=None)
    write_image(src / "b.png", gradient_image(10, 10))
    one_error_line(cli(src, tmp_path / "out", "--model", tiny_weights, option, value), *words)
    assert not (tmp_path / "out").exists()


def test_bad_preset_lists_the_choices_without_ffmpeg_noise(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(10, 10))
    result = cli(tmp_path / "in.png", tmp_path / "o.mp4", "--preset", "ultra")
    assert result.exit_code == 2 and "ultrafast" in result.output and "avcodec" not in result.output


def test_help_is_quick_without_torch_and_version_exists():
    code = "import sys, vidcolor.cli; print('torch' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and vidcolor.__version__ in result.output


def test_error_classes_are_exported():
    from vidcolor.imageio import read_image as reader
    assert issubclass(vidcolor.ImageError, ValueError) and issubclass(vidcolor.VideoError, ValueError)
    with pytest.raises(vidcolor.ImageError):
        reader(REPO / "no-such-photo.png")


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
    # a bad value is a usage error, exit 2, as click's own (an unknown option, a bad choice)
    one_error_line(cli(src, tmp_path / "out.mp4", "--model", tiny_weights, option, value), *words, code=2)
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
                   "--ray colourizes films and folders")


def test_a_folder_never_goes_into_a_file_name(tmp_path, tiny_weights):
    (tmp_path / "arch").mkdir()
    write_image(tmp_path / "arch" / "a.png", gradient_image(16, 16))
    for dst in ("out.png", "out.mp4"):
        one_error_line(cli(tmp_path / "arch", tmp_path / dst, "--model", tiny_weights), "a folder goes into a folder")
        assert not (tmp_path / dst).exists()


@pytest.mark.parametrize("option, value, words", [
    ("--crf", "20", ["--crf applies to films"]),
    ("--no-audio", None, ["--no-audio applies to films"]),
    ("--smoothing", "0.3", ["--smoothing applies to films"]),
    ("--codec", "libx265", ["--codec applies to films"]),
])
def test_film_options_for_a_still_are_refused(tmp_path, tiny_weights, option, value, words):
    write_image(tmp_path / "in.png", gradient_image(16, 16))
    args = [option] + ([value] if value is not None else [])
    one_error_line(cli(tmp_path / "in.png", tmp_path / "out.png", "--model", tiny_weights, *args), *words)
    assert not (tmp_path / "out.png").exists()


def test_checks_that_need_the_model_come_before_any_file_is_read(tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    one_error_line(cli(src, tmp_path / "o.mp4", "--size", "40"), "--size must be a positive multiple of 32")
    one_error_line(cli(src, tmp_path / "o.mp4", "--smoothing", "nan"), "--smoothing must be at least 0")
    one_error_line(cli(src, tmp_path / "o.pgm"), ".pgm holds grey pictures only")
    one_error_line(cli(src, tmp_path / "o", "--image-format", "pgm"), "--image-format pgm is not one")
    assert not list(tmp_path.glob("o*"))


def test_the_api_applies_the_settings_it_is_given_to_a_colorizer(tiny_model):
    from vidcolor import Colorizer, colorize_image
    from vidcolor.models import ModelConfig
    classifier = vidcolor.ColorNet(ModelConfig.paper(size=32, head="classification", num_bins=261,
                                                     input_scaling="centered")).eval()
    colorizer = Colorizer(classifier, precision="fp32")
    image = gradient_image(24, 24)
    vivid = colorize_image(Colorizer(classifier, precision="fp32", temperature=0.05), image)
    assert np.array_equal(colorize_image(colorizer, image, temperature=0.05), vivid)
    assert not np.array_equal(colorize_image(colorizer, image), vivid)
    assert colorizer.temperature == classifier.config.temperature  # the given one is left as it was
    with pytest.raises(ValueError, match="^temperature must be between"):  # the API's own word, not a flag
        colorize_image(colorizer, image, temperature=0)


def test_closing_lines_say_what_was_written(tmp_path, tiny_weights):
    write_image(tmp_path / "in.png", gradient_image(45, 67, channels=1))
    result = run(tmp_path / "in.png", tmp_path / "out.png", "--model", tiny_weights)
    assert result.exit_code == 0, result.output
    assert f"vidcolor: wrote {tmp_path / 'out.png'}: 67x45 in " in result.output
    # an AVI of a variable-rate source: 6 coded frames over 21 frame times (zero-length "repeat"
    # index entries in between); the film lasts 1.4 s, not 6 frames / 15 fps, and the bar, whose
    # total came from the index (21), ends at the frames there were
    from fractions import Fraction
    src = make_clip(tmp_path / "gaps.avi", frames=6, codec="mpeg4", rate=Fraction(15), audio=None,
                    pts=[0, 1, 5, 9, 12, 20], time_base=Fraction(1, 15))
    result = run(src, tmp_path / "out.mkv", "--model", tiny_weights)
    assert result.exit_code == 0, result.output
    assert "6 frames, 1.4 s of film in" in result.output, result.output
    bars = [part for part in result.output.replace("\r", "\n").splitlines() if "frame/s" in part]
    assert bars and "6/6 " in bars[-1], bars
