"""The HTTP client every connector talks through: bounded in memory and in time, whatever a server does.

- **Size.** A body is read as a stream and inflated (gzip, deflate) a bounded step at a time; once the
  decoded bytes pass the source's ``max_body`` the connection is dropped and :class:`ResponseTooLarge`
  raised. A gzip bomb or an endless body therefore costs at most the cap (plus one step), not the machine.
- **Time.** Besides the per-read ``timeout``, every request has a total ``request_deadline``: connecting,
  the headers, the body and any redirects together. A server dripping one byte every few seconds
  cannot hold a poll (and a shared worker) longer than that: :class:`DeadlineExceeded`. The deadline is
  enforced in each socket read (through httpcore's network-backend interface), so slow headers are
  cut off too; behind a proxy from the environment it is checked between the chunks of the body.
- **Redirects.** Followed for GET and HEAD only (httpx drops ``Authorization`` when the host changes).
  A POST answered with a redirect is refused (:class:`RedirectRefused`): the credentials in its body
  (a Bluesky app password, an OAuth client secret) go to the configured host and nowhere else. The
  body of a redirect is never read.

All three errors are ``httpx.RequestError``, so a connector's usual ``except httpx.HTTPError`` turns
them into a :class:`~monitor.errors.TransientError`.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from contextvars import ContextVar
from typing import Any, Iterable, Iterator

import httpcore
import httpx
import requests
import urllib3

from monitor.redact import RedactingFilter

#: Methods whose redirects are followed; others (POST...) carry a body that must not travel.
SAFE_METHODS = frozenset({"GET", "HEAD"})
#: Decoded bytes of a redirect's body that are drained before the connection is reused.
REDIRECT_BODY_LIMIT = 64 * 1024
MiB = 1024 * 1024
#: The most bytes one step of inflating may produce: what a bomb can cost beyond the cap.
INFLATE_STEP = 256 * 1024

# httpx logs each request's full URL (a password in its userinfo, a key in its query) at INFO
logging.getLogger("httpx").addFilter(RedactingFilter())

#: The monotonic time the request being sent on this thread must end by (None: no deadline).
_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


class ResponseTooLarge(httpx.RequestError):
    """The decoded body passed the source's ``max_body``."""


class DeadlineExceeded(httpx.TimeoutException):
    """The request did not complete within the source's ``request_deadline``."""


class RequestsResponseTooLarge(requests.RequestException):
    """The same as :class:`ResponseTooLarge`, for a connector that talks through ``requests`` (X, via tweepy)."""


class RedirectRefused(httpx.RequestError):
    """A request with a body (POST...) was answered with a redirect, which is not followed."""


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_size(value: Any) -> int:
    """``"10MB"``, ``"512KiB"``, ``"1GB"`` or a number of bytes -> bytes (at least 1 KiB)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])
    else:
        raise ValueError(f'{value!r} is not a size: write e.g. "10MB", "512KB" or a number of bytes')
    if not 1024 <= size <= 4 * 1024**3:
        raise ValueError(f"{value!r}: a body cap must be between 1 KiB and 4 GiB")
    return size


def reason(exc: Exception) -> str:
    """What went wrong with a request, for an error message: httpx's text, else the error's name."""
    return str(exc) or type(exc).__name__


def describe_size(size: int) -> str:
    """A size as it was probably written: ``"2 MB"``, ``"16 MiB"``, ``"512 KB"``, else in bytes."""
    for unit, factor in (("GiB", 1024**3), ("GB", 1000**3), ("MiB", MiB), ("MB", 1000**2), ("KiB", 1024), ("KB", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


# -- the total deadline, in every socket operation ------------------------------------------


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the current request's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                      _remaining(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, its timeouts cut to the request's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(
            host, port, _remaining(timeout, httpcore.ConnectTimeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(
            path, _remaining(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport whose connections honour the per-request deadline."""

    def __init__(self, *, verify: Any = True, limits: httpx.Limits = httpx.Limits(max_connections=10)):
        super().__init__(verify=verify, limits=limits)
        # httpx builds its connection pool without a network backend argument: the same pool,
        # built through httpcore's public constructor, with the deadline-aware backend
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


# -- the client -----------------------------------------------------------------------------


