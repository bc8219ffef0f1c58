"""File types and encoder settings vidcolor knows, as plain data: the CLI checks options against
them before any heavy module is imported or any file is touched."""
from __future__ import annotations

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm", ".pnm")
# containers vidcolor writes, by extension -> FFmpeg muxer name
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts",
                    ".wmv", ".flv", ".3gp", ".ogv", ".gif")
# the quality range (--crf) of each video encoder that has one; x264 and x265 stop at 51
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63)}
CRF_DEFAULT_RANGE = (0, 63)  # other encoders: FFmpeg's widest
DEFAULT_CODECS = {".webm": "libvpx-vp9"}  # the encoder an output type gets without --codec; else libx264
DEFAULT_CODEC = "libx264"
MAX_TEMPERATURE = 100.0  # annealed-mean T: far above this every pixel is the mean of all bins (a uniform tint)
MAX_SIZE = 2048  # model input side: past this the network's maps outgrow a laptop's memory
# x264's and x265's speed presets, fastest first
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
