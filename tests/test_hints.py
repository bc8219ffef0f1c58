"""Colour hints: both forms read as the README says, spread along the picture's edges and not
across them, the hints' own pixels in their colour, and hinted keyframes colouring their shots."""
import json

import numpy as np
import pytest
import torch
from helpers import cli, one_error_line
from media import make_clip, make_shots_film

import vidcolor
from vidcolor import ImageError
from vidcolor.color import lab_of_pixels, lab_to_rgb, to_uint8
from vidcolor.hints import hints_beside, hints_of_picture, read_hints
from vidcolor.imageio import read_image, write_image
from vidcolor.propagate import apply_hints, propagate

RED = (40.0, 25.0)  # a/b


def two_regions(height=60, width=80) -> np.ndarray:
    """L*: a dark left half and a bright right half, a sharp edge between, a little texture."""
    light = np.where(np.arange(width)[None, :] < width // 2, 30.0, 70.0) * np.ones((height, 1))
    return (light + np.random.default_rng(0).normal(0, 0.5, light.shape)).astype(np.float32)


def test_a_hint_colours_its_region_and_stops_at_the_edge():
    light = two_regions()
    mask = np.zeros(light.shape, bool)
    mask[28:33, 8:13] = True
    ab = np.zeros((*light.shape, 2), np.float32)
    ab[mask] = RED
    out = propagate(light, np.zeros_like(ab), mask, ab)
    left, right = out[:, :40], out[:, 40:]
    assert left[..., 0].mean() > 0.8 * RED[0] and left[..., 1].mean() > 0.8 * RED[1]  # the whole region
    assert np.abs(right).max() < 3.0  # nothing across the edge
    assert np.abs(out[mask] - RED).max() < 1e-4  # the hint's own pixels, exactly


def test_a_click_corrects_what_is_wrong_as_at_the_click_not_what_was_right():
    """One even grey wall (no edge at all), its left half coloured blue by the model and its right
    half green: a red click on the left half colours the left red and leaves the right green."""
    light = np.full((60, 80), 50.0, np.float32)
    auto = np.zeros((60, 80, 2), np.float32)
    auto[:, :40], auto[:, 40:] = (0.0, -30.0), (-30.0, 20.0)
    mask = np.zeros(light.shape, bool)
    mask[28:33, 8:13] = True
    ab = np.zeros_like(auto)
    ab[mask] = RED
    out = propagate(light, auto, mask, ab)
    assert np.abs(out[:, :30] - RED).mean() < 10  # the blue half taken
    assert np.abs(out[:, 50:] - (-30.0, 20.0)).max() < 4  # the green half as it was


def test_the_models_features_keep_a_click_to_the_thing_it_lands_on():
    """Even lightness and colour throughout, but the model sees two things (its features differ
    between the halves): a click on one colours that one only; without the features, both."""
    light = np.full((60, 80), 50.0, np.float32)
    auto = np.zeros((60, 80, 2), np.float32)
    features = np.zeros((8, 15, 20), np.float32)
    features[0, :, :10], features[1, :, 10:] = 1.0, 1.0
    mask = np.zeros(light.shape, bool)
    mask[28:33, 8:13] = True
    ab = np.zeros_like(auto)
    ab[mask] = RED
    seen = propagate(light, auto, mask, ab, features)
    assert np.abs(seen[:, :30] - RED).mean() < 10 and np.abs(seen[:, 50:]).max() < 4
    blind = propagate(light, auto, mask, ab)
    assert np.abs(blind[:, 50:] - RED).mean() < 15  # one even wall: the click's colour everywhere


def test_the_hints_pixels_keep_their_colour_through_rgb():
    light = two_regions()
    grey = to_uint8(lab_to_rgb(torch.from_numpy(np.stack([light, 0 * light, 0 * light])))).permute(1, 2, 0).numpy()
    mask = np.zeros(light.shape, bool)
    mask[10:20, 50:60] = True
    ab = np.zeros((*light.shape, 2), np.float32)
    ab[mask] = (-20.0, 30.0)
    out = apply_hints(grey, mask, ab)
    got = lab_of_pixels(out).numpy()
    assert np.abs(got[1:].transpose(1, 2, 0)[mask] - (-20.0, 30.0)).max() <= 2.0  # within 2 a/b units
    assert np.abs(got[0] - lab_of_pixels(grey).numpy()[0]).max() < 1.0  # L* is the picture's own
    deep = apply_hints(grey.astype(np.uint16) * 257, mask, ab)
    assert deep.dtype == np.uint16 and np.abs(deep.astype(int) // 257 - out).max() <= 1


def test_hints_files_and_pictures_as_the_readme_gives_them(tmp_path):
    (tmp_path / "h.json").write_text(json.dumps({"hints": [
        {"point": [10, 12], "color": "#c03020", "radius": 3},
        {"stroke": [[30, 40], [60, 40]], "color": [40, 90, 200], "width": 4}]}))
    mask, ab = read_hints(tmp_path / "h.json", 60, 80)
    assert mask[12, 10] and mask[12, 12] and not mask[12, 14] and mask[40, 45] and not mask[45, 45]
    assert ab[12, 10, 0] > 30 and ab[40, 45, 1] < -30  # red; blue
    layer = np.zeros((60, 80, 4), np.uint8)
    layer[5:9, 5:9] = (200, 40, 30, 255)
    layer[20:24, 20:24] = (200, 40, 30, 60)  # mostly transparent: not a hint
    mask, ab = hints_of_picture(layer)
    assert mask.sum() == 16 and ab[6, 6, 0] > 30
    strokes = np.full((60, 80, 3), 128, np.uint8)
    strokes[30:33, 30:40] = (30, 160, 40)
    mask, _ = hints_of_picture(strokes)
    assert mask.sum() == 30  # only the coloured pixels
    write_image(tmp_path / "small.png", layer[:30])
    with pytest.raises(ImageError, match="a 80x30 picture, but the picture it hints is 80x60"):
        read_hints(tmp_path / "small.png", 60, 80)


@pytest.mark.parametrize("content, words", [
    ("{", "not a hints file"),
    ('{"points": []}', 'a hints file is {"hints": [...]}'),
    ('{"hints": [{"point": [1, 2]}]}', "hint 1: color must be"),
    ('{"hints": [{"color": "#ffffff"}]}', 'each hint has a "point" or a "stroke"'),
    ('{"hints": [{"point": [1], "color": "#ffffff"}]}', "a point is [x, y]"),
    ('{"hints": [{"stroke": [], "color": "#ffffff"}]}', "a stroke is a list of [x, y] points"),
    ('{"hints": [{"point": [1, 2], "color": "#ffffff", "radius": -3}]}', "radius must be a number of pixels from 1 to 10000"),
    ('{"hints": [{"point": [50, 50], "color": "#ffffff"}]}', "hint 1: the point [50, 50] lies wholly outside the 30x20"),
    ('{"hints": [{"point": [5000, 5000], "color": "#ffffff"}]}', "hint 1: the point [5000, 5000] lies far outside"),
    ('{"hints": [{"point": [-9, 5], "color": "#ffffff", "radius": 4}]}', "wholly outside"),
    ('{"hints": [{"point": [1e308, 5], "color": "#ffffff"}]}', "lies far outside the 30x20 picture"),
    ('{"hints": [{"stroke": [[-50, -50], [-40, -60]], "color": "#ffffff"}]}', "the stroke lies wholly outside"),
    ('{"hints": [{"stroke": [[-1e30, 5], [10, 5]], "color": "#ffffff"}]}', "far outside"),
    ('{"hints": [{"point": [NaN, 5], "color": "#ffffff"}]}', "a point is [x, y]"),
])
def test_a_bad_hints_file_is_one_line_before_any_work(tmp_path, tiny_weights, content, words):
    write_image(tmp_path / "in.png", np.full((20, 30), 100, np.uint8))
    (tmp_path / "h.json").write_text(content)
    one_error_line(cli(tmp_path / "in.png", tmp_path / "out.png", "--hints", tmp_path / "h.json", "--model",
                       tiny_weights), "--hints", words)
    assert not (tmp_path / "out.png").exists()


def test_the_command_takes_hints_for_a_still_only(tmp_path, tiny_weights):
    light = two_regions()
    grey = to_uint8(lab_to_rgb(torch.from_numpy(np.stack([light, 0 * light, 0 * light])))).permute(1, 2, 0).numpy()
    write_image(tmp_path / "in.png", grey)
    (tmp_path / "h.json").write_text(json.dumps({"hints": [{"point": [10, 30], "color": "#d03020", "radius": 3}]}))
    result = cli(tmp_path / "in.png", tmp_path / "out.png", "--hints", tmp_path / "h.json", "--model", tiny_weights,
                 "-q")
    assert result.exit_code == 0, result.output
    plain = cli(tmp_path / "in.png", tmp_path / "auto.png", "--model", tiny_weights, "-q")
    assert plain.exit_code == 0
    hinted, auto = lab_of_pixels(read_image(tmp_path / "out.png")), lab_of_pixels(read_image(tmp_path / "auto.png"))
    assert float((hinted[1, :, :40] - auto[1, :, :40]).mean()) > 15  # the dark half turned red
    assert float((hinted[1:, :, 40:] - auto[1:, :, 40:]).abs().mean()) < 3  # the bright half as it was
    film = make_clip(tmp_path / "f.mp4", frames=3, audio=None, grey=True)
    one_error_line(cli(film, tmp_path / "o.mp4", "--hints", tmp_path / "h.json", "--model", tiny_weights),
                   "--hints colours a still", "hints.png", code=2)
    one_error_line(cli(tmp_path, tmp_path / "folder_out", "--hints", tmp_path / "h.json", "--model", tiny_weights),
                   "--hints colours one still", code=2)


def test_a_hinted_keyframe_colours_its_shot_and_no_other(tmp_path):
    model = vidcolor.load_model("default", device="cpu")
    film = tmp_path / "film.mp4"
    starts = make_shots_film(film, (12, 14, 10))
    shot_map = vidcolor.make_keyframes(model, film, tmp_path / "kf", progress=False)
    vidcolor.colorize_video(model, film, tmp_path / "auto.mp4", progress=False, keyframes=tmp_path / "kf")
    key = tmp_path / "kf" / shot_map.shots[1].keyframes[0].file
    assert hints_beside(key) is None
    strokes = [{"stroke": [[x, y] for x in range(0, 160, 20)], "color": "#d02818", "width": 6} for y in (10, 40, 70, 90)]
    (key.parent / (key.stem + ".hints.json")).write_text(json.dumps({"hints": strokes}))
    assert hints_beside(key) == key.parent / (key.stem + ".hints.json")
    vidcolor.colorize_video(model, film, tmp_path / "hinted.mp4", progress=False, keyframes=tmp_path / "kf")
    from training.evaluate_video import read_frames
    before = [float(lab_of_pixels(f)[1].mean()) for f in read_frames(tmp_path / "auto.mp4")[0]]
    after = [float(lab_of_pixels(f)[1].mean()) for f in read_frames(tmp_path / "hinted.mp4")[0]]
    shot1 = range(starts[1], starts[2])
    assert all(after[i] > before[i] + 5 for i in shot1), [round(after[i] - before[i], 1) for i in shot1]
    others = [i for i in range(36) if i not in shot1]
    assert max(abs(after[i] - before[i]) for i in others) < 1.0


def test_a_bad_hints_file_is_refused_before_the_model_loads(tmp_path, monkeypatch):
    from vidcolor import weights

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the hints file was checked")

    monkeypatch.setattr(weights, "load_model", never)
    write_image(tmp_path / "in.png", np.full((20, 30), 100, np.uint8))
    (tmp_path / "h.json").write_text('{"hints": [{"point": [1, 2]}]}')
    one_error_line(cli(tmp_path / "in.png", tmp_path / "out.png", "--hints", tmp_path / "h.json"), "hint 1: color")


def test_the_suggestion_is_the_middle_of_the_largest_unsure_region_no_click_reaches():
    """A big region the model is fairly unsure of and a small thing it is very unsure of: the
    suggestion goes to the big region's middle (a click there corrects more), and once a click
    reaches that region, to the small thing."""
    from vidcolor.suggest import next_click

    spread = np.full((120, 160), 2.0, np.float32)
    spread[20:100, 70:150] = 20.0  # a big unsure region, its middle at (60, 110)
    spread[50:58, 10:18] = 40.0  # a small, very unsure thing
    reached = np.zeros(spread.shape, bool)
    y, x = next_click(spread, reached)
    assert abs(y - 60) <= 4 and abs(x - 110) <= 4
    reached[10:110, 60:160] = True
    y, x = next_click(spread, reached)
    assert 46 <= y <= 62 and 6 <= x <= 22
