"""Reddit: public posts naming the school, through the search listing, and comments in a subreddit.

Reddit answers only OAuth clients. Since late May 2026 an anonymous request (the old public
``.json`` listings) gets "403 Blocked" (r/modnews, "Protecting communities from scrapers and
platform abuse"), and since November 2025 a new app needs Reddit's approval (the Responsible
Builder Policy). The connector therefore logs in as the school's approved app, with application-only
OAuth for a confidential client (Reddit's OAuth2 wiki, "Application Only OAuth"): a ``POST`` to
``https://www.reddit.com/api/v1/access_token`` with HTTP Basic (client id, secret) and the form
``grant_type=client_credentials``. No Reddit password is needed. The token lasts an hour
(``expires_in``) and comes without a refresh token: a new one is asked for five minutes before it
expires, and once more if Reddit calls it ``invalid_token`` earlier. Requests go to
``https://oauth.reddit.com`` with ``Authorization: bearer <token>``.

``/search?q=...&sort=new`` (or ``/r/<sub>/search`` with ``restrict_sr``) is read newest first,
page by page with ``after``, down to the checkpoint: the newest post's time, plus the fullnames
seen in the last minute before it (Reddit's times have one-second resolution).

Reddit's search finds posts, not comments. With ``subreddit`` and ``comment_keywords`` set, the
subreddit's newest comments (``/r/<sub>/comments``, newest first, the same checkpoint) are read
too, and those naming one of the keywords are kept. An idle poll makes one request per query, plus
one for the comments, plus one token request an hour.

Reddit asks every client for a descriptive User-Agent (``<platform>:<app id>:<version> (by
/u/<username>)``) and blocks generic ones; it reports its limits in ``X-Ratelimit-Used``,
``-Remaining`` and ``-Reset`` (seconds until the window ends).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, ValidationInfo, field_validator, model_validator

from connectors.base import (
    MALFORMED,
    AuthError,
    Connector,
    Cursor,
    Item,
    RateLimited,
    Secret,
    SourceSettings,
    TransientError,
    skip_record,
)
from connectors.webapi import bearer_token, body_json, expect_json, reset_time, send
from monitor.config import Lookback

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=1)
TEXT_LIMIT = 10000
#: a token is renewed this long before Reddit's ``expires_in`` runs out
RENEW_BEFORE = timedelta(minutes=5)
#: what Reddit documents when ``expires_in`` is missing from the answer
TOKEN_LIFETIME = timedelta(hours=1)
#: hosts that answer browsers, not API clients: read as the OAuth host
WEB_HOSTS = ("www.reddit.com", "reddit.com", "old.reddit.com")
OAUTH_HOST = "https://oauth.reddit.com"
NO_APP = (
    "Reddit answers only approved OAuth apps (anonymous requests get 403 Blocked since May 2026): "
    "set client_id and client_secret of the school's Reddit app, approved by Reddit "
    "(see deploy/README.md, Reddit)"
)


class RedditSettings(SourceSettings):
    type: Literal["reddit"] = "reddit"
    #: the API host; www.reddit.com (which answers only browsers now) is read as oauth.reddit.com
    base_url: str = OAUTH_HOST
    #: where the app asks for its access token
    token_url: str = "https://www.reddit.com/api/v1/access_token"
    #: the school's Reddit app (a "script" app, approved by Reddit): its client id and secret
    client_id: Secret | None = None
    client_secret: Secret | None = None
    #: the school's names, each searched on its own, e.g. '"Ravens Wood School"'
    queries: list[str] = Field(min_length=1)
    #: search one subreddit only (e.g. the town's), or all of Reddit
    subreddit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{2,21}$")
    #: a bearer token obtained elsewhere, used as it is: it lasts an hour and cannot be renewed
    #: here, so client_id and client_secret are the way to run unattended
    token: Secret | None = None
    #: the Reddit account responsible for this client, named in the User-Agent
    username: str = "school-social-monitor"
    user_agent: str | None = None
    #: the school's own Reddit account, if it has one: its posts are marked as the school's
    account: str | None = None
    #: with ``subreddit``: its new comments naming any of these words or phrases are collected too
    comment_keywords: list[str] = Field(default_factory=list)
    page_size: int = Field(default=100, ge=1, le=100)
    backfill: Lookback = timedelta(days=7)

    @field_validator("base_url")
    @classmethod
    def _api_host(cls, url: str) -> str:
        if httpx.URL(url).host in WEB_HOSTS:
            return OAUTH_HOST
        return url

    @model_validator(mode="after")
    def _id_and_secret_together(self) -> "RedditSettings":
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret go together: both come from the school's app "
                             "at reddit.com/prefs/apps")
        return self

    @field_validator("comment_keywords")
    @classmethod
    def _comments_need_a_subreddit(cls, keywords: list[str], info: ValidationInfo) -> list[str]:
        if any(not k.strip() for k in keywords):
            raise ValueError("a keyword is empty")
        if keywords and not info.data.get("subreddit"):
            raise ValueError("needs subreddit: Reddit cannot search comments, so the monitor reads the newest "
                             "comments of one subreddit (e.g. the town's) and keeps those naming a keyword")
        return keywords

    @property
    def comment_pattern(self) -> re.Pattern[str] | None:
        """Any keyword as whole words, case and spacing aside; None when comments are not read."""
        if not self.comment_keywords:
            return None
        phrases = (r"\s+".join(map(re.escape, k.split())) for k in self.comment_keywords)
        return re.compile(rf"(?<!\w)(?:{'|'.join(phrases)})(?!\w)", re.IGNORECASE)


class RedditConnector(Connector):
    type = "reddit"
    Settings = RedditSettings
    renew_hint = (
        "check client_id and client_secret against the school's app at reddit.com/prefs/apps (a new secret "
        "if it was regenerated) and that Reddit still approves the app; without an approved app Reddit "
        "cannot be monitored. A 403 can also mean the User-Agent or a private subreddit"
    )

    def __init__(self, settings: SourceSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self._token: str | None = None
        self._token_expires: datetime | None = None

    @classmethod
    def config_warnings(cls, settings: SourceSettings) -> list[str]:
        if getattr(settings, "client_id", None) is None and getattr(settings, "token", None) is None:
            return [NO_APP]
        if getattr(settings, "client_id", None) is None:
            return ["token lasts an hour and cannot be renewed by the monitor: set client_id and client_secret"]
        return []

    @property
    def user_agent(self) -> str:
        from monitor import __version__

        s = self.settings
        return s.user_agent or f"server:school-social-monitor:v{__version__} (by /u/{s.username})"

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        s = self.settings
        cursor = dict(cursor or {})
        search = f"/r/{quote(s.subreddit)}/search" if s.subreddit else "/search"
        restrict = {"restrict_sr": "on"} if s.subreddit else {}
        # (cursor key, listing, which of its records to keep); each listing has its own checkpoint
        reads = [(query, self._listing(search, {"q": query, "sort": "new", "type": "link", **restrict}), None)
                 for query in s.queries]
        pattern = s.comment_pattern
        if pattern is not None:
            reads.append((f"r/{s.subreddit}/comments", self._listing(f"/r/{quote(s.subreddit)}/comments", {}),
                          lambda item: bool(pattern.search(item.text))))
        items: dict[str, Item] = {}
        next_cursor: dict[str, Any] = {}
        for key, listing, wanted in reads:
            found, next_cursor[key] = self._read(listing, cursor.get(key), wanted)
            for item in found:
                items.setdefault(item.native_id, item)
        return list(items.values()), next_cursor

    def _read(self, listing: Iterator[Any], saved: Any,
              wanted: Callable[[Item], bool] | None) -> tuple[list[Item], dict[str, Any]]:
        """The new items of a newest-first listing that ``wanted`` keeps (all when None), and the
        listing's next checkpoint, which every record moves."""
        saved = saved if isinstance(saved, dict) else {}
        checkpoint = saved.get("checkpoint")
        since = (datetime.fromtimestamp(checkpoint, tz=timezone.utc) if isinstance(checkpoint, (int, float))
                 else None)
        seen = set(saved.get("seen") or [])
        floor = since - OVERLAP if since else self.clock() - self.settings.backfill
        items: list[Item] = []
        recent: dict[str, datetime] = {}
        newest = since
        for child in listing:
            try:
                item = self._to_item(child)
            except MALFORMED as exc:
                skip_record(self.name, child, str(exc))
                continue
            if item.created_at < floor:
                break
            newest = max(newest, item.created_at) if newest else item.created_at
            recent[item.native_id] = item.created_at
            if item.native_id not in seen and (wanted is None or wanted(item)):
                items.append(item)
        keep = sorted(n for n, t in recent.items() if newest and t >= newest - OVERLAP)
        return items, {"checkpoint": newest.timestamp() if newest else None, "seen": keep,
                       "newest": max(recent, key=recent.get) if recent else saved.get("newest")}

    def _listing(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """The children of a listing, page after page with ``after``, until the caller stops."""
        params = {**params, "limit": self.settings.page_size, "raw_json": 1}
        after = None
        while True:
            data = self._get(path, {**params, "after": after} if after else params)
            listing = data.get("data") if data.get("kind") == "Listing" else None
            children = listing.get("children") if isinstance(listing, dict) else None
            if not isinstance(children, list):
                raise TransientError(f"Reddit {path} answered without a listing")
            yield from children
            after = listing.get("after")
            if not after or not children:
                return

    def _to_item(self, child: Any) -> Item:
        kind, data = child["kind"], child["data"]
        fullname = data.get("name") or f"{kind}_{data['id']}"
        if kind not in ("t3", "t1") or not isinstance(fullname, str):
            raise ValueError(f"not a post or a comment: {kind!r}")
        author = data.get("author")
        deleted = author in (None, "[deleted]")
        if kind == "t3":
            title, body = data.get("title") or "", data.get("selftext") or ""
            text = f"{title}\n{body}" if body and body not in ("[removed]", "[deleted]") else title
        else:
            text = data.get("body") or ""
        score, comments = data.get("score"), data.get("num_comments")
        numbers = [n for n in (score, comments) if isinstance(n, int)]
        permalink = data.get("permalink")
        return Item(
            source=self.name,
            native_id=fullname,
            kind="mention",
            text=text[:TEXT_LIMIT],
            created_at=self.timestamp(float(data["created_utc"])),
            url=f"https://www.reddit.com{permalink}" if isinstance(permalink, str) else data.get("url"),
            author_id=None if deleted else data.get("author_fullname"),
            author_name=None if deleted else author,
            author_handle=None if deleted else f"u/{author}",
            parent_id=data.get("parent_id") if kind == "t1" else None,
            thread_id=data.get("link_id") if kind == "t1" else fullname,
            by_school=bool(self.settings.account) and not deleted
            and str(author).casefold() == self.settings.account.casefold(),
            engagement=sum(numbers) if numbers else None,
            raw={"subreddit": data.get("subreddit"), "url": data.get("url")},
        )

    # -- HTTP and the token --------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self._send_get(path, params)
        if response.status_code == 401 and self.settings.client_id is not None:
            # revoked or expired before its hour (a clock that drifted): one new token, one retry
            self._token = None
            response = self._send_get(path, params)
        status = response.status_code
        reset = reset_time(response.headers.get("x-ratelimit-reset"), self.clock(), relative=True)
        if status == 429:
            raise RateLimited(f"Reddit asked us to slow down ({_limits(response)})", reset)
        if status in (401, 403):
            raise AuthError(self._refusal(response, path))
        if 400 <= status < 500:
            raise TransientError(f"Reddit {path} answered HTTP {status}: {_error(response)}")
        data = expect_json(response)
        remaining = _number(response.headers.get("x-ratelimit-remaining"))
        listing = data.get("data")
        more = isinstance(listing, dict) and bool(listing.get("after"))
        if remaining is not None and remaining < 1 and more:
            # the next page would be refused: stop before it, and keep the cursor where it was
            raise RateLimited(f"Reddit's request budget is spent ({_limits(response)})", reset)
        return data

    def _send_get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        headers = {"User-Agent": self.user_agent, "Authorization": f"bearer {self._bearer()}"}
        return send(self, "GET", f"{self.settings.base_url.rstrip('/')}{path}", params=params, headers=headers)

    def _bearer(self) -> str:
        """The access token, renewed before it expires; an AuthError when there is no way to get one."""
        s = self.settings
        if s.client_id is None or s.client_secret is None:
            if s.token is None:
                raise AuthError(NO_APP)
            return s.token.get_secret_value()
        if self._token is None or self._token_expires is None or self.clock() >= self._token_expires - RENEW_BEFORE:
            self._token, self._token_expires = self._new_token(s.client_id.get_secret_value(),
                                                               s.client_secret.get_secret_value())
        return self._token

    def _new_token(self, client_id: str, secret: str) -> tuple[str, datetime]:
        """Application-only OAuth (Reddit's OAuth2 wiki): HTTP Basic with the app's id and secret,
        ``grant_type=client_credentials`` as a form. Reddit answers a refused grant with HTTP 200
        and an ``error`` field, a wrong id or secret with 401."""
        asked_at = self.clock()
        response = send(self, "POST", self.settings.token_url, data={"grant_type": "client_credentials"},
                        auth=(client_id, secret), headers={"User-Agent": self.user_agent}, follow_redirects=False)
        status = response.status_code
        if status == 429:
            raise RateLimited(f"Reddit's token endpoint asked us to slow down ({_limits(response)})",
                              reset_time(response.headers.get("x-ratelimit-reset"), asked_at, relative=True))
        if status in (401, 403):
            raise AuthError(
                f"Reddit refused the app's client_id and secret (HTTP {status}{_blocked(response)}): "
                "check them at reddit.com/prefs/apps (a regenerated secret must be copied again) and that "
                "Reddit still approves the app"
            )
        if 400 <= status < 500:
            raise TransientError(f"Reddit's token endpoint answered HTTP {status}: {_error(response)}")
        data = expect_json(response)
        if data.get("error"):
            raise AuthError(f"Reddit refused the app's token request: {data['error']} "
                            f"{data.get('error_description') or ''}".strip())
        token, lifetime = data.get("access_token"), data.get("expires_in")
        token = bearer_token(token, "Reddit's token endpoint")
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or not 0 < lifetime <= 86400:
            lifetime = TOKEN_LIFETIME.total_seconds()
        logger.info("source=%s has a new Reddit access token for %d minutes", self.name, lifetime // 60)
        return token, asked_at + timedelta(seconds=lifetime)

    def _refusal(self, response: httpx.Response, path: str) -> str:
        """What a 401 or 403 means, in words the school's technician can act on."""
        status, body = response.status_code, body_json(response)
        reason = body.get("reason") if isinstance(body, dict) else None
        if status == 401:
            if self.settings.client_id is None:
                return ("Reddit refused the configured token (HTTP 401): a token lasts an hour; set client_id and "
                        "client_secret so that the monitor renews it itself")
            return "Reddit refused a new access token at once (HTTP 401 invalid_token): check the app at reddit.com/prefs/apps"
        if reason:
            return f"Reddit refused {path} (HTTP 403, {reason}): the subreddit may be private, quarantined or banned"
        return (f"Reddit blocked the request (HTTP 403{_blocked(response)}): check that Reddit still approves the "
                f"app and accepts the User-Agent {self.user_agent!r}; a server address Reddit blocks needs a ticket "
                "with Reddit")


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _limits(response: httpx.Response) -> str:
    h = response.headers
    return (f"used {h.get('x-ratelimit-used', '?')}, remaining {h.get('x-ratelimit-remaining', '?')}, "
            f"reset in {h.get('x-ratelimit-reset', '?')}s")


def _blocked(response: httpx.Response) -> str:
    """' Blocked' when Reddit answered with its "Blocked" page (network policy), else ''."""
    title = response.reason_phrase == "Blocked" or b"<title>Blocked</title>" in response.content[:2000]
    return " Blocked" if title else ""


def _error(response: httpx.Response) -> str:
    body = body_json(response)
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or body.get("error") or "")
    return ""
