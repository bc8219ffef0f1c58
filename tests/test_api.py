"""The Python API as the README shows it: the example runs as written, and no public name is
shadowed by the submodule of the same name once that is imported."""
import pkgutil
import re
import shutil

import cv2
import numpy as np

import vidcolor
from helpers import REPO, gradient_image
from media import make_clip


def readme_python_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_no_public_name_is_also_a_submodule():
    submodules = {m.name for m in pkgutil.iter_modules(vidcolor.__path__)}
    assert not submodules & set(vidcolor.__all__)


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    grey = cv2.cvtColor(gradient_image(48, 64), cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "old.jpg"), grey)
    shutil.copy(REPO / "samples" / "lighthouse_colour.jpg", tmp_path / "colour_photo.jpg")
    make_clip(tmp_path / "film.mp4", frames=10, width=96, height=64, grey=True, audio=None)
    (tmp_path / "archive").mkdir()
    cv2.imwrite(str(tmp_path / "archive" / "a.png"), grey)
    monkeypatch.chdir(tmp_path)
    code = readme_python_example()
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # the order the README gives: colorize_video first
    assert (tmp_path / "colour.png").is_file() and (tmp_path / "film_colour.mp4").is_file()
    assert (tmp_path / "out.mp4").is_file() and (tmp_path / "film_keys" / "shots.csv").is_file()
    assert len(scope["summary"].done) == 1 and scope["shots"].frames == 10
    assert np.asarray(scope["rgb"]).shape == (48, 64, 3)


def test_api_errors_are_vidcolor_errors_naming_the_argument(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, words in (("cuda", "device cuda was asked for but no CUDA GPU"), ("tpu", "device must be auto, cpu")):
        try:
            vidcolor.load_model("default", device=device)
        except vidcolor.OptionError as err:
            assert words in str(err) and "--device" not in str(err)
        else:
            raise AssertionError(f"load_model(device={device!r}) did not fail")
