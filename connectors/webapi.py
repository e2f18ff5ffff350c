"""Helpers shared by the connectors that speak a JSON web API through ``self.http`` (httpx).

They translate what every such API has in common (network failures, 5xx, bodies that are not JSON)
into the connector errors, and leave what differs (how a platform says "token expired" or
"slow down") to each connector.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from connectors.base import Connector, TransientError, parse_timestamp
from connectors.http import RedirectRefused, ResponseTooLarge, reason
from monitor.errors import MAX_WAIT


#: RFC 6750 section 2.1: the characters a bearer token may hold (``b64token``), JWTs included
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(value: Any, what: str) -> str:
    """A token a server handed over, checked before it goes into an ``Authorization`` header.

    A token outside RFC 6750's alphabet (a control character, a non-ASCII letter) cannot be sent in a
    header at all: it is an unusable answer, a TransientError naming ``what`` answered it.
    """
    if not isinstance(value, str) or not value:
        raise TransientError(f"{what} answered without a token")
    if len(value) > 16384 or not _B64TOKEN.fullmatch(value):
        raise TransientError(f"{what} answered a token that cannot be sent in a header ({len(value)} characters)")
    return value


def send(connector: Connector, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP request; a timeout, an unreachable host or a request that cannot be built is a TransientError."""
    try:
        return connector.http.request(method, url, **kwargs)
    except UnicodeEncodeError as exc:
        # a header or URL holding what HTTP cannot carry (e.g. a configured token with a non-ASCII letter)
        raise TransientError(f"cannot send a request to {_where(url)}: a header holds a character "
                             f"HTTP cannot carry ({exc.reason})") from exc
    except httpx.TimeoutException as exc:
        raise TransientError(f"{_where(url)} timed out ({reason(exc)})") from exc
    except (ResponseTooLarge, RedirectRefused) as exc:
        raise TransientError(f"{_where(url)}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"cannot reach {_where(url)}: {exc}") from exc


def body_json(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the body is empty or not JSON (or nested too deep to read)."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def expect_json(response: httpx.Response, shape: type = dict) -> Any:
    """The body of a successful answer, which must decode to ``shape``; else a TransientError."""
    if response.status_code >= 500:
        raise TransientError(f"{_where(str(response.url))} answered HTTP {response.status_code}")
    data = body_json(response)
    if not isinstance(data, shape):
        raise TransientError(
            f"{_where(str(response.url))} answered HTTP {response.status_code} with an unreadable body"
        )
    return data


def reset_time(value: str | None, now: datetime, *, relative: bool = False) -> datetime | None:
    """When a rate-limit window reopens, from a reset header.

    Platforms write it as Unix seconds, as seconds from now (``relative``), or as an ISO 8601 time.
    A time further than :data:`~monitor.errors.MAX_WAIT` away is taken as that far.
    """
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            return min(parse_timestamp(value), now + MAX_WAIT)
        except (ValueError, OverflowError):
            return None
    if number != number:  # nan
        return None
    if relative or number < 10**9:
        return now + timedelta(seconds=min(max(number, 0), MAX_WAIT.total_seconds()))
    try:
        return min(datetime.fromtimestamp(number, tz=timezone.utc), now + MAX_WAIT)
    except (OverflowError, ValueError, OSError):  # a year no calendar holds: as far as we wait
        return now + MAX_WAIT


def newer(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional datetimes."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _where(url: str) -> str:
    return httpx.URL(url).copy_with(query=None).__str__()
