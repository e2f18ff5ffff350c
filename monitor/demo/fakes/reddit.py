"""A fake Reddit: the OAuth token endpoint and the listings an app reads on ``oauth.reddit.com``.

- ``POST /api/v1/access_token``: application-only OAuth for a confidential (script or web) app,
  as Reddit's OAuth2 wiki describes it: HTTP Basic with the app's client id and secret, a form body
  ``grant_type=client_credentials``; the answer is ``{"access_token", "token_type": "bearer",
  "expires_in": 3600, "scope": "*"}``. A wrong id or secret is a 401; a grant it does not know is
  a 200 with ``{"error": "unsupported_grant_type"}`` (Reddit answers OAuth errors with 200).
- ``/search``, ``/r/<sub>/search`` and ``/r/<sub>/comments`` (also with ``.json``), newest first,
  with ``after``. A request without a bearer token gets Reddit's "403 Blocked" HTML page, as every
  anonymous request has since late May 2026; so does a generic library User-Agent. A token that is
  unknown or older than an hour (by the fake's clock) gets a 401 with
  ``WWW-Authenticate: Bearer realm="reddit", error="invalid_token"``.

Every listing carries ``X-Ratelimit-Used/Remaining/Reset``. Search matches every word of the query
in a post's title, body or ``keywords`` (what Reddit's index knows about a post beyond its text,
e.g. the title of a linked article).
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response

CLIENT_ID = "Fk3r4ddItCl1ent"
CLIENT_SECRET = "fake-reddit-client-secret"
SCHOOL_NAME = "Ravens Wood School"
TOKEN_LIFETIME = timedelta(hours=1)
#: User-Agents of HTTP libraries, which Reddit blocks: a client must describe itself
GENERIC_AGENTS = ("python-httpx", "python-requests", "python-urllib", "curl/", "go-http-client", "okhttp")

#: Reddit's answer to an anonymous or blocked request (status line "403 Blocked")
BLOCKED_PAGE = """<!doctype html>
<html>
  <head>
    <title>Blocked</title>
  </head>
  <body>
    <h1>whoa there, pardner!</h1>
<p>Your request has been blocked due to a network policy.</p>
<p>Try logging in or creating an account <a href=https://www.reddit.com/login/>here</a> to get back to browsing.</p>
<p>If you're running a script or application, please register or sign in with your developer credentials
<a href=https://www.reddit.com/wiki/api/>here</a>. Additionally make sure your User-Agent is not empty and is
something unique and descriptive and try again.</p>
  </body>
