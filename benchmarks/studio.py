"""The studio page (vidcolor-studio) in headless Chromium: time from a stroke to the re-coloured
keyframe on the page, at 1920 x 1080.

    python benchmarks/studio.py [--data ../shared/corpus] [--strokes 8] [--screenshot samples/studio_page.jpg]
                               [--reach-screenshot samples/studio_reach.jpg]

A test-split photo (not used in training) made into a one-shot grey 1080p film; vidcolor-keyframes
writes its folder; the studio serves it; Selenium opens the page with its token, opens the
keyframe and paints strokes with the mouse, each in the photo's true colour under it (the
simulated user of benchmarks/hints.py). Printed per stroke: the page's time (mouse released ->
the new picture drawn: the request, the propagation, JPEG both ways) and the server's share (the
propagation and encoding alone). Needs Debian's chromium and chromium-driver, and selenium.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from training.data import load_rgb  # noqa: E402
from vidcolor.imageio import unit_rgb  # noqa: E402

WIDTH, HEIGHT = 1920, 1080


def enlarged(photo: np.ndarray, frames: int = 12) -> np.ndarray:
    """The photo scaled to cover the film's frames (1080p, panning ``frames`` pixels)."""
    h, w = photo.shape[:2]
    scale = max((WIDTH + frames) / w, HEIGHT / h)
    return cv2.resize(photo, (int(np.ceil(w * scale)), int(np.ceil(h * scale))), interpolation=cv2.INTER_CUBIC)


def grey_film(photo: np.ndarray, path: Path, frames: int = 12) -> None:
    """The photo cropped to 16:9 at 1080p, made grey, as a short film panning by a pixel a frame."""
    import av

    from vidcolor.color import grey_from_lightness, rgb_to_lightness as light

    big = enlarged(photo, frames)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": "16", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(frames):
            crop = np.ascontiguousarray(big[:HEIGHT, i:i + WIDTH])
            grey = grey_from_lightness(light(unit_rgb(crop))).reshape(HEIGHT, WIDTH).numpy()
            frame = av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, axis=2), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "corpus"))
    p.add_argument("--split-file", default=str(ROOT / "vidcolor" / "weights" / "default_split.json"))
    p.add_argument("--photo", type=int, default=3, help="which test-split photo (index)")
    p.add_argument("--strokes", type=int, default=8)
    p.add_argument("--screenshot", default=None, help="save the page with its painted keyframe here (.png/.jpg)")
    p.add_argument("--reach-screenshot", default=None,
                   help="then save it with each click's reach shown and a suggested click here (.png/.jpg)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains

    ids = [i for i in json.loads(Path(args.split_file).read_text())["test"] if not i.startswith("textures/")]
    photo = load_rgb(Path(args.data) / ids[args.photo])
    work = Path(tempfile.mkdtemp(prefix="vidcolor-studio-"))
    film = work / "film.mp4"
    grey_film(photo, film)
    subprocess.run([sys.executable, "-c", "from vidcolor.keyframes_cli import main as keyframes_main; keyframes_main()", str(film),
                    str(work / "kf"), "-q"], check=True)
    studio = subprocess.Popen([sys.executable, "-m", "vidcolor.studio", str(work / "kf"), "--film", str(film)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = studio.stdout.readline().split(" at ")[1].strip()
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1150"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    rng = np.random.default_rng(args.seed)
    truth = enlarged(photo)
    page_ms = []
    try:
        driver.get(url)
        while not driver.execute_script("return document.body.dataset.ready"):
            time.sleep(0.1)
        driver.find_element("css selector", "button.paint").click()
        while "hints" not in driver.find_element("id", "status").text:
            time.sleep(0.1)
        canvas = driver.find_element("id", "paint")
        scale = canvas.size["width"] / WIDTH
        frame = int(json.loads(driver.execute_script("return JSON.stringify(state.key)"))["frame"])
        for n in range(args.strokes):
            x, y = int(rng.integers(100, WIDTH - 300)), int(rng.integers(100, HEIGHT - 100))
            r, g, b = (int(v) for v in truth[y, x + frame])
            driver.execute_script("const c = document.getElementById('color'); c.value = arguments[0];",
                                  f"#{r:02x}{g:02x}{b:02x}")
            chain = ActionChains(driver).move_to_element_with_offset(
                canvas, int(x * scale - canvas.size["width"] / 2), int(y * scale - canvas.size["height"] / 2))
            chain.click_and_hold().move_by_offset(int(120 * scale), int(10 * scale)).release().perform()
            while driver.execute_script("return document.getElementById('paint').dataset.recolored") != str(n + 1):
                time.sleep(0.01)
            page_ms.append(float(canvas.get_attribute("data-recolor-ms")))
        driver.find_element("id", "save").click()
        if args.screenshot:
            time.sleep(0.5)
            driver.save_screenshot(str(work / "page.png"))
            cv2.imwrite(args.screenshot, cv2.imread(str(work / "page.png")), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if args.reach_screenshot:  # the same keyframe with each click's reach shown and a suggestion
            driver.find_element("id", "show-reach").click()
            while driver.execute_script("return document.getElementById('paint').dataset.reach") != "1":
                time.sleep(0.05)
            driver.find_element("id", "suggest").click()
            while not driver.execute_script("return document.getElementById('paint').dataset.suggested"):
                time.sleep(0.05)
            time.sleep(0.5)
            driver.save_screenshot(str(work / "reach.png"))
            cv2.imwrite(args.reach_screenshot, cv2.imread(str(work / "reach.png")), [cv2.IMWRITE_JPEG_QUALITY, 85])
    finally:
        driver.quit()
        studio.send_signal(signal.SIGINT)
        studio.wait(30)
    cpu = platform.processor() or platform.machine()
    print(f"| stroke -> re-coloured 1920x1080 keyframe in the page | median {statistics.median(page_ms):.0f} ms "
          f"| max {max(page_ms):.0f} ms | {len(page_ms)} strokes | {os.cpu_count()} cores {cpu} |")
    print("per stroke (ms):", " ".join(f"{v:.0f}" for v in page_ms))


if __name__ == "__main__":
    main()
