"""The contact sheet of a keyframe folder: per shot its times, grey keyframe, automatic colour and
hinted colour (where hints were saved by ``vidcolor-studio``) side by side, as ``index.html``
(relative links: it opens from disk in any browser) and as one PNG."""
from __future__ import annotations

import html
from urllib.parse import quote
from pathlib import Path

import cv2
import numpy as np

from .hints import hints_beside, saved_colour
from .imageio import read_image, rgb8, write_image
from .shots import AUTO_FOLDER, COLORED_FOLDER, ShotMap
from .tempfiles import write_text

THUMB_WIDTH = 320  # px, the contact sheet's pictures
SHEET_COLUMNS = 2  # keyframes per row of contact_sheet.png (each grey | automatic | hinted)
GAP = 8  # px between tiles


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes)}:{rest:06.3f}"


def _blank(like: np.ndarray, text: str) -> np.ndarray:
    blank = np.full_like(like, 255)
    cv2.putText(blank, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (120, 120, 120), 1, cv2.LINE_AA)
    return blank


def _thumb(path: Path, width: int = THUMB_WIDTH) -> np.ndarray:
    image = rgb8(read_image(path))
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _url(name: str) -> str:
    """A file name as a relative address in the page: percent-encoded (a # or ? or % in it is part
    of the name, not of the address), then escaped for the attribute."""
    return html.escape(quote(name, safe=""))


def _hinted(folder: Path, name: str) -> bool:
    """A keyframe with hints beside it and their colour saved in ``colored/`` (not stale)."""
    return saved_colour(folder / name, folder / COLORED_FOLDER / name)


def _hints_note(folder: Path, name: str) -> str:
    """The hinted column's words where no saved colour shows: the hints file that counts, or none."""
    source = hints_beside(folder / name)
    return f"hints in {source.name} (not coloured here yet)" if source is not None else "no hints"


def contact_sheet(shot_map: ShotMap, folder: Path, film: str, start_s: float = 0.0) -> None:
    """``index.html`` (relative links: it opens from disk in any browser) and the same as one PNG,
    both naming ``film``; times as a player shows them: the film's first frame at ``start_s``
    (shots.csv counts from the first frame)."""
    rows = []
    for shot in shot_map.shots:
        for n, key in enumerate(shot.keyframes):
            times = (f"{_clock(start_s + shot.start_s)} - {_clock(start_s + shot.end_s)} "
                     f"({shot.end_s - shot.start_s:.1f} s, frames {shot.first_frame}-{shot.last_frame})")
            hinted = (f"<img src=\"{COLORED_FOLDER}/{_url(key.file)}\" width=\"{THUMB_WIDTH}\" "
                      "alt=\"hinted colour\">" if _hinted(folder, key.file) else html.escape(_hints_note(folder, key.file)))
            rows.append(f"<tr><td>{shot.index}{'' if n == 0 else f' ({n + 1})'}</td><td>{html.escape(times)}</td>"
                        f"<td>{key.frame}<br>{_clock(start_s + key.time_s)}</td>"
                        f"<td><img src=\"{_url(key.file)}\" width=\"{THUMB_WIDTH}\" alt=\"grey\"></td>"
                        f"<td><img src=\"{AUTO_FOLDER}/{_url(key.file)}\" width=\"{THUMB_WIDTH}\" "
                        f"alt=\"automatic colour\"></td><td>{hinted}</td><td><code>{html.escape(key.file)}</code></td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vidcolor keyframes of {html.escape(film)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}} img{{display:block}}</style></head><body>
<h1>Shots and keyframes of <code>{html.escape(film)}</code></h1>
<p>{len(shot_map.shots)} shots, {len(shot_map.keyframes)} keyframes, {shot_map.frames} frames{
    f"; times as a player shows them (the film starts at {_clock(start_s)})" if start_s else ""}. Colour a keyframe
in any image editor (or copy its automatic colour from <code>{AUTO_FOLDER}/</code> over it, or put a colour photo
of the scene in its place under the same name), then run <code>vidcolor FILM OUT --keyframes THIS_FOLDER</code>.
A keyframe left grey means: the automatic colour for that shot. Quicker than painting: put a few
colour hints beside a keyframe <code>NAME.png</code>, as <code>NAME.hints.json</code> (points and strokes)
or <code>NAME.hints.png</code> (a layer of strokes); they spread along the keyframe's edges over its
automatic colour, and its shot takes that colour; <code>vidcolor-studio THIS_FOLDER</code> paints them in a
page.</p>
<table><tr><th>shot</th><th>time</th><th>keyframe</th><th>grey</th><th>automatic colour</th><th>hinted</th><th>file</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    write_text(folder / "index.html", page)
    tiles = []
    for shot in shot_map.shots:
        for key in shot.keyframes:
            grey, auto = _thumb(folder / key.file), _thumb(folder / AUTO_FOLDER / key.file)
            hinted = (_thumb(folder / COLORED_FOLDER / key.file) if _hinted(folder, key.file)
                      else _blank(grey, "no hints" if hints_beside(folder / key.file) is None else "hints, not coloured yet"))
            label = np.full((24, 3 * THUMB_WIDTH, 3), 255, np.uint8)
            cv2.putText(label, f"shot {shot.index}  {_clock(start_s + shot.start_s)}-{_clock(start_s + shot.end_s)}  "
                        f"frame {key.frame}",
                        (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(np.vstack([label, np.hstack([grey, auto, hinted])]))
    height = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255) for t in tiles]
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % SHEET_COLUMNS)
    gap = np.full((height, GAP, 3), 255, np.uint8)
    rows = [np.hstack([x for t in tiles[i:i + SHEET_COLUMNS] for x in (t, gap)][:-1])
            for i in range(0, len(tiles), SHEET_COLUMNS)]
    title = np.full((32, rows[0].shape[1], 3), 255, np.uint8)
    cv2.putText(title, f"{film}: {len(shot_map.shots)} shots, {len(shot_map.keyframes)} keyframes", (4, 22),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(folder / "contact_sheet.png", np.vstack([title] + [np.vstack([r, np.full((GAP, r.shape[1], 3), 255,
                                                                                         np.uint8)]) for r in rows]))
