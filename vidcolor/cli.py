"""The ``vidcolor`` command: parse, dispatch, report. All work happens in the library."""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import click

from . import __version__
from .cliargs import (check_codec, check_crf, check_options, check_parallel, output_kind, single_output,
                      still_options)
from .errors import ImageError, OptionError, VidcolorError, VidcolorWarning
from .options import (CONTAINER_FORMATS, DEFAULT_CRF, DEFAULT_PRESET, DEFAULT_SEGMENT_SECONDS, DEFAULT_SMOOTHING,
                      IMAGE_EXTENSIONS, MAX_SIZE, MAX_TEMPERATURE, MIN_TEMPERATURE, PRECISIONS, X264_PRESETS,
                      VideoOptions, check_size, check_temperature)

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


class OneLineCommand(click.Command):
    """A click command whose usage errors (an unknown option, a bad choice) read like every other
    error: one line, ``PROG: error: ...``, exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.UsageError as err:
            click.echo(f"{self.name}: error: {err.format_message()} (see {self.name} --help)", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo(f"{self.name}: error: interrupted; no output written", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def start_heavy(debug: bool) -> None:
    """Ready the process for the heavy modules, before the first of them loads: torch's OpenMP
    workers would otherwise spin between batches on the cores x264 encodes on (benchmarks/README.md:
    +20 % end to end on 2 cores; the user's own setting wins), and FFmpeg's own chatter would break
    the one-line errors. Cheap to call again."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import av

    if not debug:
        av.logging.set_level(av.logging.PANIC)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a scheduler): the same clean stop as Ctrl-C."""


@contextlib.contextmanager
def terminate_cleanly():
    """While the command runs, SIGTERM raises ``Terminated`` in the main thread, so that every
    temporary output is removed and every worker ended on the way out, as for Ctrl-C."""
    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding host): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(err: KeyboardInterrupt, prog: str, what: str) -> None:
    """The closing line of a run stopped by Ctrl-C (exit 130) or SIGTERM (exit 143): "interrupted"
    or "terminated", then ``what`` ("; no output written", " after ...")."""
    how, code = ("terminated", 143) if isinstance(err, Terminated) else ("interrupted", 130)
    fail(f"{how}{what}", code, prog=prog)


def one_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def usage_code(err: BaseException) -> int:
    """The exit status of an error: 2 for a usage error (an option's value, as click's own), 1 else."""
    return 2 if isinstance(err, OptionError) else 1


def fail(message: str, code: int = 1, prog: str = "vidcolor") -> None:
    click.echo(f"{prog}: error: {message}", err=True)
    sys.exit(code)


def _warnings_as(prog: str):
    """Warnings shown as one line under the command's own name."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        click.echo(f"{prog}: warning: {message}", err=True)
    return show


@click.command("vidcolor", cls=OneLineCommand, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vidcolor")
@click.argument("src", type=click.Path(path_type=Path, readable=False))  # our own one-line errors
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--model", "model_path", default="default", show_default=True,
              help="Weights file (release weights or a training checkpoint), or 'default' for the shipped model.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--size", type=int, default=None,
              help=f"Model input side (a multiple of the model's stride: 8 for Table I, 32 for lite0-unet; at most "
                   f"{MAX_SIZE}); default: the model's own.")
@click.option("--temperature", type=float, default=None,
              help="Annealed-mean temperature of a classification model: lower takes each pixel's likeliest "
                   "colour (more vivid where the model is sure), 1 averages its candidates; default the model's "
                   f"own; {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g}.")
@click.option("--reference", type=click.Path(path_type=Path), default=None,
              help="A colour photo of the same subject, or a frame coloured by hand (or a folder of them): where "
                   "the picture matches it, its colours win; elsewhere the automatic colour stays.")
@click.option("--keyframes", type=click.Path(path_type=Path), default=None,
              help="Films: a keyframe folder made by vidcolor-keyframes (coloured by hand where you want): each "
                   "shot takes its colour from its own keyframes; a keyframe left grey means automatic colour, "
                   "held through its shot. For a folder SRC: a folder of them, one per film at its relative path.")
@click.option("--smoothing", type=float, default=DEFAULT_SMOOTHING, show_default=True,
              help="Video: how strongly colour follows the motion from frame to frame (steadier colour, "
                   "cuts kept sharp); 0 colours every frame on its own.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Inference precision: bf16 on a CPU that has it, fp16 on CUDA when auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Frames per forward pass; default 8 on CPU, 32 on CUDA.")
@click.option("--codec", default=None, help="Video encoder; default libx264, libvpx-vp9 for .webm.")
@click.option("--crf", type=int, default=DEFAULT_CRF, show_default=True,
              help="Video quality (lower is better): 0-51 for libx264/libx265, 0-63 for VP9.")
