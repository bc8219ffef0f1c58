"""PNG figures drawn with OpenCV alone (no plotting dependency): loss curves and image sheets."""
from __future__ import annotations

import cv2
import numpy as np

from vidcolor.imageio import write_image

PLOT_SIZE = (640, 400)  # width, height in px
MARGIN = 50  # px around the plotting area
CURVE_COLORS = ((200, 60, 30), (30, 120, 220), (40, 160, 60))  # BGR


def loss_curve(series: dict[str, list[float]], path, title: str = "loss",
               panel: dict[str, list[float]] | None = None) -> None:
    """Plot each named series against epoch (1..n) into a PNG; ``panel`` series go in a second
    plot below, on their own scale (validation quality beside the losses)."""
    canvas = _curve_canvas(series, title)
    if panel:
        canvas = np.concatenate([canvas, _curve_canvas(panel, "validation")], axis=0)
    write_image(path, np.ascontiguousarray(canvas[..., ::-1]))  # drawn in BGR


def _curve_canvas(series: dict[str, list[float]], title: str) -> np.ndarray:
    width, height = PLOT_SIZE
    canvas = np.full((height, width, 3), 255, np.uint8)
    values = [v for s in series.values() for v in s if np.isfinite(v)]
    if values:
        lo, hi = min(values), max(values)
        hi = hi if hi > lo else lo + 1.0
        n = max(len(s) for s in series.values())
        def xy(i, v):
            x = MARGIN + (width - 2 * MARGIN) * (i / max(n - 1, 1))
            y = height - MARGIN - (height - 2 * MARGIN) * ((v - lo) / (hi - lo))
            return int(x), int(y)
        cv2.rectangle(canvas, (MARGIN, MARGIN), (width - MARGIN, height - MARGIN), (0, 0, 0), 1)
        for k, (name, s) in enumerate(series.items()):
            color = CURVE_COLORS[k % len(CURVE_COLORS)]
            pts = np.array([xy(i, v) for i, v in enumerate(s) if np.isfinite(v)], np.int32)
            if len(pts):
                cv2.polylines(canvas, [pts], False, color, 2, cv2.LINE_AA)
            cv2.putText(canvas, name, (width - MARGIN - 230, MARGIN + 20 + 20 * k),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
        for v, y in ((hi, MARGIN), (lo, height - MARGIN)):
            cv2.putText(canvas, f"{v:.4g}", (2, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(canvas, f"epoch 1..{n}", (width // 2 - 40, height - 15),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(canvas, title, (MARGIN, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def image_sheet(rows: list[list[np.ndarray]], path, labels: list[str] | None = None) -> None:
    """Grid of same-size RGB images, one list per row (e.g. grey | prediction | truth)."""
    header = 24 if labels else 0
    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    canvas = np.full((grid.shape[0] + header, grid.shape[1], 3), 255, np.uint8)
    canvas[header:] = grid
    if labels:
        cell = grid.shape[1] // len(labels)
        for k, label in enumerate(labels):
            cv2.putText(canvas, label, (k * cell + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, canvas)
