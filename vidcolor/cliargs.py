"""The ``vidcolor`` command's checks of its arguments: every one before any file is read or the
model loads, each failing in one line that names the option (``vidcolor.cli`` reports them)."""
from __future__ import annotations

import os
from pathlib import Path

import click

from .errors import ImageError, OptionError, VidcolorError
from .options import (CONTAINER_FORMATS, DEFAULT_CODEC, DEFAULT_CODECS, IMAGE_EXTENSIONS, IMAGE_OUTPUTS,
                      check_segment_seconds, check_size, check_smoothing, check_temperature, default_codec,
                      output_name)
from .options import check_crf as check_codec_crf
from .tempfiles import already_exists


VIDEO_ONLY = ("codec", "crf", "preset", "no_audio", "smoothing", "keyframes", "jobs", "segment_seconds", "threads",
              "devices")


def check_parallel(jobs: int | None, segment_seconds: float | None, threads: int | None, use_ray: bool) -> None:
    if jobs is not None and use_ray:
        raise OptionError("--jobs and --ray exclude each other: --jobs runs local workers, --ray a cluster's")
    for name, value in (("--segment-seconds", segment_seconds), ("--threads", threads)):
        if value is not None and jobs is None and not use_ray:
            raise OptionError(f"{name} applies only with --jobs or --ray")
    if segment_seconds is not None:
        check_segment_seconds(segment_seconds, "--segment-seconds")


def still_options(ctx: click.Context) -> None:
    """Refuse the film-only options given for a still, rather than ignore them."""
    for name in VIDEO_ONLY:
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            raise OptionError(f"--{name.replace('_', '-')} applies to films; {ctx.params['dst']} is a still")


def check_options(size: int | None, temperature: float | None, smoothing: float, image_format: str | None,
                  video_ext: str | None) -> None:
    """Every option's value checked before any file is read or the model loads."""
    check_size(size, None, "--size")
    check_temperature(temperature, "--temperature")
    check_smoothing(smoothing, "--smoothing")
    if image_format is not None and "." + image_format.lower().lstrip(".") not in IMAGE_OUTPUTS:
        raise OptionError(f"--image-format {image_format} is not one vidcolor writes colour to; choose one of "
                         f"{', '.join(e.lstrip('.') for e in IMAGE_OUTPUTS)}")
    if video_ext is not None and "." + video_ext.lower().lstrip(".") not in CONTAINER_FORMATS:
        raise OptionError(f"--video-ext {video_ext} is not one vidcolor writes; choose one of "
                         f"{', '.join(e.lstrip('.') for e in CONTAINER_FORMATS)}")


def check_crf(crf: int, codec: str | None, outputs: list[Path] | None, video_ext: str | None) -> None:
    """--crf within the range of the encoder(s) the outputs will use: a single file's (``outputs``),
    or, in a folder run, any a video may get (its own container's default, unless --video-ext)."""
    if codec is not None:
        codecs = {codec}
    elif outputs is not None:
        codecs = {default_codec(p.suffix) for p in outputs if p.suffix.lower() in CONTAINER_FORMATS}
    elif video_ext is not None:
        codecs = {default_codec("." + video_ext.lstrip("."))}
    else:
        codecs = {DEFAULT_CODEC, *DEFAULT_CODECS.values()}  # a folder keeps each video's container
    for name in sorted(codecs):
        try:
            check_codec_crf(crf, name, "--crf")
        except VidcolorError as err:
            raise OptionError(str(err) + (" (a folder's .mp4/.mkv/.mov videos use libx264; --video-ext webm makes "
                                            "them all VP9)" if outputs is None and codec is None and video_ext is None
                                            else "")) from None


def check_codec(codec: str | None) -> None:
    if codec is None:
        return
    import av

    try:
        kind = av.codec.Codec(codec, "w").type
    except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
        raise OptionError(f"--codec {codec} is not a video encoder this FFmpeg has (e.g. libx264, libx265, "
                         f"libvpx-vp9)") from None
    if kind != "video":
        raise OptionError(f"--codec must be a video encoder (e.g. libx264, libx265, libvpx-vp9); {codec} encodes "
                         f"{kind}")


def single_output(src: Path, dst: Path, overwrite: bool) -> Path:
    """The output path of a single-file run, checked: a folder DST takes the input's name, an
    existing DST needs --overwrite, the folder must exist and be writable, and DST is not SRC."""
    if dst.is_dir() or str(dst).endswith(("/", os.sep)):
        if not dst.is_dir():
            raise ImageError(f"{dst}: output folder does not exist (a name ending in / is a folder)")
        from .mediakind import media_kind  # what the input holds decides, as in a folder run

        dst = dst / output_name(src.name, "video" if media_kind(src) == "video" else "image")
    output_kind(dst)
    if dst.parent.exists() and not dst.parent.is_dir():
        raise ImageError(f"{dst}: {dst.parent} is a file, not a folder")
    if not dst.parent.is_dir():
        raise ImageError(f"{dst}: output folder {dst.parent} does not exist")
    if not os.access(dst.parent, os.W_OK | os.X_OK):
        raise ImageError(f"{dst}: output folder {dst.parent} is not writable")
    if dst.exists() and src.resolve() == dst.resolve():
        raise ImageError(f"{dst}: output would overwrite the input; choose another name")
    if dst.exists() and not overwrite:
        raise ImageError(already_exists(dst, "--overwrite"))
    return dst


def output_kind(dst: Path) -> str:
    suffix = dst.suffix.lower()
    if suffix in IMAGE_OUTPUTS:
        return "image"
    if suffix in IMAGE_EXTENSIONS:
        raise ImageError(f"{dst}: {suffix} holds grey pictures only; write the colour as .ppm, .png, .tif or .jpg")
    if suffix in CONTAINER_FORMATS:
        return "video"
    if not suffix:
        raise ImageError(f"{dst}: give the output a type (.png, .jpg, .mp4, .mkv, ...) or name an existing folder")
    raise ImageError(f"{dst}: output type '{dst.suffix}' is not supported; use an image type "
                     f"({', '.join(IMAGE_EXTENSIONS[:5])}, ...) or a video type ({', '.join(CONTAINER_FORMATS)})")