@click.option("--preset", type=click.Choice(X264_PRESETS), default=DEFAULT_PRESET, show_default=True,
              help="x264/x265 speed preset.")
@click.option("--no-audio", is_flag=True, help="Drop the audio tracks.")
@click.option("--image-format", default=None, help="Folders: write images in this format (png, jpg, tif, ...).")
@click.option("--video-ext", default=None, help="Folders: write videos with this extension (mp4, mkv, mov, webm).")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist (a folder run skips them).")
@click.option("--include-hidden", is_flag=True, help="Folders: also colourize hidden files and folders (.name).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="A film: split it into segments (at shots and keyframes) and colour them in this many local "
                   "worker processes; the output is the same film.")
@click.option("--segment-seconds", type=float, default=None,
              help=f"With --jobs or --ray: about how long each segment of a film lasts (default {DEFAULT_SEGMENT_SECONDS:g}); "
                   "a folder on --ray splits the films longer than 1.5 segments.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="With --jobs or --ray: torch/OpenCV threads per worker; default the cores shared out among "
                   "--jobs, 1 per Ray task.")
@click.option("--ray", "use_ray", is_flag=True,
              help="On a Ray cluster: a film in segments, a folder one task per file; the cluster --ray-address "
                   "names, else the one RAY_ADDRESS or 'ray start' names, else a local one. SRC and DST must be on "
                   "a shared filesystem.")
