import pickle

import pytest
import torch
from helpers import TINY_SIZE
from torch import nn

from vidcolor import ModelFileError, load_model, save_weights


def test_save_load_gives_identical_outputs(tiny_model, tiny_weights):
    loaded = load_model(tiny_weights, device="cpu")
    assert loaded.config == tiny_model.config
    assert loaded.metadata["provenance"] == "random init for tests"
    x = torch.rand(2, 1, TINY_SIZE, TINY_SIZE) * 100
    with torch.inference_mode():
        assert torch.equal(loaded(x), tiny_model(x))


def test_fp16_release_loads_as_float32(tiny_model, tmp_path):
    save_weights(tiny_model, tmp_path / "half.pt", dtype=torch.float16)
    loaded = load_model(tmp_path / "half.pt", device="cpu")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * sum(p.numel() * 4 for p in loaded.parameters())


class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/vidcolor-pwned",))


def one_line_error(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path, device="cpu")
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the point of the test
def test_bad_files_get_clear_errors(tmp_path):
    (tmp_path / "random.pt").write_bytes(bytes(range(256)) * 40)
    assert "not a vidcolor weights file" in one_line_error(tmp_path / "random.pt")
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": "vidcolor", "x": Evil()}, f)
    assert "not a vidcolor weights file" in one_line_error(tmp_path / "evil.pt")
    torch.save({"format": "vidcolor", "x": Evil()}, tmp_path / "evil2.pt")
    assert "pickled Python objects" in one_line_error(tmp_path / "evil2.pt")
    torch.save(nn.Linear(3, 4).state_dict(), tmp_path / "other.pt")
    assert "no vidcolor header" in one_line_error(tmp_path / "other.pt")
    torch.save({"format": "vidcolor", "format_version": 1, "config": {"size": 32},
                "state_dict": nn.Linear(3, 4).state_dict()}, tmp_path / "wrong.pt")
    assert "do not fit" in one_line_error(tmp_path / "wrong.pt")
    assert "not found" in one_line_error(tmp_path / "missing.pt")


def test_missing_default_says_how_to_pass_a_model(monkeypatch, tmp_path):
    monkeypatch.setattr("vidcolor.weights.DEFAULT_WEIGHTS", tmp_path / "none.pt")
    with pytest.raises(ModelFileError, match="--model"):
        load_model("default")


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
