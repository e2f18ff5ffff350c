"""A small real HTTP server on loopback, with routes and scripted faults.

Platform fakes build on :class:`FakeServer`: they register handlers for the platform's paths and
keep their state in memory. Tests script faults on top (``server.script(...)``): the next matching
request gets a given status, headers, body or delay instead of the normal answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route's pattern

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a hanging server)
    reason: str | None = None  # the status line's reason phrase, when a platform sends its own

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body or b"", headers


Handler = Callable[[Request], Response]


@dataclass
class _Scripted:
    response: Response | Handler
    path: re.Pattern | None
    times: int


class LoopbackServer:
    """The life cycle shared by the local servers: a threaded HTTP server on 127.0.0.1 with a free
    port, served from a background thread. Use as a context manager; :meth:`start` is each
    server's own (it builds the request handler and calls :meth:`_listen`)."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LoopbackServer":
        raise NotImplementedError

    def _listen(self, handler: type[BaseHTTPRequestHandler], server_class: type[ThreadingHTTPServer],
                name: str) -> None:
        self._httpd = server_class(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name=name).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class FakeServer(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 with a free port. Use as a context manager."""

    def __init__(self) -> None:
        super().__init__()
        self._routes: list[tuple[str, re.Pattern, Handler]] = []
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._cut: int | None = None

    # -- set-up ---------------------------------------------------------------------------

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register a handler; ``pattern`` is a regex over the path, with named groups as params."""

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))
            return handler

        return register

    def script(self, response: Response | Handler, *, path: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests (whose path matches ``path``, a regex) get ``response``."""
        with self._lock:
            self._script.append(_Scripted(response, re.compile(path) if path else None, times))

    def cut_short(self, after: int) -> None:
        """The answer to the request numbered ``after`` (0 is the next one) is its usual answer cut
        in half, headers included, as a proxy or a dropped connection would deliver it; once."""
        with self._lock:
            self._cut = len(self.requests) + after

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    def start(self) -> "FakeServer":
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every response back by ~40 ms
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=split.path,
                    query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                response, cut = server._dispatch(request), server._take_cut()
                if response.delay and server._stopping.wait(response.delay):
                    return
                payload, headers = response.encoded()
                if cut:
                    payload = payload[: len(payload) // 2]
                try:
                    self.send_response(response.status, response.reason)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        self._listen(_Handler, ThreadingHTTPServer, "fake-server")
        return self

    # -- serving --------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            scripted = self._take_scripted(request)
        if scripted is not None:
            return scripted(request) if callable(scripted) else scripted
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                try:
                    return handler(request)
                except Exception as exc:  # a bug in a fake must show, not hang the client
                    return Response(500, {"error": f"fake server error: {exc!r}"})
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def _take_cut(self) -> bool:
        """Whether the request just dispatched is the one ``cut_short`` named."""
        with self._lock:
            if self._cut is not None and len(self.requests) - 1 == self._cut:
                self._cut = None
                return True
            return False

    def _take_scripted(self, request: Request) -> Response | Handler | None:
        for entry in self._script:
            if entry.path is None or entry.path.search(request.path):
                entry.times -= 1
                if entry.times <= 0:
                    self._script.remove(entry)
                return entry.response
        return None
