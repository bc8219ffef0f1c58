"""The rough edges a new user found (issue 13): each test failed before its fix."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vidcolor
from conftest import cli, gradient_image, one_error_line
from media import make_clip, probe
from vidcolor import read_image, write_image
from vidcolor.cli import main

REPO = Path(__file__).resolve().parents[1]


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


def test_text_named_jpg_gets_the_same_reason_in_folder_and_single_mode(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    (src / "letter.jpg").write_text("Dear archive,\n" * 50)
    single = cli(src / "letter.jpg", tmp_path / "o.png", "--model", tiny_weights)
    folder = cli(src, tmp_path / "out", "--model", tiny_weights, "-q")
    reason = single.output.strip().split("letter.jpg: ")[-1]
    assert "video frames" not in folder.output and reason in folder.output, (single.output, folder.output)


def test_folder_mode_keeps_names_exactly_and_skips_hidden(tmp_path, tiny_weights):
    src = tmp_path / "in"
    (src / ".git").mkdir(parents=True)
    (src / ".hidden").mkdir()
    write_image(src / "Photo.JPG", gradient_image(10, 12))
    make_clip(src / "Reel.MOV", frames=3, audio=None)
    write_image(src / ".git" / "x.png", gradient_image(8, 8))
    write_image(src / ".hidden" / "y.png", gradient_image(8, 8))
    write_image(src / ".thumb.png", gradient_image(8, 8))
    result = cli(src, tmp_path / "out", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["Photo.JPG", "Reel.MOV"]
    assert len(probe(tmp_path / "out" / "Reel.MOV")["times"]) == 3
    again = cli(src, tmp_path / "all", "--model", tiny_weights, "-q", "--include-hidden")
    assert "5 done" in again.output and (tmp_path / "all" / ".git" / "x.png").is_file()


def test_empty_folder_says_nothing_was_found(tmp_path, tiny_weights):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("nothing here")
    result = cli(tmp_path / "empty", tmp_path / "out", "--model", tiny_weights)
    assert result.exit_code == 1 and "no photo or video found" in result.output


def test_ctrl_c_in_folder_mode_counts_what_was_completed(tmp_path, tiny_weights, monkeypatch):
    import vidcolor.folder as folder
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        write_image(src / f"{i}.png", gradient_image(10, 10, seed=i))
    real, calls = folder.colorize_image, []

    def interrupt_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(folder, "colorize_image", interrupt_third)
    result = cli(src, tmp_path / "out", "--model", tiny_weights, "-q")
    assert result.exit_code == 130
    assert "after 2 files were completed" in result.output and "resume" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png"]


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


def test_batch_size_is_clamped_by_bytes_in_flight(tmp_path, tiny_model, monkeypatch):
    import vidcolor.video as pipeline
    clip = make_clip(tmp_path / "in.mp4", frames=12, width=96, height=64, audio=None)
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 96 * 64 * 3 * 4)  # room for 4 frames per batch
    with pytest.warns(vidcolor.VidcolorWarning, match="batch size 100000 lowered to 4"):
        summary = vidcolor.colorize_video(tiny_model, clip, tmp_path / "out.mp4", batch_size=100000, progress=False)
    assert summary["frames"] == 12 and summary["batch_size"] == 4


def gap_avi(path: Path, pts: list[int]) -> Path:
    """An AVI written by PyAV from frames with pts gaps: its index holds empty entries for the gaps."""
    import av
    from fractions import Fraction
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for i, t in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(gradient_image(48, 64, seed=i), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_avi_with_empty_index_entries_is_colourized_with_its_timing(tmp_path, tiny_weights):
    pts = [0, 1, 2, 5, 6, 10, 11, 12, 20, 21]
    src = gap_avi(tmp_path / "vfr.avi", pts)
    result = cli(src, tmp_path / "out.mkv", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.output
    times = probe(tmp_path / "out.mkv")["times"]
    assert len(times) == len(pts)
    assert np.allclose(np.array(times) - times[0], np.array(pts) / 25, atol=1e-3)
    data = src.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) * 2 // 3])  # truly cut: still refused
    one_error_line(cli(tmp_path / "cut.avi", tmp_path / "cut.mkv", "--model", tiny_weights, "-q"), "cut.avi")
    assert not (tmp_path / "cut.mkv").exists()


def test_x265_prints_nothing_on_success(tmp_path):
    """x265 writes its banner and statistics to the process's stderr, past FFmpeg's log level."""
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=None)
    weights = tmp_path / "tiny.pt"
    code = (f"import torch; from vidcolor import ColorNet, ModelConfig, save_weights; torch.manual_seed(0); "
            f"save_weights(ColorNet(ModelConfig.paper(size=32)), {str(weights)!r})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
    proc = subprocess.run([sys.executable, "-m", "vidcolor", clip, str(tmp_path / "out.mkv"), "--model", str(weights),
                           "--codec", "libx265", "-q"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-500:]
    assert len(probe(tmp_path / "out.mkv")["times"]) == 4
