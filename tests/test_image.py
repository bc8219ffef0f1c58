import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import REPO, gradient_image
from media import make_gif

import vidcolor
from vidcolor import Colorizer, ImageError, colorize_image, read_image, write_image
from vidcolor.color import rgb_to_lab
from vidcolor.colorizer import bilinear_rows


def lightness(img: np.ndarray) -> np.ndarray:
    peak = 65535.0 if img.dtype == np.uint16 else 255.0
    rgb = img[..., :3] if img.ndim == 3 and img.shape[2] >= 3 else np.repeat(img.reshape(*img.shape[:2], 1), 3, 2)
    return rgb_to_lab(torch.from_numpy(rgb / peak).permute(2, 0, 1))[0].numpy()


def chroma(img: np.ndarray) -> float:
    peak = 65535.0 if img.dtype == np.uint16 else 255.0
    lab = rgb_to_lab(torch.from_numpy(img[..., :3] / peak).permute(2, 0, 1))
    return float(lab[1:].abs().sum(0).mean())


@pytest.mark.parametrize("channels,dtype", [(1, np.uint8), (3, np.uint8), (4, np.uint8), (3, np.uint16),
                                            (4, np.uint16), (1, np.uint16)])
def test_odd_size_keeps_size_lightness_alpha_and_depth(tiny_model, channels, dtype):
    img = gradient_image(333, 517, channels, dtype)
    out = colorize_image(tiny_model, img)
    assert out.shape[:2] == (333, 517) and out.dtype == dtype
    assert out.shape[2] == (4 if channels == 4 else 3)
    assert np.abs(lightness(out) - lightness(img)).mean() < 0.5
    assert chroma(out) > 0.5  # a random network still predicts colour
    if channels == 4:
        assert np.array_equal(out[..., 3], img[..., 3])
    if channels == 1:
        assert np.array_equal(colorize_image(tiny_model, img[..., None]), out)


