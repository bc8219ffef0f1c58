"""The film driver: a decode thread, the engine on this thread, an encode thread, joined by
bounded queues, so memory stays flat however long the film; a whole film (``colorize_video``) or
one segment of it on a worker (``colorize_segment``, planned by ``vidcolor.segments``). The reader
and writer are in ``vidcolor.decode`` and ``vidcolor.encode``; the engine in
``vidcolor.colorizer``; steady colour in ``vidcolor.temporal``; shots' keyframes in
``vidcolor.shotrefs``."""
from __future__ import annotations

import copy
import itertools
import os
import queue
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .decode import AVCOL_RANGE_JPEG, ColorCheck, Frame, VideoReader
from .encode import VideoWriter
from .colorizer import Colorizer, default_batch_size
from .errors import VidcolorWarning, VideoError
from .shotrefs import ShotReferences
from .options import ENGINE_SETTINGS, VideoOptions, split_settings
from .segments import Segment, SegmentResult
from .temporal import TemporalSmoother
from .tempfiles import check_output

QUEUE_BATCHES = 2  # batches each queue may hold: enough to overlap the stages, bounded memory
# a batch on a GPU: the frames as uint8 and float luma, the chroma grid's L*, a/b, RGB and codes:
# about 16 bytes a pixel; it may take this share of the memory free when the film starts
GPU_BYTES_PER_PIXEL = 16
GPU_SHARE = 0.5
BATCH_BYTES = 256 * 2 ** 20  # RGB bytes one batch of frames may hold: 42 frames of 1080p, 8 of 4K
_DONE = object()  # end-of-stream marker between the threads


class _Stage:
    """A worker thread whose error reaches the caller and whose queue puts give way to a stop."""

    def __init__(self, name: str, target, stop: threading.Event):
        self.error: BaseException | None = None
        self.stop = stop
        self.thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)

    def _run(self, target) -> None:
        try:
            target()
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            self.error = err
            self.stop.set()


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return _DONE


class ProgressCall:
    """A progress bar that shows nothing but hands each update to ``call`` (a worker's reporter to
    the driver, which shows the bar), or to nobody."""

    def __init__(self, call=None):
        self.call = call

    def update(self, n: int = 1) -> None:
        if self.call is not None:
            self.call(n)

    def close(self) -> None:
        pass


