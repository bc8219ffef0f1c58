"""The studio's HTTP side: the page and a small JSON API, on 127.0.0.1 only.

Every request must carry the token the studio printed (``?token=`` once, then a cookie; or the
``X-Vidcolor-Token`` header), must name this host and port in ``Host`` (no DNS rebinding) and, when
it changes anything, come from this page's origin. Whatever is refused or goes wrong is answered
with one line of JSON, ``{"error": "..."}``. Files are reached only by the names ``shots.csv``
lists: no path from a request is ever joined to the folder.

API (JSON unless said): ``GET /api/shots``; ``GET /api/keyframe/NAME/{grey,automatic,current}``
(JPEG; ``?width=`` for a thumbnail); ``GET|POST /api/keyframe/NAME/hints`` (the hints file's
content; POST saves it, ``vidcolor.studio.workbench``); ``POST /api/keyframe/NAME/recolor`` (the
hints -> the coloured keyframe, JPEG); ``POST /api/keyframe/NAME/reach`` (the hints -> what each
reaches, an RGBA PNG overlay); ``POST /api/keyframe/NAME/suggest`` (the hints -> ``{"point": [x,
y]}``, where the next click is most worth making, or null); ``POST /api/shot/N/preview`` (JPEG); ``GET|POST
/api/render`` (the render's state; POST starts it, ``DELETE`` stops it).
"""
from __future__ import annotations

import contextlib
import hmac
import http.server
import json
import re
import secrets
import threading
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .jobs import Jobs
from .workbench import StudioError, Workbench, changed_share, jpeg, png

MAX_BODY = 4 * 2 ** 20  # bytes of a request body: hints of a person's painting are far less
COOKIE = "vidcolor_studio_{port}"  # one cookie per studio: cookies are shared across a host's ports
STATIC = {"/": ("page.html", "text/html; charset=utf-8"), "/studio.js": ("studio.js", "text/javascript"),
          "/studio.css": ("studio.css", "text/css")}
THUMB_LIMIT = 1920  # px: largest ?width= a thumbnail may ask for


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


