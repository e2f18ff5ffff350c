"""A fake Reddit: the JSON search listing (``/search.json``, ``/r/<sub>/search.json``) and a
subreddit's comment listing (``/r/<sub>/comments.json``), newest first.

Every answer carries ``X-Ratelimit-Used/Remaining/Reset``; a configured bearer token can be expired
(401). Search matches every word of the query in a post's title, body or ``keywords`` (what Reddit's
index knows about a post beyond its text, e.g. the title of a linked article).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from monitor.fakes.base import FakePlatform
from monitor.fakes.server import Request, Response

TOKEN = "fake-reddit-token"
SCHOOL_NAME = "Ravens Wood School"


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

    def __init__(self, *, page_size: int = 5, budget: int = 1000) -> None:
        super().__init__()
        self.page_size = page_size
        self.budget = budget
        self.used = 0
        self.posts: list[FakeRedditPost] = []
        self.comments: list[FakeRedditComment] = []
        self.expired = False
        self._numbers = itertools.count(36**5)
        self.route("GET", "/search.json")(self._search)
        self.route("GET", r"/r/(?P<sub>[A-Za-z0-9_]+)/search.json")(self._search)
        self.route("GET", r"/r/(?P<sub>[A-Za-z0-9_]+)/comments.json")(self._comments)

    # -- FakePlatform ---------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "type": "reddit", "interval": "10m", "timeout": "5s", "base_url": self.url,
            "queries": [SCHOOL_NAME], "token": TOKEN, "username": "ravenswood_it", "backfill": "14d",
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
        self.expired = True

    def renew_credentials(self) -> None:
        self.expired = False

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

    def _refused(self, request: Request) -> Response | None:
        if self.expired or request.header("authorization", f"Bearer {TOKEN}") != f"Bearer {TOKEN}":
            return Response(401, {"message": "Unauthorized", "error": 401})
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