class BoundedClient(httpx.Client):
    """An ``httpx.Client`` whose every answer is read whole, within ``max_body`` and ``deadline``."""

    def __init__(self, *, max_body: int, deadline: float, **kwargs: Any):
        self.max_body = max_body
        self.deadline = deadline
        kwargs.setdefault("transport", DeadlineTransport())
        kwargs.setdefault("follow_redirects", True)
        hooks = dict(kwargs.pop("event_hooks", None) or {})
        # httpx reads a redirect's body itself before following it: drain it first, bounded
        hooks["response"] = [_drain_redirect, *hooks.get("response", [])]
        super().__init__(event_hooks=hooks, **kwargs)

    def send(self, request: httpx.Request, *, stream: bool = False, auth: Any = httpx.USE_CLIENT_DEFAULT,
             follow_redirects: Any = httpx.USE_CLIENT_DEFAULT) -> httpx.Response:
        unsafe = request.method.upper() not in SAFE_METHODS
        if unsafe:
            follow_redirects = False
        deadline = time.monotonic() + self.deadline
        token = _deadline.set(deadline)
        try:
            response = super().send(request, stream=True, auth=auth, follow_redirects=follow_redirects)
            try:
                if unsafe and response.has_redirect_location:
                    raise RedirectRefused(
                        f"{request.method} answered HTTP {response.status_code} with a redirect to "
                        f"{response.headers.get('location', '')[:200]!r}: not followed", request=request)
                read_bounded(response, self.max_body, deadline)
            finally:
                response.close()
            return response
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline and not isinstance(exc, DeadlineExceeded):
                raise DeadlineExceeded(
                    f"no complete answer within the request deadline of {self.deadline:g} s", request=request
                ) from exc
            raise
        finally:
            _deadline.reset(token)


def read_bounded(response: httpx.Response, limit: int, deadline: float | None = None) -> bytes:
    """Read and decode the whole body, refusing more than ``limit`` decoded bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in _decoded(response):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(
                f"the answer is larger than {describe_size(limit)} once decoded (max_body): not read further",
                request=response.request)
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded("the body did not arrive within the request deadline", request=response.request)
        chunks.append(chunk)
    content = b"".join(chunks)
    # what Response.read() itself stores: later .content, .text and .json() use it
    response._content = content
    return content


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes, gzip or deflate undone a bounded piece at a time.

    httpx's own decoders inflate each network chunk whole (64 KiB of a gzip bomb is 64 MiB), so gzip
    and deflate, the encodings httpx asks for, are inflated here with zlib's ``max_length``. Anything
    else is left to httpx.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        yield from response.iter_bytes()
        return
    # gzip or zlib framing, found from the header (32 + 15); a raw deflate stream (-15) as some servers send it
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    started = False
    try:
        for raw in response.iter_raw():
            if not started and encoding == "deflate" and raw and (raw[0] & 0x0F) != 8:
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            started = started or bool(raw)
            data = raw
            while data:
                yield inflater.decompress(data, INFLATE_STEP)
                data = inflater.unconsumed_tail
        yield inflater.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(f"the {encoding} body cannot be decoded: {exc}", request=response.request) from exc


def read_requests_bounded(response: requests.Response, limit: int, deadline: float) -> bytes:
    """For a ``requests`` answer fetched with ``stream=True``: the same bounds as :func:`read_bounded`.

    Read with urllib3's ``read1``: one network read at a time (a server dripping bytes cannot hold a
    read open past the deadline, as a read for a fixed amount would), inflated at most a step at a
    time (urllib3 2.6 and later).
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.raw.read1(INFLATE_STEP, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise RequestsResponseTooLarge(
                    f"the answer is larger than {describe_size(limit)} once decoded (max_body): not read further")
            if time.monotonic() > deadline:
                raise requests.Timeout("no complete answer within the request deadline")
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as exc:
        response.close()
        raise requests.Timeout(str(exc)) from exc
    except urllib3.exceptions.HTTPError as exc:  # a body cut short, or not the gzip it claims
        response.close()
        raise requests.ConnectionError(str(exc)) from exc
    except BaseException:
        response.close()
        raise
    content = b"".join(chunks)
    response._content = content  # what requests' own .content stores once it has read the body
    response.raw.release_conn()
    return content


def _drain_redirect(response: httpx.Response) -> None:
    if response.has_redirect_location:
        read_bounded(response, REDIRECT_BODY_LIMIT)


def bounded_client(*, max_body: int, deadline: float, timeout: float, headers: dict[str, str]) -> BoundedClient:
    """The client a connector uses unless it is given one."""
    return BoundedClient(max_body=max_body, deadline=max(deadline, timeout), timeout=timeout, headers=headers)
