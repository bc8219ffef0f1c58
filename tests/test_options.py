"""The options objects: every rule checked where the object is built, in the API's own names, so
the API refuses what the command line refuses, before any file is opened."""
import dataclasses
import math

import pytest
from media import make_clip

import vidcolor
from vidcolor import FolderOptions, OptionError, VideoOptions
from vidcolor.options import ParallelOptions, split_settings


@pytest.mark.parametrize("settings, words", [
    ({"smoothing": 1.0}, "smoothing must be at least 0 and below 1"),
    ({"smoothing": math.nan}, "smoothing must be"),
    ({"preset": "quick"}, "preset must be one of ultrafast"),
    ({"crf": 70}, "crf 70 is outside 0-63"),
    ({"crf": 52, "codec": "libx264"}, "crf 52 is outside 0-51, the range of libx264"),
    ({"crf": 20.5}, "crf must be a whole number"),
    ({"batch_size": 0}, "batch_size must be a positive whole number"),
    ({"batch_size": True}, "batch_size must be a positive whole number"),
])
def test_video_options_refuse_bad_values_by_their_api_names(settings, words):
    with pytest.raises(OptionError, match=words.replace("(", r"\(")):
        VideoOptions(**settings)


def test_video_options_pick_the_encoder_by_output_type_and_check_its_crf():
    webm = VideoOptions(crf=60)  # a valid VP9 quality
    assert webm.codec_for(".webm") == "libvpx-vp9"
    with pytest.raises(OptionError, match="crf 60 is outside 0-51, the range of libx264"):
        webm.codec_for(".mp4")
    assert VideoOptions(codec="libx265").codec_for(".mkv") == "libx265"
    assert VideoOptions(keyframes=__import__("pathlib").Path("/k")).keyframes == "/k"  # plain data for workers
    base = VideoOptions(preset="fast")
    assert VideoOptions.of(base, crf=30) == dataclasses.replace(base, crf=30) and VideoOptions.of() == VideoOptions()
    with pytest.raises(OptionError, match="no film option krf"):
        VideoOptions.of(base, krf=30)


def test_folder_and_parallel_options_check_their_rules():
    with pytest.raises(OptionError, match="image_format gif is not one vidcolor writes colour to"):
        FolderOptions(image_format="gif")
    with pytest.raises(OptionError, match="video_ext avi is not one vidcolor writes"):
        FolderOptions(video_ext="avi")
    assert FolderOptions(image_format=".PNG", video_ext="mkv").image_format == ".PNG"
    with pytest.raises(OptionError, match="jobs and ray exclude each other"):
        ParallelOptions(jobs=2, ray=True)
    with pytest.raises(OptionError, match="segment_seconds must be at least 0.1"):
        ParallelOptions(jobs=2, segment_seconds=0.0)
    with pytest.raises(OptionError, match="threads must be a positive whole number"):
        ParallelOptions(jobs=2, threads=0)
    with pytest.raises(OptionError, match="gpus_per_task must be above 0"):
        ParallelOptions(ray=True, gpus_per_task=0)
    assert ParallelOptions(jobs=2, devices="cuda:0, cuda:1").devices == ("cuda:0", "cuda:1")
    assert ParallelOptions(jobs=2, devices=["cpu"]).devices == ("cpu",)
    with pytest.raises(OptionError, match="devices must be devices separated by commas"):
        ParallelOptions(jobs=2, devices="cuda:0;cuda:1")
    with pytest.raises(OptionError, match="devices are the local workers'"):
        ParallelOptions(ray=True, devices="cuda:0")
    assert split_settings({"crf": 1, "size": 64, "x": 2}, ("size",), ("crf",)) == [{"size": 64}, {"crf": 1}, {"x": 2}]


def test_the_api_checks_crf_against_the_outputs_encoder_before_writing(tmp_path, tiny_model):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=None, grey=True)
    with pytest.raises(OptionError, match="crf 60 is outside 0-51, the range of libx264"):
        vidcolor.colorize_video(tiny_model, clip, tmp_path / "out.mp4", crf=60, progress=False)
    with pytest.raises(OptionError, match="no film option krf"):
        vidcolor.colorize_video(tiny_model, clip, tmp_path / "out.mp4", krf=20, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    vidcolor.colorize_video(tiny_model, clip, tmp_path / "out.webm", crf=60, progress=False)  # VP9 takes 60