class Studio:
    """What the handler serves: the folder (``Workbench``), the model's jobs (``Jobs``), the token."""

    def __init__(self, bench: Workbench, jobs: Jobs, token: str | None = None):
        self.bench, self.jobs = bench, jobs
        self.token = token or secrets.token_urlsafe(24)
        # the browser's cookie is derived from the token, not the token itself: cookies reach every
        # port of 127.0.0.1, and the token must not (a script's X-Vidcolor-Token stays the token)
        self.cookie = hmac.new(self.token.encode(), b"vidcolor-studio cookie", "sha256").hexdigest()
        self.address_used = False  # the printed address's ?token= opens the page once
        self.lock = threading.Lock()
        self.port = 0
        self._busy = 0  # requests under way
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def working(self):
        """Around a request: counted, so that stopping can wait for the ones under way."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the requests under way to finish; whether they did."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def shots(self) -> dict:
        out = []
        for shot in self.bench.map.shots:
            keys = []
            for key in shot.keyframes:
                entry = {"file": key.file, "frame": key.frame, "time_s": key.time_s, "width": key.width,
                         "height": key.height, "hints": 0}
                try:  # one broken hints file is that keyframe's error, not the page's
                    hints = self.bench.hints(key.file)
                    entry["hints"] = len(hints["hints"]) or (-1 if hints["picture_only"] else 0)
                except StudioError as err:
                    entry["error"] = str(err)
                keys.append(entry)
            out.append({"index": shot.index, "first_frame": shot.first_frame, "last_frame": shot.last_frame,
                        "start_s": shot.start_s, "end_s": shot.end_s, "keyframes": keys})
        return {"folder": str(self.bench.folder), "film": str(self.jobs.film) if self.jobs.film else None,
                "film_missing": self.jobs.missing,
                "start_s": self.bench.start_s, "out": str(self.jobs.out) if self.jobs.out else None,
                "shots": out, "render": self.jobs.render_state.as_dict()}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "vidcolor-studio"
    studio: Studio  # set on the subclass the server makes

    def log_message(self, format, *args) -> None:  # noqa: A002 - library code never prints
        pass

    # -- checks ----------------------------------------------------------------------------------
    def _allowed(self, changes: bool) -> str | None:
        """Why this request is refused, or None (headers only: a refused request's body is never read)."""
        port = self.studio.port
        if self.client_address[0] != "127.0.0.1":
            return "the studio answers this machine only"
        if self.headers.get("Host", "") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            return f"requests must be addressed to 127.0.0.1:{port}"
        origin = self.headers.get("Origin")
        if changes and origin is not None and origin not in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            return "requests that change anything must come from the studio's own page"
        studio = self.studio
        query = parse_qs(urlsplit(self.path).query).get("token")
        if query:
            if not hmac.compare_digest(query[0].encode(), studio.token.encode()):
                return "wrong token: open the address vidcolor-studio printed"
            with studio.lock:  # the printed address opens the page once (it stays in browser history)
                if studio.address_used and not self._has_cookie():
                    return ("this address was opened already; use the page it opened, or restart vidcolor-studio "
                            "for a new one")
                studio.address_used = True
            self.fresh_token = True
            return None
        header = self.headers.get("X-Vidcolor-Token")
        if header is not None:
            return None if hmac.compare_digest(header.encode(), studio.token.encode()) else \
                "wrong token: open the address vidcolor-studio printed"
        if self._has_cookie():
            return None
        if self._cookie_value() is not None:
            return "wrong token: open the address vidcolor-studio printed"
        return "no token: open the address vidcolor-studio printed (with ?token=...)"

    def _cookie_value(self) -> str | None:
        name = COOKIE.format(port=self.studio.port)
        for part in self.headers.get("Cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def _has_cookie(self) -> bool:
        value = self._cookie_value()
        return value is not None and hmac.compare_digest(value.encode(), self.studio.cookie.encode())

    def _read_body(self) -> bytes:
        """The request's body, read whole before any answer (an answer to a request whose body is
        left unread makes the socket's close a reset, which can cut the answer off)."""
        length = self.headers.get("Content-Length")
        if length is None and "Transfer-Encoding" not in self.headers:
            return b""  # no body (a DELETE)
        if length is None or not length.isdigit():
            self.close_connection = True
            raise StudioError("a request body needs its Content-Length", 411)
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise StudioError(f"request body of {int(length)} bytes; at most {MAX_BODY}", 413)
        return self.rfile.read(int(length))

    def _body(self) -> dict:
        """The request's JSON object (numbers finite: NaN and Infinity are not JSON a page can read back)."""
        def refuse(constant):
            raise ValueError(f"{constant} is not a number JSON allows")

        try:
            data = json.loads(self.raw_body or b"{}", parse_constant=refuse)
        except RecursionError:
            raise StudioError("the body is nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as err:
            raise StudioError(f"the body is not JSON ({str(err).splitlines()[0][:80]})") from None
        if not isinstance(data, dict):
            raise StudioError("the body must be a JSON object ({\"hints\": [...]})")
        return data

    # -- answers ---------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")  # no other page, local or not, frames the studio
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _handle(self, method: str) -> None:
        changes = method != "GET"
        self.raw_body = b""
        self.fresh_token = False
        why = self._allowed(changes)
        if why is not None:  # refused on its headers: its body is never read
            self.close_connection = True
            return self._error(HTTPStatus.FORBIDDEN, why)
        try:
            if changes:
                self.raw_body = self._read_body()
        except StudioError as err:
            return self._error(err.status, str(err))
        url = urlsplit(self.path)
        try:
            with self.studio.working():
                self._route(method, url.path, parse_qs(url.query))
        except StudioError as err:
            self._error(err.status, str(err))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # noqa: BLE001 - one line to the page, the studio goes on
            self._error(500, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _not_used(self) -> None:
        self.close_connection = True
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not used; see the studio's API")

    do_PUT = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = _not_used  # noqa: N815

    def send_error(self, code, message=None, explain=None) -> None:
        """http.server's own refusals (a request line too long, a bad request) as one line of JSON."""
        self.close_connection = True
        try:
            self._error(code, f"{code} {message or HTTPStatus(code).phrase}")
        except (OSError, ValueError):
            pass

    def _route(self, method: str, path: str, query: dict) -> None:
        studio = self.studio
        if path in STATIC and method == "GET":
            name, kind = STATIC[path]
            headers = {}
            if self.fresh_token:  # the address printed: a cookie from now on, the token dropped from the address
                headers["Set-Cookie"] = (f"{COOKIE.format(port=studio.port)}={studio.cookie}; HttpOnly; "
                                         "SameSite=Strict; Path=/")
                if path == "/":
                    headers["Location"] = "/"
                    return self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", headers)
            headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"
            return self._send(200, _static(name), kind, headers)
        if path == "/api/shots" and method == "GET":
            return self._json(studio.shots())
        if path == "/api/render":
            if method == "POST":
                self._body()
                return self._json(studio.jobs.start_render().as_dict(), 202)
            if method == "DELETE":
                studio.jobs.stop_render()
                return self._json(studio.jobs.render_state.as_dict())
            return self._json(studio.jobs.render_state.as_dict())
        match = re.fullmatch(r"/api/shot/(\d{1,6})/preview", path)
        if match and method == "POST":
            return self._send(200, jpeg(studio.jobs.preview(int(match[1]))), "image/jpeg")
        match = re.fullmatch(r"/api/keyframe/([^/]+)/(grey|automatic|current|hints|recolor|reach|suggest)", path)
        if match:
            return self._keyframe(method, unquote(match[1]), match[2], query)
        self._error(HTTPStatus.NOT_FOUND, f"no such page or API: {method} {path}")

    def _keyframe(self, method: str, name: str, what: str, query: dict) -> None:
        bench = self.studio.bench
        key = bench.keyframe(name)[1]  # only names shots.csv lists
        if what in ("grey", "automatic", "current") and method == "GET":
            width = key.width  # the keyframe whole, as the painter opens it (a 4K film's too)
            if "width" in query:  # a thumbnail
                asked = query["width"][0]
                if not (asked.isdigit() and len(asked) <= 5 and 16 <= int(asked) <= THUMB_LIMIT):
                    raise StudioError(f"width must be a number of pixels from 16 to {THUMB_LIMIT}")
                width = min(int(asked), key.width)
            return self._send(200, bench.thumbnail(name, what, width), "image/jpeg")
        if what == "hints" and method == "GET":  # the page opens the keyframe: ready its colour
            hints = bench.hints(name)
            bench.lab(name)
            bench.features(name)  # the model's view of it (loads the model at the first keyframe)
            return self._json(hints)
        if what == "hints" and method == "POST":
            return self._json({"saved": bench.save(name, self._body())})
        if what == "recolor" and method == "POST":
            picture = bench.recolor(name, self._body())
            share = changed_share(bench.base(name), picture)  # the page says when a stroke reached far
            return self._send(200, jpeg(picture), "image/jpeg", {"X-Vidcolor-Reach": f"{share:.3f}"})
        if what == "reach" and method == "POST":
            return self._send(200, png(bench.reach(name, self._body())), "image/png")
        if what == "suggest" and method == "POST":
            data = self._body()
            point = bench.suggestion(name, data, self.studio.jobs.spread(name))
            return self._json({"point": None if point is None else list(point)})
        raise StudioError(f"{method} is not used on /api/keyframe/NAME/{what}", HTTPStatus.METHOD_NOT_ALLOWED)


READ_TIMEOUT = 30.0  # s: a connection that sends nothing for this long is closed (it holds a thread)


class StudioServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, studio: Studio, port: int = 0):
        handler = type("StudioHandler", (Handler,), {"studio": studio, "timeout": READ_TIMEOUT})
        super().__init__(("127.0.0.1", port), handler)
        studio.port = self.server_address[1]
        self.studio = studio

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.studio.port}/?token={self.studio.token}"


def lock_folder(folder: Path, url: str):
    """Claim the folder for this studio (``vidcolor.folderlock``: an OS lock the kernel drops when the
    studio ends, however it ends); a second studio, or a folder being replaced, is refused."""
    from ..folderlock import STUDIO, FolderBusy, FolderLock

    try:
        return FolderLock(folder, f"{STUDIO} at {url.split('?')[0]}").acquire()
    except FolderBusy as err:
        raise StudioError(str(err)) from None