def fitting_batch(batch_size: int | None, colorizer: Colorizer, info) -> int:
    """The batch size asked for (default: the device's), lowered where its frames would hold more
    than ``BATCH_BYTES`` (frames in flight: a batch being coloured plus QUEUE_BATCHES in each queue)."""
    asked = batch_size is not None
    batch_size = batch_size or default_batch_size(colorizer.device)
    frame_bytes = 3 * max(info.width, 1) * max(info.height, 1)
    fits = max(1, BATCH_BYTES // frame_bytes)
    where = "in memory"
    if colorizer.device.type == "cuda":  # and what a batch holds on the GPU, from its free memory now
        free, _ = torch.cuda.mem_get_info(colorizer.device)
        on_gpu = max(1, int(free * GPU_SHARE) // (GPU_BYTES_PER_PIXEL * max(info.width * info.height, 1)))
        if on_gpu < fits:
            fits, where = on_gpu, f"on {colorizer.device} ({free / 2 ** 30:.1f} GB free)"
    if batch_size > fits and asked:  # a default that does not fit is lowered without a word
        warnings.warn(f"batch size {batch_size} lowered to {fits}: {batch_size} frames of "
                      f"{info.width}x{info.height} would not fit {where}", VidcolorWarning, stacklevel=3)
    return min(batch_size, fits)


class _Coloring:
    """The engine's side of the pipeline: decoded frames coloured in place, in runs of one shot and
    one layout (I420 planes or RGB), in display order for the smoother; with ``shots`` each shot
    takes its own reference and starts the smoother afresh."""

    def __init__(self, colorizer: Colorizer, reader: VideoReader, smoother: TemporalSmoother | None,
                 shots: ShotReferences | None):
        # a shot's reference replaces the colorizer's: on a copy, the caller's stays as it was
        self.colorizer = copy.copy(colorizer) if shots is not None else colorizer
        self.reader, self.smoother, self.shots = reader, smoother, shots
        self.steady = smoother.steady if smoother is not None else None  # between prediction and colour
        self.shot = None

    def __call__(self, frames: list[Frame]) -> None:
        shots, info = self.shots, self.reader.info
        if shots is not None and frames and frames[-1].index > shots.map.frames - 1:  # at once, not at the end
            raise VideoError(f"{self.reader.path}: has more frames than the {shots.map.frames} its shots.csv "
                             "lists; run vidcolor-keyframes on this film")
        for (shot, planar), run in itertools.groupby(frames, key=lambda f: (
                shots.map.shot_of(f.index) if shots else None, f.yuv is not None)):
            run = list(run)
            if shots is not None and shot is not self.shot:
                self._enter(shot, run[0].index)
            if planar:
                out = self.colorizer.colorize_planes(np.stack([f.yuv for f in run]), info.matrix,
                                                     info.range == AVCOL_RANGE_JPEG, self.steady, inplace=True)
                for frame, yuv in zip(run, out):
                    frame.yuv = yuv
            else:
                out = self.colorizer.colorize_frames(np.stack([f.rgb for f in run]), self.steady)
                for frame, rgb in zip(run, out.cpu().numpy()):
                    frame.rgb = rgb

    def _enter(self, shot, first_index: int) -> None:
        shots = self.shots
        self.shot = shot
        self.colorizer.reference = shots.reference(shot)
        if self.smoother is not None:
            self.smoother.reset()


def _encoding(colored: queue.Queue, writer: VideoWriter, counts: dict, bar, stop: threading.Event):
    """The encode thread's work: coloured frames (but warm-up ones) and passthrough packets from
    ``colored`` into ``writer``, in order, counted, until the end mark."""
    def encode() -> None:
        while True:
            item = _get(colored, stop)
            if item is _DONE:
                return
            if isinstance(item, Frame):
                if item.warmup:
                    continue
                writer.write_frame(item)
                counts["frames"] += 1
                bar.update(1)
            else:
                writer.write_packet(item)
                counts["packets"] += 1
    return encode


def _colour_stream(color, color_check, decoded: queue.Queue, colored: queue.Queue, batch_size: int,
                   stop: threading.Event) -> None:
    """The engine's thread: items from ``decoded`` in demux order, their frames coloured a batch at
    a time (each looked at by ``color_check``), everything passed on to ``colored`` in the same
    order, then the end mark."""
    pending: list = []  # frames and packets in demux order, up to one batch of frames

    def flush() -> bool:
        color([item for item in pending if isinstance(item, Frame)])
        for item in pending:
            if not _put(colored, item, stop):
                return False
        pending.clear()
        return True

    n_frames = 0
    while True:
        item = _get(decoded, stop)
        if item is _DONE:
            break
        pending.append(item)
        if isinstance(item, Frame):
            color_check(item)
            n_frames += 1
            if n_frames % batch_size == 0 and not flush():
                break
    if not stop.is_set() and flush():
        _put(colored, _DONE, stop)


def run_pipeline(colorizer: Colorizer, reader: VideoReader, items, writer: VideoWriter, batch_size: int,
                 smoother: TemporalSmoother | None, shots: ShotReferences | None, bar) -> dict:
    """Colour ``items`` (the reader's frames and passthrough packets, in demux order) into
    ``writer``: a decode thread, the engine on this thread (``_Coloring``), an encode thread,
    joined by bounded queues. Frames marked ``warmup`` are coloured (they steady the smoother) but
    not written. Returns the counts of frames written and packets copied; the caller closes or
    aborts the writer."""
    color = _Coloring(colorizer, reader, smoother, shots)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES * batch_size)
    colored: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES * batch_size)
    counts = {"frames": 0, "packets": 0}

    def decode() -> None:
        for item in items:
            if not _put(decoded, item, stop):
                return
        _put(decoded, _DONE, stop)

    stages = [_Stage("vidcolor-decode", decode, stop),
              _Stage("vidcolor-encode", _encoding(colored, writer, counts, bar, stop), stop)]
    for stage in stages:
        stage.thread.start()
    main_error: BaseException | None = None
    try:
        _colour_stream(color, ColorCheck(reader.info, Path(reader.path).name), decoded, colored, batch_size, stop)
        stages[1].thread.join()
    except BaseException as err:  # noqa: BLE001 - re-raised below, after the threads stop
        main_error = err
    finally:
        stop.set()
        for stage in stages:
            stage.thread.join()
    error = main_error or next((s.error for s in stages if s.error is not None), None)
    if error is not None:
        raise error
    return counts


