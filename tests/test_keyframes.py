"""Shots and keyframes: found on a film with known cuts, shown on a contact sheet, coloured by hand
and handed back with --keyframes; each shot takes its colour from its own keyframes only."""
import csv
from pathlib import Path
import re
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import vidcolor
from helpers import cli, one_error_line
from media import make_shots_film, probe
from training.evaluate_video import read_frames
from vidcolor.keyframes_cli import main as keyframes_main
from vidcolor.color import rgb_to_lab
from vidcolor.colorizer import Colorizer
from vidcolor.imageio import read_image, write_image
from vidcolor.keyframes import make_keyframes
from vidcolor.shots import COLUMNS, ShotMap
from vidcolor.video import colorize_video

LENGTHS = (12, 14, 10)


@pytest.fixture(scope="module")
def model():
    return vidcolor.load_model("default", device="cpu")


@pytest.fixture
def film(tmp_path):
    path = tmp_path / "film.mp4"
    return path, make_shots_film(path, LENGTHS)


def mean_a(frames) -> list[float]:
    """Each frame's mean CIE a* (positive: red)."""
    return [float(rgb_to_lab(torch.from_numpy(f).permute(2, 0, 1).float() / 255)[1].mean()) for f in frames]


def test_shots_keyframes_and_contact_sheet_of_a_film_with_known_cuts(film, tmp_path, model):
    path, starts = film
    shot_map = make_keyframes(model, path, tmp_path / "kf", progress=False)
    assert [s.first_frame for s in shot_map.shots] == starts
    assert shot_map.frames == sum(LENGTHS) and shot_map.shots[-1].last_frame == sum(LENGTHS) - 1
    for shot in shot_map.shots:
        assert shot.keyframes and all(shot.first_frame <= k.frame <= shot.last_frame for k in shot.keyframes)
        assert shot.start_s == pytest.approx(shot.first_frame / 25)
        for k in shot.keyframes:
            grey = read_image(tmp_path / "kf" / k.file)
            assert grey.shape == (96, 160)  # grey, at the film's full resolution
            assert read_image(tmp_path / "kf" / "auto" / k.file).shape == (96, 160, 3)
    with open(tmp_path / "kf" / "shots.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(shot_map.keyframes)
    page = (tmp_path / "kf" / "index.html").read_text()
    pictures = re.findall(r'<img src="([^"]+)"', page)
    assert len(pictures) == 2 * len(shot_map.keyframes)
    assert all((tmp_path / "kf" / p).is_file() for p in pictures)  # relative links that open from disk
    assert read_image(tmp_path / "kf" / "contact_sheet.png").shape[1] > 320


def test_the_smoother_finds_the_same_cuts(film, tmp_path, model, monkeypatch):
    path, starts = film
    from vidcolor import temporal
    seen, call = [], temporal.TemporalSmoother.__call__

    def spy(self, lightness, ab):
        before = self.cuts
        out = call(self, lightness, ab)
        seen.append(self.cuts > before)
        return out

    monkeypatch.setattr(temporal.TemporalSmoother, "__call__", spy)
    colorize_video(model, path, tmp_path / "auto.mp4", progress=False)
    found = [s.first_frame for s in make_keyframes(model, path, tmp_path / "kf", progress=False).shots]
    assert [i for i, cut in enumerate(seen) if cut] == found[1:] == starts[1:]


def test_a_colored_keyframe_colors_its_shot_and_no_other(film, tmp_path, model):
    path, starts = film
    shot_map = make_keyframes(model, path, tmp_path / "kf", progress=False)
    colorize_video(model, path, tmp_path / "grey_kf.mp4", progress=False, keyframes=tmp_path / "kf")
    key = shot_map.shots[1].keyframes[0]
    grey = read_image(tmp_path / "kf" / key.file).astype(np.float32)
    red = np.stack([np.clip(grey * 1.3, 0, 255), grey * 0.6, grey * 0.6], axis=-1).astype(np.uint8)
    write_image(tmp_path / "kf" / key.file, red)  # coloured by hand: red
    result = colorize_video(model, path, tmp_path / "red_kf.mp4", progress=False, keyframes=tmp_path / "kf")
    assert result.frames == sum(LENGTHS) and result.shots == 3
    before, _ = read_frames(tmp_path / "grey_kf.mp4")
    after, _ = read_frames(tmp_path / "red_kf.mp4")
    a_before, a_after = mean_a(before), mean_a(after)
    shot1 = range(starts[1], starts[2])
    assert all(a_after[i] > a_before[i] + 5 for i in shot1), [round(a_after[i] - a_before[i], 1) for i in shot1]
    others = [i for i in range(sum(LENGTHS)) if i not in shot1]
    assert max(abs(a_after[i] - a_before[i]) for i in others) < 1.0  # not a trace of red in the other shots


def mean_ab(frames) -> np.ndarray:
    """(frames, 2): each frame's mean CIE a*, b*."""
    return np.array([rgb_to_lab(torch.from_numpy(f).permute(2, 0, 1).float() / 255)[1:].mean(dim=(1, 2)).numpy()
                     for f in frames])


def test_untouched_keyframes_hold_the_automatic_color_and_times_survive(film, tmp_path, model):
    """Keyframes left grey: each shot keeps the automatic colour (not grey, not another colour),
    held steadier through the shot than frame-by-frame colour, and every timestamp survives."""
    path, starts = film
    make_keyframes(model, path, tmp_path / "kf", progress=False)
    colorize_video(model, path, tmp_path / "out.mp4", progress=False, keyframes=tmp_path / "kf")
    colorize_video(model, path, tmp_path / "auto.mp4", progress=False, smoothing=0.0)
    assert probe(tmp_path / "out.mp4")["times"] == probe(path)["times"]
    held, auto = mean_ab(read_frames(tmp_path / "out.mp4")[0]), mean_ab(read_frames(tmp_path / "auto.mp4")[0])
    for first, last in zip(starts, [*starts[1:], sum(LENGTHS)]):
        shot_held, shot_auto = held[first:last], auto[first:last]
        # the shot's colour is the automatic one: its mean a/b within a few units of it
        assert np.abs(shot_held.mean(0) - shot_auto.mean(0)).max() < 4.0, (shot_held.mean(0), shot_auto.mean(0))
        assert np.abs(shot_held - shot_held.mean(0)).max() <= np.abs(shot_auto - shot_auto.mean(0)).max() + 0.5
    assert np.hypot(*auto.mean(0)) > 1.0  # the automatic colour is a colour, so the check means something


def test_a_color_photo_of_any_size_may_stand_for_a_keyframe(film, tmp_path, model):
    path, starts = film
    shot_map = make_keyframes(model, path, tmp_path / "kf", progress=False)
    colorize_video(model, path, tmp_path / "held.mp4", progress=False, keyframes=tmp_path / "kf")
    photo = np.zeros((30, 50, 3), np.uint8)
    photo[..., 2] = 200  # a blue photo of the scene, another size than the film
    write_image(tmp_path / "kf" / shot_map.shots[0].keyframes[0].file, photo)
    colorize_video(model, path, tmp_path / "out.mp4", progress=False, keyframes=tmp_path / "kf")
    before, after = mean_ab(read_frames(tmp_path / "held.mp4")[0]), mean_ab(read_frames(tmp_path / "out.mp4")[0])
    # blue is negative b*: the first shot turns bluer, the others stay as they were
    assert (after[:starts[1], 1] < before[:starts[1], 1] - 5).all(), (after[:starts[1], 1] - before[:starts[1], 1])
    assert np.abs(after[starts[1]:] - before[starts[1]:]).max() < 1.0


def broken(tmp_path, model, path, how: str):
    kf = tmp_path / "kf"
    shutil.rmtree(kf, ignore_errors=True)
    shot_map = make_keyframes(model, path, kf, progress=False)
    first = kf / shot_map.shots[0].keyframes[0].file
    if how == "missing":
        first.unlink()
    elif how == "small grey":
        write_image(first, read_image(first)[::2, ::2])
    elif how == "no csv":
        (kf / "shots.csv").unlink()
    elif how == "other film":
        other = tmp_path / "other.mp4"
        make_shots_film(other, (12, 14, 11))
        shutil.rmtree(kf)
        make_keyframes(model, other, kf, progress=False)
    elif how == "gap":
        rows = (kf / "shots.csv").read_text().splitlines()
        rows[2] = rows[2].replace(",12,25,", ",13,25,", 1)
        (kf / "shots.csv").write_text("\n".join(rows) + "\n")
    return kf


@pytest.mark.parametrize("how, words", [
    ("missing", ["missing (a keyframe listed in shots.csv)"]),
    ("small grey", ["a grey picture of 80x48, but the film is 160x96"]),
    ("no csv", ["no shots.csv in it"]),
    ("other film", ["shots.csv lists 37 frames but", "has 36"]),
    ("gap", ["should be shot 1 starting at frame 12"]),
])
def test_bad_keyframe_folders_are_one_line_before_any_output(film, tmp_path, model, how, words):
    path, _ = film
    kf = broken(tmp_path, model, path, how)
    one_error_line(cli(path, tmp_path / "out.mp4", "--keyframes", kf, "-q"), *words)
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out.mp4*"))


def test_options_that_cannot_go_with_keyframes(film, tmp_path, model):
    path, _ = film
    make_keyframes(model, path, tmp_path / "kf", progress=False)
    write_image(tmp_path / "still.png", np.full((20, 20, 3), 90, np.uint8))
    one_error_line(cli(tmp_path / "still.png", tmp_path / "o.png", "--keyframes", tmp_path / "kf"),
                   "--keyframes applies to films")
    one_error_line(cli(path, tmp_path / "o.mp4", "--keyframes", tmp_path / "kf", "--reference",
                       tmp_path / "still.png"), "--keyframes and --reference exclude each other")
    one_error_line(cli(path, tmp_path / "o.mp4", "--keyframes", tmp_path / "nope"), "--keyframes", "no such folder")


def test_the_command_and_overwrite_keep_what_a_person_colored(film, tmp_path):
    path, _ = film
    kf = tmp_path / "kf"
    result = CliRunner().invoke(keyframes_main, [str(path), str(kf)])
    assert result.exit_code == 0 and "3 shots, 3 keyframes" in result.output and "--keyframes" in result.output
    one_error_line(CliRunner().invoke(keyframes_main, [str(path), str(kf), "-q"]), "already exists", "--overwrite")
    shot_map = ShotMap.read(kf)
    mine = kf / shot_map.shots[2].keyframes[0].file
    colored = np.dstack([read_image(mine)] * 3)
    colored[..., 1] //= 2
    write_image(mine, colored)
    (kf / "notes.txt").write_text("the coat is green")
    with pytest.warns(vidcolor.VidcolorWarning, match="kept 1 keyframe"):
        make_keyframes(vidcolor.load_model("default", device="cpu"), path, kf, overwrite=True, progress=False)
    assert np.array_equal(read_image(mine), colored) and (kf / "notes.txt").read_text() == "the coat is green"
    one_error_line(CliRunner().invoke(keyframes_main, [str(tmp_path), str(tmp_path / "k2")]), "a folder")
    one_error_line(CliRunner().invoke(keyframes_main, [str(path), str(tmp_path / "no" / "k")]), "does not exist")


def test_folder_mode_finds_each_films_keyframes_by_its_relative_path(tmp_path, model):
    (tmp_path / "src" / "reels").mkdir(parents=True)
    make_shots_film(tmp_path / "src" / "reels" / "a.mp4", (10, 10))
    make_shots_film(tmp_path / "src" / "b.mp4", (10, 10))
    (tmp_path / "kf" / "reels").mkdir(parents=True)
    shot_map = make_keyframes(model, tmp_path / "src" / "reels" / "a.mp4", tmp_path / "kf" / "reels" / "a.mp4",
                         progress=False)
    key = tmp_path / "kf" / "reels" / "a.mp4" / shot_map.shots[0].keyframes[0].file
    grey = read_image(key)
    write_image(key, np.dstack([grey, grey // 3, grey // 3]))
    summary = vidcolor.colorize_folder(model, tmp_path / "src", tmp_path / "out", keyframes=tmp_path / "kf",
                                       progress=False)
    assert sorted(summary.done) == ["b.mp4", "reels/a.mp4"] and not summary.failed
    red, _ = read_frames(tmp_path / "out" / "reels" / "a.mp4")
    plain, _ = read_frames(tmp_path / "out" / "b.mp4")  # the same scenes, no keyframes: automatic
    assert np.mean(mean_a(red[:10])) > np.mean(mean_a(plain[:10])) + 10


def test_another_films_keyframes_are_refused_before_decoding_where_the_frame_count_is_unknown(tmp_path, model,
                                                                                              monkeypatch):
    """A Matroska film declares no frame count, but its size is known at the start: a keyframe
    folder of a film of another size is refused before a single frame is coloured."""
    film, other = tmp_path / "film.mkv", tmp_path / "other.mkv"
    make_shots_film(film, LENGTHS)
    make_shots_film(other, LENGTHS, width=128)
    make_keyframes(model, other, tmp_path / "kf", progress=False)

    def no_coloring(*args, **kwargs):
        raise AssertionError("a frame was coloured before the keyframe folder was checked")

    monkeypatch.setattr(Colorizer, "colorize_planes", no_coloring)
    monkeypatch.setattr(Colorizer, "colorize_frames", no_coloring)
    one_error_line(cli(film, tmp_path / "out.mkv", "--keyframes", tmp_path / "kf", "-q"),
                   "made from a 128x96 film", "is 160x96")
    assert not list(tmp_path.glob("*out.mkv*"))


def test_vidcolor_keyframes_refuses_a_still_up_front(tmp_path):
    write_image(tmp_path / "photo.png", np.full((32, 48, 3), 90, np.uint8))
    result = CliRunner().invoke(keyframes_main, [str(tmp_path / "photo.png"), str(tmp_path / "kf")])
    one_error_line(result, "photo.png: a still, not a film", "vidcolor PHOTO OUT")
    assert not (tmp_path / "kf").exists()


def test_a_lone_black_frame_or_flash_is_no_shot_of_its_own(tmp_path, model):
    """A film that opens on one black frame and ends on a one-frame flash: two shots, the black
    frame in the first and the flash in the last, and no keyframe is the black frame."""
    from media import shot_scene, write_frames
    black = np.zeros((96, 160, 3), np.uint8)
    frames = [black] + [shot_scene(0, i, 160, 96) for i in range(12)] + [shot_scene(1, i, 160, 96) for i in range(12)]
    frames.append(np.full((96, 160, 3), 255, np.uint8))
    write_frames(tmp_path / "film.mp4", frames, "libx264", 25, "yuv420p", {"crf": "10"})
    shot_map = make_keyframes(model, tmp_path / "film.mp4", tmp_path / "kf", progress=False)
    assert [(s.first_frame, s.last_frame) for s in shot_map.shots] == [(0, 12), (13, 25)]
    assert all(k.frame not in (0, 25) for k in shot_map.keyframes)
    assert all(read_image(tmp_path / "kf" / k.file).mean() > 20 for k in shot_map.keyframes)


def test_the_contact_sheet_names_its_film_and_shows_its_own_clock(tmp_path, model):
    """A film whose first frame is at 1 s (cut from a longer one): shots.csv counts from its first
    frame, the contact sheet shows the times a player shows, and both pages name the film."""
    from fractions import Fraction

    from media import make_clip
    make_clip(tmp_path / "reel 2.mkv", frames=20, grey=True, audio=None, rate=Fraction(25),
              pts=list(range(25, 45)), time_base=Fraction(1, 25))
    shot_map = make_keyframes(model, tmp_path / "reel 2.mkv", tmp_path / "kf", progress=False)
    assert shot_map.shots[0].start_s == 0.0
    page = (tmp_path / "kf" / "index.html").read_text()
    assert "<title>vidcolor keyframes of reel 2.mkv</title>" in page
    assert "0:01.000 - 0:01.800" in page and "the film starts at 0:01.000" in page
    sheet = read_image(tmp_path / "kf" / "contact_sheet.png")
    tile = 24 + round(64 * 320 / 96)  # the label and one grey | colour pair
    assert sheet.shape[0] == 32 + tile + 8  # a title row above the tiles


def test_overwrite_refuses_a_folder_colored_for_another_film(film, tmp_path, model, monkeypatch):
    path, _ = film
    other = tmp_path / "other.mp4"
    make_shots_film(other, (12, 14, 11))  # same size, one frame more
    kf = tmp_path / "kf"
    make_keyframes(model, other, kf, progress=False)
    make_keyframes(model, path, kf, overwrite=True, progress=False)  # nothing coloured there: replaced
    assert ShotMap.read(kf).frames == sum(LENGTHS)
    shot_map = make_keyframes(model, other, kf, overwrite=True, progress=False)
    mine = kf / shot_map.shots[0].keyframes[0].file
    write_image(mine, np.dstack([read_image(mine)] * 2 + [read_image(mine) // 2]))
    from vidcolor import keyframes

    def no_pass(*args, **kwargs):
        raise AssertionError("the film was read before the folder was checked")

    monkeypatch.setattr(keyframes, "find_shots", no_pass)  # mp4 counts its frames: refused up front
    result = CliRunner().invoke(keyframes_main, [str(path), str(kf), "--overwrite", "-q"])
    one_error_line(result, "holds keyframes you coloured for another film", "37 frames", "36 frames",
                   "choose another folder")
    assert ShotMap.read(kf).frames == 37 and read_image(mine).ndim == 3


def test_vidcolor_keyframes_speaks_under_its_own_name(film, tmp_path):
    path, _ = film
    kf = tmp_path / "kf"
    assert CliRunner().invoke(keyframes_main, [str(path), str(kf), "-q"]).exit_code == 0
    mine = kf / ShotMap.read(kf).shots[0].keyframes[0].file
    write_image(mine, np.dstack([read_image(mine)] * 2 + [read_image(mine) // 2]))
    result = CliRunner().invoke(keyframes_main, [str(path), str(kf), "-q", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "vidcolor-keyframes: warning: " in result.output and "kept 1 keyframe" in result.output
    assert "vidcolor: warning" not in result.output


def test_overwrite_keeps_every_folder_but_its_own_and_never_a_folder_a_studio_has_open(film, tmp_path, model):
    """--overwrite replaces what vidcolor wrote (the keyframes, auto/, shots.csv, the sheet) and keeps
    the rest: the studio's colored/ and render/, a person's own folders and hidden files; while a
    studio has the folder open (its lock), the folder is refused as it is, before the film is read."""
    from vidcolor.folderlock import FolderLock

    path, _ = film
    kf = tmp_path / "kf"
    make_keyframes(model, path, kf, progress=False)
    (kf / "colored").mkdir()
    (kf / "colored" / "x.png").write_bytes(b"studio's")
    (kf / "render").mkdir()
    (kf / "render" / "film_color.mp4").write_bytes(b"a render")
    (kf / "mine" / "deep").mkdir(parents=True)
    (kf / "mine" / "deep" / "notes.txt").write_text("reel 2")
    (kf / ".notes").write_text("hidden")
    stale_auto = kf / "auto" / "stale.png"
    stale_auto.write_bytes(b"old")
    studio = FolderLock(kf, "vidcolor-studio at http://127.0.0.1:1/").acquire()
    try:
        with pytest.raises(vidcolor.ImageError, match="another vidcolor-studio"):
            make_keyframes(model, path, kf, overwrite=True, progress=False)
        result = CliRunner().invoke(keyframes_main, [str(path), str(kf), "--overwrite", "-q"])
        one_error_line(result, "another vidcolor-studio", "stop it first")
    finally:
        studio.release()
    assert (kf / "render" / "film_color.mp4").is_file() and stale_auto.is_file()
    make_keyframes(model, path, kf, overwrite=True, progress=False)
    assert (kf / "colored" / "x.png").read_bytes() == b"studio's"
    assert (kf / "render" / "film_color.mp4").read_bytes() == b"a render"
    assert (kf / "mine" / "deep" / "notes.txt").read_text() == "reel 2"
    assert (kf / ".notes").read_text() == "hidden"
    assert not stale_auto.exists()  # auto/ is vidcolor's own: made again
    assert not (kf / ".studio.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4", "kf"]


def test_vidcolor_keyframes_into_a_read_only_folder_says_so_before_reading_the_film(film, tmp_path):
    import os
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    path, _ = film
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        result = CliRunner().invoke(keyframes_main, [str(path), str(ro / "kf"), "-q"])
        one_error_line(result, "output folder is not writable")
    finally:
        ro.chmod(0o755)


def test_one_shot_is_said_in_the_singular(tmp_path):
    path = tmp_path / "one.mp4"
    make_shots_film(path, (10,), width=96, height=64)
    result = CliRunner().invoke(keyframes_main, [str(path), str(tmp_path / "kf")])
    assert result.exit_code == 0 and "1 shot, 1 keyframe " in result.output, result.output


def test_keyframes_are_read_as_the_films_pass_reads_them_on_any_device(film, tmp_path, model):
    """Films decode planar on every device; keyframes decoded planar only on the CPU, so on a GPU
    their grey pictures were not what the film's pass sees. Here a colorizer that says it is not
    on the CPU (its maths still run here) must write the same grey keyframes."""
    path, _ = film
    on_cpu = Colorizer(model)
    elsewhere = Colorizer(model)
    elsewhere.on_cpu = False
    elsewhere.plane_maths = "torch"
    a = make_keyframes(on_cpu, path, tmp_path / "a", progress=False)
    b = make_keyframes(elsewhere, path, tmp_path / "b", progress=False)
    assert [k.checksum for k in a.keyframes] == [k.checksum for k in b.keyframes]


def test_a_kill_while_the_folder_is_swapped_leaves_the_old_one_where_no_sweep_removes_it(film, tmp_path, model,
                                                                                          monkeypatch):
    """--overwrite renames the old folder away, then the new one in: killed between the two, the
    old folder (a person's keyframes and subfolders) must not sit under a temporary's name."""
    import os

    from vidcolor import keyframes, tempfiles

    path, _ = film
    kf = tmp_path / "kf"
    make_keyframes(model, path, kf, progress=False)
    (kf / "render").mkdir()
    (kf / "render" / "mine.mp4").write_bytes(b"x")
    real = os.replace
    calls = []

    def killed_on_second(src, dst):
        if calls:  # the old folder is away: the new one's rename is killed
            raise KeyboardInterrupt
        if Path(src) == kf:
            calls.append((src, Path(dst)))
        return real(src, dst)

    monkeypatch.setattr(keyframes.os, "replace", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        make_keyframes(model, path, kf, overwrite=True, progress=False)
    monkeypatch.undo()
    old = calls[0][1]
    assert tempfiles.TEMP_MARKER not in old.name and (old / "render" / "mine.mp4").is_file()
    tempfiles.sweep(tmp_path, again=True)
    assert (old / "render" / "mine.mp4").is_file()


def test_a_longer_film_than_its_shot_map_is_refused_at_once_not_at_its_end(tmp_path, model):
    """A Matroska film whose container does not count its frames, longer than the map it is given:
    refused as soon as a frame lies past the map (it was coloured to its end first)."""
    short, long = tmp_path / "short.mkv", tmp_path / "long.mkv"
    make_shots_film(short, (10, 10), width=96, height=64)
    make_shots_film(long, (10, 10, 10, 10, 10, 10, 10, 10), width=96, height=64)
    make_keyframes(model, short, tmp_path / "kf", progress=False)
    seen = []
    with pytest.raises(vidcolor.VideoError, match="more frames than the 20 its shots.csv lists"):
        colorize_video(model, long, tmp_path / "out.mkv", keyframes=tmp_path / "kf", batch_size=2,
                       progress=lambda n: seen.append(n))
    assert sum(seen) <= 24 and not (tmp_path / "out.mkv").exists()


def test_the_shots_bar_ends_at_the_frames_decoded_not_an_avis_index(tmp_path, model, capsys):
    """An AVI whose index holds empty entries for gaps counts more entries than frames: the bar's
    total was that count, and it stopped short of it (63/444)."""
    import sys as _sys
    _sys.path.insert(0, str(Path(__file__).parent))
    from test_video import gap_avi

    from vidcolor.decode import VideoReader
    src = gap_avi(tmp_path / "gaps.avi", [0, 1, 2, 5, 6, 10, 11, 12, 20, 21])
    reader = VideoReader(src)
    announced = reader.info.frames
    reader.close()
    capsys.readouterr()
    make_keyframes(model, src, tmp_path / "kf", progress=True)
    err = capsys.readouterr().err
    assert announced != 10 and "10/10" in err and f"/{announced}" not in err.split("10/10")[-1], (announced, err[-400:])
