"""Mastodon through its REST API: hashtags, search, the school's account and its notifications.

Streams, each read newest first down to its ``since_id`` and paged through the ``Link`` header:

- ``/api/v1/timelines/tag/:hashtag`` for each configured hashtag (public on most servers);
- ``/api/v2/search?type=statuses`` for each query (needs a token with ``read:search``);
- ``/api/v1/accounts/:id/statuses`` of the school's account: its posts and replies, so that a
  reply by the school closes the case of the status it answers;
- ``/api/v1/notifications?types[]=mention&include_filtered=true`` with the school's token: replies
  and mentions, including those the account's notification policy filters (Mastodon 4.3+ leaves
  them out unless asked: docs.joinmastodon.org/methods/notifications, ``include_filtered``).
  Notifications the policy *drops* are never created, so no client can read them.

An idle poll makes one request per stream; whether a status still exists is one
``GET /api/v1/statuses/:id``. Statuses arrive as HTML and are stored as plain text.

A hashtag feed that has never shown a status is reported as a warning in ``monitor status``:
since 4.5 a server may disable its hashtag feeds (``local_topic_feed_access`` and
``remote_topic_feed_access``), and a disabled feed answers an empty list, not an error
(app/models/public_feed.rb, ``incompatible_feed_settings?``). The server's
``/api/v2/instance`` (``configuration.timelines_access.hashtag_feeds``) says which, and is
asked at most once an hour while such a feed stays silent.

Full-text search (``queries``) finds only the statuses of accounts that opted in to search
(``indexable``, Mastodon 4.2+), the school's own, and those the school interacted with.

Writes, for a source with ``actions`` (docs.joinmastodon.org/methods/statuses, /accounts, /reports):

- ``reply``: ``POST /api/v1/statuses`` with ``status`` and ``in_reply_to_id`` (scope
  ``write:statuses``), starting with the author's ``@address`` so that they are notified (as
  Mastodon's own clients do), at the visibility of the status it answers (a direct message is
  answered directly, never in public). It carries an ``Idempotency-Key`` made of the status and the
  text: Mastodon returns the status already made for a key it has seen ("Idempotency keys are stored
  for up to 1 hour"), so a retry within the hour cannot post twice; after that, an in-doubt reply is
  looked for in ``GET /api/v1/statuses/:id/context`` (the school's descendant answering it, same text).
- Mastodon lets nobody but its author (and the server's moderators) remove a status, so ``hide`` and
  ``delete`` are not offered. ``block``: ``POST /api/v1/accounts/:id/block`` of the author
  (``write:blocks``): they can no longer follow the school or see its posts while signed in, and
  the school stops seeing theirs; checked in doubt with ``GET /api/v1/accounts/relationships``.
  ``report``: ``POST /api/v1/reports`` with the status (``write:reports``), forwarded to the author's
  own server when they are on another one: its moderators decide. The status stays public after both.
  Muting is not offered: it only hides the author from the school's account, the monitor included.
- A token without the scope is answered 403 ``{"error": "This action is outside the authorized
  scopes"}``: the action is refused, naming the scope.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Iterator, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field, model_validator

from connectors.base import (
    MALFORMED,
    AuthError,
    Connector,
    Cursor,
    Item,
    RateLimited,
    Secret,
    SourceError,
    SourceSettings,
    TransientError,
    Written,
    skip_record,
)
from connectors.webapi import body_json, expect_json, reset_time, send
from monitor.config import Lookback

logger = logging.getLogger(__name__)

TEXT_LIMIT = 10000
STATUS_ID = re.compile(r"[0-9A-Za-z]+")
#: Mastodon's whole answer for a status that is not there (deleted, or not visible to the token)
NOT_FOUND = {"error": "Record not found"}
#: how often the server's feed settings are asked while a hashtag feed stays empty
FEED_ACCESS_EVERY = timedelta(hours=1)
#: what a report says to the server's moderators
REPORT_COMMENT = "Reported by the school's social media moderators as abusive."
#: the leading @addresses of a status's text (Mastodon renders each as a link holding "@name")
LEADING_MENTIONS = re.compile(r"^(?:@[\w.+-]+(?:@[\w.-]+)?\s+)+")


class MastodonSettings(SourceSettings):
    type: Literal["mastodon"] = "mastodon"
    #: the Mastodon server (instance) to ask
    base_url: str = "https://mastodon.social"
    #: hashtags to follow, without the #
    hashtags: list[str] = Field(default_factory=list)
    #: full-text searches (need a token with read:search, and a server with search enabled)
    queries: list[str] = Field(default_factory=list)
    #: an access token of the school's account (scopes read:statuses read:search read:notifications)
    token: Secret | None = None
    #: the school's account id on this server, and its address (user@server): its replies close cases
    account_id: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]+$")
    account: str | None = None
    page_size: int = Field(default=40, ge=1, le=40)
    backfill: Lookback = timedelta(days=7)

    @model_validator(mode="after")
    def _something_to_read(self) -> "MastodonSettings":
        if self.queries and self.token is None:
            raise ValueError("queries need a token (search is refused without one)")
        if not (self.hashtags or self.queries or self.account_id or self.token):
            raise ValueError("give hashtags, queries, account_id or a token: there is nothing to read")
        return self


class MastodonConnector(Connector):
    type = "mastodon"
    Settings = MastodonSettings
    supported_actions = frozenset({"reply", "block", "report"})
    action_scopes = {"reply": "write:statuses", "block": "write:blocks", "report": "write:reports"}
    renew_hint = (
        "create a new access token for the school's Mastodon account (Preferences > Development > "
        "your application) and update token in the configuration"
    )

    def __init__(self, settings: SourceSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self._silent_tags: list[str] = []
        self._feed_access: tuple[datetime, dict[str, Any] | None] | None = None

    # -- the poll -------------------------------------------------------------------------

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        cursor = dict(cursor or {})
        items: dict[str, Item] = {}
        next_cursor: dict[str, Any] = {}
        for key, path, params, kind in self._streams():
            found, next_cursor[key] = self._read(path, params, kind, cursor.get(key))
            for item in found:
                items.setdefault(item.native_id, item)
        # a stream's cursor is the newest status it ever showed: None means it never showed one
        self._silent_tags = [tag for tag in self.settings.hashtags if next_cursor.get(f"tag:{tag}") is None]
        return list(items.values()), next_cursor

    def status(self) -> dict[str, Any]:
        """A warning for each hashtag feed that has never shown a status (always given when hashtags
        are configured, so that a warning that no longer holds is replaced)."""
        if not self.settings.hashtags:
            return {}
        return {"warnings": [self._silent_warning(tag) for tag in self._silent_tags]}

    def _silent_warning(self, tag: str) -> str:
        feeds = self._hashtag_feeds()
        said = f"hashtag #{tag.lstrip('#')} has never shown a post"
        if feeds and "disabled" in (feeds.get("local"), feeds.get("remote")):
            return (f"{said}: {urlsplit(self.settings.base_url).netloc} limits its hashtag feeds "
                    f"(local posts: {feeds.get('local')}, other servers' posts: {feeds.get('remote')}), "
                    "so the monitor may never see them there; follow the hashtag on another server")
        return (f"{said}: nobody may have used it yet, or the server does not offer its hashtag feeds "
                "(Mastodon 4.5+ answers a disabled feed with an empty list)")

    def _hashtag_feeds(self) -> dict[str, Any] | None:
        """``configuration.timelines_access.hashtag_feeds`` of the server (4.5+), asked at most once an hour."""
        now = self.clock()
        if self._feed_access is not None and timedelta(0) <= now - self._feed_access[0] < FEED_ACCESS_EVERY:
            return self._feed_access[1]
        feeds = None
        try:
            response = self._get(f"{self.settings.base_url.rstrip('/')}/api/v2/instance", None, anonymous=True)
            instance = body_json(response) if response.status_code == 200 else None
            access = instance.get("configuration", {}).get("timelines_access", {}) if isinstance(instance, dict) else {}
            feeds = access.get("hashtag_feeds") if isinstance(access, dict) else None
        except (SourceError, AttributeError) as exc:  # an older server, or one that is down: say less
            logger.debug("source=%s could not read the server's feed settings: %s", self.name, exc)
        self._feed_access = (now, feeds if isinstance(feeds, dict) else None)
        return self._feed_access[1]

    def _streams(self) -> Iterator[tuple[str, str, dict[str, Any], str]]:
        s = self.settings
        for tag in s.hashtags:
            yield f"tag:{tag}", f"/api/v1/timelines/tag/{quote(tag.lstrip('#'), safe='')}", {}, "statuses"
        for query in s.queries:
            yield f"search:{query}", "/api/v2/search", {"q": query, "type": "statuses", "resolve": "false"}, "search"
        if s.account_id:
            params = {"exclude_reblogs": "true"}
            yield "account", f"/api/v1/accounts/{s.account_id}/statuses", params, "statuses"
        if s.token is not None:
            params = {"types[]": "mention", "include_filtered": "true"}
            yield "notifications", "/api/v1/notifications", params, "notifications"

    def _read(self, path: str, params: dict[str, Any], kind: str, since_id: Any) -> tuple[list[Item], Any]:
        """One stream, newest first, down to ``since_id`` (or the backfill on the first poll)."""
        since_id = since_id if isinstance(since_id, str) else None
        floor = self.clock() - self.settings.backfill
        params = {**params, "limit": self.settings.page_size}
        if since_id and kind != "search":
            params["since_id"] = since_id
        newest = since_id
        items: list[Item] = []
        for entry in self._entries(path, params, kind, since_id):
            entry_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(entry_id, str) and since_id and not _newer_id(entry_id, since_id):
                if kind == "search":
                    continue  # search is not strictly ordered
                break
            status = entry.get("status") if kind == "notifications" and isinstance(entry, dict) else entry
            if isinstance(entry_id, str) and (newest is None or _newer_id(entry_id, newest)):
                newest = entry_id  # even when older than the backfill: the stream has shown something
            try:
                item = self._to_item(status)
            except MALFORMED as exc:
                skip_record(self.name, entry, str(exc))
                continue
            if since_id is None and item.created_at < floor:
                break
            if not entry.get("reblog"):
                items.append(item)
        return items, newest

    def _entries(self, path: str, params: dict[str, Any], kind: str, since_id: str | None) -> Iterator[Any]:
        url: str | None = f"{self.settings.base_url.rstrip('/')}{path}"
        query: dict[str, Any] | None = params
        while url:
            response = self._get(url, query)
            data = expect_json(response, dict if kind == "search" else list)
            page = data.get("statuses") if kind == "search" else data
            if not isinstance(page, list):
                raise TransientError(f"Mastodon {path} answered without a list of statuses")
            yield from page
            if kind == "search":
                url, query = self._next_search_page(url, params, page, since_id)
            else:
                url, query = response.links.get("next", {}).get("url"), None
            if not page:
                return

    def _next_search_page(self, url, params, page, since_id):
        ids = [s.get("id") for s in page if isinstance(s, dict) and isinstance(s.get("id"), str)]
        if len(page) < params["limit"] or not ids or (since_id and not any(_newer_id(i, since_id) for i in ids)):
            return None, None
        return url, {**params, "offset": int(params.get("offset", 0)) + len(page)}

    def exists(self, native_id: str) -> bool | None:
        """``GET /api/v1/statuses/:id``: Mastodon answers a deleted status with 404 ``{"error":
        "Record not found"}``; nothing else means gone.

        A status whose author blocked the school's account gets the same 404 with the school's
        token, so a 404 with a token is asked once more without it: a status still public is there.
        """
        if not isinstance(native_id, str) or not STATUS_ID.fullmatch(native_id):
            return None  # not a status id: nothing to ask
        url = f"{self.settings.base_url.rstrip('/')}/api/v1/statuses/{native_id}"
        response = self._get(url, None, missing_ok=True)
        if response.status_code == 404 and self.settings.token is not None:
            response = self._get(url, None, missing_ok=True, anonymous=True)
            if response.status_code != 404:
                logger.info("source=%s status %s is public but hidden from the school's account "
                            "(its author may have blocked the school)", self.name, native_id)
        if response.status_code == 404:
            return False
        status = expect_json(response)
        if status.get("id") == native_id:
            return True
        raise TransientError(f"Mastodon answered the lookup of status {native_id} with another record")

    # -- writes ---------------------------------------------------------------------------

    def reply(self, native_id: str, text: str) -> Written:
        parent = self._status(native_id)
        acct = (parent.get("account") or {}).get("acct")
        status = text if not acct or LEADING_MENTIONS.match(text) else f"@{acct} {text}"
        body = {"status": status, "in_reply_to_id": native_id, "visibility": _visibility(parent.get("visibility"))}
        key = hashlib.sha256(f"{native_id}\n{text.strip()}".encode()).hexdigest()
        made = self._write("POST", "/api/v1/statuses", body, "reply", headers={"Idempotency-Key": key})
        if not isinstance(made.get("id"), str) or made.get("in_reply_to_id") != native_id:
            raise TransientError(f"Mastodon answered the reply to {native_id} without the new status")
        return Written(native_id=made["id"], at=self._made_at(made))

    def find_reply(self, native_id: str, text: str) -> Written | None:
        """The school's status answering ``native_id`` with ``text`` (its leading @addresses aside)."""
        context = expect_json(self._get(self._url(f"/api/v1/statuses/{_status_id(native_id)}/context"), None))
        descendants = context.get("descendants")
        if not isinstance(descendants, list):
            raise TransientError(f"Mastodon answered the thread of {native_id} without its descendants")
        wanted = _without_mentions(text)
        for status in descendants:
            if (isinstance(status, dict) and status.get("in_reply_to_id") == native_id
                    and self._is_school(status.get("account") or {})
                    and _without_mentions(html_to_text(str(status.get("content") or ""))) == wanted):
                return Written(native_id=str(status["id"]), at=self._made_at(status))
        return None

    def block(self, native_id: str) -> Written:
        account = self._author(native_id)
        relationship = self._write("POST", f"/api/v1/accounts/{account}/block", {}, "block")
        if relationship.get("blocking") is not True:
            raise TransientError(f"Mastodon answered the block of account {account} without blocking: true")
        return Written(native_id=None, at=self.clock())

    def report(self, native_id: str) -> Written:
        status = self._status(native_id)
        account = _status_id((status.get("account") or {}).get("id"))
        remote = "@" in str((status.get("account") or {}).get("acct") or "")
        body = {"account_id": account, "status_ids": [native_id], "comment": REPORT_COMMENT, "category": "other",
                "forward": remote}
        made = self._write("POST", "/api/v1/reports", body, "report")
        if made.get("id") is None:
            raise TransientError(f"Mastodon answered the report of {native_id} without the report's id")
        return Written(native_id=str(made["id"]), at=self._made_at(made))

    def was_done(self, action: str, native_id: str) -> Written | None:
        """An in-doubt block is read in the school's relationship to the author; a report cannot be
        (Mastodon lists reports to the server's moderators only): None, so it is sent again."""
        if action != "block":
            return None
        account = self._author(native_id)
        url = self._url("/api/v1/accounts/relationships")
        found = expect_json(self._get(url, {"id[]": account}), list)
        blocking = any(isinstance(r, dict) and r.get("id") == account and r.get("blocking") is True for r in found)
        return Written(native_id=None, at=self.clock()) if blocking else None

    def _status(self, native_id: str) -> dict[str, Any]:
        """The status as the school's token sees it, else (its author blocked the school) as anyone does."""
        url = self._url(f"/api/v1/statuses/{_status_id(native_id)}")
        response = self._get(url, None, missing_ok=True)
        if response.status_code == 404 and self.settings.token is not None:
            response = self._get(url, None, missing_ok=True, anonymous=True)
        if response.status_code == 404:
            raise ValueError(f"status {native_id} is no longer on {urlsplit(self.settings.base_url).netloc}")
        status = expect_json(response)
        if status.get("id") != native_id:
            raise TransientError(f"Mastodon answered the lookup of status {native_id} with another record")
        return status

    def _author(self, native_id: str) -> str:
        return _status_id((self._status(native_id).get("account") or {}).get("id"))

    def _made_at(self, record: dict[str, Any]):
        try:
            return self.timestamp(record["created_at"])
        except MALFORMED:
            return self.clock()

    def _write(self, method: str, path: str, body: dict[str, Any], action: str, *,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
        """One write with the school's token: a refused token or scope is an AuthError, a refused
        request (422: too long, a status gone) a ValueError, so that the action is refused, not retried."""
        if self.settings.token is None:
            raise AuthError("a Mastodon source needs a token to act on the platform")
        headers = {**(headers or {}), "Authorization": f"Bearer {self.settings.token.get_secret_value()}"}
        response = send(self, method, self._url(path), json=body, headers=headers)
        status = response.status_code
        if status == 429:
            raise RateLimited(f"Mastodon {path}: rate limited",
                              reset_time(response.headers.get("x-ratelimit-reset"), self.clock()))
        if status in (401, 403):
            raise AuthError(f"Mastodon {urlsplit(self.settings.base_url).netloc} refused to {action}: {_error(response)}")
        if status in (404, 422):
            raise ValueError(f"Mastodon refused to {action}: {_error(response)}")
        if 400 <= status < 500:
            raise TransientError(f"Mastodon {path} answered HTTP {status}: {_error(response)}")
        return expect_json(response)

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}{path}"

    # -- records --------------------------------------------------------------------------

    def _to_item(self, status: Any) -> Item:
        status_id = status["id"]
        if not isinstance(status_id, str) or not status_id:
            raise ValueError("status without an id")
        account = status.get("account") or {}
        by_school = self._is_school(account)
        parent = status.get("in_reply_to_id")
        text = html_to_text(status.get("content") or "")
        if status.get("spoiler_text"):
            text = f"{status['spoiler_text']}\n{text}"
        counts = [status.get(k) for k in ("favourites_count", "reblogs_count", "replies_count")]
        numbers = [c for c in counts if isinstance(c, int)]
        return Item(
            source=self.name,
            native_id=status_id,
            kind=self._kind(by_school, parent, status.get("in_reply_to_account_id")),
            text=text[:TEXT_LIMIT],
            created_at=self.timestamp(status["created_at"]),
            url=status.get("url") or status.get("uri"),
            author_id=account.get("id"),
            author_name=account.get("display_name") or account.get("username") or None,
            author_handle=account.get("acct") or None,
            parent_id=parent,
            thread_id=None if parent else status_id,
            by_school=by_school,
            engagement=sum(numbers) if numbers else None,
            raw={"uri": status.get("uri"), "visibility": status.get("visibility"),
                 "in_reply_to_account_id": status.get("in_reply_to_account_id")},
        )

    def _is_school(self, account: dict[str, Any]) -> bool:
        s = self.settings
        if s.account_id and account.get("id") == s.account_id:
            return True
        if not (s.account and account.get("acct")):
            return False
        # a local account's acct has no domain: take it from the profile's address
        home = urlsplit(account.get("url") or self.settings.base_url).netloc
        return _full_acct(account["acct"], home) == _full_acct(s.account, urlsplit(s.base_url).netloc)

    def _kind(self, by_school: bool, parent: str | None, parent_account: str | None) -> str:
        if parent is None:
            return "post" if by_school else "mention"
        if not by_school and self.settings.account_id and parent_account == self.settings.account_id:
            return "comment"
        return "reply"

    # -- HTTP -----------------------------------------------------------------------------

    def _get(self, url: str, params: dict[str, Any] | None, *, missing_ok: bool = False,
             anonymous: bool = False) -> httpx.Response:
        """A GET with the token (unless ``anonymous``); ``missing_ok`` returns Mastodon's own "Record not found" 404."""
        headers = {}
        if self.settings.token is not None and not anonymous:
            headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        response = send(self, "GET", url, params=params, headers=headers)
        status = response.status_code
        if status == 429:
            when = reset_time(response.headers.get("x-ratelimit-reset"), self.clock())
            raise RateLimited(f"Mastodon {urlsplit(url).path}: rate limited", when)
        if status in (401, 403) and not anonymous:
            raise AuthError(f"Mastodon {urlsplit(self.settings.base_url).netloc} refused access: {_error(response)}")
        if missing_ok and status == 404 and body_json(response) == NOT_FOUND:
            return response
        if 400 <= status < 500:
            raise TransientError(f"Mastodon {urlsplit(url).path} answered HTTP {status}: {_error(response)}")
        return response


