"""The review page's HTTP server (standard library only: a handful of JSON routes and files).

Routes::

    GET  /                      the page (static/index.html)
    GET  /static/<name>         its script and style sheet
    GET  /api/clips             the run and every planned clip (decision, render, words)
    POST /api/clips/<id>        {"rev": n, "changes": {...}} -> 200 clip | 409 {error, clip} | 4xx
    POST /api/render            {"approved_only": bool} -> 202; re-renders what the review changed
    GET  /api/render            the render job's state
    GET  /files/<path>          a file of the run folder (range requests: the player seeks)

Security: loopback by default. Any other bind needs a token on every request (header
``X-Clipper-Token``, ``?token=`` or the cookie the page gets when opened with the token).
Writes also need the ``X-Clipper`` header, which a cross-site form cannot send and a
cross-site script cannot send without a CORS preflight this server never answers; the
``Host`` header must be the bound address (no DNS rebinding). Only plain files inside the run
folder are served: ``..``, encoded slashes, hidden paths and symlinks leading out get 404.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import mimetypes
import re
import secrets
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import Config
from ..errors import ClipperError, ReviewConflict, ReviewError
from .view import RunView

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"index.html", "app.js", "style.css"}
MAX_BODY = 64 * 1024
_CLIP_ROUTE = re.compile(r"^/api/clips/([A-Za-z0-9_-]{1,32})$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class RenderJob:
    """The page's re-render: one at a time, in a thread, its state polled by the page."""

    running: bool = False
    done: int = 0
    total: int = 0
    error: str = ""
    rendered: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    finished: int = 0           # how many renders have finished (the page waits for the next)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> dict[str, Any]:
        return {"running": self.running, "done": self.done, "total": self.total, "error": self.error,
                "rendered": self.rendered, "removed": self.removed, "finished": self.finished}


class ReviewApp:
    """The state behind the handler: the run, the render job, the access rules."""

    def __init__(self, run_dir: Path | str, config: Callable[[], Config], token: str | None = None) -> None:
        self.view = RunView.open(run_dir)
        self.root = self.view.out_dir.resolve()
        self.config = config
        self.token = token
        self.job = RenderJob()
        self.hosts: set[str] = set()

    def start_render(self, approved_only: bool) -> bool:
        with self.job.lock:
            if self.job.running:
                return False
            self.job.running, self.job.error, self.job.done, self.job.total = True, "", 0, 0
        threading.Thread(target=self._render, args=(approved_only,), daemon=True, name="review-render").start()
        return True

    def _render(self, approved_only: bool) -> None:
        from ..pipeline import Pipeline

        job = self.job
        before = {c["id"]: (c.get("render") or {}).get("file") for c in self.view.clips()}
        try:
            result = Pipeline(self.config(), _JobProgress(job)).rerender(self.root, approved_only=approved_only)
            self.view.refresh()
            after = {c["id"]: (c.get("render") or {}).get("file") for c in self.view.clips()}
            job.rendered = sorted(k for k in after if after[k] and after[k] != before.get(k))
            job.removed = sorted(k for k in after if before.get(k) and not after[k])
            log.info("re-rendered %d clips, %d in the manifest", len(job.rendered), len(result.clips))
        except ClipperError as exc:
            job.error = str(exc)
        except Exception as exc:  # the page must hear about it; the server keeps serving
            log.exception("re-render failed")
            job.error = f"re-render failed: {exc}"
        finally:
            self.view.refresh()
            job.running = False
            job.finished += 1

    def file(self, rel: str) -> Path | None:
        """A plain file inside the run folder, or None (never a hidden path or a way out)."""
        if "\\" in rel or "\x00" in rel:
            return None
        parts = rel.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        path = self.root.joinpath(*parts)
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.root) or not real.is_file():
            return None
        return real


class _JobProgress:
    def __init__(self, job: RenderJob) -> None:
        self.job = job

    def task(self, description: str, total: float | None):
        from contextlib import nullcontext

        job = self.job
        if description.startswith("rendering") and total:
            job.total = int(total)

        class _T:
            def update(self, completed: float) -> None:
                job.done = int(completed)

        return nullcontext(_T())


