"""The click protocols' curves as an SVG plot (no plotting library: a few lines of SVG text).

    python benchmarks/curves.py CURVES.json OUT.svg [--title "..."]

CURVES.json is what ``benchmarks/hints.py --json`` writes: {protocol: per photo, the gain over
grey after 0..k clicks}, and where the random table ran, "random_table": {k: per photo, the gain
with k new random clicks}. The plot: mean gain against clicks for each protocol (solid), and
under it the share of clicks that made a picture worse by more than 0.1 dB at each click (dashed,
its own axis on the right); the random table's means as dots joined by a thin line.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 60, 60, 40, 50
COLOURS = {"person": "#c0392b", "random": "#2c7fb8", "random_table": "#2c7fb8", "suggest": "#7a9a01"}
NAMES = {"person": "a person (the middle of the worst wrong region)", "random": "random places, one by one",
         "random_table": "k random places (Zhang et al.)", "suggest": "where the studio suggests"}
TABLE = "random_table"
WORSE_CLICK_DB = 0.1


def _means(curves: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean gain after 0..k clicks, and the share of photos each click 1..k made > 0.1 dB worse."""
    g = np.array(curves, dtype=np.float64)
    return g.mean(0), (np.diff(g, axis=1) < -WORSE_CLICK_DB).mean(0)


def svg(curves: dict[str, list[list[float]]], title: str) -> str:
    """The plot as SVG text."""
    table = {int(k): float(np.mean(v)) for k, v in curves.get(TABLE, {}).items()}
    means = {p: _means(c) for p, c in curves.items() if p != TABLE}
    clicks = max(len(m) for m, _ in means.values()) - 1
    table = {k: v for k, v in table.items() if k <= clicks}
    top_db = float(np.ceil(max([m.max() for m, _ in means.values()] + list(table.values())) + 0.5))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(k: float) -> float:
        return LEFT + plot_w * k / max(clicks, 1)

    def y(db: float) -> float:
        return TOP + plot_h * (1 - db / top_db)

    def y_share(share: float) -> float:  # the share axis: 0..0.5 over the lower half
        return TOP + plot_h * (1 - share)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for db in range(0, int(top_db) + 1, 2):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(db):.1f}" y2="{y(db):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(db) + 4:.1f}" text-anchor="end">{db:+d}</text>')
    for share in (0.0, 0.25, 0.5):
        out.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y_share(share) + 4:.1f}">{share:.0%}</text>')
    for k in range(0, clicks + 1, 5 if clicks > 10 else 1):
        out.append(f'<text x="{x(k):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{k}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">clicks</text>')
    out.append(f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {TOP + plot_h / 2})">dB over grey (solid)</text>')
    out.append(f'<text x="{WIDTH - 14}" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(90 {WIDTH - 14} {TOP + plot_h / 2})">clicks made worse (dashed)</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>')
    for n, (protocol, (gain, worse)) in enumerate(means.items()):
        colour = COLOURS.get(protocol, "#555")
        line = " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in enumerate(gain))
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        dashed = " ".join(f"{x(k + 1):.1f},{y_share(v):.1f}" for k, v in enumerate(worse))
        out.append(f'<polyline points="{dashed}" fill="none" stroke="{colour}" stroke-width="1.5" '
                   f'stroke-dasharray="5,4"/>')
        out.append(f'<text x="{LEFT + 10}" y="{TOP + 18 + 16 * n}" fill="{colour}">'
                   f'{NAMES.get(protocol, protocol)}: {gain[min(10, clicks)]:+.2f} dB at {min(10, clicks)}</text>')
    if table:
        colour, n = COLOURS[TABLE], len(means)
        line = " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in sorted(table.items()))
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1"/>')
        out.extend(f'<circle cx="{x(k):.1f}" cy="{y(v):.1f}" r="4" fill="{colour}"/>' for k, v in table.items())
        at = max(k for k in table if k <= 10)
        out.append(f'<text x="{LEFT + 10}" y="{TOP + 18 + 16 * n}" fill="{colour}">'
                   f'{NAMES[TABLE]}: {table[at]:+.2f} dB at {at}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves", type=Path, help="benchmarks/hints.py --json's file")
    parser.add_argument("out", type=Path, help="the SVG to write")
    parser.add_argument("--title", default="Colour hints click by click, test-split photos at full resolution")
    a = parser.parse_args()
    a.out.write_text(svg(json.loads(a.curves.read_text()), a.title))


if __name__ == "__main__":
    main()
