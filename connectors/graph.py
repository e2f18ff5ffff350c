"""What the Facebook and Instagram connectors share: the Graph API's requests, paging and errors.

The Graph API reports errors in the body (``{"error": {"code": 190, ...}}``) with HTTP 400 or 403
for most of them, so errors are classified by ``error.code`` first and by the HTTP status second.
Paging follows ``paging.next`` until it is absent, always on the configured ``base_url``, so that
the access token goes nowhere else.

The API version is one setting, ``api_version`` (default :data:`DEFAULT_VERSION`), added to
``base_url``; a ``base_url`` that already ends in a version (``.../v21.0``, the older form) is used
as it is. Meta retires each version about two years after the next one is released, and then
answers its calls with the oldest version still served
(developers.facebook.com/docs/graph-api/changelog/versions): ``monitor status`` warns before
the configured version retires.

Error 100 with subcode 33 reads "Object with ID ... does not exist, cannot be loaded due to missing
permissions, or does not support this operation": after a lost Page role or permission every
object answers it. Before it is believed, the account's own content is read once (cached for a
few minutes); when that fails too, the token has lost its access: an AuthError, not a deletion.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Iterator

import httpx
from pydantic import Field, model_validator

from connectors.base import (
    AuthError,
    Connector,
    Cursor,
    RateLimited,
    Secret,
    SourceError,
    SourceSettings,
    TransientError,
    Written,
    parse_timestamp,
    skip_record,
)
from monitor.clock import Clock
from monitor.errors import MAX_WAIT

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"^/v\d+(\.\d+)?(?=/|$)")
#: a base_url that names the version itself (".../v21.0")
_URL_VERSION = re.compile(r"/(v\d+\.\d+)/?$")

#: the Graph API version asked when the configuration names none (released 18 February 2026,
#: served until 29 July 2028 by Meta's changelog)
DEFAULT_VERSION = "v25.0"
#: when Meta stops serving each recent version (developers.facebook.com/docs/graph-api/changelog/versions);
#: a version older than all of these is already retired
RETIRES: dict[str, date] = {
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
}
#: the oldest version in :data:`RETIRES`; anything older is retired
OLDEST_SERVED = "v21.0"
#: how long before a version retires ``monitor status`` starts to warn
RETIREMENT_NOTICE = timedelta(days=120)
#: how long a successful read of the account's own content vouches for its token
OWNER_CHECK_FOR = timedelta(minutes=10)

#: error codes meaning the token is expired, revoked or lacks a permission: a person must act
AUTH_CODES = frozenset({102, 190, 10}) | frozenset(range(200, 300))
#: error codes meaning a rate limit was reached (app, user, page, custom, business use case)
RATE_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80001, 80015))
#: "object does not exist" (e.g. a post deleted between two requests)
MISSING_CODE = 100
#: with code 100, the subcode of "Object with ID ... does not exist": code 100 alone also means a
#: bad parameter or a field the node does not have, which says nothing about the object
NONEXISTENT_SUBCODE = 33
#: the wait when a rate limit names no time to regain access
DEFAULT_RATE_WAIT = timedelta(minutes=15)
#: a timestamp further in the future than this is not believed
FUTURE_SKEW = timedelta(hours=1)
#: what a Graph object id is made of ("123_456"); anything else would name another path, not one object
OBJECT_ID = re.compile(r"[A-Za-z0-9_.:-]+")
#: a page that keeps answering "next" is cut off here (a loop, not a real page count)
MAX_PAGES = 200


class GraphSettings(SourceSettings):
    """The keys every Graph API source has: the host, the API version and the token."""

    #: the Graph API host; tests and proxies point it elsewhere. A URL ending in a version
    #: (".../v21.0", the older form) names the version itself.
    base_url: str = "https://graph.facebook.com"
    #: the Graph API version, e.g. "v25.0" (default :data:`DEFAULT_VERSION`)
    api_version: str | None = Field(default=None, pattern=r"^v\d+\.\d+$")
    token: Secret

    @model_validator(mode="after")
    def _one_version(self) -> "GraphSettings":
        named = _URL_VERSION.search(self.base_url.rstrip("/") + "/")
        if named and self.api_version and named.group(1) != self.api_version:
            raise ValueError(f"base_url names {named.group(1)} but api_version is {self.api_version}: "
                             "give the version once (api_version, with base_url the bare host)")
        return self

    @property
    def version(self) -> str:
        named = _URL_VERSION.search(self.base_url.rstrip("/") + "/")
        return named.group(1) if named else (self.api_version or DEFAULT_VERSION)

    @property
    def graph_url(self) -> str:
        """Where requests go: ``base_url`` with the API version."""
        root = self.base_url.rstrip("/")
        return root if _URL_VERSION.search(root + "/") else f"{root}/{self.version}"


class GraphConnector(Connector):
    """Base of the Graph API connectors: ``self.graph`` speaks to ``base_url`` with the source's token."""

    Settings: ClassVar[type[SourceSettings]] = GraphSettings
    platform: ClassVar[str]
    #: the fields an existence check asks of the object
    lookup_fields: ClassVar[str] = "id"
    #: a boolean field of the object that, when true, means it is hidden from the public
    hidden_field: ClassVar[str | None] = None
    #: whether "does not exist" (100/33), once the account is known readable, means deleted
    missing_means_gone: ClassVar[bool] = True

    def __init__(self, settings: SourceSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.graph = GraphClient(
            http=self.http,
            base_url=settings.graph_url,  # type: ignore[attr-defined]
            token=settings.token.get_secret_value(),  # type: ignore[attr-defined]
            source=self.name,
            clock=self.clock,
            platform=self.platform,
        )
        self._owner_readable_at: datetime | None = None

    def owner_edge(self) -> str:
        """An edge of the account's own content that the token must be able to read (``page/feed``)."""
        raise NotImplementedError

    def owner_pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        """Pages of an edge of the account itself: "does not exist" there means the token lost its access."""
        try:
            yield from self.graph.pages(path, params)
        except GraphObjectMissing as exc:
            raise self._lost_access(exc) from exc

    def exists(self, native_id: str) -> bool | None:
        """One lookup of the object, ``GET /{object-id}?fields=...``: gone only when the Graph API
        says the object does not exist (code 100, subcode 33) while the account's own content is
        still readable, or when it reports the object hidden."""
        if not isinstance(native_id, str) or not OBJECT_ID.fullmatch(native_id):
            return None
        try:
            record = self.graph.get(native_id, {"fields": self.lookup_fields})
        except GraphObjectMissing as exc:
            if exc.subcode != NONEXISTENT_SUBCODE:
                raise
            self._confirm_owner_readable()
            return False if self.missing_means_gone else self.missing_unclear(native_id)
        if record.get("id") != native_id:
            raise TransientError(f"{self.platform} answered the lookup of {native_id} with another object")
        hidden = record.get(self.hidden_field, False) if self.hidden_field else False
        if not isinstance(hidden, bool):
            raise TransientError(f"{self.platform} answered {self.hidden_field}={hidden!r} for {native_id}")
        return not hidden

    # -- writes (for the subclasses that name them in ``supported_actions``) -----------------------
    #: the edge a reply is published to, the parameter that hides, the text and time fields of a comment
    reply_edge: ClassVar[str] = "comments"
    hide_param: ClassVar[str] = "is_hidden"
    text_field: ClassVar[str] = "message"
    time_field: ClassVar[str] = "created_time"
    reply_fields: ClassVar[str] = "id"

    def by_school(self, record: dict[str, Any]) -> bool:
        """Whether a comment record was written by the account itself."""
        raise NotImplementedError

    def reply(self, native_id: str, text: str) -> Written:
        return self._comment(native_id, self.reply_edge, text)

    def find_reply(self, native_id: str, text: str) -> Written | None:
        params = {"filter": "stream", "order": "reverse_chronological"} if self.reply_edge == "comments" else {}
        return self._school_comment(native_id, self.reply_edge, text, params)

    # The removal notice is a top-level comment on the post or media the removed comment was under:
    # POST /{page-post-id}/comments on Facebook (Pages API, "Comments and @mentions"), and
    # POST /{ig-media-id}/comments on Instagram (IG Media Comments reference), with ``message``; the
    # same permission as a reply. Facebook is read newest first; Instagram's media comments already are.
    def tell_thread(self, thread_id: str, text: str) -> Written:
        return self._comment(thread_id, "comments", text)

    def find_in_thread(self, thread_id: str, text: str) -> Written | None:
        params = {"order": "reverse_chronological"} if self.reply_edge == "comments" else {}
        return self._school_comment(thread_id, "comments", text, params)

    def _comment(self, native_id: str, edge: str, text: str) -> Written:
        with _gone_is_final(native_id, self.platform):
            body = self.graph.post(f"{_object_id(native_id)}/{edge}", {"message": text})
        new_id = body.get("id")
        if not isinstance(new_id, str) or not OBJECT_ID.fullmatch(new_id):
            raise TransientError(f"{self.platform} answered the comment on {native_id} without the new comment's id")
        return Written(native_id=new_id, at=self._created(new_id))

    def _school_comment(self, native_id: str, edge: str, text: str, params: dict[str, Any]) -> Written | None:
        params = {"fields": self.reply_fields, "limit": 100, **params}
        for page in self.graph.pages(f"{_object_id(native_id)}/{edge}", params):
            for record in page:
                if (isinstance(record, dict) and self.by_school(record)
                        and str(record.get(self.text_field) or "").strip() == text.strip()):
                    return Written(native_id=str(record["id"]), at=self.timestamp(record[self.time_field]))
        return None

    def hide(self, native_id: str) -> Written:
        with _gone_is_final(native_id, self.platform):
            self._succeeded(self.graph.post(_object_id(native_id), {self.hide_param: "true"}), "hide", native_id)
        return Written(native_id=None, at=self.clock())

    def delete(self, native_id: str) -> Written:
        with _gone_is_final(native_id, self.platform):
            self._succeeded(self.graph.delete(_object_id(native_id)), "delete", native_id)
        return Written(native_id=None, at=self.clock())

    def visibility(self, native_id: str):
        try:
            record = self.graph.get(_object_id(native_id), {"fields": self.lookup_fields})
        except GraphObjectMissing as exc:
            if exc.subcode != NONEXISTENT_SUBCODE:
                raise
            self._confirm_owner_readable()
            return "gone"
        return "hidden" if self.hidden_field and record.get(self.hidden_field) is True else "visible"

    def _created(self, native_id: str) -> datetime:
        """The new comment's own time on the platform (the clock's, if it cannot be read just now)."""
        try:
            return self.timestamp(self.graph.get(native_id, {"fields": self.time_field})[self.time_field])
        except (SourceError, KeyError, TypeError, ValueError) as exc:
            logger.warning("source=%s the time of reply %s cannot be read (%s): using the clock's", self.name,
                           native_id, exc)
            return self.clock()

    def _succeeded(self, body: dict[str, Any], what: str, native_id: str) -> None:
        if body.get("success") is not True:
            raise TransientError(f"{self.platform} answered the {what} of {native_id} without success: true")

    def missing_unclear(self, native_id: str) -> bool | None:
        """What "does not exist" means where it does not prove a deletion (see ``missing_means_gone``)."""
        return None

    def status(self) -> dict[str, Any]:
        """Quota use, and a warning while the configured API version nears its retirement
        (always given, so that a warning that no longer holds is replaced)."""
        facts: dict[str, Any] = {"warnings": self._version_warnings()}
        if self.graph.usage.percent:
            facts["quota_used_percent"] = round(self.graph.usage.percent)
        return facts

    def _version_warnings(self) -> list[str]:
        return version_warnings(self.settings.version, self.clock().date())  # type: ignore[attr-defined]

    @classmethod
    def config_warnings(cls, settings: SourceSettings) -> list[str]:
        return version_warnings(settings.version, datetime.now(timezone.utc).date())  # type: ignore[attr-defined]

    def _confirm_owner_readable(self) -> None:
        """Raise AuthError unless the account's own content can still be read (cached a few minutes)."""
        now = self.clock()
        if self._owner_readable_at is not None and timedelta(0) <= now - self._owner_readable_at < OWNER_CHECK_FOR:
            return
        try:
            self.graph.get(self.owner_edge(), {"fields": "id", "limit": 1})
        except GraphObjectMissing as exc:
            raise self._lost_access(exc) from exc
        self._owner_readable_at = now

    def _lost_access(self, exc: Exception) -> AuthError:
        return AuthError(f"{self.platform} no longer lets this token read {self.owner_edge()} ({exc}): the "
                         "user who made the token may have lost their role on the account, or a permission "
                         "was removed; every record would look deleted. " + self.renew_hint)


class GraphObjectMissing(TransientError):
    """The object asked for no longer exists (code 100): its caller skips it.

    ``subcode`` is the error's ``error_subcode``: only 33 says for certain that the object does not exist.
    """

    def __init__(self, message: str, subcode: Any = None):
        super().__init__(message)
        self.subcode = subcode


@dataclass(frozen=True, kw_only=True)
class Usage:
    """The highest quota use the usage headers reported (percent), and the wait they named."""

    percent: float = 0.0
    regain_minutes: float = 0.0


class GraphClient:
    """GET requests to the Graph API with the token, classified errors and paging."""

    def __init__(self, *, http: httpx.Client, base_url: str, token: str, source: str, clock: Clock, platform: str):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.source = source
        self.clock = clock
        self.platform = platform
        self.requests = 0
        self.usage = Usage()
        self._skipped: set[str] = set()

    def skip(self, record: Any, reason: str) -> None:
        """Log a malformed record once: it is read again on later polls while its post is watched."""
        key = hashlib.sha256(repr(record).encode("utf-8", "replace")).hexdigest()
        if key in self._skipped:
            logger.debug("source=%s skipped the same malformed record again", self.source)
            return
        if len(self._skipped) >= 10_000:
            self._skipped.clear()
        self._skipped.add(key)
        skip_record(self.source, record, reason)

    def start_poll(self) -> None:
        """Forget the usage reported during the previous poll."""
        self.usage = Usage()
        self.requests = 0

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One GET of ``path`` (relative to the base URL); the decoded JSON object."""
        return self._get(f"{self.base_url}/{path.lstrip('/')}", params, path)

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        """The ``data`` list of each page of an edge, in the order the API serves them.

        ``paging.next`` is followed until it is absent (cursor or time based alike); it is sent to
        the configured ``base_url`` whatever host it names, so the token goes nowhere else.
        """
        url, query = f"{self.base_url}/{path.lstrip('/')}", dict(params)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self._get(url, query, path)
            data = body.get("data")
            if not isinstance(data, list):
                raise TransientError(f"{self.platform} answered {path} without a data list")
            yield data
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            following = paging.get("next")
            if not isinstance(following, str) or not following:
                return
            url, query = self._rebased(following), {}
            if url in seen:
                raise TransientError(f"{self.platform} repeated a page of {path} (paging loop)")
            seen.add(url)
        raise TransientError(f"{self.platform} served more than {MAX_PAGES} pages of {path}")

    def _rebased(self, link: str) -> str:
        """``link`` on the configured host: its path after the API version, under ``base_url``."""
        try:
            target, base = httpx.URL(link), httpx.URL(self.base_url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise TransientError(f"{self.platform} gave an unreadable next page link") from exc
        if (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port):
            return str(target)
        path = target.path
        match = _VERSION.match(path)
        if match:
            path = path[match.end():]
        query = f"?{target.query.decode('ascii', 'replace')}" if target.query else ""
        return f"{self.base_url}/{path.lstrip('/')}{query}"

    def post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        """One POST of a form to ``path`` (a write: a reply, ``is_hidden``); the decoded JSON object."""
        return self._get(f"{self.base_url}/{path.lstrip('/')}", {}, path, method="POST", data=data)

    def delete(self, path: str) -> dict[str, Any]:
        """One DELETE of ``path``; the decoded JSON object (``{"success": true}``)."""
        return self._get(f"{self.base_url}/{path.lstrip('/')}", {}, path, method="DELETE")

    def _get(self, url: str, params: dict[str, Any], what: str, *, method: str = "GET",
             data: dict[str, Any] | None = None) -> dict[str, Any]:
        self.requests += 1
        try:
            # merged by hand: httpx replaces a URL's query with ``params`` (a next link carries its own)
            target = httpx.URL(url).copy_merge_params({**params, "access_token": self.token})
            response = self.http.request(method, target, headers={"Authorization": f"Bearer {self.token}"},
                                         data=data)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.platform} did not answer in time ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise TransientError(f"cannot reach {self.platform} at {self.base_url}: {type(exc).__name__}") from exc
        self._note_usage(response)
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) or response.status_code >= 400:
            raise self._error(response, error if isinstance(error, dict) else {})
        if not isinstance(body, dict):
            raise TransientError(f"{self.platform} answered {what} with something that is not a JSON object")
        return body

    def _error(self, response: httpx.Response, error: dict[str, Any]) -> Exception:
        code = error.get("code")
        message = str(error.get("message") or f"HTTP {response.status_code}")[:300]
        what = f"{self.platform} error {code}: {message}" if code is not None else f"{self.platform} {message}"
        if code in AUTH_CODES or (code is None and response.status_code == 401):
            return AuthError(f"{what} (subcode {error.get('error_subcode', '-')})")
        if code in RATE_CODES or response.status_code == 429:
            return RateLimited(what, self._retry_at())
        if code == MISSING_CODE and response.status_code < 500:
            return GraphObjectMissing(what, subcode=error.get("error_subcode"))
        if response.status_code >= 500 or error.get("is_transient") or code in (1, 2):
            return TransientError(what)
        return TransientError(f"{what} (HTTP {response.status_code})")

    def _retry_at(self) -> datetime:
        minutes = min(self.usage.regain_minutes, MAX_WAIT.total_seconds() / 60)  # a header's number, capped
        wait = timedelta(minutes=minutes) if minutes > 0 else DEFAULT_RATE_WAIT
        return self.clock() + wait

    def _note_usage(self, response: httpx.Response) -> None:
        percent, minutes = 0.0, 0.0
        app = _json_header(response, "x-app-usage")
        if isinstance(app, dict):
            percent = max([percent, *(_number(v) for v in app.values())])
        for header in ("x-business-use-case-usage", "x-ad-account-usage", "x-page-usage"):
            value = _json_header(response, header)
            for entry in _usage_entries(value):
                percent = max([percent, *(_number(entry.get(k)) for k in ("call_count", "total_cputime", "total_time"))])
                minutes = max(minutes, _number(entry.get("estimated_time_to_regain_access")))
        if percent >= 90 and percent > self.usage.percent:
            logger.warning("source=%s %s quota %.0f%% used", self.source, self.platform, percent)
        self.usage = Usage(percent=max(percent, self.usage.percent), regain_minutes=max(minutes, self.usage.regain_minutes))


def version_warnings(version: str, today: date) -> list[str]:
    """A warning when the Graph API ``version`` is retired, or retires within :data:`RETIREMENT_NOTICE`."""
    retires = RETIRES.get(version)
    if retires is None and _version_number(version) > _version_number(OLDEST_SERVED):
        return []  # newer than the table: not retiring soon
    if retires is not None and retires - today > RETIREMENT_NOTICE:
        return []
    when = f"on {retires:%d %B %Y}" if retires else "already"
    verb = "retired" if retires is None or retires <= today else "retires"
    return [f"Graph API {version} {verb} {when} (Meta then answers with another version): "
            f"set api_version = \"{DEFAULT_VERSION}\" or later for this source"]


def _version_number(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("."))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        if response.status_code < 400:
            raise TransientError(f"unreadable JSON from {response.url.host} (HTTP {response.status_code})") from None
        return None


def _json_header(response: httpx.Response, name: str) -> Any:
    value = response.headers.get(name)
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _usage_entries(value: Any) -> Iterator[dict[str, Any]]:
    """X-Business-Use-Case-Usage is ``{id: [entry, ...]}``; X-Page-Usage a single entry."""
    if isinstance(value, dict) and not any(isinstance(v, list) for v in value.values()):
        yield value
    elif isinstance(value, dict):
        for entries in value.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    yield entry


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def checkpoint(cursor: Cursor | None, source: str) -> datetime | None:
    """The ``since`` timestamp of a Graph connector's cursor, or None on the first poll."""
    if isinstance(cursor, dict) and cursor.get("since"):
        try:
            return parse_timestamp(cursor["since"])
        except ValueError:
            logger.warning("source=%s ignoring an unreadable checkpoint %r", source, cursor.get("since"))
    return None


def next_cursor(items: list[Any], since: datetime | None, now: datetime, cursor: Cursor | None) -> Cursor | None:
    """The newest timestamp among ``items`` (one from the future is not believed: it would stall the source)."""
    believable = [i.created_at for i in items if i.created_at <= now + FUTURE_SKEW]
    newest = max(believable + ([since] if since else []), default=None)
    return {"since": newest.isoformat()} if newest else cursor


def newest_first(pages: Iterator[list[Any]], to_item: Callable[[Any], Any], floor: datetime | None,
                 limit: int | None = None) -> list[Any]:
    """The items at or after ``floor`` from pages served newest first, reading no further than needed.

    Reading stops after a page in newest-first order whose last item is older than ``floor``. A
    server that ignores the requested order (oldest first) is simply read to the end.
    """
    found: list[Any] = []
    for page in pages:
        items = [item for item in map(to_item, page) if item is not None]
        found.extend(item for item in items if floor is None or item.created_at >= floor)
        if limit is not None and len(found) >= limit:
            return found[:limit]
        times = [item.created_at for item in items]
        if floor is not None and times and times[-1] < floor and all(a >= b for a, b in zip(times, times[1:])):
            return found
    return found


def _object_id(native_id: str) -> str:
    """A Graph object id, checked: anything else would name another path than the one object."""
    if not isinstance(native_id, str) or not OBJECT_ID.fullmatch(native_id):
        raise ValueError(f"not a Graph object id: {native_id!r}")
    return native_id


@contextmanager
def _gone_is_final(native_id: str, platform: str):
    """A write on an object that does not exist (100/33) cannot succeed later: a ValueError, not a retry."""
    try:
        yield
    except GraphObjectMissing as exc:
        if exc.subcode != NONEXISTENT_SUBCODE:
            raise
        raise ValueError(f"{native_id} no longer exists on {platform} ({exc})") from exc
