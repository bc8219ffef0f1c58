"""Which video encoder a film opens, and with what options: the codec asked for, or where it is a
GPU encoder (NVENC) this machine cannot open, the software encoder of the same format, said in one
warning; and the options each encoder opens with (constant quality, presets, reproducible x264)."""
from __future__ import annotations

import warnings
from fractions import Fraction

import av

from .decode import reason
from .errors import VidcolorWarning

# GPU encoders (NVENC) and the software encoder of the same format a run falls back to where the
# GPU has none (data-centre GPUs such as the A100, H100 and H200 have no NVENC) or there is no GPU
HARDWARE_ENCODERS = {"h264_nvenc": "libx264", "hevc_nvenc": "libx265", "av1_nvenc": "libsvtav1"}
# x264's presets as NVENC's p1 (fastest) .. p7 (best)
NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p3",
                 "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7", "placebo": "p7"}


def usable_encoder(codec: str, crf: int, preset: str) -> str:
    """``codec``, or where it is a GPU encoder that cannot open here, its software kind, said in
    one warning: a run that would work in software never fails for want of NVENC."""
    if codec not in HARDWARE_ENCODERS:
        return codec
    try:
        context = av.CodecContext.create(codec, "w")
        context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
        context.time_base = Fraction(1, 25)
        context.options = encoder_options(codec, crf, preset)
        context.open()
        return codec
    except (av.error.FFmpegError, ValueError, OSError, NotImplementedError) as err:
        software = HARDWARE_ENCODERS[codec]
        why = ("data-centre GPUs such as the H100 have no NVENC" if _has_cuda() else "this machine has no NVIDIA GPU")
        warnings.warn(f"{codec}: no GPU video encoder here ({reason(err)}; {why}); encoding with {software} instead",
                      VidcolorWarning, stacklevel=4)
        return software


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def encoder_options(codec: str, crf: int, preset: str) -> dict[str, str]:
    """The options vidcolor opens a video encoder with."""
    if codec in HARDWARE_ENCODERS:  # NVENC: constant quality in place of crf, its own presets
        return {"rc": "vbr", "cq": str(crf), "b": "0", "preset": NVENC_PRESETS.get(preset, "p4")}
    options = {"crf": str(crf)}
    if codec in ("libx264", "libx265"):
        options["preset"] = preset
    if codec == "libx264":
        # with x264's macroblock-tree rate control the same frames encode to different bitstreams
        # from run to run (valgrind: an uninitialised stack value read where a side is not a
        # multiple of 16; at 320x240 5 of 8 encodes of one film differed); without it every
        # encode is reproducible. At crf 18 files are ~1.5x larger and 0.2 dB better; crf 20
        # gives about mb-tree's size and quality (benchmarks/README.md)
        options["x264-params"] = "mbtree=0"
    if codec == "libx265":  # x265 prints its banner and statistics straight to stderr otherwise
        options["x265-params"] = "log-level=error"
    if codec == "libvpx-vp9":
        options.update({"b": "0", "row-mt": "1"})
    return options
