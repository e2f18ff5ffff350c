"""A fake news feed: RSS 2.0 at ``/feed.xml`` (Atom at ``/atom.xml``), with ETag and Last-Modified."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response


@dataclass
class FeedEntry:
    guid: str
    title: str
    link: str
    summary: str
    author: str
    published: datetime


class FakeFeed(FakePlatform):
    type = "rss"
    has_threads = False

    def __init__(self, title: str = "Local news: Ravens Wood School") -> None:
        super().__init__()
        self.title = title
        self.entries: list[FeedEntry] = []
        self.limit = 50  # like most feeds, only the newest entries are served
        self.broken: list[str] = []
        self.credentials_expired = False
        self._ids = itertools.count(1)
        self.route("GET", "/feed.xml")(self._serve_rss)
        self.route("GET", "/atom.xml")(self._serve_atom)

    # -- FakePlatform ---------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {"name": name, "type": "rss", "url": f"{self.url}/feed.xml", "interval": "5m", "timeout": "5s"}

    def add_comment(self, text: str, *, author: str = "Local Reporter", at: datetime | None = None,
                    reply_to: str | None = None) -> str:
        number = next(self._ids)
        guid = f"urn:news:{number}"
        title, _, summary = text.partition("\n")
        self.entries.append(
            FeedEntry(
                guid=guid, title=title, link=f"https://news.example.org/story/{number}", summary=summary,
                author=author, published=at or datetime.now(timezone.utc),
            )
        )
        return guid

    def remove(self, native_id: str) -> None:
        self.entries = [e for e in self.entries if e.guid != native_id]

    def add_malformed(self) -> None:
        # an item with neither title nor link: the connector must skip it and keep the rest
        self.broken.append("<item><description>no title, no link</description></item>")

    def expire_credentials(self) -> None:
        self.credentials_expired = True

    def renew_credentials(self) -> None:
        self.credentials_expired = False

    # -- serving --------------------------------------------------------------------------

    def _newest(self) -> list[FeedEntry]:
        return sorted(self.entries, key=lambda e: e.published, reverse=True)[: self.limit]

    def _validators(self, body: str) -> dict[str, str]:
        etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:16] + '"'
        newest = max((e.published for e in self.entries), default=datetime(2020, 1, 1, tzinfo=timezone.utc))
        return {"ETag": etag, "Last-Modified": format_datetime(newest.astimezone(timezone.utc), usegmt=True)}

    def _answer(self, request: Request, body: str, content_type: str) -> Response:
        if self.credentials_expired:
            return Response(401, "Unauthorized")
        headers = self._validators(body)
        if request.header("if-none-match") == headers["ETag"]:
            return Response(304, b"", headers)
        return Response(200, body, {**headers, "Content-Type": content_type})

    def _serve_rss(self, request: Request) -> Response:
        items = "".join(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(e.guid)}</guid>"
            f"<description>{escape(e.summary)}</description><author>{escape(e.author)}</author>"
            f"<pubDate>{format_datetime(e.published.astimezone(timezone.utc), usegmt=True)}</pubDate></item>"
            for e in self._newest()
        ) + "".join(self.broken)
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(self.title)}</title><link>https://news.example.org/</link>"
            f"<description>News</description>{items}</channel></rss>"
        )
        return self._answer(request, body, "application/rss+xml; charset=utf-8")

    def _serve_atom(self, request: Request) -> Response:
        entries = "".join(
            f"<entry><id>{escape(e.guid)}</id><title type=\"html\">{escape(e.title)}</title>"
            f"<link href=\"{escape(e.link)}\"/><updated>{e.published.isoformat()}</updated>"
            f"<content type=\"html\">{escape(e.summary)}</content><author><name>{escape(e.author)}</name></author></entry>"
            for e in self._newest()
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(self.title)}</title><id>urn:feed</id><updated>2026-01-01T00:00:00Z</updated>{entries}</feed>"
        )
        return self._answer(request, body, "application/atom+xml; charset=utf-8")
