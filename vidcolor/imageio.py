"""Still pictures in and out: read (EXIF orientation, alpha, 16-bit, size checked from the
header before decoding), write atomically (a temporary name renamed when complete).

Arrays in this module are RGB(A) order, HxW, HxWx1, HxWx3 or HxWx4, uint8 or uint16.
"""
from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
import warnings
from pathlib import Path

from .options import MAX_IMAGE_PIXELS  # noqa: E402

# OpenCV reads this once, on first use: it then refuses to allocate for larger images itself
# (vidcolor/__init__.py sets it first; this is for a caller that imported this module some other way)
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .color import to_8bit
from .errors import ImageError, VidcolorWarning
from .options import GIF_MAGIC, IMAGE_EXTENSIONS
from .tempfiles import atomic_write

DEEP_FORMATS = (".png", ".tif", ".tiff")  # extensions that keep 16 bits per channel
ALPHA_FORMATS = (".png", ".tif", ".tiff", ".webp")  # extensions that keep an alpha channel
JPEG_MAGIC = b"\xff\xd8"  # start-of-image marker


def _orient_like(raw: np.ndarray, oriented: np.ndarray) -> np.ndarray:
    """Apply to ``raw`` (with alpha) the rotation/flip that turned its colour into ``oriented``:
    OpenCV applies EXIF orientation only when it drops alpha, so find which of the 8 it was."""
    color = raw[..., :3]
    for k in range(4):
        for flip in (False, True):
            cand = np.rot90(color, k)
            cand = cand[:, ::-1] if flip else cand
            if cand.shape == oriented.shape and np.array_equal(cand, oriented):
                out = np.rot90(raw, k)
                return np.ascontiguousarray(out[:, ::-1] if flip else out)
    return raw


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, TIFF, BMP or GIF header without decoding, or None (WebP
    holds at most 16383 x 16383, within the limit)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(data)
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data[:4] == GIF_MAGIC and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == JPEG_MAGIC:
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


TIFF_WIDTH, TIFF_HEIGHT = 256, 257  # the tags of a TIFF's first directory that give its size


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a TIFF's first image directory, or None."""
    order = "<" if data[:2] == b"II" else ">"
    try:
        offset = struct.unpack(order + "I", data[4:8])[0]
        count = struct.unpack(order + "H", data[offset:offset + 2])[0]
        size = {}
        for n in range(count):
            entry = data[offset + 2 + 12 * n:offset + 14 + 12 * n]
            tag, kind = struct.unpack(order + "HH", entry[:4])
            if tag in (TIFF_WIDTH, TIFF_HEIGHT):
                size[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10 if kind == 3 else 12])[0]
    except struct.error:
        return None
    return (size[TIFF_WIDTH], size[TIFF_HEIGHT]) if len(size) == 2 else None


def check_size(path, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"{path}: {width}x{height} is {width * height / 1e6:.0f} MP, more than the "
                         f"{MAX_IMAGE_PIXELS // 1_000_000} MP vidcolor colourizes in memory; scale it down first")


def _log_level_calls():
    """OpenCV's (get, set) of its log level and the silent level: in ``cv2.utils.logging`` from
    OpenCV 5 (and late 4.x), as ``cv2.getLogLevel``/``setLogLevel`` in 4.8 (silent is 0 there)."""
    logging = getattr(cv2.utils, "logging", None)
    if logging is not None:
        return logging.getLogLevel, logging.setLogLevel, logging.LOG_LEVEL_SILENT
    return cv2.getLogLevel, cv2.setLogLevel, 0


_quiet = threading.Lock()  # guards the count of decodes under way and OpenCV's level before them
_quiet_state = {"depth": 0, "level": None}


@contextlib.contextmanager
def quiet_decoder():
    """Silence what image decoders print themselves: OpenCV's log (its level, process-wide, set
    while any decode is under way and put back by the last one, from any thread) and, in the main
    thread only, libpng's and libjpeg's messages on the process's stderr (fd 2 pointed at the null
    device for the decode). Threads never touch fd 2: it is every thread's stderr, and a second
    thread's save-and-restore could leave it on the null device for good (the studio's thumbnails)."""
    get_level, set_level, silent = _log_level_calls()
    with _quiet:
        if _quiet_state["depth"] == 0:
            _quiet_state["level"] = get_level()
            set_level(silent)
        _quiet_state["depth"] += 1
    saved = None
    if threading.current_thread() is threading.main_thread():
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no real stderr (an embedding host): nothing to silence
            saved = None
    try:
        if saved is not None:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        with _quiet:
            _quiet_state["depth"] -= 1
            if _quiet_state["depth"] == 0:
                set_level(_quiet_state["level"])


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB(A) or grey, uint8 or uint16, EXIF orientation applied."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise ImageError(f"{path}: permission denied (cannot read it)")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    size = header_size(memoryview(data))  # a TIFF's first directory may lie anywhere in the file
    if size:
        check_size(path, *size)
    if data[:4].tobytes() == GIF_MAGIC and not cv2.haveImageReader(str(path)):
        image, pages = _first_gif_frame(path)  # OpenCV before 4.12 reads no GIF
    else:
        image, pages = _decode_opencv(path, data)
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"{path}: {image.dtype} samples are not supported; save it as 8- or 16-bit")
    if pages > 1:
        warnings.warn(f"{path.name}: an animated GIF of {pages} frames; only the first is coloured as a still "
                      "(give a video output, e.g. out.mp4, to colour every frame)", VidcolorWarning, stacklevel=2)
    return image


