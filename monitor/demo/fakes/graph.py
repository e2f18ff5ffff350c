"""What the fake Facebook and Instagram share: the Graph API's token check, paging, object lookups
(``GET /{object-id}?fields=...``) and error bodies.

As strict as the Graph API: an edge or a lookup returns only the fields asked with ``fields=``
(and the id; a few defaults when none are asked), a field the node type does not have is refused
with error 100, and errors carry ``message``, ``type``, ``code``, ``error_subcode`` and
``fbtrace_id``. After :meth:`FakeGraph.lose_access` (the token's user lost their role on the
account, or a permission) every object and edge answers 100/33, "does not exist, cannot be loaded
due to missing permissions", exactly as a deleted object does.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar
from urllib.parse import urlencode

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response

#: the Graph API version the fake's sources ask for (the connectors' default)
VERSION = "v25.0"
#: the X-App-Usage header of an ordinary answer (percent of the app's quota used)
USAGE = json.dumps({"call_count": 2, "total_cputime": 1, "total_time": 1})
#: the path prefix of every Graph route: the API version, then the object id and the edge
ROUTE = r"/v\d+\.\d+/(?P<id>[^/]+)"


def graph_time(when: datetime) -> str:
    """Facebook's timestamp format: ``2026-11-16T09:00:00+0000``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def user_id(name: str) -> str:
    """A stable numeric id for a member of the public, from the name."""
    return str(int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:12], 16))


