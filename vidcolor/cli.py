"""The ``vidcolor`` command: parse, dispatch, report. All work happens in the library."""
from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import click

from . import __version__
from .cliargs import (check_codec, check_crf, check_options, check_parallel, output_kind, single_output,
                      still_options)
from .command import (OneLineCommand, count, fail, interrupted, one_line, start_heavy, terminate_cleanly, usage_code,
                      warnings_as)
from .errors import ImageError, OptionError, VidcolorError, VidcolorWarning
from .options import (CONTAINER_FORMATS, DEFAULT_CRF, DEFAULT_PRESET, DEFAULT_SEGMENT_SECONDS, DEFAULT_SMOOTHING,
                      IMAGE_EXTENSIONS, MAX_SIZE, MAX_TEMPERATURE, MIN_TEMPERATURE, PRECISIONS, X264_PRESETS,
                      FolderOptions, ParallelOptions, VideoOptions, check_devices, check_size)

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
@click.option("--hints", type=click.Path(path_type=Path), default=None,
              help="A still: colour hints, a picture of the still's size (an RGBA layer of strokes, or coloured "
                   "strokes on grey) or a JSON file of points and strokes (see the README); their colours spread "
                   "along the picture's edges. Films: put NAME.hints.png or NAME.hints.json beside a keyframe.")
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
@click.option("--devices", default=None, metavar="LIST",
              help="With --jobs: the workers' devices, taken round robin (cuda:0,cuda:1); default every visible GPU "
                   "where --device is auto or cuda.")
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
def main(src: Path, dst: Path, **params) -> None:
    """Colourize a black-and-white video or photo SRC into DST, or every one in folder SRC into folder DST.
    DST may be a folder for a single file: the output keeps the input's name there."""
    warnings.showwarning = warnings_as("vidcolor")
    warnings.simplefilter("always", VidcolorWarning)
    with terminate_cleanly():
        try:
            run = plan_run(src, dst, params)
            if run.folder:
                summary = run_folder(run)
                report(summary, src)
                sys.exit(0 if summary.ok and summary.found else 1)
            run_one(run)
        except (VidcolorError, ValueError, RuntimeError, OSError) as err:
            if params["debug"]:
                raise
            fail(one_line(err), usage_code(err))
        except KeyboardInterrupt as err:
            summary = getattr(err, "summary", None)
            if summary is not None and summary.done:
                interrupted(err, "vidcolor", f" after {len(summary.done)} files were completed (kept); rerun the "
                            "same command to resume")
            interrupted(err, "vidcolor", "; no output written")


@dataclass
class Run:
    """One vidcolor command, checked: what to colour where, and the options objects the library takes."""
    src: Path
    dst: Path
    folder: bool  # SRC is a folder
    video: VideoOptions
    tree: FolderOptions
    parallel: ParallelOptions | None  # --jobs or --ray, else None
    engine: dict  # Colorizer settings: precision, size, temperature, reference
    model: str  # --model
    device: str
    quiet: bool
    keyframes: Path | None  # --keyframes as given, for the closing line
    hints: Path | None = None  # --hints, a still's


