"""A real loopback HTTP server that misbehaves on purpose: the attacks a connector must survive.

Paths (any method):

- ``/bomb?size=N``: ``Content-Encoding: gzip``, a small body that inflates to N bytes of a feed-like
  text (``N=1073741824``: 1 GiB from about 1 MB); any path under ``/bomb/`` too, inflating to
  ``bomb_size`` (for a JSON API's ``base_url``);
- ``/endless``: a chunked body that never ends;
- ``/drip?every=S&bytes=N``: the headers at once, then the body one byte every S seconds (N bytes);
- ``/drip-headers?every=S``: the status line and headers themselves one byte every S seconds;
- ``/redirect?to=URL&status=307``: a redirect (307 keeps the method and body, 308 too);
- ``/nested?depth=N``: JSON nested N arrays deep.

Every answer is logged in ``requests`` (method, path, headers, body), so a test can see where a
password went.
"""

from __future__ import annotations

import gzip
import io
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.demo.fakes.server import LoopbackServer

FILLER = b"<item><title>x</title></item>\n" * 32


@lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to ``size`` bytes, compressed in a stream (never held inflated)."""
    out = io.BytesIO()
    block = FILLER * (1024 * 1024 // len(FILLER))
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as zipped:
        left = size
        while left > 0:
            piece = block[: min(left, len(block))]
            zipped.write(piece)
            left -= len(piece)
    return out.getvalue()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on an attack is the expected outcome


class HostileServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        #: what ``/bomb`` inflates to when the request does not say (``/bomb/...`` as an API's base URL)
        self.bomb_size = 100 * 1024 * 1024
        #: seconds between the bytes of ``/drip`` when the request does not say
        self.drip_every = 4.0

    def start(self) -> "HostileServer":
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                server.requests.append({"method": self.command, "path": split.path, "query": query,
                                        "headers": dict(self.headers), "body": body})
                try:
                    attack = split.path.strip("/").split("/")[0].replace("-", "_")
                    getattr(server, "_" + attack, server._missing)(self, query)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass

            do_GET = do_POST = do_HEAD = _serve

        self._listen(_Handler, _QuietServer, "hostile-server")
        return self

    # -- the attacks ----------------------------------------------------------------------

    def _missing(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        handler.send_response(404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _bomb(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        payload = gzip_bomb(int(query.get("size", self.bomb_size)))
        handler.send_response(200)
        handler.send_header("Content-Type", query.get("type", "application/rss+xml"))
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _endless(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = FILLER * 64
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while not self._stopping.is_set():
            handler.wfile.write(frame)

    def _drip(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        every, count = float(query.get("every", self.drip_every)), int(query.get("bytes", 10**6))
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(count))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(count):
            if self._stopping.wait(every):
                return
            handler.wfile.write(b" ")
            handler.wfile.flush()

    def _drip_headers(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        every = float(query.get("every", 4))
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + b"X-Slow: " + b"a" * 10**5
        for byte in head:
            if self._stopping.wait(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    def _redirect(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        handler.send_response(int(query.get("status", 307)))
        handler.send_header("Location", query.get("to", "/"))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _nested(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        depth = int(query.get("depth", 100_000))
        payload = b"[" * depth + b"]" * depth
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

