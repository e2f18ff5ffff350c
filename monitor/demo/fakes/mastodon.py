"""A fake Mastodon server: hashtag timelines, search, the school's statuses, its notifications, a status by id.

Status ids are snowflakes of the creation time, as on Mastodon, so ``since_id`` means "newer than".
Lists are newest first, ``page_size`` at a time, with a ``Link: <...max_id=...>; rel="next"`` header
when the page is full (without the ``since_id``, as Mastodon does). Content is HTML.

As on a current server (4.5):

- a mention that the school's notification policy filters is left out of ``/api/v1/notifications``
  unless ``include_filtered=true`` is asked (4.3+);
- the hashtag feeds follow ``hashtag_feeds`` (``{"local": ..., "remote": ...}``, each ``public``,
  ``authenticated`` or ``disabled``): a disabled part is silently left out (an empty list, no
  error), ``authenticated`` refuses a request without a token with 422; ``/api/v2/instance``
  reports the setting under ``configuration.timelines_access``;
- full-text search finds only statuses of accounts that opted in (``indexable``), and the school's own.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response

SCHOOL_ID = "109000000000000001"
SCHOOL_ACCT = "ravenswood"
TOKEN = "fake-mastodon-token"
HOST = "mastodon.example"


@dataclass
class FakeStatus:
    id: str
    account: dict[str, Any]
    text: str
    created: datetime
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    tags: list[str] = field(default_factory=list)
    favourites: int = 0
    malformed: bool = False
    notification_id: str | None = None
    #: its author blocked the school: hidden from the school's token, still public
    blocks_school: bool = False
    #: the school's notification policy filters its notification (e.g. a new account, or one not followed)
    filtered: bool = False


class FakeMastodon(FakePlatform):
    type = "mastodon"

    def __init__(self, *, page_size: int = 5) -> None:
        super().__init__()
        self.page_size = page_size
        self.statuses: list[FakeStatus] = []
        self.expired = False
        self.hashtag_feeds = {"local": "public", "remote": "public"}
        self._sequence = itertools.count(1)
        self.school = self._account(SCHOOL_ID, SCHOOL_ACCT, "Ravens Wood School")
        self.route("GET", r"/api/v1/timelines/tag/(?P<tag>[^/]+)")(self._tag_timeline)
        self.route("GET", "/api/v2/search")(self._search)
        self.route("GET", r"/api/v1/accounts/(?P<id>[0-9]+)/statuses")(self._account_statuses)
        self.route("GET", "/api/v1/notifications")(self._notifications)
        self.route("GET", r"/api/v1/statuses/(?P<id>[0-9]+)")(self._status_by_id)
        self.route("GET", "/api/v2/instance")(self._instance)

    # -- FakePlatform ---------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "type": "mastodon", "official": True, "interval": "5m", "timeout": "5s",
            "base_url": self.url, "hashtags": ["ravenswood"], "token": TOKEN,
            "account_id": SCHOOL_ID, "account": f"{SCHOOL_ACCT}@{HOST}", "backfill": "14d",
        }

    def add_comment(self, text: str, *, author: str = "A Parent", at: datetime | None = None,
                    reply_to: str | None = None, favourites: int = 0, filtered: bool = False) -> str:
        """``filtered``: the school's notification policy filters this reply's notification."""
        at = at or datetime.now(timezone.utc)
        target = self._find(reply_to) if reply_to else self._school_post(at)
        status = self._status(self._public(author), text, at, target)
        status.favourites = favourites
        status.filtered = filtered
        return status.id

    def add_tagged(self, text: str, tag: str = "ravenswood", *, author: str = "A Neighbour",
                   at: datetime | None = None, indexable: bool = True) -> str:
        """A public status with a hashtag, not addressed to the school; ``indexable``: its author
        opted in to full-text search."""
        account = {**self._public(author), "indexable": indexable}
        status = self._status(account, text, at or datetime.now(timezone.utc), None)
        status.tags.append(tag)
        return status.id

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._status(self.school, text, at or datetime.now(timezone.utc), self._find(to)).id

    def remove(self, native_id: str) -> None:
        self.statuses = [s for s in self.statuses if s.id != native_id]

    def add_malformed(self) -> None:
        now = datetime.now(timezone.utc)
        self._status(self._public("Broken"), "broken", now, self._school_post(now)).malformed = True

    def expire_credentials(self) -> None:
        self.expired = True

    def renew_credentials(self) -> None:
        self.expired = False

    # -- state ----------------------------------------------------------------------------

    def _account(self, account_id: str, acct: str, name: str) -> dict[str, Any]:
        return {"id": account_id, "username": acct.split("@")[0], "acct": acct, "display_name": name,
                "url": f"https://{HOST}/@{acct}", "bot": False, "avatar": f"https://{HOST}/avatars/{account_id}.png",
                "indexable": False}

    def _public(self, author: str) -> dict[str, Any]:
        number = int(hashlib.sha256(author.encode()).hexdigest()[:12], 16)
        username = "".join(ch for ch in author.lower() if ch.isalnum()) or "someone"
        return self._account(str(110000000000000000 + number % 10**15), f"{username}@social.example", author)

    def _find(self, status_id: str) -> FakeStatus:
        return next(s for s in self.statuses if s.id == status_id)

    def _school_post(self, at: datetime) -> FakeStatus:
        own = [s for s in self.statuses if s.account["id"] == SCHOOL_ID and s.in_reply_to_id is None]
        if own:
            return max(own, key=lambda s: int(s.id))
        return self._status(self.school, "Welcome back to the new term! #ravenswood", at - timedelta(minutes=1), None)

    def _status(self, account, text, at, reply_to: FakeStatus | None) -> FakeStatus:
        sequence = next(self._sequence)
        snowflake = (int(at.timestamp() * 1000) << 16) | (sequence & 0xFFFF)
        status = FakeStatus(id=str(snowflake), account=account, text=text, created=at,
                            in_reply_to_id=reply_to.id if reply_to else None,
                            in_reply_to_account_id=reply_to.account["id"] if reply_to else None)
        if account["id"] != SCHOOL_ID and status.in_reply_to_account_id == SCHOOL_ID:
            status.notification_id = str(sequence)
        self.statuses.append(status)
        return status

    # -- serving --------------------------------------------------------------------------

    def _refused(self, request: Request, *, required: bool) -> Response | None:
        header = request.header("authorization")
        if header is None and not required:
            return None
        if header != f"Bearer {TOKEN}" or self.expired:
            return Response(401, {"error": "The access token is invalid"})
        return None

    def _listing(self, request: Request, records: list[Any], id_of, render, path: str) -> Response:
        limit = min(int(request.query.get("limit", 20)), self.page_size)
        since, max_id = request.query.get("since_id"), request.query.get("max_id")
        chosen = [r for r in sorted(records, key=lambda r: int(id_of(r)), reverse=True)
                  if (since is None or int(id_of(r)) > int(since)) and (max_id is None or int(id_of(r)) < int(max_id))]
        page = chosen[:limit]
        headers = {}
        if page:
            links = [f'<{self.url}{path}?{urlencode({"min_id": id_of(page[0]), "limit": limit})}>; rel="prev"']
            if len(page) == limit:
                links.insert(0, f'<{self.url}{path}?{urlencode({"max_id": id_of(page[-1]), "limit": limit})}>; rel="next"')
            headers["Link"] = ", ".join(links)
        return Response(200, [render(r) for r in page], headers)

    def _tag_timeline(self, request: Request) -> Response:
        if (refused := self._refused(request, required=False)) is not None:
            return refused
        signed_in = request.header("authorization") is not None
        if not signed_in and "authenticated" in self.hashtag_feeds.values():
            return Response(422, {"error": "This method requires an authenticated user"})
        tag = request.params["tag"].lower()
        # a disabled part of the feed is left out without a word (TagFeed, incompatible_feed_settings?)
        shown = {where for where, access in self.hashtag_feeds.items() if access != "disabled"}
        tagged = [s for s in self.statuses if tag in s.tags and _origin(s) in shown]
        return self._listing(request, tagged, lambda s: s.id, self._render, request.path)

    def _instance(self, request: Request) -> Response:
        access = {"local": "public", "remote": "public"}
        return Response(200, {"domain": HOST, "title": "Mastodon example", "version": "4.5.2",
                              "configuration": {"timelines_access": {"live_feeds": access,
                                                                     "hashtag_feeds": dict(self.hashtag_feeds),
                                                                     "trending_link_feeds": access}}})

    def _account_statuses(self, request: Request) -> Response:
        if (refused := self._refused(request, required=False)) is not None:
            return refused
        own = [s for s in self.statuses if s.account["id"] == request.params["id"]]
        return self._listing(request, own, lambda s: s.id, self._render, request.path)

    def _status_by_id(self, request: Request) -> Response:
        if (refused := self._refused(request, required=False)) is not None:
            return refused
        status = next((s for s in self.statuses if s.id == request.params["id"]), None)
        if status is None or (status.blocks_school and request.header("authorization") is not None):
            return Response(404, {"error": "Record not found"})
        return Response(200, self._render(status))

    def _notifications(self, request: Request) -> Response:
        if (refused := self._refused(request, required=True)) is not None:
            return refused
        with_filtered = request.query.get("include_filtered", "").lower() in ("true", "1", "on")
        mentions = [s for s in self.statuses if s.notification_id and (with_filtered or not s.filtered)]
        return self._listing(request, mentions, lambda s: s.notification_id, self._render_notification, request.path)

    def _search(self, request: Request) -> Response:
        if (refused := self._refused(request, required=True)) is not None:
            return refused
        terms = request.query.get("q", "").casefold().split()
        searchable = [s for s in self.statuses if s.account.get("indexable") or s.account["id"] == SCHOOL_ID]
        found = sorted((s for s in searchable if all(t in s.text.casefold() for t in terms)),
                       key=lambda s: int(s.id), reverse=True)
        limit = min(int(request.query.get("limit", 20)), self.page_size)
        offset = int(request.query.get("offset", 0))
        return Response(200, {"accounts": [], "hashtags": [],
                              "statuses": [self._render(s) for s in found[offset:offset + limit]]})

    def _render(self, status: FakeStatus) -> dict[str, Any]:
        mention = ""
        if status.in_reply_to_account_id == SCHOOL_ID:
            mention = (f'<span class="h-card" translate="no"><a href="https://{HOST}/@{SCHOOL_ACCT}" '
                       f'class="u-url mention">@<span>{SCHOOL_ACCT}</span></a></span> ')
        tags = "".join(f' <a href="https://{HOST}/tags/{t}" class="mention hashtag" rel="tag">#<span>{t}</span></a>'
                       for t in status.tags)
        body = escape(status.text).replace("\n", "<br />")
        acct = status.account["acct"]
        rendered = {
            "id": status.id, "created_at": "garbage" if status.malformed else
            status.created.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": status.in_reply_to_id, "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": f"https://{HOST}/users/{acct.split('@')[0]}/statuses/{status.id}",
            "url": f"https://{HOST}/@{acct}/{status.id}",
            "replies_count": sum(1 for s in self.statuses if s.in_reply_to_id == status.id),
            "reblogs_count": 0, "favourites_count": status.favourites,
            "content": f"<p>{mention}{body}{tags}</p>", "reblog": None, "account": status.account,
            "media_attachments": [], "mentions": [], "tags": [{"name": t} for t in status.tags],
        }
        return rendered

    def _render_notification(self, status: FakeStatus) -> dict[str, Any]:
        return {"id": status.notification_id, "type": "mention", "created_at": self._render(status)["created_at"],
                "account": status.account, "status": self._render(status)}


def _origin(status: FakeStatus) -> str:
    """"local" for an account of this server, "remote" for one of another."""
    return "remote" if "@" in status.account["acct"] else "local"
