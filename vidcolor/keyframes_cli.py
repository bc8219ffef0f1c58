"""The ``vidcolor-keyframes`` command: a film's shots and keyframes written to a folder for a person
to colour (``vidcolor.keyframes`` does the work)."""
from __future__ import annotations

import warnings
from pathlib import Path

import click

from . import __version__
from .command import (OneLineCommand, count, fail, interrupted, one_line, start_heavy, terminate_cleanly, usage_code,
                      warnings_as)
from .errors import ImageError, VidcolorError, VidcolorWarning
from .options import PRECISIONS, check_size, check_temperature
from .tempfiles import already_exists


@click.command("vidcolor-keyframes", cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vidcolor-keyframes")
@click.argument("film", type=click.Path(path_type=Path, readable=False))
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--model", "model_path", default="default", show_default=True,
              help="Weights file, or 'default' for the shipped model (the one that colours the film later).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--size", type=int, default=None, help="Model input side; default: the model's own.")
@click.option("--temperature", type=float, default=None, help="Annealed-mean temperature of the automatic colour.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace FOLDER if it exists (keyframes you coloured there are kept).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no closing line.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def main(film: Path, folder: Path, **options) -> None:
    """Find the shots of FILM and a few keyframes in each, and write them to FOLDER: each keyframe
    as a grey PNG to colour by hand (its automatic colour beside it in auto/), shots.csv, and a
    contact sheet (index.html, contact_sheet.png). Then: vidcolor FILM OUT --keyframes FOLDER."""
    warnings.showwarning = warnings_as("vidcolor-keyframes")
    warnings.simplefilter("always", VidcolorWarning)
    with terminate_cleanly():
        shot_map = _keyframes_command(film, folder, options)
    if not options["quiet"]:
        minutes = max(shot_map.shots[-1].end_s, 1e-9) / 60
        click.echo(f"vidcolor-keyframes: {count(len(shot_map.shots), 'shot')}, {count(len(shot_map.keyframes), 'keyframe')} "
                   f"({len(shot_map.keyframes) / minutes:.1f} a minute) in {folder}; look at {folder / 'index.html'}, "
                   f"colour any keyframe, then: vidcolor {film} OUT --keyframes {folder}", err=True)


def _keyframes_command(film: Path, folder: Path, o: dict):
    """vidcolor-keyframes' checks and work (``o``: its options by name): the shot map, or one line
    and a non-zero exit."""
    prog = "vidcolor-keyframes"
    size, temperature, overwrite, debug = o["size"], o["temperature"], o["overwrite"], o["debug"]
    try:
        check_size(size, None, "--size")
        check_temperature(temperature, "--temperature")
        if not film.exists():
            raise ImageError(f"{film}: no such file")
        if film.is_dir():
            raise ImageError(f"{film}: a folder; give one film (vidcolor-keyframes FILM FOLDER)")
        if folder.exists() and not overwrite:
            from .shots import KEPT
            raise ImageError(already_exists(folder, "--overwrite", KEPT))
        if not folder.parent.is_dir():
            raise ImageError(f"{folder}: its parent folder {folder.parent} does not exist")
        start_heavy(debug)
        from .mediakind import media_kind
        from .keyframes import make_keyframes
        from .weights import load_model, resolve_device

        kind = media_kind(film)
        if kind != "video":
            raise ImageError(f"{film}: " + ("a still, not a film (colour it with vidcolor PHOTO OUT)" if kind == "image"
                                            else "not a film vidcolor can read") + "; vidcolor-keyframes finds the "
                             "shots of a film")
        model = load_model(o["model_path"], resolve_device(o["device"], "--device"))
        check_size(size, model.stride, "--size")
        return make_keyframes(model, film, folder, overwrite=overwrite, progress=not o["quiet"],
                              precision=o["precision"], size=size, temperature=temperature)
    except (VidcolorError, ValueError, RuntimeError, OSError) as err:
        if debug:
            raise
        fail(one_line(err), usage_code(err), prog=prog)
    except KeyboardInterrupt as err:
        interrupted(err, prog, "; nothing written")