def plan_run(src: Path, dst: Path, p: dict) -> Run:
    """Every check of the command line that needs no model, in the order a user meets them; readies
    the process for the heavy modules on the way (naming a folder DST reads what SRC holds)."""
    check_options(p["size"], p["temperature"], p["smoothing"], p["image_format"], p["video_ext"])
    use_ray = p["use_ray"]
    if not use_ray and (p["ray_address"] is not None or p["gpus_per_task"] is not None):
        raise OptionError(f"{'--ray-address' if p['ray_address'] is not None else '--gpus-per-task'} "
                          "applies only with --ray")
    check_parallel(p["jobs"], p["segment_seconds"], p["threads"], use_ray)
    if p["devices"] is not None and p["jobs"] is None:
        raise OptionError("--devices applies only with --jobs (a Ray cluster places its tasks: --gpus-per-task)")
    reference, keyframes = p["reference"], p["keyframes"]
    if not src.exists():
        raise ImageError(f"{src}: no such file or folder")
    if reference is not None and not reference.exists():
        raise ImageError(f"--reference {reference}: no such file or folder")
    if p["hints"] is not None and not p["hints"].is_file():
        raise ImageError(f"--hints {p['hints']}: no such file")
    if keyframes is not None:
        if reference is not None:
            raise OptionError("--keyframes and --reference exclude each other: put the reference photo in the "
                              "keyframe folder under the name of its shot's keyframe")
        if not keyframes.is_dir():
            raise ImageError(f"--keyframes {keyframes}: no such folder (make it with vidcolor-keyframes)")
    folder = _check_folder_or_file(src, dst, p)
    start_heavy(p["debug"])
    if not folder:  # check the output before the model loads, so a typo fails at once
        dst = _single_output(src, dst, p)
    check_crf(p["crf"], p["codec"], [dst] if not folder else None, p["video_ext"])
    check_codec(p["codec"])
    video = VideoOptions(codec=p["codec"], crf=p["crf"], preset=p["preset"], audio=not p["no_audio"],
                         smoothing=p["smoothing"], batch_size=p["batch_size"],
                         keyframes=str(keyframes.resolve()) if keyframes is not None else None)
    tree = FolderOptions(image_format=p["image_format"], video_ext=p["video_ext"], overwrite=p["overwrite"],
                         include_hidden=p["include_hidden"])
    parallel = None
    if use_ray or p["jobs"] is not None:
        parallel = ParallelOptions(jobs=p["jobs"], ray=use_ray, threads=p["threads"], address=p["ray_address"],
                                   devices=check_devices(p["devices"], "--devices") if p["devices"] else None,
                                   segment_seconds=p["segment_seconds"] or DEFAULT_SEGMENT_SECONDS,
                                   gpus_per_task=p["gpus_per_task"] or 1.0)
    engine = {"precision": p["precision"], "size": p["size"], "temperature": p["temperature"],
              "reference": str(reference.resolve()) if reference is not None else None}
    return Run(src, dst, folder, video, tree, parallel, engine, p["model_path"], p["device"], p["quiet"], keyframes,
               p["hints"])


def _check_folder_or_file(src: Path, dst: Path, p: dict) -> bool:
    """Whether SRC is a folder, and what that rules out: a file DST, --hints, --jobs; and for one
    file, --include-hidden (and a warning where --jobs is above the cores)."""
    folder = src.is_dir()
    if folder and dst.suffix.lower() in (*IMAGE_EXTENSIONS, *CONTAINER_FORMATS) and not dst.is_dir():
        raise ImageError(f"{src} is a folder and {dst} names a file: a folder goes into a folder "
                         f"(e.g. {dst.with_suffix('')}/)")
    if folder and dst.exists() and not dst.is_dir():
        raise ImageError(f"{dst}: exists and is not a folder; a folder goes into a folder")
    if p["hints"] is not None and folder:
        raise OptionError("--hints colours one still; a folder's films take hints beside their keyframes")
    if p["jobs"] is not None and folder:
        raise OptionError("--jobs splits one film over local workers; for a folder use --ray (one task per file)")
    if p["include_hidden"] and not folder:
        raise OptionError("--include-hidden applies only to a folder SRC (a file named on the command line is "
                          "coloured whatever its name)")
    cores = os.cpu_count() or 1
    if p["jobs"] is not None and p["jobs"] > cores and p["devices"] is None:
        warnings.warn(f"--jobs {p['jobs']} on {count(cores, 'core')}: the workers share the cores (each gets "
                      "one thread) and each holds a model in memory; --jobs up to the cores is faster",
                      VidcolorWarning, stacklevel=3)
    return folder


def _single_output(src: Path, dst: Path, p: dict) -> Path:
    """A single file's output path, checked against the options that apply to folders or films only."""
    for name, value in (("--image-format", p["image_format"]), ("--video-ext", p["video_ext"])):
        if value is not None:
            raise OptionError(f"{name} applies to folder runs; for one file, give DST the type you "
                              f"want (e.g. out.{value.lstrip('.')})")
    dst = single_output(src, dst, p["overwrite"])
    if p["hints"] is not None and output_kind(dst) != "image":
        raise OptionError("--hints colours a still; for a film, put NAME.hints.png or NAME.hints.json beside a "
                          "keyframe of its folder (vidcolor-keyframes) and give --keyframes")
    if output_kind(dst) == "image":
        still_options(click.get_current_context())
        if p["use_ray"]:
            raise OptionError(f"--ray colourizes films and folders; {dst} is a still")
    if p["hints"] is not None:  # read against the still's size now, not after the model loads
        from .hints import read_hints
        from .imageio import read_image

        read_hints(p["hints"], *read_image(src).shape[:2])
    return dst


