"""Folder mode and every bad input: one clear line, no traceback, no partial file, inputs untouched."""
import hashlib
import os
import signal
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from helpers import cli, gradient_image, run_signalled
from media import cmyk_jpeg, make_clip, make_gif, palette_png, png_header_only, probe

from vidcolor import colorize_folder, read_image, write_image

def hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def no_temporaries(root: Path) -> bool:
    return not [p for p in root.rglob("*") if "vidcolor-tmp" in p.name]


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "in"
    (src / "reel" / "deeper").mkdir(parents=True)
    write_image(src / "a.jpg", gradient_image(40, 60))
    write_image(src / "reel" / "b.png", gradient_image(33, 21, channels=1))
    make_clip(src / "reel" / "deeper" / "c.mp4", frames=8)
    (src / "notes.txt").write_text("shot list")
    write_image(src / "no_extension", gradient_image(16, 16))  # recognised by content
    return src


def test_folder_mirrors_tree_and_rerun_skips(tree, tmp_path, tiny_model):
    before = hashes(tree)
    dst = tmp_path / "out"
    summary = colorize_folder(tiny_model, tree, dst, progress=False)
    assert sorted(summary.done) == ["a.jpg", "no_extension", "reel/b.png", "reel/deeper/c.mp4"]
    assert summary.ignored == ["notes.txt"] and summary.failed == [] and summary.ok
    assert read_image(dst / "a.jpg").shape == (40, 60, 3)
    assert read_image(dst / "no_extension.png").shape == (16, 16, 3)
    assert len(probe(dst / "reel" / "deeper" / "c.mp4")["times"]) == 8
    stamps = {p: p.stat().st_mtime_ns for p in dst.rglob("*") if p.is_file()}
    again = colorize_folder(tiny_model, tree, dst, progress=False)
    assert again.done == [] and sorted(again.skipped) == sorted(summary.done)
    assert {p: p.stat().st_mtime_ns for p in dst.rglob("*") if p.is_file()} == stamps
    redo = colorize_folder(tiny_model, tree, dst, overwrite=True, image_format="png", progress=False)
    assert len(redo.done) == 4 and (dst / "a.png").is_file()
    assert hashes(tree) == before


def test_out_inside_in_works_and_out_equal_in_is_refused(tree, tiny_weights):
    before = hashes(tree)
    result = cli(tree, tree / "colour", "--model", tiny_weights, "--quiet")
    assert result.exit_code == 0, result.output
    assert "4 done" in result.output
    again = cli(tree, tree / "colour", "--model", tiny_weights, "--quiet")
    assert "0 done, 4 skipped" in again.output  # its own outputs were not scanned as inputs
    assert {k: v for k, v in hashes(tree).items() if not k.startswith("colour")} == before
    same = cli(tree, tree, "--model", tiny_weights)
    assert same.exit_code == 1 and "must differ" in same.output


