"""The studio's work that needs the model: a shot's preview (a few frames across it coloured from
its current keyframes, beside the grey) and the film's render (``vidcolor FILM OUT --keyframes
DIR``, through the film driver's one options object) on a thread of its own, with its progress.

The model loads on the first preview or render, not when the page opens: painting needs none."""
from __future__ import annotations

import contextlib
import copy
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..command import one_line
from ..keyframes import frame_grey
from ..options import VideoOptions
from .workbench import StudioError, Workbench

PREVIEW_FRAMES = 4  # frames across a shot in its preview
PREVIEW_WIDTH = 480  # px, each picture of the preview


class Stopped(Exception):
    """A render asked to stop (the page's "stop", or the studio closing)."""


@dataclass
class RenderState:
    state: str = "idle"  # idle, running, done, failed, stopped
    frames: int = 0  # written so far
    total: int = 0  # the film's frames (shots.csv)
    out: str = ""
    message: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Jobs:
    """The model's side of the studio for one folder and (where given) its film."""

    def __init__(self, bench: Workbench, film: Path | None, out: Path | None, model: str = "default",
                 device: str = "auto"):
        self.bench, self.film, self.out = bench, film, out
        self.model_name, self.device = model, device
        self._colorizer = None
        self._index = None  # the film's packets (vidcolor.segments.FilmIndex), read at the first preview
        self._spreads: dict[str, np.ndarray] = {}  # keyframe -> the model's uncertainty over it
        self._features: dict[str, np.ndarray | None] = {}  # keyframe -> the model's features of it
        bench.features_of = self.features
        self.missing: str | None = None  # the film the folder recorded, where it has moved away
        self._model_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.render_state = RenderState(total=bench.map.frames, out=str(out) if out else "")

    def _need_film(self, what: str) -> Path:
        if self.film is None:
            where = f"the one this folder was made from, {self.missing}, is not there any more; " if self.missing else ""
            raise StudioError(f"{what} needs the film: {where}start the studio with --film FILM", 409)
        return self.film

    def colorizer(self):
        """The engine, loaded once (the shipped model unless the studio was given another)."""
        with self._model_lock:
            if self._colorizer is None:
                from ..colorizer import Colorizer
                from ..weights import load_model, resolve_device
                self._colorizer = Colorizer(load_model(self.model_name, resolve_device(self.device, "--device")))
            return self._colorizer

    def spread(self, name: str) -> np.ndarray:
        """The model's uncertainty over a keyframe (``vidcolor.suggest.uncertainty``), once a keyframe."""
        from ..suggest import uncertainty

        if name not in self._spreads:
            self._spreads[name] = uncertainty(self.colorizer(), self.bench.lab(name)[0])
        return self._spreads[name]

    def features(self, name: str) -> np.ndarray | None:
        """The model's features of a keyframe (``Colorizer.region_features``), once a keyframe:
        the studio spreads hints with them as ``vidcolor --keyframes`` does."""
        if name not in self._features:
            self._features[name] = self.colorizer().region_features(self.bench.lab(name)[0])
        return self._features[name]

    def preview(self, shot_index: int) -> np.ndarray:
        """A shot's preview: PREVIEW_FRAMES frames across it, each grey | coloured from the shot's
        current keyframes (8-bit RGB, one row a frame)."""
        from ..decode import VideoReader
        from ..picture import colorize_array
        from ..shotrefs import ShotReferences
        import cv2

        film = self._need_film("a preview")
        if not 0 <= shot_index < len(self.bench.map.shots):
            raise StudioError(f"no shot {shot_index} (the film has {len(self.bench.map.shots)})", 404)
        shot = self.bench.map.shots[shot_index]
        wanted = sorted({int(round(x)) for x in np.linspace(shot.first_frame, shot.last_frame, PREVIEW_FRAMES)})
        colorizer = self.colorizer()
        shots = ShotReferences(colorizer, self.bench.folder, shot.keyframes[0].width, shot.keyframes[0].height,
                               None, film)
        painter = copy.copy(colorizer)
        painter.reference = shots.reference(shot)
        rows = []
        reader = VideoReader(film, planar=True)
        try:
            for index, item in self._frames_from(reader, wanted[0], wanted[-1]):
                if index in wanted:
                    grey = frame_grey(item, reader.info, colorizer)
                    pair = np.hstack([np.repeat(grey[..., None], 3, axis=2), colorize_array(painter, grey)])
                    height = max(1, round(pair.shape[0] * 2 * PREVIEW_WIDTH / pair.shape[1]))
                    rows.append(cv2.resize(pair, (2 * PREVIEW_WIDTH, height), interpolation=cv2.INTER_AREA))
                if index >= wanted[-1]:
                    break
        finally:
            reader.close()
        if not rows:
            raise StudioError(f"{film}: shot {shot_index}'s frames could not be decoded", 409)
        return np.vstack(rows)

    def _frames_from(self, reader, first: int, last: int):
        """(number, frame) from frame ``first`` to ``last`` at least: decoding starts at the codec's
        sync frame before ``first`` where the film's packets say where that is (read once, without
        decoding, ``vidcolor.segments.scan_film``), so a late shot of a long film previews as soon as
        an early one; else from the film's start."""
        from ..segments import scan_film

        if self._index is None:
            self._index = scan_film(reader)
        index = self._index
        if index.why_not is None and index.frames == self.bench.map.frames and index.sync_frames:
            sync = max((f for f in index.sync_frames if f <= first), default=0)
            for frame in reader.segment(int(index.pts[sync]), int(index.pts[first]), int(index.pts[last]) + 1, first):
                yield frame.index, frame
            return
        yield from enumerate(reader.items())

    def start_render(self) -> RenderState:
        """Render the film in the background; a second render while one runs is refused."""
        film = self._need_film("rendering")
        with self._render_lock:
            if self._thread is not None and self._thread.is_alive():
                raise StudioError("a render is already running; wait for it or stop it", 409)
            self._stop.clear()
            self.render_state = RenderState("running", 0, self.bench.map.frames, str(self.out))
            self._thread = threading.Thread(target=self._render, args=(film,), name="vidcolor-studio-render",
                                            daemon=True)
            self._thread.start()
            return self.render_state

    def _render(self, film: Path) -> None:
        from ..video import colorize_video

        state, started = self.render_state, time.monotonic()

        def progress(n: int) -> None:
            state.frames += n
            state.seconds = time.monotonic() - started
            if self._stop.is_set():
                raise Stopped()

        made = not self.out.parent.exists()
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            summary = colorize_video(self.colorizer(), film, self.out, VideoOptions(keyframes=self.bench.folder),
                                     overwrite=True, progress=progress)
            state.frames, state.state = summary.frames, "done"
            state.message = f"wrote {self.out}: {summary.frames} frames, {summary.shots} shots"
        except Stopped:
            state.state, state.message = "stopped", "render stopped; nothing written"
        except Exception as err:  # noqa: BLE001 - the page hears of it in one line
            state.state, state.message = "failed", one_line(err)
        if made and state.state != "done":  # a render that wrote nothing leaves no folder of its own
            with contextlib.suppress(OSError):
                self.out.parent.rmdir()
        state.seconds = time.monotonic() - started

    def stop_render(self, wait: float = 30.0) -> None:
        """Stop a render under way (its output is not written) and wait for it to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)
