"""The ``vidcolor`` command: parse, dispatch, report. All work happens in the library."""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import av
import click

from .folder import colorize_folder
from .image import IMAGE_EXTENSIONS, ImageError, colorize_image, write_image
from .pipeline import PRECISIONS, Colorizer, colorize_video
from .video import CONTAINER_FORMATS, VidcolorWarning, VideoError
from .weights import ModelFileError, load_model

EXAMPLES = """
\b
Examples:
  vidcolor film.mp4 film_colour.mp4
  vidcolor --crf 20 --preset slow --no-audio reel.mkv reel_colour.mkv
  vidcolor old_photo.jpg colour.png
  vidcolor --model my_run/model.pt --device cpu scan.tif scan_colour.tif
  vidcolor --image-format png archive/ archive_colour/

\b
Video keeps every frame with its timestamp, the source time base, rotation and colour tags,
and copies audio and subtitle tracks. H.264 (yuv420p) by default, VP9 for .webm; odd widths
or heights are padded to even by repeating the last row/column.

\b
Folders: SRC/ and DST/ mirror each other; files already in DST are skipped (a rerun resumes)
unless --overwrite; a summary lists what was done, skipped and failed (exit 1 if any failed).
"""


def fail(message: str, code: int = 1) -> None:
    click.echo(f"vidcolor: error: {message}", err=True)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"vidcolor: warning: {message}", err=True)


@click.command(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", type=click.Path(path_type=Path, readable=False))  # our own one-line errors
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--model", "model_path", default="default", show_default=True,
              help="Weights file to use, or 'default' for the model shipped with vidcolor.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--size", type=int, default=None, help="Model input side (multiple of 8); default: the model's own.")
@click.option("--temperature", type=float, default=None,
              help="Colour strength of a classification model: lower = more vivid, 1 = the safe mean; "
                   "default the model's own (0.38 for the shipped model).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Inference precision: bf16 on a CPU that has it, fp16 on CUDA when auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Frames per forward pass; default 8 on CPU, 32 on CUDA.")
@click.option("--codec", default=None, help="Video encoder; default libx264, libvpx-vp9 for .webm.")
@click.option("--crf", type=click.IntRange(0, 63), default=18, show_default=True, help="Video quality (lower is better).")
@click.option("--preset", default="medium", show_default=True, help="x264/x265 speed preset.")
@click.option("--no-audio", is_flag=True, help="Drop the audio tracks.")
@click.option("--image-format", default=None, help="Folders: write images in this format (png, jpg, tif, ...).")
@click.option("--video-ext", default=None, help="Folders: write videos with this extension (mp4, mkv, mov, webm).")
@click.option("--overwrite", is_flag=True, help="Folders: redo files whose output already exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def main(src: Path, dst: Path, model_path: str, device: str, size: int | None, temperature: float | None,
         precision: str,
         batch_size: int | None, codec: str | None, crf: int, preset: str, no_audio: bool,
         image_format: str | None, video_ext: str | None, overwrite: bool, quiet: bool, debug: bool) -> None:
    """Colourize a black-and-white video or photo SRC into DST, or every one in folder SRC into folder DST."""
    warnings.showwarning = _show_warning
    warnings.simplefilter("always", VidcolorWarning)
    if not debug:
        av.logging.set_level(av.logging.PANIC)  # FFmpeg's own chatter would break one-line errors
    video_options = dict(codec=codec, crf=crf, preset=preset, audio=not no_audio)
    try:
        if temperature is not None and not temperature > 0:
            raise ValueError(f"--temperature must be > 0 (lower = more vivid, 1 = the plain mean), not {temperature}")
        if not src.exists():
            raise ImageError(f"{src}: no such file or folder")
        folder = src.is_dir()
        if not folder:  # check the output before the model loads, so a typo fails at once
            kind = output_kind(dst)
            if not dst.parent.is_dir():
                raise ImageError(f"{dst}: output folder {dst.parent} does not exist")
            if not os.access(dst.parent, os.W_OK | os.X_OK):
                raise ImageError(f"{dst}: output folder {dst.parent} is not writable")
            if dst.exists() and src.resolve() == dst.resolve():
                raise ImageError(f"{dst}: output would overwrite the input; choose another name")
        colorizer = Colorizer(load_model(model_path, device), precision=precision, size=size,
                              temperature=temperature)
        if folder:
            summary = colorize_folder(colorizer, src, dst, image_format=image_format, video_ext=video_ext,
                                      overwrite=overwrite, progress=not quiet, batch_size=batch_size,
                                      **video_options)
            report(summary)
            sys.exit(0 if summary.ok else 1)
        if kind == "image":
            write_image(dst, colorize_image(colorizer, src))
        else:
            colorize_video(colorizer, src, dst, batch_size=batch_size, progress=not quiet, **video_options)
    except (ImageError, VideoError, ModelFileError, ValueError, RuntimeError, OSError) as err:
        if debug:
            raise
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    except KeyboardInterrupt:
        fail("interrupted; no output written", 130)


def report(summary) -> None:
    click.echo(f"vidcolor: {len(summary.done)} done, {len(summary.skipped)} skipped (output exists), "
               f"{len(summary.failed)} failed, {len(summary.ignored)} not media", err=True)
    for rel, reason in summary.failed:
        click.echo(f"  failed: {rel}: {reason}", err=True)


def output_kind(dst: Path) -> str:
    suffix = dst.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in CONTAINER_FORMATS:
        return "video"
    raise ImageError(f"{dst}: output type '{dst.suffix}' is not supported; use an image type "
                     f"({', '.join(IMAGE_EXTENSIONS[:5])}, ...) or a video type ({', '.join(CONTAINER_FORMATS)})")