</html>
"""


@dataclass
class FakeRedditPost:
    id: str
    title: str
    selftext: str
    author: str | None
    subreddit: str
    created: datetime
    keywords: str = ""
    score: int = 1
    num_comments: int = 0
    malformed: bool = False


@dataclass
class FakeRedditComment:
    id: str
    body: str
    author: str | None
    subreddit: str
    created: datetime
    link_id: str
    parent_id: str
    score: int = 1


class FakeReddit(FakePlatform):
    type = "reddit"
    has_threads = False  # a search of public posts: the school does not answer there

    def __init__(self, *, page_size: int = 5, budget: int = 1000,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        self.budget = budget
        self.used = 0
        self.posts: list[FakeRedditPost] = []
        self.comments: list[FakeRedditComment] = []
        #: the app's credentials are refused (secret regenerated, app revoked)
        self.refused = False
        #: access token -> when it expires, by ``clock`` (real time unless a test gives its own)
        self.tokens: dict[str, datetime] = {}
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._numbers = itertools.count(36**5)
        self._token_numbers = itertools.count(1)
        self.route("POST", "/api/v1/access_token")(self._access_token)
        self.route("GET", r"/search(?:\.json)?")(self._search)
        self.route("GET", r"/r/(?P<sub>[A-Za-z0-9_]+)/search(?:\.json)?")(self._search)
        self.route("GET", r"/r/(?P<sub>[A-Za-z0-9_]+)/comments(?:\.json)?")(self._comments)

    # -- FakePlatform ---------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "type": "reddit", "interval": "10m", "timeout": "5s", "base_url": self.url,
            "token_url": f"{self.url}/api/v1/access_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "queries": [SCHOOL_NAME], "username": "ravenswood_it", "backfill": "14d",
        }

    def add_comment(self, text: str, *, author: str = "A Parent", at: datetime | None = None,
                    reply_to: str | None = None, subreddit: str = "Ravenstown", body: str = "") -> str:
        title, _, rest = text.partition("\n")
        post = FakeRedditPost(
            id=_base36(next(self._numbers)), title=title, selftext=body or rest,
            author="".join(ch for ch in author if ch.isalnum() or ch in "_-") or "someone",
            subreddit=subreddit, created=at or datetime.now(timezone.utc), keywords=SCHOOL_NAME,
        )
        self.posts.append(post)
        return f"t3_{post.id}"

    def add_subreddit_comment(self, text: str, *, post: str, author: str = "A Parent", at: datetime | None = None,
                              reply_to: str | None = None, subreddit: str = "Ravenstown") -> str:
        """A comment under ``post`` (a t3 fullname), or under another comment with ``reply_to``."""
        comment = FakeRedditComment(
            id=_base36(next(self._numbers)), body=text, author="".join(ch for ch in author if ch.isalnum()) or None,
            subreddit=subreddit, created=at or datetime.now(timezone.utc), link_id=post, parent_id=reply_to or post,
        )
        self.comments.append(comment)
        return f"t1_{comment.id}"

    def remove(self, native_id: str) -> None:
        self.posts = [p for p in self.posts if f"t3_{p.id}" != native_id]

    def add_malformed(self) -> None:
        self.add_comment("broken")
        self.posts[-1].malformed = True

    def expire_credentials(self) -> None:
        """The app's secret no longer works (regenerated, or the app revoked): its tokens neither."""
        self.refused = True
        self.tokens.clear()

    def renew_credentials(self) -> None:
        self.refused = False

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working before its hour is up (Reddit may revoke one)."""
        self.tokens.clear()

    # -- serving --------------------------------------------------------------------------

    def _limits(self) -> dict[str, str]:
        return {"X-Ratelimit-Used": str(self.used), "X-Ratelimit-Remaining": str(float(self.budget - self.used)),
                "X-Ratelimit-Reset": "300"}

    def _search(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        terms = request.query.get("q", "").casefold().replace('"', " ").split()
        sub = request.params.get("sub")
        found = sorted(
            (p for p in self.posts
             if all(t in f"{p.title} {p.selftext} {p.keywords}".casefold() for t in terms)
             and (sub is None or p.subreddit.casefold() == sub.casefold())),
            key=lambda p: p.created, reverse=True,
        )
        return self._listing(request, [self._render(p) for p in found])

    def _comments(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        sub = request.params["sub"].casefold()
        found = sorted((c for c in self.comments if c.subreddit.casefold() == sub), key=lambda c: c.created,
                       reverse=True)
        return self._listing(request, [self._render_comment(c) for c in found])

    def _access_token(self, request: Request) -> Response:
        if (blocked := _descriptive(request)) is not None:
            return blocked
        if self.refused or _basic(request.header("authorization")) != (CLIENT_ID, CLIENT_SECRET):
            return Response(401, {"message": "Unauthorized", "error": 401})
        if not (request.header("content-type") or "").startswith("application/x-www-form-urlencoded"):
            return Response(200, {"error": "unsupported_grant_type"})
        if request.form().get("grant_type") != "client_credentials":
            return Response(200, {"error": "unsupported_grant_type"})
        token = f"{next(self._token_numbers)}-fake-app-only-token"
        self.tokens[token] = self.clock() + TOKEN_LIFETIME
        return Response(200, {"access_token": token, "token_type": "bearer",
                              "expires_in": int(TOKEN_LIFETIME.total_seconds()), "scope": "*"})

    def _refused(self, request: Request) -> Response | None:
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Response(403, BLOCKED_PAGE, {"Content-Type": "text/html; charset=utf-8"}, reason="Blocked")
        if (blocked := _descriptive(request)) is not None:
            return blocked
        expires = self.tokens.get(token)
        if expires is None or self.clock() >= expires:
            return Response(401, {"message": "Unauthorized", "error": 401},
                            {"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'})
        self.used += 1
        if self.used > self.budget:
            return Response(429, {"message": "Too Many Requests", "error": 429}, self._limits())
        return None

    def _listing(self, request: Request, children: list[dict[str, Any]]) -> Response:
        start = 0
        if request.query.get("after"):
            names = [c["data"]["name"] for c in children]
            start = names.index(request.query["after"]) + 1 if request.query["after"] in names else len(children)
        limit = min(int(request.query.get("limit", 25)), self.page_size)
        page = children[start:start + limit]
        after = page[-1]["data"]["name"] if page and start + limit < len(children) else None
        body = {"kind": "Listing", "data": {"after": after, "before": None, "dist": len(page), "modhash": "",
                                            "children": page}}
        return Response(200, body, self._limits())

    def _render_comment(self, comment: FakeRedditComment) -> dict[str, Any]:
        post_id = comment.link_id.removeprefix("t3_")
        data: dict[str, Any] = {
            "id": comment.id, "name": f"t1_{comment.id}", "body": comment.body,
            "author": comment.author or "[deleted]", "subreddit": comment.subreddit,
            "created_utc": float(int(comment.created.timestamp())), "link_id": comment.link_id,
            "parent_id": comment.parent_id, "score": comment.score,
            "permalink": f"/r/{comment.subreddit}/comments/{post_id}/_/{comment.id}/",
            "link_title": next((p.title for p in self.posts if p.id == post_id), ""),
        }
        if comment.author:
            data["author_fullname"] = f"t2_{comment.author.lower()[:8]}"
        return {"kind": "t1", "data": data}

    def _render(self, post: FakeRedditPost) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": post.id, "name": f"t3_{post.id}", "title": post.title, "selftext": post.selftext,
            "subreddit": post.subreddit, "subreddit_name_prefixed": f"r/{post.subreddit}",
            "author": post.author if post.author else "[deleted]",
            "created_utc": "soon" if post.malformed else float(int(post.created.timestamp())),
            "permalink": f"/r/{post.subreddit}/comments/{post.id}/{post.title[:30].lower().replace(' ', '_')}/",
            "url": f"https://www.reddit.com/r/{post.subreddit}/comments/{post.id}/",
            "score": post.score, "num_comments": post.num_comments, "over_18": False, "is_self": True,
        }
        if post.author:
            data["author_fullname"] = f"t2_{post.author.lower()[:8]}"
        return {"kind": "t3", "data": data}


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def _descriptive(request: Request) -> Response | None:
    """Reddit's block for an empty or generic User-Agent; None when the client describes itself."""
    agent = (request.header("user-agent") or "").strip().lower()
    if agent and not agent.startswith(GENERIC_AGENTS):
        return None
    return Response(403, BLOCKED_PAGE, {"Content-Type": "text/html; charset=utf-8"}, reason="Blocked")


def _basic(header: str | None) -> tuple[str, str] | None:
    """The (user, password) of an HTTP Basic ``Authorization`` header, else None."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
