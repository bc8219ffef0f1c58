"""The planar path's colour maths (``vidcolor.planes``) as torch ops, on whatever device the model
runs: the decoded I420 frames go to the device as uint8, L* comes from a table lookup there, the
luma is shrunk there, and only the new Cb/Cr planes (a quarter of the pixels each, uint8) come
back. The Y plane is never touched.

The same code runs on the CPU (tests check it against OpenCV's path there, which stays the CPU's
default: OpenCV's fused kernels beat torch's op-by-op passes on a few cores) and on CUDA, where
it keeps the colour work off the CPU that decodes and encodes. Every rounding step follows the
OpenCV path's: the shrunk luma is rounded to codes before its table lookup, as OpenCV's uint8
resize rounds, and the chroma codes are rounded and saturated as ``convertScaleAbs`` does.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .color import lab_to_rgb
from .planes import chroma_matrix, luma_table


class TorchPlanes:
    """The tables of one stream (its matrix and range) on one device."""

    def __init__(self, device: torch.device, matrix: int, full_range: bool):
        self.device = device
        self.table = torch.from_numpy(luma_table(full_range)).to(device)
        transform = torch.from_numpy(chroma_matrix(matrix, full_range)).to(device)
        self.weights, self.offsets = transform[:, :3], transform[:, 3]
        self.key = (device, matrix, full_range)
        self.copy_stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def upload(self, frames: np.ndarray) -> torch.Tensor:
        """(N, 3H/2, W) uint8 I420 frames on the device. On CUDA through pinned host memory, on a
        stream of its own, so the copy does not hold up work queued before it."""
        host = torch.from_numpy(frames)
        if self.copy_stream is None:
            return host
        host = host.pin_memory()
        with torch.cuda.stream(self.copy_stream):
            on_device = host.to(self.device, non_blocking=True)
        torch.cuda.current_stream(self.device).wait_stream(self.copy_stream)
        on_device.record_stream(torch.cuda.current_stream(self.device))
        return on_device

    def lightness(self, codes: torch.Tensor) -> torch.Tensor:
        """Y' codes (uint8, or float codes already rounded) -> L* float32, same shape."""
        return self.table[codes.long()]

    @staticmethod
    def shrink(luma: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(N,1,H,W) float codes -> (N,1,h,w) codes rounded: area averaging when shrinking (as
        OpenCV's INTER_AREA), bilinear when growing, rounded to codes as a uint8 resize is."""
        h, w = luma.shape[-2:]
        if h >= size[0] and w >= size[1]:
            out = F.interpolate(luma, size=size, mode="area")
        else:
            out = F.interpolate(luma, size=size, mode="bilinear", align_corners=False)
        return out.round_().clamp_(0, 255)

    def chroma(self, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """L* (N,1,h,w) and a/b (N,2,h,w) -> (N,2,h,w) uint8 Cb/Cr codes, through sRGB."""
        rgb = lab_to_rgb(torch.cat((lightness, ab), dim=1)).clamp_(0.0, 1.0)
        codes = torch.einsum("kc,nchw->nkhw", self.weights, rgb) + self.offsets.view(1, 2, 1, 1)
        return codes.round_().clamp_(0, 255).to(torch.uint8)


def planes_of(frames: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Views of a batch of I420 frames ((N, 3H/2, W) uint8): the luma (N,1,H,W) and the chroma
    planes (N,2,H/2,W/2), laid out as PyAV lays them (Y, then U, then V, each whole)."""
    n = frames.shape[0]
    flat = frames.reshape(n, -1)
    luma = flat[:, :height * width].view(n, 1, height, width)
    quarter = (height // 2) * (width // 2)
    chroma = flat[:, height * width:height * width + 2 * quarter].view(n, 2, height // 2, width // 2)
    return luma, chroma
