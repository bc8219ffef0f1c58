"""``vidcolor-studio DIR``: the command. Every argument is checked before the server starts."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click

from .. import __version__
from ..command import (OneLineCommand, Terminated, fail, interrupted, one_line, terminate_cleanly, usage_code,
                       warnings_as)
from ..errors import VidcolorError, VidcolorWarning

PROG = "vidcolor-studio"
STOP_WAIT = 20.0  # s: how long Ctrl-C waits for requests under way (a preview, a suggestion) to finish


@click.command(PROG, cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name=PROG)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--film", type=click.Path(path_type=Path), default=None,
              help="The film the folder was made from, for previews and the render; default: the one "
                   "vidcolor-keyframes recorded in FOLDER (film.json), where it still is.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where the render goes; default: FOLDER/render/FILM_color with the film's own extension "
                   "where vidcolor writes that type, else .mkv.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1; 0 takes a free one.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in your browser.")
@click.option("--overwrite", is_flag=True, help="Let the render replace an existing --out (the default render in "
                                               "FOLDER/render/ is the studio's own and is always replaced).")
@click.option("--model", "model_path", default="default", show_default=True,
              help="Weights for previews and the render (the model that made the folder).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def main(folder: Path, **options) -> None:
    """Paint colour hints on the keyframes in FOLDER (made by vidcolor-keyframes) in a local web
    page, preview their shots and render the film. Serves on 127.0.0.1 only, with a token in the
    address it prints; Ctrl-C stops it (everything saved is already in FOLDER)."""
    out, debug = options["out"], options["debug"]
    warnings.showwarning = warnings_as(PROG)
    warnings.simplefilter("always", VidcolorWarning)
    with terminate_cleanly():  # SIGTERM stops it as Ctrl-C does, from the first moment
        try:
            if out is not None and out.exists() and not options["overwrite"]:  # a file of the person's: asked first
                from ..errors import ImageError
                from ..tempfiles import already_exists
                raise ImageError(already_exists(f"--out {out}", "--overwrite"))
            server, lock = _start(folder, options["film"], out, options["port"], options["model_path"],
                                  options["device"])
        except (VidcolorError, ValueError, OSError) as err:
            if debug:
                raise
            fail(one_line(err), usage_code(err), prog=PROG)
        except KeyboardInterrupt as err:
            interrupted(err, PROG, " before serving; nothing written")
        code = 0
        try:
            click.echo(f"{PROG}: serving {folder} at {server.url}", err=False)
            click.echo(f"{PROG}: open that address in a browser on this machine; Ctrl-C stops the studio", err=True)
            sys.stdout.flush()
            if options["open_browser"]:
                import webbrowser
                webbrowser.open(server.url)
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt as err:
            code = 143 if isinstance(err, Terminated) else 130
        finally:
            cancelled = _stop(server, lock)
    click.echo(f"{PROG}: stopped{'; the render under way was cancelled (nothing of it written)' if cancelled else ''}; "
               f"what you saved is in {folder}", err=True)
    # the command leaves without the interpreter's teardown (vidcolor.command.leave): a request
    # still computing in a daemon thread (torch, OpenMP) aborted the process there ("terminate
    # called without an active exception", SIGABRT); everything is written and the lock released
    sys.exit(code)


def _start(folder: Path, film: Path | None, out: Path | None, port: int, model_path: str, device: str):
    from ..command import start_heavy
    from ..errors import ImageError

    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder (make it with vidcolor-keyframes FILM {folder})")
    from ..shots import SHOTS_FILE
    if not (folder / SHOTS_FILE).is_file():
        raise ImageError(f"{folder}: no {SHOTS_FILE}, so not a keyframe folder (make one with vidcolor-keyframes "
                         f"FILM {folder})")
    if film is not None:
        if not film.is_file():
            raise ImageError(f"--film {film}: no such file")
    if model_path != "default" and not Path(model_path).is_file():
        raise ImageError(f"--model {model_path}: no such file")
    start_heavy(False)
    from ..options import output_name
    from ..shots import recorded_film, recorded_path
    from .jobs import Jobs
    from .server import Studio, StudioServer, lock_folder
    from .workbench import Workbench

    recorded, start_s = recorded_film(folder)
    bench = Workbench(folder, start_s=start_s)
    if film is None:  # the film vidcolor-keyframes recorded, where it still is and still matches
        film = recorded
        if film is not None:
            try:
                _check_film(bench, film)
            except ImageError:
                film = None
    else:
        _check_film(bench, film)
    if film is not None:
        out = out or folder / "render" / output_name(f"{film.stem}_color{film.suffix}", "video")
        _check_out(film, out)
    if film is None and out is not None:
        raise ImageError("--out names where the film's render goes: give --film FILM too")
    bench.film = film.name if film else None
    jobs = Jobs(bench, film, out, model_path, device)
    if film is None and recorded is None:  # a film recorded once and moved since: say which
        missing = recorded_path(folder)
        jobs.missing = str(missing) if missing is not None and not missing.is_file() else None
    studio = Studio(bench, jobs)
    server = StudioServer(studio, port)
    try:
        lock = lock_folder(folder, server.url)
    except BaseException:
        server.server_close()
        raise
    return server, lock


def _check_film(bench, film: Path) -> None:
    """The film is one vidcolor reads and the one the folder was made from (size, frame count where
    its container knows it)."""
    from ..decode import VideoReader
    from ..errors import ImageError, VideoError

    try:
        reader = VideoReader(film)
    except VideoError as err:
        raise ImageError(f"--film {one_line(err)}") from None
    try:
        info = reader.info
        bench.map.check_film(info.frames if info.frames_exact else None, info.width, info.height, film)
    except ImageError as err:
        raise ImageError(f"--film {one_line(err)}") from None
    finally:
        reader.close()


def _check_out(film: Path, out: Path) -> None:
    from ..cliargs import output_kind
    from ..errors import OptionError
    from ..options import CONTAINER_FORMATS

    if output_kind(out) != "video":
        raise OptionError(f"--out {out}: the render is a film; give it a video type ({', '.join(CONTAINER_FORMATS)})")
    if out.resolve() == film.resolve():
        raise OptionError(f"--out {out}: would overwrite the film; choose another name")
    if not out.parent.is_dir() and not out.parent.parent.is_dir():
        raise OptionError(f"--out {out}: its folder {out.parent} does not exist")


def _stop(server, lock) -> bool:
    """Ctrl-C: no new requests, a render under way stopped (its output not written), requests under
    way given time to finish (a save always finishes), the folder's lock released. Returns whether a
    render was cancelled."""
    server.server_close()
    cancelled = server.studio.jobs.render_state.state == "running"
    server.studio.jobs.stop_render()
    server.studio.wait_idle(STOP_WAIT)
    with server.studio.bench.saving:
        lock.release()
    return cancelled