@dataclass(frozen=True)
class FilmSummary:
    """What ``colorize_video`` wrote."""
    frames: int  # frames written, every one the source holds
    duration: float  # seconds of film, first frame's start to last frame's end (decode.film_seconds)
    width: int
    height: int
    time_base: str  # the source's, kept: "1/12800"
    batch_size: int  # frames per forward pass, as run (lowered where frames are large)
    packets_copied: int  # audio and subtitle packets copied or re-encoded
    scene_cuts: int | None  # cuts the smoother found; None with smoothing off
    shots: int | None  # shots coloured from their keyframes; None without keyframes


def _open_film(colorizer: Colorizer, src, dst, video: VideoOptions):
    """(the reader, the shots' keyframes or None, the batch size, the writer) of a film run: every
    keyframe file is checked before the output is opened; nothing is left open on an error."""
    # 8-bit 4:2:0 films stay in their planes: OpenCV maths on the CPU, torch on the device elsewhere
    reader = VideoReader(src, planar=video.planar is not False)
    try:
        shots = None
        if video.keyframes is not None:
            shots = ShotReferences(colorizer, video.keyframes, reader.info.width, reader.info.height,
                                   reader.info.frames if reader.info.frames_exact else None, src)
        return reader, shots, fitting_batch(video.batch_size, colorizer, reader.info), VideoWriter(dst, reader.info, video)
    except BaseException:
        reader.close()
        raise


