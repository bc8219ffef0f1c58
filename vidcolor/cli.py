"""The ``vidcolor`` command: parse, dispatch, report. All work happens in the library."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .image import IMAGE_EXTENSIONS, ImageError, colorize_image, write_image
from .pipeline import PRECISIONS, Colorizer
from .weights import ModelFileError, load_model

EXAMPLES = """
\b
Examples:
  vidcolor old_photo.jpg colour.png
  vidcolor --model my_run/model.pt --device cpu scan.tif scan_colour.tif
"""


def fail(message: str, code: int = 1) -> None:
    click.echo(f"vidcolor: error: {message}", err=True)
    sys.exit(code)


@click.command(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--model", "model_path", default="default", show_default=True,
              help="Weights file to use, or 'default' for the model shipped with vidcolor.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--size", type=int, default=None, help="Model input side (multiple of 8); default: the model's own.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Inference precision: bf16 on a CPU that has it, fp16 on CUDA when auto.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def main(src: Path, dst: Path, model_path: str, device: str, size: int | None, precision: str,
         quiet: bool, debug: bool) -> None:
    """Colourize a black-and-white photo SRC and write the result to DST."""
    try:
        run(src, dst, model_path, device, size, precision, quiet)
    except (ImageError, ModelFileError, ValueError, RuntimeError, OSError) as err:
        if debug:
            raise
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    except KeyboardInterrupt:
        fail("interrupted; no output written", 130)


def run(src: Path, dst: Path, model_path: str, device: str, size: int | None, precision: str,
        quiet: bool) -> None:
    if not src.exists():
        raise ImageError(f"{src}: no such file or folder")
    if dst.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ImageError(f"{dst}: output type '{dst.suffix}' is not an image format vidcolor writes")
    if not dst.parent.exists() and str(dst.parent):
        raise ImageError(f"{dst}: output folder {dst.parent} does not exist")
    if dst.exists() and src.resolve() == dst.resolve():
        raise ImageError(f"{dst}: output would overwrite the input; choose another name")
    colorizer = Colorizer(load_model(model_path, device), precision=precision, size=size)
    write_image(dst, colorize_image(colorizer, src))