def bad_inputs(root: Path) -> dict:
    """file name -> what its one-line error must say (None: it must succeed)."""
    root.mkdir()
    (root / "zero.jpg").write_bytes(b"")
    (root / "zero.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is a text file, not a film\n" * 20)
    full = Path(make_clip(root / "full.mp4", frames=30)).read_bytes()
    (root / "full.mp4").unlink()
    (root / "truncated.mp4").write_bytes(full[: len(full) // 2])
    with av.open(str(root / "audio_only.m4a"), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, 0
        for p in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(p)
    # a video stream whose every packet needs a keyframe that is not there: nothing decodes
    clip = make_clip(root / "k.mp4", frames=20, audio=None)
    with av.open(clip) as inp, av.open(str(root / "zero_frames.mkv"), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(video=0):
            if packet.size and not packet.is_keyframe:
                packet.stream = stream
                out.mux(packet)
    (root / "k.mp4").unlink()
    clip = make_clip(root / "c.mp4", frames=30, audio=None)
    with av.open(clip) as inp:
        first = next(p for p in inp.demux(video=0) if p.size)  # the keyframe every later frame needs
        pos, size = first.pos, first.size
    corrupt = bytearray(Path(clip).read_bytes())
    (root / "c.mp4").unlink()
    corrupt[pos + size // 2:pos + size] = np.random.default_rng(0).integers(0, 256, size - size // 2, np.uint8).tobytes()
    (root / "corrupt_start.mp4").write_bytes(bytes(corrupt))
    write_image(root / "alpha.png", gradient_image(20, 30, channels=4))
    write_image(root / "deep.png", gradient_image(20, 30, dtype=np.uint16))
    (root / "palette.png").write_bytes(palette_png())
    cv2.imwrite(str(root / "grey.jpg"), gradient_image(25, 35, channels=1))
    (root / "cmyk.jpg").write_bytes(cmyk_jpeg())
    (root / "huge.png").write_bytes(png_header_only(30000, 30000))
    write_image(root / "one.png", gradient_image(1, 1))
    write_image(root / "seven_by_three.png", gradient_image(3, 7))
    return {"zero.jpg": "empty file", "zero.mp4": "empty file (0 bytes)",
            "text.mp4": "not an image or video", "truncated.mp4": "not an image or video",
            "audio_only.m4a": "no video stream", "zero_frames.mkv": "no video frames",
            "corrupt_start.mp4": "damaged video", "huge.png": "30000x30000 is 900 MP",
            "alpha.png": None, "deep.png": None, "palette.png": None, "grey.jpg": None, "cmyk.jpg": None,
            "one.png": None, "seven_by_three.png": None}


def test_every_bad_input_gets_one_line_and_inputs_stay_identical(tmp_path, tiny_weights):
    src = tmp_path / "bad"
    expected = bad_inputs(src)
    before = hashes(src)
    result = cli(src, tmp_path / "out", "--model", tiny_weights, "--quiet")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    failures = {line.split(": ")[1]: line for line in result.output.splitlines() if line.startswith("  failed: ")}
    for name, needle in expected.items():
        if needle is None:
            assert name not in failures, failures.get(name)
            assert (tmp_path / "out" / name).is_file(), name
        else:
            assert name in failures and needle in failures[name], (name, failures.get(name))
            assert not list((tmp_path / "out").glob(Path(name).stem + ".*")), name
    assert hashes(src) == before
    assert no_temporaries(tmp_path / "out")
    out = tmp_path / "out"
    assert read_image(out / "alpha.png").shape == (20, 30, 4)
    assert read_image(out / "deep.png").dtype == np.uint16
    assert read_image(out / "cmyk.jpg").shape == (8, 8, 3)
    assert read_image(out / "one.png").shape == (1, 1, 3)
    assert read_image(out / "seven_by_three.png").shape == (3, 7, 3)


@pytest.mark.parametrize("name", ["zero.jpg", "text.mp4", "truncated.mp4", "audio_only.m4a", "zero_frames.mkv",
                                  "corrupt_start.mp4", "huge.png"])
def test_single_bad_file_is_one_line_naming_it(tmp_path, tiny_weights, name):
    src = tmp_path / "bad"
    bad_inputs(src)
    before = hashes(src)
    dst = tmp_path / ("out.png" if name.endswith((".jpg", ".png")) else "out.mp4")
    result = cli(src / name, dst, "--model", tiny_weights, "--quiet")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and name in lines[0], result.output
    assert not dst.exists() and hashes(src) == before and no_temporaries(tmp_path)


def test_model_that_is_not_vidcolor_in_folder_mode(tree, tmp_path):
    (tmp_path / "fake.pt").write_bytes(os.urandom(2048))
    result = cli(tree, tmp_path / "out", "--model", tmp_path / "fake.pt")
    assert result.exit_code == 1 and "fake.pt is not a vidcolor weights file" in result.output
    assert result.output.count("\n") == 1


def test_output_path_that_is_a_file_is_refused(tree, tmp_path, tiny_weights):
    (tmp_path / "taken").write_text("x")
    result = cli(tree, tmp_path / "taken", "--model", tiny_weights)
    assert result.exit_code == 1 and "not a folder" in result.output


def deny(monkeypatch, *paths: Path, mode: int = os.R_OK) -> None:
    """Make ``paths`` unreadable (mode R_OK) or unwritable (W_OK): with chmod where permission bits
    count, and where they do not (root, as in CI) by making os.access answer as it would for a user."""
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o000 if mode == os.R_OK else 0o555)
        return
    real = os.access
    blocked = {str(p.resolve()) for p in paths}
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(Path(p).resolve()) in blocked and m & mode
                        else real(p, m, *a, **k))


def test_unreadable_input_is_reported_and_the_rest_done(tmp_path, tiny_weights, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "ok.png", gradient_image(10, 10))
    write_image(src / "secret.png", gradient_image(10, 10))
    deny(monkeypatch, src / "secret.png")
    result = cli(src, tmp_path / "out", "--model", tiny_weights, "--quiet")
    assert result.exit_code == 1
    assert "  failed: secret.png: permission denied" in result.output and "Traceback" not in result.output
    assert (tmp_path / "out" / "ok.png").is_file() and not (tmp_path / "out" / "secret.png").exists()
    single = cli(src / "secret.png", tmp_path / "x.png", "--model", tiny_weights)
    assert single.exit_code == 1 and "secret.png: permission denied" in single.output, single.output
    assert single.output.count("\n") == 1


def test_unwritable_output_folder(tree, tmp_path, tiny_weights, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    deny(monkeypatch, locked, mode=os.W_OK)
    before = hashes(tree)
    result = cli(tree, locked, "--model", tiny_weights, "--quiet")
    assert result.exit_code == 1 and "not writable" in result.output and result.output.count("\n") == 1
    assert list(locked.iterdir()) == [] and hashes(tree) == before


@pytest.mark.slow
def test_sigint_leaves_only_complete_outputs(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        make_clip(src / f"film{i}.mp4", frames=120, width=160, height=120)
    out = tmp_path / "out"
    # Ctrl-C lands 5 frames into the third film, every time
    proc = run_signalled(signal.SIGINT, 3, src, out, "--model", tiny_weights, "--quiet", "--batch-size", "2")
    err = proc.stderr
    assert proc.returncode == 130, err
    assert "interrupted after 2 files were completed" in err and "Traceback" not in err
    assert no_temporaries(out)
    done = sorted(out.glob("*.mp4"))
    assert [p.name for p in done] == ["film0.mp4", "film1.mp4"]
    for film in done:
        assert len(probe(film)["times"]) == 120


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
    assert "files:" not in result.output and "0/0" not in result.output  # no empty progress bar first


def test_a_zero_byte_film_is_said_to_be_empty_in_a_folder_as_alone(tmp_path, tiny_weights):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "blank.mp4").write_bytes(b"")
    alone = cli(tmp_path / "in" / "blank.mp4", tmp_path / "o.mp4", "--model", tiny_weights)
    assert alone.exit_code == 1 and "empty file (0 bytes)" in alone.output
    folder = cli(tmp_path / "in", tmp_path / "out", "--model", tiny_weights, "-q")
    assert "failed: blank.mp4: empty file (0 bytes)" in folder.output, folder.output


def test_ctrl_c_in_folder_mode_counts_what_was_completed(tmp_path, tiny_weights, monkeypatch):
    import vidcolor.files as folder
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


def test_a_folder_without_media_leaves_no_output_folder(tmp_path, tiny_weights):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("no pictures here")
    result = cli(tmp_path / "src", tmp_path / "dst", "--model", tiny_weights, "-q")
    assert result.exit_code == 1 and "no photo or video" in result.output
    assert not (tmp_path / "dst").exists()
    (tmp_path / "kept").mkdir()  # a folder the user made stays
    cli(tmp_path / "src", tmp_path / "kept", "--model", tiny_weights, "-q")
    assert (tmp_path / "kept").is_dir()


def test_a_folder_run_says_what_it_renamed_and_what_each_file_warned(tmp_path, tiny_weights):
    src = tmp_path / "src"
    src.mkdir()
    make_clip(src / "tree.avi", frames=3, audio=None, codec="mpeg4")
    # an animated GIF: a still keeps its first frame
    make_gif(src / "anim.gif", [gradient_image(24, 32, seed=i) for i in range(3)])
    write_image(src / "grey.pgm", gradient_image(16, 16)[..., 0])
    result = cli(src, tmp_path / "out", "--model", tiny_weights, "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "tree.mkv").is_file() and (tmp_path / "out" / "grey.png").is_file()
    assert "note: tree.avi: written as tree.mkv" in result.output
    assert "note: grey.pgm: written as grey.png" in result.output
    assert "note: anim.gif:" in result.output and "animated GIF of 3 frames" in result.output


def test_a_run_where_every_file_fails_leaves_no_output_folder(tmp_path, tiny_weights):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.jpg").write_bytes(b"not a jpeg")
    (src / "b.mp4").write_bytes(b"not a film")
    result = cli(src, tmp_path / "out", "--model", tiny_weights, "-q")
    assert result.exit_code == 1 and "2 failed" in result.output
    assert not (tmp_path / "out").exists()


def test_video_keywords_beside_video_options_are_applied_not_dropped(tmp_path, tiny_model, monkeypatch):
    import vidcolor.folder as folder_module
    from vidcolor import OptionError
    from vidcolor.options import VideoOptions
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "c.mp4", frames=4, audio=None)
    seen = []
    monkeypatch.setattr(folder_module, "colorize_file", lambda *args, **kw: seen.append(args[4]) or [])
    colorize_folder(tiny_model, src, tmp_path / "out", video=VideoOptions(preset="fast"), crf=30, progress=False)
    assert seen == [VideoOptions(preset="fast", crf=30)]
    with pytest.raises(OptionError, match="no film option krf"):
        colorize_folder(tiny_model, src, tmp_path / "out2", krf=30, progress=False)
    with pytest.raises(OptionError, match="crf 60 is outside 0-51, the range of libx264"):
        colorize_folder(tiny_model, src, tmp_path / "out3", crf=60, codec="libx264", progress=False)


def test_an_interrupted_folder_run_leaves_no_empty_folders_of_its_own(tmp_path, tiny_weights, monkeypatch):
    import vidcolor.files as files
    src, dst = tmp_path / "in", tmp_path / "out"
    for sub in ("a", "b", "c"):
        (src / sub).mkdir(parents=True)
        write_image(src / sub / "p.png", np.full((8, 8), 90, np.uint8))
    (dst / "mine").mkdir(parents=True)  # a person's empty folder stays
    real, calls = files.colorize_file, []

    def second_interrupts(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            args[2].parent.mkdir(parents=True, exist_ok=True)  # its output folder made, then Ctrl-C
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    import vidcolor.folder as folder_mod
    monkeypatch.setattr(folder_mod, "colorize_file", second_interrupts)
    result = cli(src, dst, "--model", tiny_weights, "-q")
    assert result.exit_code == 130
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")) == ["a", "a/p.png", "mine"]
