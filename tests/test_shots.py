"""The shot map (shots.csv) and the contact sheet on their own: a map written is the map read, a
hand-edited one that no longer describes a film is refused in one line, and a keyframe saved again
unchanged still counts as untouched."""
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from vidcolor import ImageError
from vidcolor.contactsheet import contact_sheet
from vidcolor.imageio import read_image, write_image
from vidcolor.shots import AUTO_FOLDER, COLORED_FOLDER, SHOTS_FILE, Keyframe, Shot, ShotMap, grey_checksum, grey_pixels


def two_shots(folder) -> ShotMap:
    """A map of a 50-frame film in two shots (the second with two keyframes), its pictures written."""
    (folder / AUTO_FOLDER).mkdir(parents=True)
    shots = [Shot(0, 0, 19, 0.0, 0.8), Shot(1, 20, 49, 0.8, 2.0)]
    for shot, frames in zip(shots, ([5], [25, 40])):
        for frame in frames:
            grey = np.full((24, 32), 40 + 3 * frame, np.uint8)
            name = f"shot{shot.index:04d}_f{frame:07d}.png"
            write_image(folder / name, grey)
            write_image(folder / AUTO_FOLDER / name, np.dstack([grey, grey // 2, grey // 3]))
            shot.keyframes.append(Keyframe(frame, frame * 0.04, name, 32, 24, grey_checksum(grey)))
    return ShotMap(shots)


def test_a_map_written_is_the_map_read(tmp_path):
    shot_map = two_shots(tmp_path)
    shot_map.write(tmp_path)
    again = ShotMap.read(tmp_path)
    assert again == shot_map and again.frames == 50 and len(again.keyframes) == 3
    assert [again.shot_of(f).index for f in (0, 19, 20, 49)] == [0, 0, 1, 1]
    again.check_film(50, 32, 24, "film.mp4")
    with pytest.raises(ImageError, match="lists 50 frames but film.mp4 has 51"):
        again.check_film(51, 32, 24, "film.mp4")
    with pytest.raises(ImageError, match="made from a 32x24 film but film.mp4 is 64x24"):
        again.check_film(None, 64, 24, "film.mp4")


@pytest.mark.parametrize("edit, words", [
    (lambda rows: [rows[0]] + [r.replace(",0,19,", ",0,18,", 1) for r in rows[1:2]] + rows[2:],
     "should be shot 1 starting at frame 19"),
    (lambda rows: rows[:1] + [rows[1].replace(",5,", ",30,", 1)] + rows[2:], "keyframe 30 is outside its shot"),
    (lambda rows: rows[:1] + [rows[1].replace("shot0000_f0000005.png", "../x.png")] + rows[2:], "must be a name"),
    (lambda rows: rows[:1] + [rows[1].replace(",0,19,", ",zero,19,", 1)] + rows[2:], "numbers expected"),
    (lambda rows: [rows[0].replace(",checksum", "")] + rows[1:], "lacks the columns checksum"),
    (lambda rows: rows[:1], "no rows"),
])
def test_a_map_that_no_longer_describes_a_film_is_refused(tmp_path, edit, words):
    two_shots(tmp_path).write(tmp_path)
    rows = (tmp_path / SHOTS_FILE).read_text().splitlines()
    (tmp_path / SHOTS_FILE).write_text("\n".join(edit(rows)) + "\n")
    with pytest.raises(ImageError, match=re.escape(words)):
        ShotMap.read(tmp_path)


def test_grey_pixels_and_their_checksum_survive_another_encoding():
    grey = np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) % 256
    grey8 = grey.astype(np.uint8)
    assert np.array_equal(grey_pixels(np.dstack([grey8] * 3 + [np.full_like(grey8, 9)])), grey8)  # alpha ignored
    assert np.array_equal(grey_pixels(grey8.astype(np.uint16) * 257), grey8)  # 16-bit, rounded back
    assert grey_pixels(np.dstack([grey8, grey8, grey8 // 2])) is None  # coloured
    assert grey_checksum(grey_pixels(grey8.astype(np.uint16) * 257)) == grey_checksum(grey8)
    assert grey_checksum(grey8) != grey_checksum(grey8.T.copy())  # the shape counts too


def test_the_contact_sheet_shows_every_keyframe_grey_automatic_and_hinted(tmp_path):
    shot_map = two_shots(tmp_path)
    contact_sheet(shot_map, tmp_path, "film.mp4", start_s=10.0)
    page = (tmp_path / "index.html").read_text()
    pictures = re.findall(r'<img src="([^"]+)"', page)
    assert pictures == [p for k in shot_map.keyframes for p in (k.file, f"{AUTO_FOLDER}/{k.file}")]
    assert "0:10.800 - 0:12.000" in page and "2 shots, 3 keyframes, 50 frames" in page
    assert page.count("no hints") == 3
    sheet = read_image(tmp_path / "contact_sheet.png")
    tile_h = 24 + 240  # label + a 320-px-wide row of three 32x24 pictures
    assert sheet.shape[1] == 2 * 960 + 8 and sheet.shape[0] == 32 + 2 * (tile_h + 8)  # title, 2 rows of 2
    blank = sheet[32 + 24:32 + tile_h, 640:960]
    # a keyframe with hints and their colour saved (as vidcolor-studio saves them): its third picture
    key = shot_map.keyframes[0]
    (tmp_path / COLORED_FOLDER).mkdir()
    write_image(tmp_path / COLORED_FOLDER / key.file, np.full((24, 32, 3), (200, 40, 30), np.uint8))
    from vidcolor.hints import file_digest
    (tmp_path / f"{Path(key.file).stem}.hints.json").write_text(
        json.dumps({"hints": [], "saved": {"colored": file_digest(tmp_path / COLORED_FOLDER / key.file)}}))
    contact_sheet(shot_map, tmp_path, "film.mp4", start_s=10.0)
    page = (tmp_path / "index.html").read_text()
    assert re.findall(r'<img src="([^"]+)"', page)[2] == f"{COLORED_FOLDER}/{key.file}" and page.count("no hints") == 2
    hinted = read_image(tmp_path / "contact_sheet.png")[32 + 24:32 + tile_h, 640:960]
    assert blank.min() > 100 and np.abs(hinted.astype(int) - (200, 40, 30)).max() <= 2


def test_the_contact_sheet_tells_of_a_hand_written_hints_file(tmp_path):
    """A NAME.hints.json written by hand (which --keyframes uses) is no "no hints"; nor is a colour
    older than the hints beside it shown as their colour."""
    shot_map = two_shots(tmp_path)
    key = shot_map.keyframes[1]
    (tmp_path / COLORED_FOLDER).mkdir()
    write_image(tmp_path / COLORED_FOLDER / key.file, np.full((24, 32, 3), (200, 40, 30), np.uint8))
    hints = tmp_path / f"{Path(key.file).stem}.hints.json"
    hints.write_text('{"hints": [{"point": [3, 3], "color": "#00ff00"}]}')
    os.utime(hints, ns=(hints.stat().st_mtime_ns + 10**9,) * 2)  # written after that colour
    contact_sheet(shot_map, tmp_path, "film.mp4")
    page = (tmp_path / "index.html").read_text()
    assert page.count("no hints") == 2 and f"hints in {hints.name}" in page
    assert f"{COLORED_FOLDER}/{key.file}" not in page


def test_the_contact_sheet_addresses_names_with_hash_query_and_percent(tmp_path):
    """A keyframe named with # ? % or a space loads in the page: its address is percent-encoded."""
    (tmp_path / AUTO_FOLDER).mkdir()
    name = "reel #2? 50% done.png"
    grey = np.full((24, 32), 90, np.uint8)
    write_image(tmp_path / name, grey)
    write_image(tmp_path / AUTO_FOLDER / name, np.dstack([grey, grey // 2, grey // 3]))
    shot_map = ShotMap([Shot(0, 0, 9, 0.0, 0.4, [Keyframe(0, 0.0, name, 32, 24, grey_checksum(grey))])])
    contact_sheet(shot_map, tmp_path, "film.mp4")
    pictures = re.findall(r'<img src="([^"]+)"', (tmp_path / "index.html").read_text())
    from urllib.parse import unquote
    assert pictures[0] == "reel%20%232%3F%2050%25%20done.png"
    assert all((tmp_path / unquote(p)).is_file() for p in pictures)
