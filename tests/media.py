"""Synthetic media for the tests, written with PyAV: clips with a known frame count, timestamps,
rotation and audio tracks."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

SAMPLE_RATE = 48000
TONE_HZ = 440.0


def pattern(i: int, width: int, height: int) -> np.ndarray:
    """A moving colour pattern: every frame differs, L varies across it."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 2 + i * 3) % 256, (y * 3 + i) % 256, (x + y + i * 5) % 256], -1).astype(np.uint8)


def make_clip(path, frames: int = 30, width: int = 96, height: int = 64, rate=Fraction(25),
              pts: list[int] | None = None, time_base: Fraction | None = None, audio: str | None = "aac",
              channels: int = 2, rotation: int = 0, codec: str = "libx264", pix_fmt: str = "yuv420p") -> str:
    """Write a clip; ``pts`` (in ``time_base``) makes it variable-frame-rate; ``audio`` names the
    codec of a sine-wave track as long as the video (None for none)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            video.time_base = time_base
            video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream(audio, rate=SAMPLE_RATE)
            sound.layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, width, height), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            seconds = float((pts[-1] * time_base) if pts else frames / rate)
            fmt = sound.codec_context.codec.audio_formats[0].name
            block = 1024
            for start in range(0, int(seconds * SAMPLE_RATE), block):
                t = (np.arange(block) + start) / SAMPLE_RATE
                wave = 0.3 * np.sin(2 * np.pi * TONE_HZ * t)
                data = np.repeat(wave[None], channels, 0)
                if fmt.startswith("s16"):
                    data = (data * 32767).astype(np.int16)
                else:
                    data = data.astype(np.float32)
                if not fmt.endswith("p"):
                    data = data.T.reshape(1, -1)
                af = av.AudioFrame.from_ndarray(data, format=fmt, layout=sound.layout.name)
                af.sample_rate, af.pts = SAMPLE_RATE, start
                for packet in sound.encode(af):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return str(path)


def probe(path) -> dict:
    """What a test compares: frame pts in seconds, size, rotation, audio packets."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info = {"times": [float(f.pts * f.time_base) for f in frames], "size": (v.width, v.height),
                "rotation": frames[0].rotation if frames else 0, "rgb": [f.to_ndarray(format="rgb24") for f in frames],
                "time_base": v.time_base, "rate": v.average_rate,
                "audio": [(s.codec_context.name, s.codec_context.channels) for s in c.streams.audio]}
    with av.open(str(path)) as c:
        info["audio_packets"] = ([(bytes(p), round(float(p.pts * p.time_base), 3)) for p in c.demux(audio=0) if p.size]
                                if c.streams.audio else [])
    return info