class FakeGraph(FakePlatform):
    """A Graph API host: a token, pages of ``page_size`` records, and the documented errors."""

    token = "fake-graph-token"
    #: code reported when the platform rate-limits (Facebook pages 80001, Instagram 80002)
    rate_code = 80001
    #: node type -> the fields a lookup may ask for (any other is refused, as the Graph API does)
    node_fields: ClassVar[dict[str, frozenset[str]]] = {}
    #: node type -> the fields returned when ``fields`` is not given
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.page_size = 10
        self.credentials_expired = False
        self.access_lost = False
        self.default_time = lambda: datetime.now(timezone.utc).replace(microsecond=0)
        self._ids = itertools.count(1)
        self.route("GET", ROUTE)(self.guarded(self._object))

    # -- levers -----------------------------------------------------------------------------

    def expire_credentials(self) -> None:
        self.credentials_expired = True

    def renew_credentials(self) -> None:
        self.credentials_expired = False

    def lose_access(self) -> None:
        """The token still parses, but its user lost their role on the account (or a permission)."""
        self.access_lost = True

    def restore_access(self) -> None:
        self.access_lost = False

    def rate_limit(self, *, minutes: int = 12, code: int | None = None, path: str | None = None, times: int = 1) -> None:
        """The next requests are refused as rate limited, naming the minutes until access is regained."""
        self.script(self.rate_limited_response(minutes=minutes, code=code), path=path, times=times)

    def rate_limited_response(self, *, minutes: int = 12, code: int | None = None) -> Response:
        code = code or self.rate_code
        usage = {"1010101010": [{"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 60,
                                 "estimated_time_to_regain_access": minutes}]}
        body = {"error": {"message": "(#%d) There have been too many calls from this account. Wait a bit and try again." % code,
                          "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}}
        return Response(400, body, {"X-Business-Use-Case-Usage": json.dumps(usage),
                                    "X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 20, "total_time": 25})})

    # -- serving helpers ----------------------------------------------------------------------

    def _next_number(self) -> int:
        return next(self._ids)

    def _at(self, at: datetime | None) -> datetime:
        return (at or self.default_time()).astimezone(timezone.utc)

    def guarded(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Refuse a missing or expired token before ``handler`` sees the request."""

        def serve(request: Request) -> Response:
            token = request.query.get("access_token") or (request.header("authorization") or "").removeprefix("Bearer ")
            if token != self.token:
                return self.error(400, 190, "Invalid OAuth access token - Cannot parse access token", subcode=None)
            if self.credentials_expired:
                return self.error(
                    400, 190, "Error validating access token: Session has expired on Monday, 16-Nov-26 09:00:00 PST. "
                    "The current time is Monday, 16-Nov-26 10:00:00 PST.", subcode=463)
            if self.access_lost:
                return self.missing(request.params.get("id", ""))
            return handler(request)

        return serve

    @staticmethod
    def error(status: int, code: int, message: str, *, subcode: int | None = None) -> Response:
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return Response(status, {"error": error})

    def missing(self, object_id: str) -> Response:
        return self.error(
            400, 100, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation.", subcode=33)

    def node(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        """(node type, record) of the object ``object_id``, or None when there is none."""
        raise NotImplementedError

    def _object(self, request: Request) -> Response:
        """``GET /{object-id}?fields=a,b{c}``: the fields asked that have a value, and always the id."""
        found = self.node(request.params["id"])
        if found is None:
            return self.missing(request.params["id"])
        node_type, record = found
        try:
            body = self.select(request, record, node_type)
        except UnknownField as exc:
            return exc.response
        return Response(200, public(body), {"X-App-Usage": USAGE})

    def select(self, request: Request, record: dict[str, Any], node_type: str) -> dict[str, Any]:
        """The fields of ``record`` that ``fields=`` asks for, and the id (UnknownField for a field
        the node type does not have)."""
        fields = requested_fields(request.query.get("fields")) or list(self.default_fields.get(node_type, ()))
        unknown = [name for name in fields if name not in self.node_fields[node_type]]
        if unknown:
            raise UnknownField(self.error(
                400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type ({node_type})"))
        return {name: record[name] for name in ["id", *fields] if name in record}

    def paged(self, request: Request, records: list[dict[str, Any]], node_type: str) -> Response:
        """One page of ``records`` from the ``after`` cursor, with ``paging`` as the Graph API writes it;
        each record with the fields asked (see :meth:`select`)."""
        try:
            records = [self.select(request, record, node_type) for record in records]
        except UnknownField as exc:
            return exc.response
        try:
            limit = max(1, min(int(request.query.get("limit", self.page_size)), self.page_size))
            start = _offset(request.query["after"]) if request.query.get("after") else 0
        except (ValueError, UnicodeDecodeError):
            return self.error(400, 100, "Invalid parameter")
        chunk = records[start : start + limit]
        body: dict[str, Any] = {"data": [public(r) for r in chunk]}
        if chunk:
            paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk))}}
            if start + len(chunk) < len(records):
                query = {k: v for k, v in request.query.items() if k != "after"}
                query["after"] = _cursor(start + len(chunk))
                paging["next"] = f"{self.url}{request.path}?{urlencode(query)}"
            if start > 0:
                paging["previous"] = f"{self.url}{request.path}?before={_cursor(start)}"
            body["paging"] = paging
        return Response(200, body, {"X-App-Usage": USAGE})


class UnknownField(Exception):
    """A field the node type does not have was asked: ``response`` is the Graph API's error."""

    def __init__(self, response: Response):
        super().__init__("unknown field")
        self.response = response


def requested_fields(spec: str | None) -> list[str]:
    """The top-level field names of a ``fields`` parameter (``id,from{id,name}`` -> ``id``, ``from``)."""
    names, depth, current = [], 0, ""
    for char in spec or "":
        if char in "{}":
            depth += 1 if char == "{" else -1
        elif depth == 0 and char == ",":
            names.append(current)
            current = ""
        elif depth == 0:
            current += char
    names.append(current)
    return [name.split(".")[0].strip() for name in names if name.strip()]


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as served: without the fake's own bookkeeping keys (those starting with ``_``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key.startswith("_"):
            continue
        if isinstance(value, dict) and isinstance(value.get("data"), list):
            value = {**value, "data": [public(r) for r in value["data"]]}
        out[key] = value
    return out


def newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["_at"], r["_seq"]), reverse=True)


def _cursor(offset: int) -> str:
    """An opaque paging cursor, as the Graph API's are (base64 of the position)."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    text = base64.urlsafe_b64decode(padded.encode()).decode()
    if not text.startswith("offset:"):
        raise ValueError(cursor)
    return int(text[7:])
