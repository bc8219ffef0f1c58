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
              channels: int = 2, rotation: int = 0, codec: str = "libx264", pix_fmt: str = "yuv420p",
              grey: bool = False, sample_rate: int = SAMPLE_RATE, keyint: int | None = None) -> str:
    """Write a clip; ``pts`` (in ``time_base``) makes it variable-frame-rate; ``audio`` names the
    codec of a sine-wave track as long as the video (None for none); ``grey`` makes it a
    black-and-white film (R = G = B); ``keyint``: at most this many frames between keyframes."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=rate, options={"g": str(keyint)} if keyint else None)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            video.time_base = time_base
            video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream(audio, rate=sample_rate)
            sound.layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        for i in range(frames):
            rgb = pattern(i, width, height)
            if grey:
                rgb = np.repeat(rgb.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
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
            for start in range(0, int(seconds * sample_rate), block):
                t = (np.arange(block) + start) / sample_rate
                wave = 0.3 * np.sin(2 * np.pi * TONE_HZ * t)
                data = np.repeat(wave[None], channels, 0)
                if fmt.startswith("s16"):
                    data = (data * 32767).astype(np.int16)
                elif fmt.startswith("s32"):
                    data = (data * 2 ** 31 * 0.99).astype(np.int32)
                else:
                    data = data.astype(np.float32)
                if not fmt.endswith("p"):
                    data = data.T.reshape(1, -1)
                af = av.AudioFrame.from_ndarray(data, format=fmt, layout=sound.layout.name)
                af.sample_rate, af.pts = sample_rate, start
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
                "duration": (v.duration, c.duration),  # the stream's (its time base) and the container's (us)
                "audio": [(s.codec_context.name, s.codec_context.channels) for s in c.streams.audio]}
    with av.open(str(path)) as c:
        info["audio_packets"] = ([(bytes(p), round(float(p.pts * p.time_base), 3)) for p in c.demux(audio=0) if p.size]
                                if c.streams.audio else [])
    return info


def _chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def palette_png(width: int = 12, height: int = 9) -> bytes:
    """An 8-bit palette PNG (colour type 3), which OpenCV cannot write itself."""
    import struct
    import zlib
    palette = bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    rows = b"".join(b"\x00" + bytes((x + y) % 4 for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + _chunk(b"PLTE", palette) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: what matters is that vidcolor refuses it before decoding."""
    import struct
    import zlib
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def cmyk_jpeg(cmyk=(10, 200, 40, 30)) -> bytes:
    """A baseline 8x8 four-component (Adobe CMYK) JPEG of one flat colour, DC-only coded.
    OpenCV cannot write CMYK; real scans often are."""
    import struct

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    quant = segment(0xDB, b"\x00" + b"\x01" * 64)  # table 0: all ones, so DC = 8 * (value - 128)
    sof = segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 4) + b"".join(bytes([i + 1, 0x11, 0]) for i in range(4)))
    # DC table 0: the 12 categories, 4-bit codes 0000..1011; AC table 0: EOB alone, code '0'
    dc = segment(0xC4, b"\x00" + bytes([0, 0, 0, 12] + [0] * 12) + bytes(range(12)))
    ac = segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = segment(0xDA, bytes([4]) + b"".join(bytes([i + 1, 0x00]) for i in range(4)) + b"\x00\x3f\x00")
    adobe = segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))  # transform 0: plain CMYK
    bits = ""
    for value in cmyk:
        stored = 255 - value  # Adobe CMYK JPEGs store inverted values
        diff = 8 * (stored - 128)
        cat = abs(diff).bit_length()
        mag = format(diff if diff >= 0 else diff + (1 << cat) - 1, f"0{cat}b") if cat else ""
        bits += format(cat, "04b") + mag + "0"  # DC category, its bits, then EOB
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)).replace(b"\xff", b"\xff\x00")
    return b"\xff\xd8" + adobe + quant + sof + dc + ac + sos + data + b"\xff\xd9"


def shot_scene(shot: int, i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i`` of a grey scene that looks like no other shot's (its own brightness and
    structure), moving by a pixel a frame so the flow holds within the shot."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x = x + i
    kind = shot % 3
    if kind == 0:  # bright, soft diagonal bands
        v = 170 + 60 * np.sin((x + y) / 9.0)
    elif kind == 1:  # dark blocks
        v = 40 + 30 * ((x // 12 + y // 12) % 2)
    else:  # mid-grey rings
        v = 110 + 70 * np.sin(np.hypot(x - width / 2, y - height / 2) / 5.0)
    grey = np.clip(v, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def make_shots_film(path, lengths=(12, 14, 10), width: int = 160, height: int = 96, audio: str | None = None) -> list[int]:
    """A black-and-white film of one scene per entry of ``lengths`` joined by hard cuts; returns
    the frame numbers where the shots begin."""
    starts, frames = [], []
    for shot, n in enumerate(lengths):
        starts.append(len(frames))
        frames += [shot_scene(shot, i, width, height) for i in range(n)]
    write_frames(path, frames, "libx264", Fraction(25), "yuv420p", {"crf": "10"})
    return starts


def write_frames(path, frames: list, codec: str, rate, pix_fmt: str, options: dict | None = None) -> str:
    """``frames`` (HxWx3 uint8 RGB) encoded with ``codec`` into ``path``, video only."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return str(path)


def make_gif(path, frames: list, rate: int = 10) -> str:
    """An (animated) GIF of ``frames`` (HxWx3 uint8), written by FFmpeg: OpenCV writes GIFs only
    from 4.11 on."""
    return write_frames(path, frames, "gif", rate, "rgb8")