@click.option("--ray-address", default=None, metavar="HOST:PORT", help="With --ray: the cluster's head node.")
@click.option("--gpus-per-task", type=click.FloatRange(0.0, min_open=True), default=None,
              help="With --ray on a cluster with GPUs: the GPU share each file's task asks for (0.5: two per GPU); "
                   "default 1.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def main(src: Path, dst: Path, model_path: str, device: str, size: int | None, temperature: float | None,
         reference: Path | None, keyframes: Path | None, smoothing: float, precision: str, batch_size: int | None, codec: str | None, crf: int, preset: str, no_audio: bool,
         image_format: str | None, video_ext: str | None, overwrite: bool, include_hidden: bool,
         jobs: int | None, segment_seconds: float | None, threads: int | None, use_ray: bool,
         ray_address: str | None, gpus_per_task: float | None, quiet: bool, debug: bool) -> None:
    """Colourize a black-and-white video or photo SRC into DST, or every one in folder SRC into folder DST.
    DST may be a folder for a single file: the output keeps the input's name there."""
    warnings.showwarning = _warnings_as("vidcolor")
    warnings.simplefilter("always", VidcolorWarning)
    with terminate_cleanly():
        try:
            check_options(size, temperature, smoothing, image_format, video_ext)
            video = VideoOptions(codec=codec, crf=crf, preset=preset, audio=not no_audio, smoothing=smoothing)
            if not use_ray and (ray_address is not None or gpus_per_task is not None):
                raise OptionError(f"{'--ray-address' if ray_address is not None else '--gpus-per-task'} "
                                 "applies only with --ray")
            check_parallel(jobs, segment_seconds, threads, use_ray)
            if not src.exists():
                raise ImageError(f"{src}: no such file or folder")
            if reference is not None and not reference.exists():
                raise ImageError(f"--reference {reference}: no such file or folder")
            if keyframes is not None:
                if reference is not None:
                    raise OptionError("--keyframes and --reference exclude each other: put the reference photo in the "
                                     "keyframe folder under the name of its shot's keyframe")
                if not keyframes.is_dir():
                    raise ImageError(f"--keyframes {keyframes}: no such folder (make it with vidcolor-keyframes)")
            folder = src.is_dir()
            if folder and dst.suffix.lower() in (*IMAGE_EXTENSIONS, *CONTAINER_FORMATS) and not dst.is_dir():
                raise ImageError(f"{src} is a folder and {dst} names a file: a folder goes into a folder "
                                 f"(e.g. {dst.with_suffix('')}/)")
            if folder and dst.exists() and not dst.is_dir():
                raise ImageError(f"{dst}: exists and is not a folder; a folder goes into a folder")
            if jobs is not None and folder:
                raise OptionError("--jobs splits one film over local workers; for a folder use --ray (one task per file)")
            # before anything heavy loads: naming the output in a folder DST reads what SRC holds already
            start_heavy(debug)
            if not folder:  # check the output before the model loads, so a typo fails at once
                for name, value in (("--image-format", image_format), ("--video-ext", video_ext)):
                    if value is not None:
                        raise OptionError(f"{name} applies to folder runs; for one file, give DST the type you "
                                         f"want (e.g. out.{value.lstrip('.')})")
                dst = single_output(src, dst, overwrite)
                if output_kind(dst) == "image":
                    still_options(click.get_current_context())
                    if use_ray:
                        raise OptionError(f"--ray colourizes films and folders; {dst} is a still")
            check_crf(crf, codec, [dst] if not folder else None, video_ext)
            check_codec(codec)  # the heavy modules (torch, PyAV, OpenCV) load only from here on
            from .colorizer import Colorizer
            from .folder import colorize_folder, media_kind
            from .image import colorize_image
            from .imageio import write_image
            from .video import colorize_video
            from .weights import load_model, resolve_device
            from .workers import ModelSpec

            if not folder and output_kind(dst) == "image" and media_kind(src) == "video":
                raise ImageError(f"{src}: a video cannot be written as an image; give DST a video type "
                                 f"({', '.join(CONTAINER_FORMATS)})")
            # on a cluster too: a bad model or reference fails here, once, before any file is touched
            model = load_model(model_path, resolve_device(device, "--device"))
            check_size(size, model.stride, "--size")  # the model's own stride, now that it is known
            colorizer = Colorizer(model, precision=precision, size=size, temperature=temperature, reference=reference)
            spec = ModelSpec(model=str(Path(model_path).resolve()) if model_path != "default" else "default",
                             device=device, precision=precision, size=size, temperature=temperature,
                             reference=str(reference.resolve()) if reference is not None else None)
            if not folder and (use_ray or jobs is not None):
                film_parallel(spec, src, dst, jobs, segment_seconds, threads, ray_address, gpus_per_task, video,
                              batch_size, keyframes, overwrite, quiet)
                return
            if use_ray:
                from .cluster import colorize_folder_ray
                summary = colorize_folder_ray(spec, src.resolve(), dst.resolve(), image_format=image_format,
                                              video_ext=video_ext, overwrite=overwrite, progress=not quiet,
                                              batch_size=batch_size, include_hidden=include_hidden,
                                              address=ray_address, gpus_per_task=gpus_per_task or 1.0,
                                              video=video, keyframes=keyframes.resolve() if keyframes else None,
                                              segment_seconds=segment_seconds or DEFAULT_SEGMENT_SECONDS)
                report(summary, src)
                sys.exit(0 if summary.ok and summary.found else 1)
            if folder:
                summary = colorize_folder(colorizer, src, dst, image_format=image_format, video_ext=video_ext,
                                          overwrite=overwrite, progress=not quiet, batch_size=batch_size,
                                          include_hidden=include_hidden, video=video, keyframes=keyframes)
                report(summary, src)
                sys.exit(0 if summary.ok and summary.found else 1)
            started = time.perf_counter()
            if output_kind(dst) == "image":
                picture = colorize_image(colorizer, src)
                write_image(dst, picture)
                if not quiet:
                    click.echo(f"vidcolor: wrote {dst}: {picture.shape[1]}x{picture.shape[0]} in "
                               f"{time.perf_counter() - started:.1f} s", err=True)
            else:
                result = colorize_video(colorizer, src, dst, batch_size=batch_size, progress=not quiet,
                                        overwrite=overwrite, keyframes=keyframes, **vars(video))
                if not quiet:
                    seconds = time.perf_counter() - started
                    click.echo(f"vidcolor: wrote {dst}: {result['frames']} frames"
                               + (f", {result['shots']} shots from {keyframes}" if result.get("shots") else "")
                               + f", {result['duration']:.1f} s of film in {seconds:.1f} s "
                               f"({result['frames'] / max(seconds, 1e-9):.1f} fps)", err=True)
        except (VidcolorError, ValueError, RuntimeError, OSError) as err:
            if debug:
                raise
            fail(one_line(err), usage_code(err))
        except KeyboardInterrupt as err:
            summary = getattr(err, "summary", None)
            if summary is not None and summary.done:
                interrupted(err, "vidcolor", f" after {len(summary.done)} files were completed (kept); rerun the "
                            "same command to resume")
            interrupted(err, "vidcolor", "; no output written")


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
def keyframes_main(film: Path, folder: Path, model_path: str, device: str, size: int | None,
                   temperature: float | None, precision: str, overwrite: bool, quiet: bool, debug: bool) -> None:
    """Find the shots of FILM and a few keyframes in each, and write them to FOLDER: each keyframe
    as a grey PNG to colour by hand (its automatic colour beside it in auto/), shots.csv, and a
    contact sheet (index.html, contact_sheet.png). Then: vidcolor FILM OUT --keyframes FOLDER."""
    warnings.showwarning = _warnings_as("vidcolor-keyframes")
    warnings.simplefilter("always", VidcolorWarning)
    with terminate_cleanly():
        shot_map = _keyframes_command(film, folder, model_path, device, size, temperature, precision, overwrite,
                                      quiet, debug)
    if not quiet:
        minutes = max(shot_map.shots[-1].end_s, 1e-9) / 60
        click.echo(f"vidcolor-keyframes: {len(shot_map.shots)} shots, {len(shot_map.keyframes)} keyframes "
                   f"({len(shot_map.keyframes) / minutes:.1f} a minute) in {folder}; look at {folder / 'index.html'}, "
                   f"colour any keyframe, then: vidcolor {film} OUT --keyframes {folder}", err=True)


