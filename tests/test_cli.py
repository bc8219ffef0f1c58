import os
import subprocess
import sys

from click.testing import CliRunner

from conftest import gradient_image
from vidcolor import read_image, write_image
from vidcolor.cli import main


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
