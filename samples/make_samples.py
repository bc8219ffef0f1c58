"""Rebuild samples/ from test-split photos of the training corpus (never seen in training).

    python samples/make_samples.py bw        # the black-and-white clip and photos
    python samples/make_samples.py results   # colourize them with the shipped model, side-by-sides
    python samples/make_samples.py keyframes # the clip's contact sheet, coloured from its keyframes
    python samples/make_samples.py hints     # a photo: automatic, and with ten clicks of colour
    python samples/make_samples.py temperature  # one photo at --temperature 0.25, 0.6 (default), 1 and 2

Needs the team's corpus at ../shared/corpus (see samples/README.md for sources and licences).
"""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
CLIP_SIZE = (640, 360)  # width, height
FPS = Fraction(25)
SHOT_FRAMES = 75  # 3 s per shot
PAN_PHOTO = "lomiri-wallpapers-16.04__aitzgorri_by_Aitzol_Berasategi.jpg"
ZOOM_PHOTO = "gcompris-qt-data__chateaudeChenonceau.jpg"
STILLS = {"montstmichel": "gcompris-qt-data__montStMichel.jpg", "lighthouse": "tuxpaint-data__lighthouse.jpg",
          "redwoods": "tuxpaint-data__redwoods_above.jpg"}


def grey(rgb: np.ndarray) -> np.ndarray:
    """The photo's own CIE L as an 8-bit grey picture: what a black-and-white film would hold."""
    from vidcolor.color import lab_to_rgb, rgb_to_lab, to_uint8
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)
    lab[1:] = 0
    return to_uint8(lab_to_rgb(lab))[0].numpy()


def read(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(CORPUS / name)), cv2.COLOR_BGR2RGB)


