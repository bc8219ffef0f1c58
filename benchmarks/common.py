"""Helpers shared by the benchmark scripts: synthetic clips and a model to time."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import torch

from vidcolor import ColorNet, ModelConfig, load_model


def model_for_timing(device: str = "cpu", model: str = "default") -> ColorNet:
    """The shipped default model (or the weights file ``model``) if installed, else a random one of
    the Table I shape."""
    try:
        return load_model(model, device)
    except ValueError:
        torch.manual_seed(0)
        return ColorNet(ModelConfig.paper()).to(device).eval()


def smooth_frame(i: int, width: int, height: int) -> np.ndarray:
    """Film-like content for the encoder: soft gradients and a drifting bright disc, grey."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 90 + 60 * np.sin((x + 2 * i) / width * 6.3) * np.cos((y - i) / height * 3.1)
    cx, cy = width * (0.3 + 0.4 * np.sin(i / 50)), height * 0.5
    disc = 80 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (0.02 * width * width))
    grey = np.clip(base + disc, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def make_clip(path, frames: int, width: int, height: int, rate=Fraction(25), audio: bool = True) -> str:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "20"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "stereo"
        for i in range(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(smooth_frame(i, width, height), format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            write_tone(out, sound, frames / rate)
    return str(path)


def write_tone(out, sound, seconds: float) -> None:
    """``seconds`` of a 440 Hz stereo tone through the 48 kHz audio stream ``sound`` of ``out``."""
    for start in range(0, int(seconds * 48000), 1024):
        t = (np.arange(1024) + start) / 48000
        wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, start
        for packet in sound.encode(frame):
            out.mux(packet)
    for packet in sound.encode(None):
        out.mux(packet)