class Handler(BaseHTTPRequestHandler):
    server_version = "clipper-review"
    app: ReviewApp    # set on the subclass made by make_server

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    # -- plumbing ------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8", headers)

    def _error(self, status: int, message: str, **extra: Any) -> None:
        self._json(status, {"error": message, **extra})

    def _allowed(self, query: dict[str, list[str]]) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if self.app.hosts and host not in self.app.hosts:
            self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return False
        token = self.app.token
        if token is None:
            return True
        given = (self.headers.get("X-Clipper-Token") or (query.get("token") or [""])[0]
                 or _cookie(self.headers.get("Cookie", ""), "clipper_token"))
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
        self._error(HTTPStatus.UNAUTHORIZED, "a token is required: open the address printed by `clipper review`")
        return False

    def _body(self) -> Any:
        if self.headers.get("X-Clipper") != "1":
            raise _Reject(HTTPStatus.FORBIDDEN, "missing X-Clipper header")
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            raise _Reject(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise _Reject(HTTPStatus.LENGTH_REQUIRED, "Content-Length required") from None
        if length > MAX_BODY or length < 0:
            raise _Reject(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {MAX_BODY} bytes")
        try:
            return json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Reject(HTTPStatus.BAD_REQUEST, "body is not valid JSON") from None

    # -- routes --------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if not self._allowed(query):
            return
        path = url.path
        try:
            if path in ("/", "/index.html"):
                cookie = {}
                if self.app.token and query.get("token"):
                    cookie = {"Set-Cookie": f"clipper_token={self.app.token}; HttpOnly; SameSite=Strict; Path=/"}
                self._send(200, (STATIC / "index.html").read_bytes(), "text/html; charset=utf-8", cookie)
            elif path.startswith("/static/") and path[len("/static/"):] in STATIC_FILES:
                name = path[len("/static/"):]
                self._send(200, (STATIC / name).read_bytes(), mimetypes.guess_type(name)[0] + "; charset=utf-8")
            elif path == "/api/clips":
                self.app.view.refresh()
                self._json(200, {"run": self.app.view.summary(), "clips": self.app.view.clips(),
                                 "render": self.app.job.state()})
            elif (m := _CLIP_ROUTE.match(path)):
                self._json(200, self.app.view.clip(m.group(1)))
            elif path == "/api/render":
                self._json(200, self.app.job.state())
            elif path.startswith("/files/"):
                self._file(path[len("/files/"):])
            else:
                self._error(404, "not found")
        except ReviewError as exc:
            self._error(404, str(exc))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if not self._allowed(parse_qs(url.query)):
            return
        try:
            body = self._body()
            if (m := _CLIP_ROUTE.match(url.path)):
                self._decide(m.group(1), body)
            elif url.path == "/api/render":
                approved = body.get("approved_only", True) if isinstance(body, dict) else True
                if not isinstance(approved, bool):
                    raise _Reject(400, "approved_only must be true or false")
                started = self.app.start_render(approved)
                self._json(202 if started else 409, self.app.job.state() |
                           ({} if started else {"error": "a render is already running"}))
            else:
                self._error(404, "not found")
        except _Reject as exc:
            self._error(exc.status, exc.message)

    def _decide(self, clip_id: str, body: Any) -> None:
        view = self.app.view
        try:
            clip, bounds = view.planned(clip_id)
        except ReviewError as exc:
            raise _Reject(404, str(exc)) from None
        if not isinstance(body, dict) or "rev" not in body or not isinstance(body.get("changes"), dict):
            raise _Reject(400, 'send {"rev": <revision>, "changes": {...}}')
        try:
            view.store.update(bounds, body["rev"], body["changes"], view.word_texts)
        except ReviewConflict as exc:
            self._error(409, str(exc), clip=view.clip(clip_id))
            return
        except ReviewError as exc:
            raise _Reject(400, str(exc)) from None
        self._json(200, view.clip(clip_id))

    def _file(self, rel: str) -> None:
        path = self.app.file(unquote(rel)) if "%2f" not in rel.lower() and "%5c" not in rel.lower() else None
        if path is None:
            self._error(404, "not found")
            return
        size = path.stat().st_size
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".srt":
            ctype = "text/plain; charset=utf-8"
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng:
            m = _RANGE.match(rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                self._send(416, b"", ctype, {"Content-Range": f"bytes */{size}"})
                return
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                self._send(416, b"", ctype, {"Content-Range": f"bytes */{size}"})
                return
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        with path.open("rb") as fh:
            fh.seek(start)
            left = length
            while left > 0:
                chunk = fh.read(min(1 << 16, left))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return   # the player moved on (a seek): normal
                left -= len(chunk)


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = int(status), message


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return ""


def make_server(run_dir: Path | str, config: Callable[[], Config], host: str = "127.0.0.1", port: int = 0,
                token: str | None = None) -> tuple[ThreadingHTTPServer, ReviewApp, str]:
    """The server (not yet serving), its app and the address to open (with the token if any).

    A bind other than loopback always gets a token: the given one or a new random one.
    """
    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(18)
    app = ReviewApp(run_dir, config, token)
    handler = type("BoundHandler", (Handler,), {"app": app})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    bound = server.server_address[1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    if is_loopback(host):
        app.hosts = {"127.0.0.1", "localhost", "::1", host}
    elif host not in ("", "0.0.0.0", "::"):
        app.hosts = {host}
    url = f"http://{shown if ':' not in shown else f'[{shown}]'}:{bound}/"
    if token:
        url += f"?token={token}"
    return server, app, url