def _decode_opencv(path: Path, data: np.ndarray) -> tuple[np.ndarray, int]:
    """The file's bytes as RGB(A) or grey (EXIF orientation applied) and its page count, by OpenCV."""
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR  # applies EXIF orientation
    try:
        with quiet_decoder():
            oriented = cv2.imdecode(data, flags)
            # only a format that can hold alpha needs the second, unoriented decode; JPEG cannot
            raw = oriented if data[:2].tobytes() == JPEG_MAGIC else cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            pages = cv2.imcount(str(path)) if data[:4].tobytes() == GIF_MAGIC else 1
    except cv2.error as err:
        raise ImageError(f"{path}: cannot decode image ({str(err).strip().splitlines()[-1][:120]})") from None
    if oriented is None or raw is None:
        raise ImageError(f"{path}: not an image OpenCV can decode (unknown format or damaged file)")
    if raw.ndim == 3 and raw.shape[2] == 4:
        raw = _orient_like(raw, oriented[..., :3] if oriented.ndim == 3 else oriented)
        return cv2.cvtColor(raw, cv2.COLOR_BGRA2RGBA), pages
    return (oriented if oriented.ndim == 2 else cv2.cvtColor(oriented, cv2.COLOR_BGR2RGB)), pages


def _first_gif_frame(path: Path) -> tuple[np.ndarray, int]:
    """A GIF's first frame (RGB uint8) and its frame count, through FFmpeg's GIF decoder."""
    import av

    try:
        with av.open(str(path)) as container:
            frames = container.decode(video=0)
            first = next(frames).to_ndarray(format="rgb24")
            return first, 1 + sum(1 for _ in frames)
    except (av.error.FFmpegError, StopIteration, OSError, ValueError) as err:
        why = "no frame" if isinstance(err, StopIteration) else str(err).strip().splitlines()[-1][:120]
        raise ImageError(f"{path}: cannot decode image ({why})") from None


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write RGB(A) to ``path``, via a temporary name in the same folder renamed when complete.
    16-bit and alpha are kept where the format holds them, reduced where it does not."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext and ext not in IMAGE_EXTENSIONS:  # (no extension: PNG)
        raise ImageError(f"{path}: cannot write images of type '{ext}'; use .png, .jpg, .tif or .webp")
    if image.dtype == np.uint16 and ext not in DEEP_FORMATS:
        image = to_8bit(image)
    if image.ndim == 3 and image.shape[2] == 4 and ext not in ALPHA_FORMATS:
        image = image[..., :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    code = cv2.COLOR_RGBA2BGRA if image.ndim == 3 and image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    try:  # grey stays one channel
        ok, encoded = cv2.imencode(ext or ".png", image if image.ndim == 2 else cv2.cvtColor(image, code))
    except cv2.error:
        ok = False
    if not ok:
        raise ImageError(f"{path}: cannot write images of type '{ext}'; use .png, .jpg, .tif or .webp")
    if not path.parent.is_dir():
        raise ImageError(f"{path}: output folder {path.parent} does not exist")
    try:
        with atomic_write(path, suffix=ext) as tmp:
            encoded.tofile(tmp)
    except OSError as err:
        raise ImageError(f"{path}: cannot write output ({err.strerror or err})") from None


def rgb8(image: np.ndarray) -> np.ndarray:
    """HxW{,x1,x3,x4} uint8/uint16 -> HxWx3 uint8 (grey replicated, alpha dropped, 16 bit rounded)."""
    image = to_8bit(image)
    image = image[..., None] if image.ndim == 2 else image
    return np.ascontiguousarray(image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2))


def unit_rgb(strip: np.ndarray) -> torch.Tensor:
    """HxWxC uint8/uint16 -> (1,3,H,W) float 0..1 (grey replicated, alpha dropped)."""
    scale = 65535.0 if strip.dtype == np.uint16 else 255.0
    t = torch.from_numpy(strip.astype(np.float32) / scale)
    t = t.unsqueeze(-1) if t.ndim == 2 else t
    t = t[..., :3] if t.shape[-1] >= 3 else t[..., :1].expand(*t.shape[:-1], 3)
    return t.permute(2, 0, 1).unsqueeze(0)