def _keyframes_command(film: Path, folder: Path, model_path: str, device: str, size: int | None,
                       temperature: float | None, precision: str, overwrite: bool, quiet: bool, debug: bool):
    """vidcolor-keyframes' checks and work: the shot map, or one line and a non-zero exit."""
    prog = "vidcolor-keyframes"
    try:
        check_size(size, None, "--size")
        check_temperature(temperature, "--temperature")
        if not film.exists():
            raise ImageError(f"{film}: no such file")
        if film.is_dir():
            raise ImageError(f"{film}: a folder; give one film (vidcolor-keyframes FILM FOLDER)")
        if folder.exists() and not overwrite:
            raise ImageError(f"{folder}: already exists; pass --overwrite to replace it (keyframes you coloured "
                             "are kept)")
        if not folder.parent.is_dir():
            raise ImageError(f"{folder}: its parent folder {folder.parent} does not exist")
        start_heavy(debug)
        from .folder import media_kind
        from .keyframes import make_keyframes
        from .weights import load_model, resolve_device

        kind = media_kind(film)
        if kind != "video":
            raise ImageError(f"{film}: " + ("a still, not a film (colour it with vidcolor PHOTO OUT)" if kind == "image"
                                            else "not a film vidcolor can read") + "; vidcolor-keyframes finds the "
                             "shots of a film")
        model = load_model(model_path, resolve_device(device, "--device"))
        check_size(size, model.stride, "--size")
        return make_keyframes(model, film, folder, overwrite=overwrite, progress=not quiet, precision=precision,
                              size=size, temperature=temperature)
    except (VidcolorError, ValueError, RuntimeError, OSError) as err:
        if debug:
            raise
        fail(one_line(err), usage_code(err), prog=prog)
    except KeyboardInterrupt as err:
        interrupted(err, prog, "; nothing written")


def film_parallel(spec, src: Path, dst: Path, jobs: int | None, segment_seconds: float | None, threads: int | None,
                  ray_address: str | None, gpus_per_task: float | None, video: VideoOptions, batch_size: int | None,
                  keyframes: Path | None, overwrite: bool, quiet: bool) -> None:
    """One film in segments over --jobs local workers or a --ray cluster, with its closing line."""
    from .parallel import colorize_video_parallel
    from .workers import run_segment

    started = time.perf_counter()
    if jobs is not None:
        from .pool import LocalPool
        pool = LocalPool(run_segment, spec, jobs, threads)
    else:
        from .cluster import RayPool
        pool = RayPool(run_segment, spec, ray_address, gpus_per_task or 1.0, threads)
    with pool:
        result = colorize_video_parallel(pool, src.resolve(), dst.resolve(),
                                         segment_seconds if segment_seconds is not None else DEFAULT_SEGMENT_SECONDS,
                                         video, batch_size, keyframes.resolve() if keyframes else None, overwrite,
                                         progress=not quiet)
    if not quiet:
        seconds = time.perf_counter() - started
        split = (f"{result['segments']} segments on {result['workers']} workers" if not result["unsplit"] else
                 f"1 segment on 1 worker ({result['unsplit']})")
        click.echo(f"vidcolor: wrote {dst}: {result['frames']} frames in {split}"
                   + (f", shots from {keyframes}" if keyframes else "")
                   + f", {result['duration']:.1f} s of film in {seconds:.1f} s "
                   f"({result['frames'] / max(seconds, 1e-9):.1f} fps)", err=True)


def report(summary, src: Path) -> None:
    if not summary.found:
        click.echo(f"vidcolor: no photo or video found under {src}", err=True)
        return
    click.echo(f"vidcolor: {len(summary.done)} done, {len(summary.skipped)} skipped (output exists), "
               f"{len(summary.failed)} failed, {len(summary.ignored)} not media", err=True)
    for rel, reason in summary.failed:
        click.echo(f"  failed: {rel}: {reason}", err=True)
    for rel, note in summary.notes:
        click.echo(f"  note: {rel}: {note}", err=True)