def window(photo: np.ndarray, cx: float, cy: float, width: float) -> np.ndarray:
    """A 16:9 view of ``photo`` centred at (cx, cy) and ``width`` px wide, resampled to the clip size."""
    out_w, out_h = CLIP_SIZE
    scale = out_w / width
    m = np.array([[scale, 0, out_w / 2 - cx * scale], [0, scale, out_h / 2 - cy * scale]], np.float32)
    return cv2.warpAffine(photo, m, CLIP_SIZE, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def shots():
    pan = read(PAN_PHOTO)
    h, w = pan.shape[:2]
    view = w * 0.62
    for i in range(SHOT_FRAMES):  # slow pan left to right
        t = i / (SHOT_FRAMES - 1)
        yield window(pan, view / 2 + t * (w - view), h * 0.55, view)
    zoom = read(ZOOM_PHOTO)
    h, w = zoom.shape[:2]
    for i in range(SHOT_FRAMES):  # cut, then a slow push in on the chateau
        t = i / (SHOT_FRAMES - 1)
        yield window(zoom, w * (0.55 + 0.05 * t), h * 0.45, w * (0.95 - 0.3 * t))


def make_bw() -> None:
    with av.open(str(HERE / "chateau_bw.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "slow"})
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        for frame in shots():
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(grey(frame)), format="gray")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    for short, name in STILLS.items():
        cv2.imwrite(str(HERE / f"{short}_bw.jpg"), grey(read(name)), [cv2.IMWRITE_JPEG_QUALITY, 92])


def side_by_side(before: np.ndarray, after: np.ndarray, height: int = 360) -> np.ndarray:
    def fit(img):
        img = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
        return cv2.resize(img, (round(img.shape[1] * height / img.shape[0]), height), interpolation=cv2.INTER_AREA)
    gap = np.full((height, 8, 3), 255, np.uint8)
    return np.concatenate([fit(before), gap, fit(after)], axis=1)


def make_results() -> None:
    import vidcolor
    model = vidcolor.load_model("default", device="cpu")
    for short in STILLS:
        result = vidcolor.colorize_image(model, HERE / f"{short}_bw.jpg")
        vidcolor.write_image(HERE / f"{short}_colour.jpg", result)
        vidcolor.write_image(HERE / f"{short}_before_after.jpg",
                             side_by_side(vidcolor.read_image(HERE / f"{short}_bw.jpg"), result))
    vidcolor.colorize_video(model, HERE / "chateau_bw.mp4", HERE / "chateau_colour.mp4", progress=False,
                            overwrite=True)
    with av.open(str(HERE / "chateau_bw.mp4")) as a, av.open(str(HERE / "chateau_colour.mp4")) as b:
        pairs = list(zip(a.decode(video=0), b.decode(video=0)))
    for k in (10, 120):  # one frame of each shot
        before, after = (f.to_ndarray(format="rgb24") for f in pairs[k])
        vidcolor.write_image(HERE / f"chateau_frame{k}_before_after.jpg", side_by_side(before, after))
    make_reference(model)


REFERENCE_PHOTOS = ("gambas3-examples__rose.jpg", "gcompris-qt-data__windmill6.jpg")  # validation split
REFERENCE_CROP = 0.7  # each crop's share of the width: the two share 40 %
REFERENCE_HEIGHT = 240


def make_reference(model) -> None:
    """Grey | reference | automatic | with the reference, for each photo: the left crop is the
    target, the right crop (another view of the same subject) the reference."""
    import vidcolor
    from training.evaluate import grey_baseline
    rows = []
    for name in REFERENCE_PHOTOS:
        photo = read(name)
        cut = int(round(photo.shape[1] * REFERENCE_CROP))
        target, ref = photo[:, :cut], photo[:, photo.shape[1] - cut:]
        bw = grey_baseline(np.ascontiguousarray(target))
        panels = [bw, ref, vidcolor.colorize_image(model, bw), vidcolor.colorize_image(model, bw, reference=ref)]
        fit = [cv2.resize(p, (int(p.shape[1] * REFERENCE_HEIGHT / p.shape[0]), REFERENCE_HEIGHT),
                          interpolation=cv2.INTER_AREA) for p in panels]
        gap = np.full((REFERENCE_HEIGHT, 6, 3), 255, np.uint8)
        rows.append(np.hstack([x for p in fit for x in (p, gap)][:-1]))
    width = max(r.shape[1] for r in rows)
    rows = [cv2.copyMakeBorder(r, 0, 6, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
            for r in rows]
    vidcolor.write_image(HERE / "reference_before_after.jpg", np.vstack(rows))


def make_keyframes() -> None:
    """The clip's shots and keyframes as vidcolor-keyframes shows them, and the clip coloured with
    each keyframe replaced by the colour photo's own frame (what a person colouring well hands back)."""
    import tempfile

    import vidcolor
    from vidcolor.keyframes import make_keyframes
    from vidcolor.video import colorize_video

    model = vidcolor.load_model("default", device="cpu")
    colour = list(shots())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "keyframes"
        shot_map = make_keyframes(model, HERE / "chateau_bw.mp4", folder, progress=False)
        # the first keyframe given ten clicks of its true colour in the studio's way (saved by its
        # workbench), so the sheet shows its third column: grey | automatic | hinted
        from vidcolor.studio.workbench import Workbench
        bench = Workbench(folder, "chateau_bw.mp4")
        engine = vidcolor.Colorizer(model)  # the model's view of the keyframe, as --keyframes spreads hints
        bench.features_of = lambda name: engine.region_features(bench.lab(name)[0])
        first = shot_map.keyframes[0]
        truth, rng = colour[first.frame], np.random.default_rng(3)
        clicks = []
        for _ in range(HINT_CLICKS):
            y, x = int(rng.integers(3, first.height - 3)), int(rng.integers(3, first.width - 3))
            rgb = truth[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0)
            clicks.append({"point": [x, y], "color": [int(v) for v in rgb.round()], "radius": 4})
        bench.save(first.file, {"hints": clicks})
        sheet = cv2.imread(str(folder / "contact_sheet.png"))
        cv2.imwrite(str(HERE / "chateau_keyframes_contact_sheet.jpg"), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
        bench.save(first.file, {"hints": []})  # below: every keyframe in its true colour instead
        for key in shot_map.keyframes:
            vidcolor.write_image(folder / key.file, colour[key.frame])
        colorize_video(model, HERE / "chateau_bw.mp4", Path(tmp) / "out.mp4", progress=False, keyframes=folder)
        with av.open(str(Path(tmp) / "out.mp4")) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picked = [20, 130]  # a frame of each shot that is not its keyframe
    rows = [side_by_side(grey(colour[i]), frames[i]) for i in picked]
    cv2.imwrite(str(HERE / "chateau_keyframes_before_after.jpg"), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 85])


HINTS_PHOTO = "gcompris-qt-data__chateaudeChambord.jpg"
HINT_CLICKS = 10
HINTS_HEIGHT = 300


def make_hints() -> None:
    """Grey | automatic | ten clicks of the photo's own colour (circled) spread by vidcolor | the
    photo: what a person's ten clicks give (the clicks as benchmarks/hints.py's simulated user)."""
    import json
    import tempfile

    import vidcolor

    photo = read(HINTS_PHOTO)
    bw = grey(photo)
    h, w = bw.shape[:2]
    rng = np.random.default_rng(3)
    clicks = []
    for _ in range(HINT_CLICKS):
        y, x = int(rng.integers(3, h - 3)), int(rng.integers(3, w - 3))
        colour = photo[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0)
        clicks.append({"point": [x, y], "color": [int(v) for v in colour.round()], "radius": 3})
    model = vidcolor.load_model("default", device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "h.json").write_text(json.dumps({"hints": clicks}))
        hinted = vidcolor.colorize_image(model, bw, hints=Path(tmp) / "h.json")
    marked = hinted.copy()
    for click in clicks:
        cv2.circle(marked, tuple(click["point"]), 9, (255, 255, 255), 2, cv2.LINE_AA)
    panels = [np.dstack([bw] * 3), vidcolor.colorize_image(model, bw), marked, photo]
    fit = [cv2.resize(p, (int(p.shape[1] * HINTS_HEIGHT / p.shape[0]), HINTS_HEIGHT), interpolation=cv2.INTER_AREA)
           for p in panels]
    gap = np.full((HINTS_HEIGHT, 6, 3), 255, np.uint8)
    vidcolor.write_image(HERE / "hints_before_after.jpg", np.hstack([x for p in fit for x in (p, gap)][:-1]))


TEMPERATURES = (0.25, 0.6, 1.0, 2.0)


def make_temperature() -> None:
    """The redwoods at each of TEMPERATURES, labelled with T and the mean chroma (Lab)."""
    import vidcolor
    from vidcolor.color import lab_of_pixels
    model = vidcolor.load_model("default", device="cpu")
    tiles = []
    for t in TEMPERATURES:
        out = vidcolor.colorize_image(model, HERE / "redwoods_bw.jpg", temperature=t)
        lab = lab_of_pixels(out).numpy()
        tile = cv2.resize(out, (round(out.shape[1] * 300 / out.shape[0]), 300), interpolation=cv2.INTER_AREA)
        label = f"T {t:g}: chroma {np.hypot(lab[1], lab[2]).mean():.1f}"
        cv2.rectangle(tile, (0, 0), (tile.shape[1], 26), (255, 255, 255), -1)
        cv2.putText(tile, label, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        tiles += [tile, np.full((300, 8, 3), 255, np.uint8)]
    vidcolor.write_image(HERE / "temperature.jpg", np.concatenate(tiles[:-1], axis=1))


if __name__ == "__main__":
    {"bw": make_bw, "results": make_results, "keyframes": make_keyframes, "hints": make_hints,
     "temperature": make_temperature}[sys.argv[1]]()
