"""What a user may ask for, as plain data and validators: the file types, encoder settings,
precisions and model options vidcolor knows, with their defaults. The CLI, the Python API and the
engine check values here, once, before any heavy module is imported or any file is touched.
Validators raise ``OptionError`` naming the option as the caller calls it (``--temperature`` at
the command line, ``temperature`` from Python)."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from .errors import OptionError

MAX_IMAGE_PIXELS = 400_000_000  # larger stills need more memory than a laptop has; refused clearly

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm", ".pnm")
GIF_MAGIC = b"GIF8"  # a GIF's first bytes: a still (its first frame) whatever reader takes it
# stills vidcolor writes: colour, so not .pgm (grey only; .ppm is its colour sibling)
IMAGE_OUTPUTS = tuple(e for e in IMAGE_EXTENSIONS if e != ".pgm")
# containers vidcolor writes, by extension -> FFmpeg muxer name
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts",
                    ".wmv", ".flv", ".3gp", ".ogv", ".gif")
# the quality range (--crf) of each video encoder that has one; x264 and x265 stop at 51
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63),
              "h264_nvenc": (0, 51), "hevc_nvenc": (0, 51), "av1_nvenc": (0, 51)}  # NVENC: its cq
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
    if not MIN_SEGMENT_SECONDS <= seconds < float("inf"):  # NaN too
        raise OptionError(f"{name} must be at least {MIN_SEGMENT_SECONDS:g} seconds (and finite), not {seconds:g}")
    return float(seconds)


@dataclass(frozen=True)
class VideoOptions:
    """How a film is coloured and written: built once (from the command line or the API), checked
    here, and handed whole through every driver down to the encoder, on workers too."""
    codec: str | None = None  # video encoder; None: the output type's default (default_codec)
    crf: int = DEFAULT_CRF  # quality, lower is better, within the encoder's CRF_RANGES
    preset: str = DEFAULT_PRESET  # x264/x265 speed preset
    audio: bool = True  # copy (or re-encode) the audio and subtitle tracks
    smoothing: float = DEFAULT_SMOOTHING  # temporal smoothing strength, 0 = frame by frame
    batch_size: int | None = None  # frames per forward pass; None: the device's, bounded by memory
    keyframes: str | None = None  # a keyframe folder (vidcolor-keyframes); in a folder run, a tree of them
    planar: bool | None = None  # keep 8-bit 4:2:0 films in their planes (vidcolor.planes); None: yes

    def __post_init__(self) -> None:
        check_smoothing(self.smoothing)
        if self.preset not in X264_PRESETS:
            raise OptionError(f"preset must be one of {', '.join(X264_PRESETS)}, not {self.preset!r}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, int):
            raise OptionError(f"crf must be a whole number, not {self.crf!r}")
        if self.codec is not None:
            check_crf(self.crf, self.codec)
        elif not CRF_DEFAULT_RANGE[0] <= self.crf <= CRF_DEFAULT_RANGE[1]:  # the output's encoder decides the rest
            raise OptionError(f"crf {self.crf} is outside {CRF_DEFAULT_RANGE[0]}-{CRF_DEFAULT_RANGE[1]}, the widest "
                              "range of any encoder")
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                                            or self.batch_size < 1):
            raise OptionError(f"batch_size must be a positive whole number, not {self.batch_size!r}")
        if self.keyframes is not None:
            object.__setattr__(self, "keyframes", str(self.keyframes))

    def codec_for(self, suffix: str) -> str:
        """The encoder an output of this extension gets, its crf checked against that encoder's range."""
        codec = self.codec or default_codec(suffix)
        check_crf(self.crf, codec)
        return codec

    @classmethod
    def of(cls, options: "VideoOptions | None" = None, **settings) -> "VideoOptions":
        """``options`` (default: the defaults) with ``settings`` by name (``crf=20``), checked;
        an unknown name is refused, never silently dropped."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise OptionError(f"no film option {', '.join(unknown)} (they are {', '.join(known)})")
        return dataclasses.replace(options, **settings) if options is not None else cls(**settings)


DEVICE_NAME = re.compile(r"cpu|cuda(:\d{1,3})?")


def check_devices(devices, name: str = "devices") -> tuple[str, ...]:
    """Devices given as a list or "cuda:0,cuda:1" -> a tuple of torch device names, each checked
    by its spelling (whether it is there: ``vidcolor.workers.specs_on``, in the driver)."""
    items = devices.split(",") if isinstance(devices, str) else list(devices)
    items = [str(d).strip() for d in items]
    if not items or any(not DEVICE_NAME.fullmatch(d) for d in items):
        raise OptionError(f"{name} must be devices separated by commas (cpu, cuda, cuda:0, ...), not "
                          f"{devices if isinstance(devices, str) else ','.join(map(str, devices))!r}")
    return tuple(items)


@dataclass(frozen=True)
class ParallelOptions:
    """One film in segments over local workers (``jobs``) or a Ray cluster (``ray``), and a folder
    over a cluster: how many, on what, in pieces of what length."""
    jobs: int | None = None  # local worker processes for one film; None: no local workers
    ray: bool = False  # one Ray task per file (and per segment of a long film)
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS  # a film's segments last about this long
    threads: int | None = None  # cores per worker; None: the cores shared out (locally), one (on Ray's CPUs)
    address: str | None = None  # the Ray cluster; None: RAY_ADDRESS, one ray start left here, or a new local one
    gpus_per_task: float = 1.0  # on a cluster with GPUs, the share of one each task asks for
    devices: tuple[str, ...] | None = None  # local workers' devices, round robin; None: every visible GPU

    def __post_init__(self) -> None:
        if self.jobs is not None and self.ray:
            raise OptionError("jobs and ray exclude each other: jobs runs local workers, ray a cluster's")
        if self.devices is not None:
            if self.jobs is None:
                raise OptionError("devices are the local workers' (jobs); a Ray cluster places its tasks itself "
                                  "(gpus_per_task)")
            object.__setattr__(self, "devices", check_devices(self.devices))
        for name in ("jobs", "threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise OptionError(f"{name} must be a positive whole number, not {value!r}")
        check_segment_seconds(self.segment_seconds)
        if not self.gpus_per_task > 0:  # NaN too
            raise OptionError(f"gpus_per_task must be above 0 (0.5: two tasks a GPU), not {self.gpus_per_task}")


@dataclass(frozen=True)
class FolderOptions:
    """What a folder run (here or on a cluster) does with a tree of files, beside each film's VideoOptions."""
    image_format: str | None = None  # every still written as this type (png, jpg, ...); None: its own where vidcolor writes it
    video_ext: str | None = None  # every film written as this container (mp4, mkv, ...); None: its own where it can
    overwrite: bool = False  # replace outputs that exist; otherwise they are skipped (a rerun resumes)
    include_hidden: bool = False  # also files and folders whose names start with a dot

    def __post_init__(self) -> None:
        if self.image_format is not None and "." + self.image_format.lower().lstrip(".") not in IMAGE_OUTPUTS:
            raise OptionError(f"image_format {self.image_format} is not one vidcolor writes colour to; choose one of "
                              f"{', '.join(e.lstrip('.') for e in IMAGE_OUTPUTS)}")
        if self.video_ext is not None and "." + self.video_ext.lower().lstrip(".") not in CONTAINER_FORMATS:
            raise OptionError(f"video_ext {self.video_ext} is not one vidcolor writes; choose one of "
                              f"{', '.join(e.lstrip('.') for e in CONTAINER_FORMATS)}")


ENGINE_SETTINGS = ("precision", "size", "temperature", "reference")  # what Colorizer.of takes besides the model


def split_settings(settings: dict, *names: tuple[str, ...]) -> list[dict]:
    """``settings`` (an API call's keywords) sorted by ``names`` (one tuple per receiver): one dict
    each, and the rest last, in order."""
    parts = [{k: v for k, v in settings.items() if k in group} for group in names]
    taken = {k for group in names for k in group}
    return [*parts, {k: v for k, v in settings.items() if k not in taken}]
