"""vidcolor-studio: the API's refusals (token, host, origin, paths, sizes, bad hints), saving the
files the command line reads, the folder's lock and Ctrl-C; then the page itself in headless
Chromium (Debian's chromium and chromium-driver, driven by Selenium): paint two strokes, save,
check the files and the keyframe's colour under them, render the film with its progress."""
from __future__ import annotations

import json
import re
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from media import make_shots_film

import vidcolor
from vidcolor.color import lab_of_pixels
from vidcolor.hints import read_hints
from vidcolor.imageio import read_image
from vidcolor.shots import AUTO_FOLDER, COLORED_FOLDER, ShotMap, grey_checksum, grey_pixels

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A three-shot film and its keyframe folder (the shipped model), made once; tests copy it."""
    root = tmp_path_factory.mktemp("studio")
    film = root / "film.mp4"
    make_shots_film(film, (12, 14, 10))
    vidcolor.make_keyframes(vidcolor.load_model("default", device="cpu"), film, root / "kf", progress=False)
    return film, root / "kf"


@pytest.fixture
def folder(made, tmp_path):
    film, kf = made
    shutil.copytree(kf, tmp_path / "kf")
    shutil.copy(film, tmp_path / "film.mp4")
    return tmp_path / "film.mp4", tmp_path / "kf"


@pytest.fixture
def served(folder):
    """The studio's server in this process, on a free port."""
    from vidcolor.studio.jobs import Jobs
    from vidcolor.studio.server import Studio, StudioServer
    from vidcolor.studio.workbench import Workbench

    film, kf = folder
    bench = Workbench(kf, film.name)
    server = StudioServer(Studio(bench, Jobs(bench, film, kf / "render" / "out.mp4", device="cpu")))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    server.studio.jobs.stop_render()


def ask(server, path, body=None, method=None, token=True, headers=None):
    """(status, parsed JSON or bytes) of one request to the studio."""
    port = server.studio.port
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token:
        request.add_header("X-Vidcolor-Token", server.studio.token if token is True else token)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw, kind = response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        status, raw, kind = err.code, err.read(), err.headers["Content-Type"]
    return status, (json.loads(raw) if kind == "application/json" else raw)