def load_colorizer(run: Run):
    """The model and the engine around it (a bad model or reference fails here, once, before any
    file is touched, on a cluster too), and the spec a worker rebuilds them from."""
    from .colorizer import Colorizer
    from .weights import load_model, resolve_device
    from .workers import ModelSpec

    model = load_model(run.model, resolve_device(run.device, "--device"))
    check_size(run.engine["size"], model.stride, "--size")  # the model's own stride, now that it is known
    spec = ModelSpec(model=str(Path(run.model).resolve()) if run.model != "default" else "default",
                     device=run.device, **run.engine)
    return Colorizer(model, **run.engine), spec


def run_folder(run: Run):
    """A folder SRC, here or on a Ray cluster: the summary."""
    colorizer, spec = load_colorizer(run)
    if run.parallel is not None:
        from .cluster import colorize_folder_ray
        return colorize_folder_ray(spec, run.src.resolve(), run.dst.resolve(), run.tree, run.video, run.parallel,
                                   progress=not run.quiet)
    from .folder import colorize_folder
    return colorize_folder(colorizer, run.src, run.dst, run.tree, video=run.video, progress=not run.quiet)


def run_one(run: Run) -> None:
    """A single still or film, with its closing line."""
    from .mediakind import media_kind

    still = output_kind(run.dst) == "image"
    if still and media_kind(run.src) == "video":
        raise ImageError(f"{run.src}: a video cannot be written as an image; give DST a video type "
                         f"({', '.join(CONTAINER_FORMATS)})")
    colorizer, spec = load_colorizer(run)
    started = time.perf_counter()
    if run.parallel is not None:
        frames, duration, what = film_parallel(spec, run)
    elif still:
        from .image import colorize_image
        from .imageio import write_image
        picture = colorize_image(colorizer, run.src, hints=run.hints)
        write_image(run.dst, picture)
        if not run.quiet:
            click.echo(f"vidcolor: wrote {run.dst}: {picture.shape[1]}x{picture.shape[0]} in "
                       f"{time.perf_counter() - started:.1f} s", err=True)
        return
    else:
        from .video import colorize_video
        summary = colorize_video(colorizer, run.src, run.dst, run.video, overwrite=run.tree.overwrite,
                                 progress=not run.quiet)
        frames, duration = summary.frames, summary.duration
        what = f", {summary.shots} shots from {run.keyframes}" if summary.shots else ""
    if not run.quiet:
        seconds = time.perf_counter() - started
        click.echo(f"vidcolor: wrote {run.dst}: {count(frames, 'frame')}{what}, {duration:.1f} s of "
                   f"film in {seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} fps)", err=True)


def film_parallel(spec, run: Run) -> tuple[int, float, str]:
    """One film in segments over --jobs local workers or a --ray cluster: its frames, seconds, and
    what the closing line says of the segments and workers."""
    from .parallel import colorize_video_parallel
    from .workers import run_segment

    parallel = run.parallel
    devices = ""
    if parallel.jobs is not None:
        from .pool import LocalPool
        from .workers import specs_on
        from .weights import resolve_device
        pool = LocalPool(run_segment, specs_on(spec, parallel.devices), parallel.jobs, parallel.threads)
        used = dict.fromkeys(str(resolve_device(pool.spec_of(k).device)) for k in range(parallel.jobs))
        devices = f" ({', '.join(used)})"
    else:
        from .cluster import RayPool
        pool = RayPool(run_segment, spec, parallel)
    with pool:
        result = colorize_video_parallel(pool, run.src.resolve(), run.dst.resolve(), run.video,
                                         segment_seconds=parallel.segment_seconds, overwrite=run.tree.overwrite,
                                         progress=not run.quiet)
    split = (f"{result['segments']} segments on {result['workers']} workers{devices}" if not result["unsplit"] else
             f"1 segment on 1 worker ({result['unsplit']})")
    return result["frames"], result["duration"], f" in {split}" + (f", shots from {run.keyframes}"
                                                                   if run.keyframes else "")


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