def colorize_video(model_or_colorizer, src, dst, options: VideoOptions | None = None, *, overwrite: bool = False,
                   progress=True, **settings) -> FilmSummary:
    """Colourize the video ``src`` into ``dst``: decode thread -> batched model on this thread ->
    encode thread, joined by bounded queues. Keeps every frame with its pts, the time base,
    rotation and colour tags, and copies audio and subtitle streams. Returns a ``FilmSummary``.
    On any error or Ctrl-C no output file is left behind. An existing ``dst`` is replaced only with
    ``overwrite``; ``dst`` may never be ``src`` (inputs are only read). ``progress``: a tqdm bar,
    or a callable that hears of each frame written.

    How the film is coloured and written: ``options`` (a ``vidcolor.VideoOptions``) and/or its
    fields by name, checked before any file is opened: ``codec``, ``crf``, ``preset``, ``audio``,
    ``smoothing`` in [0, 1) (how strongly the colour follows the motion, ``vidcolor.temporal``; 0
    colours every frame on its own), ``batch_size``, ``keyframes`` (a folder made by
    ``vidcolor.make_keyframes``, coloured by hand where wanted: each shot takes its colour from its
    own keyframes) and ``planar`` (default on, on every device: 8-bit 4:2:0 films stay in their Y'CbCr
    planes, vidcolor.planes). The engine's settings by name too: ``precision``, ``size``,
    ``temperature`` (classification models: lower = each pixel's likeliest colour, 1 = the
    average) and ``reference`` (colour reference(s), encoded once for the whole film)."""
    engine, film = split_settings(settings, ENGINE_SETTINGS)
    video = VideoOptions.of(options, **film)
    check_output(src, dst, overwrite)
    colorizer = Colorizer.of(model_or_colorizer, **engine)
    smoother = TemporalSmoother(video.smoothing) if video.smoothing else None
    if video.keyframes is not None and colorizer.reference is not None:
        raise VideoError("keyframes and a reference exclude each other: put the reference photo in the keyframe "
                         "folder under the name of the keyframe of its shot")
    reader, shots, batch_size, writer = _open_film(colorizer, src, dst, video)
    bar = ProgressCall(progress) if callable(progress) else tqdm(
        total=reader.info.frames or None, unit="frame", desc=Path(src).name, disable=not progress, dynamic_ncols=True)
    try:
        counts = run_pipeline(colorizer, reader, reader.items(writer.passthrough), writer, batch_size, smoother,
                              shots, bar)
        if counts["frames"] == 0:
            raise VideoError(f"{src}: no video frames could be decoded")
        if shots is not None and counts["frames"] != shots.map.frames:
            raise VideoError(f"{src}: has {counts['frames']} frames but its shots.csv lists {shots.map.frames}: it "
                             "was made from another film (run vidcolor-keyframes on this one)")
        if isinstance(bar, tqdm) and bar.total not in (None, bar.n):  # the container's count was an estimate
            bar.total = bar.n
            bar.refresh()
    except BaseException:
        writer.abort()
        raise
    finally:
        try:
            bar.close()
        finally:  # the decoder's thread ends whatever the bar's last write met
            reader.close()
    writer.close()
    return FilmSummary(frames=counts["frames"], duration=reader.seconds or 0.0, width=reader.info.width,
                       height=reader.info.height, time_base=str(reader.info.time_base), batch_size=batch_size,
                       packets_copied=counts["packets"], scene_cuts=smoother.cuts if smoother else None,
                       shots=len(shots.map.shots) if shots else None)


def colorize_segment(colorizer, src, out, segment: Segment, video: VideoOptions, progress=None) -> SegmentResult:
    """Colour and encode one segment of ``src`` into ``out`` (video only, the output's encoder
    settings, the source's timestamps) as ``colorize_video`` would with ``video``; ``progress(n)``
    hears of the frames written (the driver's bar)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        smoother = TemporalSmoother(video.smoothing) if video.smoothing else None
        reader = VideoReader(src, planar=video.planar is not False)
        try:
            shots = None if video.keyframes is None else ShotReferences(colorizer, video.keyframes, reader.info.width,
                                                                        reader.info.height, None, src)
            batch_size = fitting_batch(video.batch_size, colorizer, reader.info)
            writer = VideoWriter(out, replace(reader.info, other_streams=[]), replace(video, audio=False))
        except BaseException:
            reader.close()
            raise

        def frames():
            for frame in reader.segment(segment.seek_pts, segment.first_pts, segment.end_pts,
                                        segment.start - segment.warmup):
                frame.warmup = frame.index < segment.start
                yield frame

        try:
            counts = run_pipeline(colorizer, reader, frames(), writer, batch_size, smoother, shots,
                                  ProgressCall(progress))
            if counts["frames"] != segment.frames:
                raise VideoError(f"{src}: damaged video: its frames {segment.start} to {segment.end - 1} decode "
                                 f"to {counts['frames']} frames; nothing written")
        except BaseException:
            writer.abort()
            raise
        finally:
            reader.close()
        writer.close()
    stamps = np.frombuffer(writer.timestamps, dtype=np.int64).reshape(-1, 3).copy()
    notes = tuple(dict.fromkeys(str(w.message).removeprefix(f"{Path(src).name}: ") for w in caught))
    return SegmentResult(segment.number, os.fspath(out), stamps, counts["frames"], reader.info.rotation, notes)

