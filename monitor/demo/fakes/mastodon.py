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

The school's writes (docs.joinmastodon.org/methods/statuses, /accounts, /reports): ``POST
/api/v1/statuses`` (a reply; JSON or form; an ``Idempotency-Key`` seen before returns the status it
made, as Mastodon keeps keys for an hour), ``GET /api/v1/statuses/:id/context``, ``POST
/api/v1/accounts/:id/block``, ``GET /api/v1/accounts/relationships``, ``POST /api/v1/reports``. Each
write needs its scope in ``scopes`` (``write:statuses``, ``write:blocks``, ``write:reports``, or
``write``): without it Mastodon answers 403 ``{"error": "This action is outside the authorized
scopes"}`` (Doorkeeper's ``forbidden_token_response`` in Api::BaseController). A blank or too long
status is 422 ``Validation failed: ...``; a status or account that is not there, 404 ``Record not found``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
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
#: the server's status length limit (Mastodon's default, ``configuration.statuses.max_characters``)
MAX_CHARACTERS = 500
OUTSIDE_SCOPES = {"error": "This action is outside the authorized scopes"}


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
    visibility: str = "public"


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
        self.route("GET", r"/api/v1/statuses/(?P<id>[0-9]+)/context")(self._context)
        self.route("POST", "/api/v1/statuses")(self._post_status)
        self.route("POST", r"/api/v1/accounts/(?P<id>[0-9]+)/block")(self._block)
        self.route("GET", "/api/v1/accounts/relationships")(self._relationships)
        self.route("POST", "/api/v1/reports")(self._report)
        #: the scopes the school's token was granted
        self.scopes = {"read", "write:statuses", "write:blocks", "write:reports"}
        #: accounts the school blocked; reports it made (as the server's moderators see them)
        self.blocked: set[str] = set()
        self.reports: list[dict[str, Any]] = []
        self._idempotency: dict[str, str] = {}
        #: seconds a write's answer is held back after the write is made (a crash between the two)
        self.write_delay = 0.0
        #: the time a status the school writes is given
        self.default_time = lambda: datetime.now(timezone.utc)

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

    def school_replies(self, to: str) -> list[FakeStatus]:
        """The school's statuses answering ``to`` (for tests)."""
        return [s for s in self.statuses if s.account["id"] == SCHOOL_ID and s.in_reply_to_id == to]

    def forget_idempotency_keys(self) -> None:
        """An hour has passed: Mastodon no longer remembers the keys it was given."""
        self._idempotency.clear()

    def author_of(self, status_id: str) -> str:
        return self._find(status_id).account["id"]

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

    # -- the school's writes ---------------------------------------------------------------

    def _may_write(self, request: Request, scope: str) -> Response | None:
        if (refused := self._refused(request, required=True)) is not None:
            return refused
        if not {scope, "write"} & self.scopes:
            return Response(403, dict(OUTSIDE_SCOPES))
        return None

    def _params(self, request: Request) -> dict[str, Any]:
        """The parameters of a write: a JSON body or a form, as Mastodon (Rails) reads either."""
        if (request.header("content-type") or "").startswith("application/json"):
            body = request.json()
            return body if isinstance(body, dict) else {}
        return request.form()

    def _post_status(self, request: Request) -> Response:
        if (refused := self._may_write(request, "write:statuses")) is not None:
            return refused
        params = self._params(request)
        key = request.header("idempotency-key")
        if key and f"{SCHOOL_ID}:{key}" in self._idempotency:
            return Response(200, self._render(self._find(self._idempotency[f"{SCHOOL_ID}:{key}"])))
        text = params.get("status")
        if not isinstance(text, str) or not text.strip():
            return Response(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > MAX_CHARACTERS:
            return Response(422, {"error": f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"})
        visibility = params.get("visibility", "public")
        if visibility not in ("public", "unlisted", "private", "direct"):
            return Response(422, {"error": "Validation failed: Visibility is not included in the list"})
        parent = next((s for s in self.statuses if s.id == params.get("in_reply_to_id")), None)
        if params.get("in_reply_to_id") is not None and parent is None:
            return Response(404, {"error": "Record not found"})
        status = self._status(self.school, text, self.default_time(), parent)
        status.visibility = visibility
        if key:
            self._idempotency[f"{SCHOOL_ID}:{key}"] = status.id
        return Response(200, self._render(status), delay=self.write_delay)

    def _context(self, request: Request) -> Response:
        if (refused := self._refused(request, required=False)) is not None:
            return refused
        status = next((s for s in self.statuses if s.id == request.params["id"]), None)
        if status is None:
            return Response(404, {"error": "Record not found"})
        ancestors, parent = [], status.in_reply_to_id
        while parent and (found := next((s for s in self.statuses if s.id == parent), None)):
            ancestors.insert(0, found)
            parent = found.in_reply_to_id
        descendants, frontier = [], [status.id]
        while frontier:
            children = sorted((s for s in self.statuses if s.in_reply_to_id in frontier), key=lambda s: int(s.id))
            descendants += children
            frontier = [s.id for s in children]
        return Response(200, {"ancestors": [self._render(s) for s in ancestors],
                              "descendants": [self._render(s) for s in descendants]})

    def _account_known(self, account_id: str) -> bool:
        return any(s.account["id"] == account_id for s in self.statuses)

    def _block(self, request: Request) -> Response:
        if (refused := self._may_write(request, "write:blocks")) is not None:
            return refused
        account_id = request.params["id"]
        if not self._account_known(account_id):
            return Response(404, {"error": "Record not found"})
        self.blocked.add(account_id)
        return Response(200, self._relationship(account_id), delay=self.write_delay)

    def _relationships(self, request: Request) -> Response:
        if (refused := self._refused(request, required=True)) is not None:
            return refused
        wanted = request.query.get("id[]") or request.query.get("id")
        return Response(200, [self._relationship(wanted)] if wanted and self._account_known(wanted) else [])

    def _relationship(self, account_id: str) -> dict[str, Any]:
        return {"id": account_id, "following": False, "showing_reblogs": False, "notifying": False,
                "followed_by": False, "blocking": account_id in self.blocked, "blocked_by": False,
                "muting": False, "muting_notifications": False, "requested": False, "domain_blocking": False,
                "endorsed": False, "note": ""}

    def _report(self, request: Request) -> Response:
        if (refused := self._may_write(request, "write:reports")) is not None:
            return refused
        params = self._params(request)
        account_id = params.get("account_id")
        if not isinstance(account_id, str) or not self._account_known(account_id):
            return Response(404, {"error": "Record not found"})
        status_ids = params.get("status_ids") or []
        if not isinstance(status_ids, list) or any(
                not any(s.id == i and s.account["id"] == account_id for s in self.statuses) for i in status_ids):
            return Response(404, {"error": "Record not found"})
        if len(str(params.get("comment") or "")) > 1000:
            return Response(422, {"error": "Validation failed: Comment is too long (maximum is 1000 characters)"})
        report = {"id": str(len(self.reports) + 1), "action_taken": False, "action_taken_at": None,
                  "category": params.get("category") or "other", "comment": params.get("comment") or "",
                  "forwarded": params.get("forward") in (True, "true", "1"),
                  "created_at": _time(self.default_time()), "status_ids": status_ids, "rule_ids": [],
                  "target_account": next(s.account for s in self.statuses if s.account["id"] == account_id)}
        self.reports.append(report)
        return Response(200, report, delay=self.write_delay)

    def _render(self, status: FakeStatus) -> dict[str, Any]:
        mention = ""
        if status.in_reply_to_account_id == SCHOOL_ID:
            mention = (f'<span class="h-card" translate="no"><a href="https://{HOST}/@{SCHOOL_ACCT}" '
                       f'class="u-url mention">@<span>{SCHOOL_ACCT}</span></a></span> ')
        tags = "".join(f' <a href="https://{HOST}/tags/{t}" class="mention hashtag" rel="tag">#<span>{t}</span></a>'
                       for t in status.tags)
        body = escape(status.text)
        if status.account["id"] == SCHOOL_ID:  # the school's statuses are written here, through the API
            body = _linked_mentions(body)
        body = body.replace("\n", "<br />")
        acct = status.account["acct"]
        rendered = {
            "id": status.id, "created_at": "garbage" if status.malformed else _time(status.created),
            "in_reply_to_id": status.in_reply_to_id, "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": False, "spoiler_text": "", "visibility": status.visibility, "language": "en",
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


def _time(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _linked_mentions(body: str) -> str:
    """``@name@server`` in a status's text as Mastodon renders it: a link showing ``@name``."""
    return re.sub(r"(?<![\w/])@([\w.+-]+)(?:@([\w.-]+))?",
                  lambda m: (f'<span class="h-card" translate="no"><a href="https://{m.group(2) or HOST}/@{m.group(1)}" '
                             f'class="u-url mention">@<span>{m.group(1)}</span></a></span>'), body)