def oversized(server, path):
    """A POST announcing a 64 MB body: refused on its headers, before any of it is read."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.studio.port, timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("X-Vidcolor-Token", server.studio.token)
    connection.putheader("Content-Length", str(64 * 2 ** 20))
    connection.endheaders()
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


def one_json_error(answer, status, *words):
    code, body = answer
    assert code == status and isinstance(body, dict) and set(body) == {"error"}, answer
    assert "\n" not in body["error"] and all(w in body["error"] for w in words), body


STROKES = {"hints": [{"stroke": [[20, 20], [70, 20], [70, 60]], "color": "#c8281e", "width": 10},
                     {"point": [130, 70], "color": [40, 90, 220], "radius": 8}]}


def test_refusals_answer_one_line_of_json(served):
    key = served.studio.bench.map.keyframes[0].file
    one_json_error(ask(served, "/api/shots", token=False), 403, "no token")
    one_json_error(ask(served, "/api/shots", token="x" * 32), 403, "wrong token")
    one_json_error(ask(served, "/api/shots", headers={"Host": "evil.example:80"}), 403, "127.0.0.1")
    one_json_error(ask(served, f"/api/keyframe/{key}/hints", STROKES, headers={"Origin": "http://evil.example"}),
                   403, "studio's own page")
    for path in ("/api/keyframe/..%2Fshots.csv/grey", "/api/keyframe/%2Fetc%2Fpasswd/grey",
                 "/api/keyframe/shots.csv/grey", "/../shots.csv", "/api/keyframe/..%2F..%2Fetc%2Fpasswd/hints"):
        one_json_error(ask(served, path), 404, "no")
    one_json_error(ask(served, f"/api/keyframe/{key}/recolor", b"{not json"), 400, "not JSON")
    one_json_error(ask(served, f"/api/keyframe/{key}/hints", {"hints": [{"point": [1, 2], "color": "red"}]}),
                   400, "hint 1", "#rrggbb")
    one_json_error(oversized(served, f"/api/keyframe/{key}/recolor"), 413, "at most")
    one_json_error(ask(served, "/api/shot/99/preview", {}), 404, "no shot 99")
    one_json_error(ask(served, "/api/keyframe/" + key + "/grey?width=5"), 400, "width")
    assert not list(served.studio.bench.folder.glob("*.hints.*"))  # nothing refused was written


def test_the_page_takes_its_token_once_then_a_cookie(served):
    port, token = served.studio.port, served.studio.token
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as page:
        assert page.url == f"http://127.0.0.1:{port}/" and b"vidcolor studio" in page.read()
    with opener.open(f"http://127.0.0.1:{port}/api/shots", timeout=10) as shots:
        assert len(json.loads(shots.read())["shots"]) == 3
    with opener.open(f"http://127.0.0.1:{port}/studio.js", timeout=10) as script:
        assert b"recolor" in script.read()


def test_saved_hints_are_the_files_the_film_path_reads(served, folder):
    film, kf = folder
    bench = served.studio.bench
    key = bench.map.shots[1].keyframes[0]
    grey_before = (kf / key.file).read_bytes()
    status, body = ask(served, f"/api/keyframe/{key.file}/hints", STROKES)
    assert status == 200, body
    stem = Path(key.file).stem
    assert body["saved"] == [f"{stem}.hints.json", f"{stem}.hints.png", f"{COLORED_FOLDER}/{key.file}"]
    assert json.loads((kf / f"{stem}.hints.json").read_text())["hints"] == STROKES["hints"]
    assert (kf / key.file).read_bytes() == grey_before  # the grey keyframe is never written
    # the layer and the file are the same hints
    from_file = read_hints(kf / f"{stem}.hints.json", key.height, key.width)
    from_layer = read_hints(kf / f"{stem}.hints.png", key.height, key.width)
    assert np.array_equal(from_file[0], from_layer[0]) and np.abs(from_file[1] - from_layer[1]).max() < 1.5
    # the saved colour is the keyframe as the film takes it; hinted pixels in their colour, as near
    # as sRGB holds it at the keyframe's own L* (these saturated hints on a dark shot leave its gamut)
    colored = lab_of_pixels(read_image(kf / COLORED_FOLDER / key.file))
    mask, ab = from_file
    assert float(np.abs(colored[1:].numpy().transpose(1, 2, 0)[mask] - ab[mask]).mean()) < 10
    assert float(colored[1].numpy()[20, 40]) > 20 and float(colored[2].numpy()[70, 130]) < -20
    # recolor answers the same picture as saved, within JPEG's error
    status, picture = ask(served, f"/api/keyframe/{key.file}/recolor", STROKES)
    import cv2
    shown = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert np.abs(shown.astype(int) - read_image(kf / COLORED_FOLDER / key.file)).mean() < 3
    # the shot list and the contact sheet know it
    assert ask(served, "/api/shots")[1]["shots"][1]["keyframes"][0]["hints"] == 2
    assert f"{COLORED_FOLDER}/{key.file}" in (kf / "index.html").read_text()
    ShotMap.read(kf)  # still a valid folder
    # the film path colours shot 1 from these hints exactly as a hints file written by hand
    from vidcolor.shotrefs import ShotReferences
    from vidcolor.colorizer import Colorizer
    refs = ShotReferences(Colorizer(vidcolor.load_model("default", device="cpu")), kf, key.width, key.height,
                          None, film)
    assert key.file in refs.hints and key.file not in refs.automatic
    # saving no hints takes them all away: the shot is automatic again
    status, body = ask(served, f"/api/keyframe/{key.file}/hints", {"hints": []})
    assert status == 200 and not (kf / f"{stem}.hints.json").exists() and not (kf / COLORED_FOLDER / key.file).exists()
    assert not (kf / COLORED_FOLDER).exists()  # its last picture gone, colored/ goes too
    assert grey_checksum(grey_pixels(read_image(kf / key.file))) == key.checksum
    # a hints picture made in an image editor is shown, and saving nothing over it keeps it
    from vidcolor.hints import hints_layer
    from vidcolor.imageio import write_image
    write_image(kf / f"{stem}.hints.png", hints_layer(STROKES, key.height, key.width))
    assert ask(served, f"/api/keyframe/{key.file}/hints")[1]["picture_only"] is True
    status, picture = ask(served, f"/api/keyframe/{key.file}/recolor", {"hints": []})
    shown = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert lab_of_pixels(shown).numpy()[1, 20, 40] > 20  # the layer's red, not the automatic colour
    assert ask(served, f"/api/keyframe/{key.file}/hints", {"hints": []})[0] == 200
    assert (kf / f"{stem}.hints.png").is_file()


def test_a_hints_picture_changed_after_a_save_counts_and_is_never_overwritten_in_silence(served, folder):
    """Saved by the studio, then the layer edited in an image editor: the edited picture is what the
    film, the page and the contact sheet take (said in one line), not the older hints file; saving
    no hints from the page keeps it. A save cut off between its files (a new layer beside the old
    hints file and colour) is read as that: the newest hints, the stale colour not shown as current."""
    import cv2
    import warnings

    from vidcolor.hints import hints_layer, hints_source
    from vidcolor.imageio import write_image
    from vidcolor.shotrefs import ShotReferences
    from vidcolor.colorizer import Colorizer

    film, kf = folder
    key = served.studio.bench.map.shots[1].keyframes[0]
    stem = Path(key.file).stem
    assert ask(served, f"/api/keyframe/{key.file}/hints", STROKES)[0] == 200
    assert hints_source(kf / key.file) == (kf / f"{stem}.hints.json", None)
    edited = {"hints": [{"point": [100, 50], "color": "#1e8c28", "radius": 20}]}  # green, elsewhere
    write_image(kf / f"{stem}.hints.png", hints_layer(edited, key.height, key.width))
    source, note = hints_source(kf / key.file)
    assert source == kf / f"{stem}.hints.png" and "changed after" in note
    answer = ask(served, f"/api/keyframe/{key.file}/hints")[1]
    assert answer["picture_only"] is True and "changed after" in answer["note"]
    status, picture = ask(served, f"/api/keyframe/{key.file}/current")
    shown = lab_of_pixels(cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]).numpy()
    assert shown[1, 50, 100] < -10  # the edited layer's green, not the saved red colour
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refs = ShotReferences(Colorizer(vidcolor.load_model("default", device="cpu")), kf, key.width, key.height,
                              None, film)
    assert any("changed after" in str(w.message) for w in caught)
    mask, ab = refs.hints[key.file]
    assert mask[50, 100] and ab[50, 100, 0] < -10 and not mask[20, 40]
    assert ask(served, f"/api/keyframe/{key.file}/hints", {"hints": []})[0] == 200
    assert (kf / f"{stem}.hints.png").is_file()  # the person's edited picture stays
    assert not (kf / f"{stem}.hints.json").exists() and not (kf / COLORED_FOLDER / key.file).exists()
    assert "not coloured here yet" in (kf / "index.html").read_text()


def test_a_keyframe_coloured_by_hand_is_what_its_hints_correct(served, folder):
    """A keyframe replaced by a colour picture (coloured in an editor): the page shows it as its
    current colour, and hints correct it, not the automatic colour (as --keyframes takes it)."""
    film, kf = folder
    key = served.studio.bench.map.shots[0].keyframes[0]
    grey = read_image(kf / key.file)
    grey = grey if grey.ndim == 2 else grey[..., 0]
    painted = np.dstack([grey, (grey * 0.6).astype(np.uint8), (grey * 0.3).astype(np.uint8)])  # sepia-ish by hand
    from vidcolor.imageio import write_image
    write_image(kf / key.file, painted)
    assert np.array_equal(served.studio.bench.picture(key.file, "current"), painted)
    status, picture = ask(served, f"/api/keyframe/{key.file}/recolor", {"hints": []})
    import cv2
    shown = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert status == 200 and np.abs(shown.astype(int) - painted).mean() < 3


def test_preview_and_a_second_render_refused(served):
    status, picture = ask(served, "/api/shot/2/preview", {})
    assert status == 200 and picture[:2] == b"\xff\xd8"
    # the preview seeks to the shot (its frames from the sync frame before it): the same pictures as
    # decoding the film from its start
    jobs = served.studio.jobs
    assert jobs._index is not None and jobs._index.why_not is None
    seeking, index = jobs.preview(2), jobs._index
    import dataclasses
    jobs._index = dataclasses.replace(index, why_not="as if it could not seek")
    assert np.array_equal(jobs.preview(2), seeking)
    jobs._index = index
    status, state = ask(served, "/api/render", {})
    assert status == 202 and state["state"] == "running"
    one_json_error(ask(served, "/api/render", {}), 409, "already running")
    status, state = ask(served, "/api/render", method="DELETE")  # stopped: nothing written
    assert status == 200 and state["state"] == "stopped" and not Path(state["out"]).exists(), state
    assert not Path(state["out"]).parent.exists()  # the render/ folder it made goes with it
    status, state = ask(served, "/api/render", {})
    assert status == 202 and state["state"] == "running"
    for _ in range(600):
        status, state = ask(served, "/api/render")
        if state["state"] != "running":
            break
        time.sleep(0.1)
    assert state["state"] == "done" and state["frames"] == state["total"] == 36, state
    assert Path(state["out"]).is_file() and "36 frames, 3 shots" in state["message"]


def test_the_folder_remembers_its_film_for_previews_and_renders(made, tmp_path):
    """vidcolor-keyframes records the film (film.json): vidcolor-studio DIR finds it without --film,
    where it still is and still matches; a film moved away leaves painting on and previews off."""
    from vidcolor.shots import FILM_FILE, recorded_film
    from vidcolor.studio.cli import _start

    film, kf = made
    assert recorded_film(kf) == (film.resolve(), 0.0) and FILM_FILE in {p.name for p in kf.iterdir()}
    shutil.copytree(kf, tmp_path / "kf")
    server, lock = _start(tmp_path / "kf", None, None, 0, "default", "cpu")
    try:
        assert server.studio.jobs.film == film.resolve()
        assert server.studio.jobs.out == tmp_path / "kf" / "render" / "film_color.mp4"
    finally:
        server.server_close()
        lock.release()
    # a film that started at 10 s (a player's clock): the contact sheet the studio writes keeps it
    (tmp_path / "kf" / FILM_FILE).write_text(json.dumps({"film": str(tmp_path / "gone.mp4"), "start_s": 10.0}))
    server, lock = _start(tmp_path / "kf", None, None, 0, "default", "cpu")
    try:
        assert server.studio.jobs.film is None and server.studio.bench.start_s == 10.0
        one_json_error(ask(server_thread(server), "/api/shot/0/preview", {}), 409, "--film FILM",
                       f"{tmp_path / 'gone.mp4'}, is not there any more")
        assert ask(server, "/api/shots")[1]["film_missing"] == str(tmp_path / "gone.mp4")
    finally:
        server.shutdown()
        server.server_close()
        lock.release()


def test_the_render_is_a_film_vidcolor_writes(tmp_path):
    """--out must name a container vidcolor writes; the default for a film of another container
    (an AVI) is the project's one naming rule (vidcolor.options.output_name): .mkv."""
    from vidcolor.errors import ImageError, OptionError
    from vidcolor.options import output_name
    from vidcolor.studio.cli import _check_out

    film = tmp_path / "film.avi"
    film.write_bytes(b"")
    with pytest.raises(ImageError, match="output type '.avi' is not supported"):
        _check_out(film, tmp_path / "out.avi")
    with pytest.raises(OptionError, match="the render is a film"):
        _check_out(film, tmp_path / "out.png")
    with pytest.raises(OptionError, match="would overwrite the film"):
        _check_out(tmp_path / "film.mp4", tmp_path / "film.mp4")
    _check_out(film, tmp_path / "render" / "film_color.mkv")
    assert output_name("film_color.avi", "video") == "film_color.mkv"


