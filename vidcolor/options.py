"""What a user may ask for, as plain data and validators: the file types, encoder settings,
precisions and model options vidcolor knows, with their defaults. The CLI, the Python API and the
engine check values here, once, before any heavy module is imported or any file is touched.
Validators raise ``OptionError`` naming the option as the caller calls it (``--temperature`` at
the command line, ``temperature`` from Python)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import OptionError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm", ".pnm")
# stills vidcolor writes: colour, so not .pgm (grey only; .ppm is its colour sibling)
IMAGE_OUTPUTS = tuple(e for e in IMAGE_EXTENSIONS if e != ".pgm")
# containers vidcolor writes, by extension -> FFmpeg muxer name
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts",
                    ".wmv", ".flv", ".3gp", ".ogv", ".gif")
# the quality range (--crf) of each video encoder that has one; x264 and x265 stop at 51
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63)}
CRF_DEFAULT_RANGE = (0, 63)  # other encoders: FFmpeg's widest
DEFAULT_CODECS = {".webm": "libvpx-vp9"}  # the encoder an output type gets without --codec; else libx264
DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18
DEFAULT_PRESET = "medium"
# x264's and x265's speed presets, fastest first
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CPU_BATCH = 8  # frames per forward pass on CPU: larger gains nothing on a few cores
CUDA_BATCH = 32  # on a GPU, enough to keep it busy at 256x256 without much memory
MAX_SIZE = 2048  # model input side: past this the network's maps outgrow a laptop's memory
# annealed-mean T: far above MAX every pixel is the mean of all bins (a uniform tint); below MIN
# the logits / T of a confident pixel overflow fp32 (1e-38 gave white stills), and at 0.01 a
# pixel already takes its likeliest bin
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 100.0
DEFAULT_SMOOTHING = 0.6  # weight of the warped history against the current prediction (0 = off)


STILL_FALLBACK = ".png"  # a still's output type where vidcolor cannot write the input's
FILM_FALLBACK = ".mkv"  # a film's, for containers vidcolor does not write (.avi, .mpg, ...): it holds any stream


def output_name(name: str, kind: str, image_format: str | None = None, video_ext: str | None = None) -> str:
    """The one rule naming outputs: ``name`` (of a still or a film, by content: ``kind``) kept exactly,
    extension and case included, unless a format is asked for or vidcolor cannot write its type."""
    stem, dot, ext = name.rpartition(".")
    stem, suffix = (stem, "." + ext) if dot and stem else (name, "")
    if kind == "image":
        suffix = "." + image_format.lower().lstrip(".") if image_format else (
            suffix if suffix.lower() in IMAGE_OUTPUTS else STILL_FALLBACK)
    else:
        suffix = "." + video_ext.lower().lstrip(".") if video_ext else (
            suffix if suffix.lower() in CONTAINER_FORMATS else FILM_FALLBACK)
    return stem + suffix


def default_codec(suffix: str) -> str:
    """The video encoder an output of this extension (``.webm``) gets without --codec."""
    return DEFAULT_CODECS.get(suffix.lower(), DEFAULT_CODEC)


def check_temperature(temperature: float | None, name: str = "temperature") -> float | None:
    """``temperature`` as a float within MIN..MAX_TEMPERATURE, or None (the model's own)."""
    if temperature is None:
        return None
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:  # nan fails both
        raise OptionError(f"{name} must be between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g} (lower = the "
                          f"likeliest colour, 1 = the plain mean), not {temperature}")
    return float(temperature)


def check_size(size: int | None, stride: int | None = None, name: str = "size") -> int | None:
    """A model input side: positive, at most MAX_SIZE, a multiple of the model's ``stride`` (8 for
    Table I, 32 for lite0-unet; any multiple of 8 where the model is not known yet)."""
    if size is None:
        return None
    step = stride or 8
    if size <= 0 or size % step or size > MAX_SIZE:
        model = "this model" if stride else "a model (32 for the default lite0-unet)"
        raise OptionError(f"{name} must be a positive multiple of {step} for {model}, at most {MAX_SIZE} "
                          f"(e.g. {4 * step if step > 8 else 128}), not {size}")
    return int(size)


def check_smoothing(smoothing: float, name: str = "smoothing") -> float:
    """The temporal smoothing strength: 0 (off) up to, not including, 1."""
    if not (isinstance(smoothing, (int, float)) and math.isfinite(smoothing) and 0.0 <= smoothing < 1.0):
        raise OptionError(f"{name} must be at least 0 and below 1 (0 colours every frame on its own), not {smoothing}")
    return float(smoothing)


def check_precision(precision: str, name: str = "precision") -> str:
    if precision not in PRECISIONS:
        raise OptionError(f"{name} must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


def check_crf(crf: int, codec: str, name: str = "crf") -> int:
    low, high = CRF_RANGES.get(codec, CRF_DEFAULT_RANGE)
    if not low <= crf <= high:
        raise OptionError(f"{name} {crf} is outside {low}-{high}, the range of {codec}")
    return int(crf)


DEFAULT_SEGMENT_SECONDS = 60.0  # --jobs/--ray: a film's segments last about this long
MIN_SEGMENT_SECONDS = 0.1


def check_segment_seconds(seconds: float, name: str = "segment_seconds") -> float:
    if not seconds >= MIN_SEGMENT_SECONDS:  # NaN too
        raise OptionError(f"{name} must be at least {MIN_SEGMENT_SECONDS:g} seconds, not {seconds:g}")
    return float(seconds)


@dataclass(frozen=True)
class VideoOptions:
    """How a film is encoded and steadied; what a folder or cluster run hands to every film."""
    codec: str | None = None  # video encoder; None: the output type's default (default_codec)
    crf: int = DEFAULT_CRF  # quality, lower is better, within the encoder's CRF_RANGES
    preset: str = DEFAULT_PRESET  # x264/x265 speed preset
    audio: bool = True  # copy (or re-encode) the audio tracks
    smoothing: float = DEFAULT_SMOOTHING  # temporal smoothing strength, 0 = frame by frame

    def __post_init__(self) -> None:
        check_smoothing(self.smoothing)
        if self.preset not in X264_PRESETS:
            raise OptionError(f"preset must be one of {', '.join(X264_PRESETS)}, not {self.preset!r}")