def _status_id(value: Any) -> str:
    """A status or account id, checked before it goes into a path."""
    if not isinstance(value, str) or not STATUS_ID.fullmatch(value):
        raise ValueError(f"not a Mastodon id: {value!r}")
    return value


def _visibility(value: Any) -> str:
    """A reply is never more public than the status it answers (Mastodon's own clients do the same)."""
    return value if value in ("public", "unlisted", "private", "direct") else "unlisted"


def _without_mentions(text: str) -> str:
    return LEADING_MENTIONS.sub("", text.strip()).strip()


def _full_acct(acct: str, home: str) -> str:
    acct = acct.strip().lstrip("@").casefold()
    return acct if "@" in acct else f"{acct}@{home.casefold()}"


def _newer_id(a: str, b: str) -> bool:
    """Mastodon ids are numbers in strings (other servers: sortable strings)."""
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return (len(a), a) > (len(b), b)


def _error(response: httpx.Response) -> str:
    body = body_json(response)
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return f"HTTP {response.status_code}"


class _StatusText(HTMLParser):
    """Plain text of a status: paragraphs and line breaks kept, links reduced to their full text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(value: str) -> str:
    if "<" not in value and "&" not in value:
        return value
    parser = _StatusText()
    parser.feed(value)
    parser.close()
    text = html.unescape("".join(parser.parts))
    return re.sub(r"[ \t]+\n", "\n", text).strip()