def server_thread(server):
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def studio_process(kf: Path, *args):
    """``python -m vidcolor.studio`` started on ``kf``; returns the process and its address."""
    process = subprocess.Popen([sys.executable, "-m", "vidcolor.studio", str(kf), "--device", "cpu", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert "serving" in line, (line, process.stderr.read() if process.poll() is not None else "")
    return process, line.split(" at ")[1].strip()


def test_command_checks_a_second_studio_and_ctrl_c(folder, tmp_path):
    film, kf = folder
    bad = subprocess.run([sys.executable, "-m", "vidcolor.studio", str(tmp_path / "nowhere")], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "no such folder" in bad.stderr, bad.stderr
    (tmp_path / "plain").mkdir()
    bad = subprocess.run([sys.executable, "-m", "vidcolor.studio", str(tmp_path / "plain")], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "no shots.csv, so not a keyframe folder" in bad.stderr, bad.stderr
    assert "--keyframes" not in bad.stderr
    other = tmp_path / "other.mp4"
    make_shots_film(other, (10,), width=96, height=64)
    bad = subprocess.run([sys.executable, "-m", "vidcolor.studio", str(kf), "--film", str(other)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "another film" in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    process, url = studio_process(kf, "--film", film)
    try:
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        second = subprocess.run([sys.executable, "-m", "vidcolor.studio", str(kf)], capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 1 and "another vidcolor-studio" in second.stderr, second.stderr
        key = ShotMap.read(kf).keyframes[0].file
        request = urllib.request.Request(url.split("?")[0] + f"api/keyframe/{key}/hints",
                                         data=json.dumps(STROKES).encode(), method="POST",
                                         headers={"X-Vidcolor-Token": url.split("token=")[1]})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "stopped" in err and "Traceback" not in err, err
    assert not (kf / ".studio.lock").exists()
    assert (kf / f"{Path(key).stem}.hints.json").is_file()  # what was saved stays
    process, url = studio_process(kf)  # SIGTERM (kill, a service manager) stops it the same way
    process.terminate()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143 and "stopped" in err and not (kf / ".studio.lock").exists(), err


# -- in a real browser -----------------------------------------------------------------------------
def browser():
    """Headless Chromium under Selenium, or a skip saying what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install .[dev])")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("no browser: apt-get install chromium chromium-driver (.ci/run does)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait_for(driver, script, timeout=60.0):
    """Wait until ``script`` (JavaScript returning a value) is truthy; returns it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}; status: "
                         f"{driver.execute_script('return document.body.innerText')[:300]}")


def stroke(driver, canvas, points, colour):
    """Paint a stroke through ``points`` (the keyframe's pixels) in ``colour``, with the mouse."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script("const c = document.getElementById('color'); c.value = arguments[0];"
                          "c.dispatchEvent(new Event('input'));", colour)
    scale = canvas.size["width"] / int(canvas.get_attribute("width"))
    half_w, half_h = canvas.size["width"] / 2, canvas.size["height"] / 2
    (x0, y0), rest = points[0], points[1:]
    chain = ActionChains(driver).move_to_element_with_offset(canvas, int(x0 * scale - half_w), int(y0 * scale - half_h))
    chain.click_and_hold()
    last = (x0, y0)
    for x, y in rest:
        chain.move_by_offset(int((x - last[0]) * scale), int((y - last[1]) * scale))
        last = (x, y)
    chain.release().perform()


@pytest.mark.slow
def test_paint_save_and_render_in_headless_chromium(folder, tmp_path):
    film, kf = folder
    outside = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if kf not in p.parents and p != kf}
    driver = browser()
    process, url = studio_process(kf, "--film", film)
    try:
        driver.get(url.split("?")[0])  # no token: refused
        assert "no token" in driver.find_element("tag name", "body").text
        driver.get(url)
        wait_for(driver, "return document.body.dataset.ready")
        assert driver.current_url == url.split("?")[0]  # the token went into a cookie
        rows = driver.find_elements("css selector", "#shots tbody tr")
        assert len(rows) == 3
        rows[1].find_element("css selector", "button.paint").click()
        canvas = driver.find_element("id", "paint")
        wait_for(driver, "return document.getElementById('status').textContent.includes('hints')")
        driver.execute_script("document.getElementById('size').value = 8")
        stroke(driver, canvas, [(15, 20), (60, 20), (60, 40)], "#c8281e")
        wait_for(driver, "return document.getElementById('paint').dataset.recolored === '1'")
        stroke(driver, canvas, [(100, 70), (145, 70)], "#2858dc")
        wait_for(driver, "return document.getElementById('paint').dataset.recolored === '2'")
        stroke_ms = int(canvas.get_attribute("data-recolor-ms"))
        driver.find_element("id", "save").click()
        wait_for(driver, "return document.getElementById('paint').dataset.saved === '1'")
        key = ShotMap.read(kf).shots[1].keyframes[0]
        saved = json.loads((kf / f"{Path(key.file).stem}.hints.json").read_text())["hints"]
        assert [h["color"] for h in saved] == ["#c8281e", "#2858dc"], saved
        assert all(h["width"] == 8 and len(h["stroke"]) >= 2 for h in saved)
        lab = lab_of_pixels(read_image(kf / COLORED_FOLDER / key.file)).numpy()
        assert lab[1, 20, 35] > 20 and lab[2, 70, 120] < -20, (lab[1:, 20, 35], lab[1:, 70, 120])
        auto = lab_of_pixels(read_image(kf / AUTO_FOLDER / key.file)).numpy()
        assert lab[1, 20, 35] > auto[1, 20, 35] + 10 and lab[2, 70, 120] < auto[2, 70, 120] - 10
        driver.find_element("id", "preview").click()
        wait_for(driver, "return !document.getElementById('preview-box').hidden", timeout=120)
        driver.find_element("id", "close").click()
        wait_for(driver, "return !document.getElementById('list-section').hidden")
        driver.find_element("id", "render").click()
        seen, disabled = set(), set()
        end = time.monotonic() + 300
        while time.monotonic() < end:
            state = driver.execute_script("return document.getElementById('render-status').dataset.state")
            if state == "running":  # no second render from this page while one runs
                disabled.add(driver.execute_script("return document.getElementById('render').disabled"))
            seen.add(int(driver.execute_script("return document.getElementById('render-progress').value")))
            if state in ("done", "failed"):
                break
            time.sleep(0.2)
        status = driver.find_element("id", "render-status").text
        assert state == "done" and "36 frames" in status, status
        assert disabled == {True}, disabled
        assert max(seen) == 36
        out = kf / "render" / "film_color.mp4"
        assert out.is_file() and str(out.name) in status
        assert stroke_ms < 5000  # generous here; benchmarks/studio.py measures the page's time
    finally:
        driver.quit()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    # nothing outside the folder was written, added or removed
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if kf not in p.parents and p != kf} == outside


@pytest.mark.slow
def test_a_wide_keyframe_opens_and_a_failed_one_saves_nothing_in_headless_chromium(tmp_path):
    """A 2560-wide keyframe (a 2K/4K film) opens for painting (the page asked for it without
    ?width= and the thumbnail limit refused it); a keyframe that fails to open shows the server's
    reason, and neither Save nor painting can then write the previous keyframe's hints over it."""
    film, kf = tmp_path / "wide.mp4", tmp_path / "kf"
    make_shots_film(film, (8, 8), width=2560, height=128)
    vidcolor.make_keyframes(vidcolor.load_model("default", device="cpu"), film, kf, progress=False)
    keys = [k for s in ShotMap.read(kf).shots for k in s.keyframes]
    assert keys[0].width == 2560 and len(keys) == 2
    broken = kf / f"{Path(keys[1].file).stem}.hints.json"
    broken.write_text("{not json")
    driver = browser()
    process, url = studio_process(kf)
    try:
        driver.get(url)
        wait_for(driver, "return document.body.dataset.ready")
        rows = driver.find_elements("css selector", "#shots tbody tr")
        rows[0].find_element("css selector", "button.paint").click()
        wait_for(driver, "return document.getElementById('status').textContent.includes('0 hints')")
        assert driver.execute_script("return document.getElementById('paint').width") == 2560
        assert not driver.find_element("id", "save").get_attribute("disabled")
        canvas = driver.find_element("id", "paint")
        driver.execute_script("document.getElementById('size').value = 8")
        stroke(driver, canvas, [(200, 60), (900, 60)], "#c8281e")
        wait_for(driver, "return document.getElementById('paint').dataset.recolored === '1'")
        driver.find_element("id", "close").click()
        wait_for(driver, "return !document.getElementById('list-section').hidden")
        driver.find_elements("css selector", "#shots tbody tr")[1].find_element("css selector", "button.paint").click()
        status = wait_for(driver, "const s = document.getElementById('status');"
                                  "return s.className === 'error' && s.textContent")
        assert "did not open" in status and "not a hints file" in status, status
        assert driver.find_element("id", "save").get_attribute("disabled")
        driver.execute_script("save()")  # even called, nothing is sent
        time.sleep(0.5)
        assert broken.read_text() == "{not json"
        assert not (kf / COLORED_FOLDER / keys[1].file).exists()
    finally:
        driver.quit()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_the_folder_lock_is_the_os_lock_nothing_stale_nothing_shared(tmp_path):
    """A lock left by a studio killed with -9 (its pid since reused by anything) never blocks; an empty
    lock file is no lock; while one process holds it, another is refused, saying who."""
    from vidcolor.folderlock import LOCK_NAME, FolderBusy, FolderLock

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from vidcolor.folderlock import FolderLock; "
                               "FolderLock(sys.argv[1], 'vidcolor-studio at http://127.0.0.1:9/').acquire(); "
                               "print('held', flush=True); time.sleep(60)", str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy, match=rf"another vidcolor-studio \(pid {holder.pid}\) has it open at "
                                             r"http://127.0.0.1:9/"):
            FolderLock(tmp_path, "vidcolor-studio at x").acquire()
    finally:
        holder.kill()
        holder.wait()
    (tmp_path / LOCK_NAME).write_text(f"{os.getpid()} vidcolor-studio at http://127.0.0.1:9/\n")  # our pid: alive
    with FolderLock(tmp_path, "vidcolor-studio at y"):
        with pytest.raises(FolderBusy):
            FolderLock(tmp_path, "vidcolor-studio at z").acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    (tmp_path / LOCK_NAME).write_text("")
    with FolderLock(tmp_path, "vidcolor-studio at y"):
        pass


def test_a_save_cut_off_between_its_files_shows_the_newest_hints_not_a_stale_colour(served, folder, monkeypatch):
    """Killed after the new layer and colour were renamed into place but before the hints file: the
    old hints file's checksums no longer match, so the newest hints (the layer) count and the page
    shows their colour, never the old file's hints beside a colour they did not make."""
    import cv2

    from vidcolor.studio import workbench

    film, kf = folder
    key = served.studio.bench.map.shots[1].keyframes[0]
    stem = Path(key.file).stem
    assert ask(served, f"/api/keyframe/{key.file}/hints", STROKES)[0] == 200
    second = {"hints": [{"point": [100, 50], "color": "#1e8c28", "radius": 20}]}

    def killed(path, text):
        raise KeyboardInterrupt  # the hints file's write never happens

    monkeypatch.setattr(workbench, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        served.studio.bench.save(key.file, second)
    monkeypatch.undo()
    assert json.loads((kf / f"{stem}.hints.json").read_text())["hints"] == STROKES["hints"]  # the old file
    answer = ask(served, f"/api/keyframe/{key.file}/hints")[1]
    assert answer["picture_only"] and "changed after" in answer["note"]
    status, picture = ask(served, f"/api/keyframe/{key.file}/current")
    shown = lab_of_pixels(cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]).numpy()
    assert shown[1, 50, 100] < -10 and shown[1, 20, 40] < 20  # the second save's green; the first's red gone


def test_a_link_planted_at_a_temporary_name_is_never_followed(tmp_path, monkeypatch):
    """Saves write through temporaries with unpredictable names, created exclusively: a symlink
    planted at the name (were it guessed) makes the save fail, and nothing is written through it."""
    from vidcolor import tempfiles

    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "kf"
    folder.mkdir()
    tempfiles.write_text(folder / "a.hints.json", "{}")
    monkeypatch.setattr(tempfiles.secrets, "token_hex", lambda n: "0" * 12)
    planted = tempfiles.temp_path(folder / "a.hints.json", "-" + "0" * 12)
    planted.symlink_to(outside)
    with pytest.raises(FileExistsError):
        tempfiles.write_text(folder / "a.hints.json", '{"hints": []}')
    assert outside.read_text() == "precious" and (folder / "a.hints.json").read_text() == "{}"


def test_reach_overlay_and_suggestion_say_what_clicks_coloured_and_where_to_click_next(served):
    """The reach overlay covers what a click coloured, in its colour, and nothing across an edge it
    did not pass; the suggestion lies where no click reaches, and moves once a click reaches there."""
    import cv2

    key = served.studio.bench.map.shots[1].keyframes[0]
    one = {"hints": [{"point": [40, 40], "color": "#c8281e", "radius": 6}]}
    status, picture = ask(served, f"/api/keyframe/{key.file}/reach", one)
    assert status == 200
    overlay = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_UNCHANGED)[..., [2, 1, 0, 3]]
    assert overlay.shape == (key.height, key.width, 4)
    reached = overlay[..., 3] > 0
    assert reached[40, 40] and tuple(overlay[40, 40, :3]) == (200, 40, 30)
    assert 0.0 < reached.mean() < 1.0
    status, answer = ask(served, f"/api/keyframe/{key.file}/suggest", one)
    assert status == 200 and answer["point"] is not None
    x, y = answer["point"]
    assert 0 <= x < key.width and 0 <= y < key.height and not reached[y, x]
    status, answer = ask(served, f"/api/keyframe/{key.file}/suggest", {"hints": []})
    assert status == 200 and answer["point"] is not None
    # a click where the studio suggested: the next suggestion is elsewhere
    first = answer["point"]
    there = {"hints": [{"point": first, "color": "#2858dc", "radius": 6}]}
    assert ask(served, f"/api/keyframe/{key.file}/suggest", there)[1]["point"] != first
    one_json_error(ask(served, f"/api/keyframe/{key.file}/reach", {"hints": [{"point": [1, 2]}]}), 400, "color")


@pytest.mark.slow
def test_reach_suggestion_and_before_in_headless_chromium(folder):
    from selenium.webdriver.common.action_chains import ActionChains

    film, kf = folder
    driver = browser()
    process, url = studio_process(kf)
    try:
        driver.get(url)
        wait_for(driver, "return document.body.dataset.ready")
        driver.find_elements("css selector", "#shots tbody tr")[1].find_element("css selector", "button.paint").click()
        wait_for(driver, "return document.getElementById('status').textContent.includes('0 hints')")
        canvas = driver.find_element("id", "paint")
        driver.find_element("id", "show-reach").click()
        stroke(driver, canvas, [(15, 20), (60, 20)], "#c8281e")
        wait_for(driver, "return document.getElementById('paint').dataset.recolored === '1'")
        wait_for(driver, "return Number(document.getElementById('paint').dataset.reach || 0) >= 1")
        driver.find_element("id", "suggest").click()
        point = wait_for(driver, "return document.getElementById('paint').dataset.suggested", timeout=120)
        assert point != "none" and "suggested" in driver.find_element("id", "status").text
        x, y = (int(v) for v in point.split(","))
        assert 0 <= x < int(canvas.get_attribute("width")) and 0 <= y < int(canvas.get_attribute("height"))
        ActionChains(driver).click_and_hold(driver.find_element("id", "before")).perform()
        wait_for(driver, "return document.getElementById('status').textContent.includes('before the last change')")
        ActionChains(driver).release().perform()
    finally:
        driver.quit()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def raw_request(server, lines: list[str], body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict]:
    """(status, JSON) of a hand-made HTTP request."""
    import socket

    with socket.create_connection(("127.0.0.1", server.studio.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                re.search(rb"Content-Length: (\d+)", data).group(1) if re.search(rb"Content-Length: (\d+)", data)
                else 0):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), (json.loads(rest) if rest else {})


def test_malformed_requests_and_numbers_answer_400_in_one_line_and_write_only_known_keys(served):
    bench = served.studio.bench
    key = bench.map.shots[1].keyframes[0]
    path = f"/api/keyframe/{key.file}/hints"
    one_json_error(ask(served, path, b'{"hints": [{"point": [NaN, 3], "color": "#ffffff"}]}'), 400, "NaN")
    one_json_error(ask(served, path, b'{"hints": [{"point": [Infinity, 3], "color": "#ffffff"}]}'), 400, "Infinity")
    one_json_error(ask(served, path, b"[1, 2]"), 400, "JSON object")
    one_json_error(ask(served, path, b"[" * 100_000 + b"]" * 100_000), 400)
    one_json_error(ask(served, path, {"hints": [{"point": [1e308, 2], "color": "#ffffff"}]}), 400, "far outside")
    one_json_error(ask(served, path, {"hints": [{"point": [500, 500], "color": "#ffffff"}]}), 400, "wholly outside")
    one_json_error(ask(served, f"/api/keyframe/{key.file}/grey?width=" + "9" * 5000), 400, "width")
    status, _ = ask(served, path, {"hints": [{"point": [20, 20], "color": "#c8281e", "note": "<script>", "x": 1}],
                                   "extra": True})
    assert status == 200
    saved = json.loads((bench.folder / f"{Path(key.file).stem}.hints.json").read_text())
    assert saved["hints"] == [{"point": [20, 20], "color": "#c8281e"}] and set(saved) == {"hints", "saved"}
    for method in ("HEAD", "OPTIONS", "PATCH", "PUT", "TRACE"):
        status, body = raw_request(served, [f"{method} /api/shots HTTP/1.1", f"Host: 127.0.0.1:{served.studio.port}",
                                            f"X-Vidcolor-Token: {served.studio.token}", "Content-Length: 0"])
        assert status == 405, (method, status)
        if method != "HEAD":
            assert set(body) == {"error"} and method in body["error"]
    status, body = raw_request(served, ["GET /" + "a" * 70_000 + " HTTP/1.1", f"Host: 127.0.0.1:{served.studio.port}"])
    assert status == 414 and set(body) == {"error"}


def test_refused_on_headers_before_the_body_and_stalled_connections_closed(served):
    """No token: 403 at once though the announced body never comes; a connection that sends
    nothing is closed after the read timeout instead of holding a thread."""
    import socket

    started = time.monotonic()
    status, body = raw_request(served, ["POST /api/render HTTP/1.1", f"Host: 127.0.0.1:{served.studio.port}",
                                        "Content-Length: 1000"])
    assert status == 403 and "no token" in body["error"] and time.monotonic() - started < 5
    served.RequestHandlerClass.timeout = 0.5
    with socket.create_connection(("127.0.0.1", served.studio.port), timeout=10) as sock:
        sock.sendall(b"GET /api/shots HTTP/1.1\r\n")  # and then nothing
        started = time.monotonic()
        assert sock.recv(100) is not None  # closed (b"") or answered, not left hanging
        assert time.monotonic() - started < 5


def test_the_printed_address_opens_the_page_once_and_the_cookie_is_not_the_token(served):
    port, token = served.studio.port, served.studio.token
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as page:
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    cookies = {c.name: c.value for c in opener.handlers[-1].cookiejar} if hasattr(opener.handlers[-1], "cookiejar") \
        else {c.name: c.value for h in opener.handlers if hasattr(h, "cookiejar") for c in h.cookiejar}
    assert cookies and token not in cookies.values()
    with opener.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as again:  # the same browser: fine
        assert again.status == 200
    stranger = urllib.request.build_opener()  # another browser, or the address from history
    with pytest.raises(urllib.error.HTTPError) as refused:
        stranger.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10)
    assert refused.value.code == 403 and "opened already" in json.loads(refused.value.read())["error"]
    assert ask(served, "/api/shots")[0] == 200  # a script's X-Vidcolor-Token still works


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_studio_computes_stops_it_cleanly(folder, signum, code):
    """Ctrl-C or SIGTERM while a request computes (here a suggestion, which loads the model) aborted
    the process (SIGABRT, "terminate called without an active exception"); now it stops as at any
    other time: its exit code, the lock gone, nothing half-written."""
    film, kf = folder
    process, url = studio_process(kf)
    key = ShotMap.read(kf).keyframes[0].file
    request = urllib.request.Request(url.split("?")[0] + f"api/keyframe/{key}/suggest", data=b'{"hints": []}',
                                     method="POST", headers={"X-Vidcolor-Token": url.split("token=")[1]})
    thread = threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=60).read(), daemon=True)
    thread.start()
    time.sleep(0.8)  # the model is loading, or the spread being computed
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, (process.returncode, err)
    assert "terminate called" not in err and "Traceback" not in err and "stopped" in err, err
    assert not (kf / ".studio.lock").exists()
    assert not [p for p in kf.rglob("*") if ".vidcolor-tmp-" in p.name]