def test_color_input_is_treated_as_its_lightness(tiny_model):
    img = gradient_image(64, 48)
    grey_of_it = np.repeat(img.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    colorizer = Colorizer(tiny_model, precision="fp32")
    same_l = colorize_image(colorizer, img)
    assert np.abs(lightness(same_l) - lightness(img)).mean() < 0.5
    # only L reaches the network: recolourizing a photo and its own L-grey version agree
    from vidcolor.color import grey_from_lightness
    l_grey = grey_from_lightness(torch.from_numpy(lightness(img))).numpy()  # the neutral grey of each pixel's L*
    assert colorize_image(colorizer, img).shape == colorize_image(colorizer, l_grey).shape == grey_of_it.shape
    assert np.abs(colorize_image(colorizer, img).astype(int) - colorize_image(colorizer, l_grey)).max() <= 2


def test_strips_compose_like_one_interpolation():
    ab = torch.randn(1, 2, 32, 32)
    full = F.interpolate(ab, size=(333, 517), mode="bilinear", align_corners=False)
    rows = bilinear_rows(333, 32, 100, 250, "cpu")
    part = F.interpolate(torch.einsum("hs,ncsw->nchw", rows, ab), size=(150, 517), mode="bilinear",
                         align_corners=False)
    torch.testing.assert_close(part, full[..., 100:250, :], atol=1e-5, rtol=0)


def test_tall_image_is_composed_in_strips_identically(tiny_model, monkeypatch):
    import vidcolor.picture as image_module
    img = gradient_image(301, 97)
    whole = colorize_image(tiny_model, img, precision="fp32")
    monkeypatch.setattr(image_module, "STRIP_PIXELS", 97 * 40)
    assert np.abs(colorize_image(tiny_model, img, precision="fp32").astype(int) - whole).max() <= 1


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment holding only the Orientation tag after the SOI marker."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def test_read_applies_exif_orientation_and_keeps_alpha_and_depth(tmp_path):
    img = gradient_image(40, 60)
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    path = tmp_path / "rotated.jpg"
    path.write_bytes(with_exif_orientation(enc.tobytes(), 6))  # 6: rotate 90 degrees clockwise to view
    assert read_image(path).shape == (60, 40, 3)
    rgba = gradient_image(20, 30, 4, np.uint16)
    write_image(tmp_path / "a.png", rgba)
    assert np.array_equal(read_image(tmp_path / "a.png"), rgba)
    write_image(tmp_path / "a.jpg", rgba)  # JPEG holds neither alpha nor 16 bits
    back = read_image(tmp_path / "a.jpg")
    assert back.dtype == np.uint8 and back.shape == (20, 30, 3)
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []


def test_colorize_from_path_matches_array(tiny_model, tmp_path):
    img = gradient_image(50, 70)
    write_image(tmp_path / "in.png", img)
    assert np.array_equal(colorize_image(tiny_model, tmp_path / "in.png"), colorize_image(tiny_model, img))


def test_cpu_fast_path_agrees_with_exact_torch_maths(tiny_model):
    """On the CPU, frames go through OpenCV's Lab conversions; they must agree with vidcolor.color."""
    colorizer = Colorizer(tiny_model, precision="fp32")
    frames = np.stack([gradient_image(67, 91, seed=s) for s in range(3)])
    fast_l = colorizer.lightness(frames)
    exact_l = torch.from_numpy(np.stack([lightness(f) for f in frames]))[:, None]
    assert (fast_l - exact_l).abs().max() < 1e-3
    ab = colorizer.predict_ab(exact_l) * 3  # stronger colour: reach the gamut edges too
    fast = colorizer.compose_uint8(exact_l, ab)
    exact = (colorizer.compose(exact_l, ab).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    assert (fast.int() - exact.int()).abs().max() <= 1


def test_device_path_matches_cpu_path(tiny_model):
    """The torch path that runs on CUDA, exercised here on the CPU: same frames out within 1 code value."""
    frames = np.stack([gradient_image(45, 61, seed=s) for s in range(2)])
    fast = Colorizer(tiny_model, precision="fp32")
    device = Colorizer(tiny_model, precision="fp32")
    device.on_cpu = False
    assert (fast.colorize_frames(frames).int() - device.colorize_frames(torch.from_numpy(frames)).int()).abs().max() <= 1


@pytest.mark.slow
def test_truncated_png_prints_one_line_only(tmp_path, tiny_weights):
    ok, data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (tmp_path / "cut.png").write_bytes(data.tobytes()[: data.size // 2])
    proc = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "cut.png"), str(tmp_path / "o.png"),
                           "--model", str(tiny_weights)], capture_output=True, text=True, cwd=REPO, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("vidcolor: error:"), proc.stderr
    assert not (tmp_path / "o.png").exists()


def test_an_empty_array_is_an_image_error(tiny_model):
    for shape in ((0, 5), (5, 0, 3), (0, 0)):
        with pytest.raises(ImageError, match="empty"):
            colorize_image(tiny_model, np.zeros(shape, np.uint8))


def test_gif_is_not_written_and_an_animated_one_says_it_keeps_one_frame(tmp_path, tiny_model):
    with pytest.raises(ImageError, match="'.gif'"):
        write_image(tmp_path / "x.gif", gradient_image(8, 8))
    assert not (tmp_path / "x.gif").exists()
    frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(3)]
    make_gif(tmp_path / "anim.gif", frames)
    with pytest.warns(vidcolor.VidcolorWarning, match="animated GIF of 3 frames"):
        colorize_image(tiny_model, tmp_path / "anim.gif")


def test_decoding_in_threads_never_moves_the_process_stderr(tmp_path, monkeypatch):
    """The studio reads thumbnails in parallel threads: a decoder silenced by pointing fd 2 at the
    null device from a thread hid every later warning, traceback and closing line for good."""
    import os
    import threading

    import cv2

    from vidcolor.imageio import read_image, write_image

    write_image(tmp_path / "a.png", np.full((8, 8, 3), 90, np.uint8))
    before = os.fstat(2)
    seen = []
    decode = cv2.imdecode

    def watching(*args):
        seen.append((os.fstat(2).st_dev, os.fstat(2).st_ino))
        return decode(*args)

    monkeypatch.setattr(cv2, "imdecode", watching)
    threads = [threading.Thread(target=lambda: [read_image(tmp_path / "a.png") for _ in range(25)]) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert set(seen) == {(before.st_dev, before.st_ino)}


def test_importing_vidcolor_quiets_torchs_idle_threads_unless_told_otherwise():
    """The README's Python example ran films 4-6x slower than the command: torch's OpenMP workers
    spun on the encoder's cores. `import vidcolor` sets what the command sets, before torch loads."""
    import os

    code = "import os, vidcolor; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = lambda c, e: subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, env=e,  # noqa: E731
                                      cwd=REPO).stdout.strip()
    assert run(code, env) == "PASSIVE"
    assert run(code, {**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"  # the caller's own wins
    assert run("import torch; " + code, env) == "None"  # too late to matter: left alone


def test_a_higher_temperature_gives_more_colour():
    """What --temperature does, as the README says (it said the reverse)."""
    from vidcolor.color import lab_of_pixels

    model = vidcolor.load_model("default", device="cpu")
    chroma = []
    for t in (0.25, 0.6, 1.0):
        lab = lab_of_pixels(colorize_image(model, REPO / "samples" / "redwoods_bw.jpg", temperature=t)).numpy()
        chroma.append(float(np.hypot(lab[1], lab[2]).mean()))
    assert chroma[0] < chroma[1] < chroma[2], chroma


@pytest.mark.parametrize("kind", ["tiff-le", "tiff-be", "bmp", "gif"])
def test_a_still_over_the_limit_is_refused_from_its_header_whatever_its_format(tmp_path, kind):
    """A 600 MP picture is refused by its header's size before any decoding (only PNG and JPEG
    headers were read; a TIFF was decoded in full first)."""
    from vidcolor.imageio import read_image

    width, height = 30000, 20000
    if kind.startswith("tiff"):
        order = "<" if kind == "tiff-le" else ">"
        entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8)]
        ifd = struct.pack(order + "H", len(entries)) + b"".join(
            struct.pack(order + "HHII", t, k, c, v) if k == 4 else struct.pack(order + "HHIHH", t, k, c, v, 0)
            for t, k, c, v in entries) + struct.pack(order + "I", 0)
        data = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8) + ifd
        name = "big.tif"
    elif kind == "bmp":
        data = b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHH", 40, width, -height, 1, 24) + b"\0" * 24
        name = "big.bmp"
    else:
        data = b"GIF89a" + struct.pack("<HH", 30000, 20000) + b"\0" * 3
        name = "big.gif"
    (tmp_path / name).write_bytes(data + b"\0" * 64)
    with pytest.raises(ImageError, match="600 MP, more than the 400 MP"):
        read_image(tmp_path / name)