def test_an_existing_out_is_not_replaced_without_overwrite(folder, tmp_path):
    film, kf = folder
    out = tmp_path / "mine.mp4"
    out.write_bytes(b"a person's film")
    bad = subprocess.run([sys.executable, "-m", "vidcolor.studio", str(kf), "--film", str(film), "--out", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "already exists; pass --overwrite" in bad.stderr and bad.stderr.count("\n") == 1
    assert out.read_bytes() == b"a person's film"


def test_recolor_says_how_much_of_the_keyframe_the_hints_changed(served):
    """The page says why one stroke tinted the whole keyframe: the answer carries the share of it the
    hints changed."""
    key = served.studio.bench.map.shots[1].keyframes[0]
    request = urllib.request.Request(f"http://127.0.0.1:{served.studio.port}/api/keyframe/{key.file}/recolor",
                                     data=json.dumps(STROKES).encode(), method="POST",
                                     headers={"X-Vidcolor-Token": served.studio.token})
    with urllib.request.urlopen(request, timeout=60) as response:
        share = float(response.headers["X-Vidcolor-Reach"])
    assert 0.0 < share <= 1.0
    request.data = b'{"hints": []}'
    with urllib.request.urlopen(request, timeout=60) as response:
        assert float(response.headers["X-Vidcolor-Reach"]) == 0.0
