"""A fake YouTube Data API v3: ``commentThreads`` and ``comments`` for one channel.

Threads are served newest first (``order=time``) with ``nextPageToken`` paging; each embeds at most
``embedded_replies`` replies, the rest are read through ``comments?parentId=``; ``comments?id=``
looks comments up by id (a deleted one is simply absent from ``items``). A wrong or expired API key
gets the documented 401 ``authError`` body.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from monitor.fakes.base import FakePlatform
from monitor.fakes.server import Request, Response

SCHOOL_CHANNEL = "UCravenswood00000000000a"
SCHOOL_NAME = "Ravens Wood School"


@dataclass
class FakeComment:
    id: str
    video_id: str
    text: str
    published: datetime
    author_name: str | None
    author_channel: str | None
    parent: str | None = None
    likes: int = 0
    malformed: bool = False


class FakeYouTube(FakePlatform):
    type = "youtube"

    def __init__(self, *, page_size: int = 5, embedded_replies: int = 5) -> None:
        super().__init__()
        self.page_size = page_size
        self.embedded_replies = embedded_replies
        self.api_key = "fake-youtube-key"
        self.expired = False
        self.comments: list[FakeComment] = []
        self.video_id = "dQw4w9WgXcQ"
        self._numbers = itertools.count(1)
        self.route("GET", "/youtube/v3/commentThreads")(self._serve_threads)
        self.route("GET", "/youtube/v3/comments")(self._serve_comments)

    # -- FakePlatform ---------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "type": "youtube", "official": True, "interval": "5m", "timeout": "5s",
            "base_url": f"{self.url}/youtube/v3", "channel_id": SCHOOL_CHANNEL, "api_key": self.api_key,
            "backfill": "14d",
        }

    def add_comment(self, text: str, *, author: str = "A Parent", at: datetime | None = None,
                    reply_to: str | None = None, likes: int = 0) -> str:
        channel = "UC" + hashlib.sha256(author.encode()).hexdigest()[:22]
        return self._add(text, author, channel, at, reply_to, likes)

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._add(text, SCHOOL_NAME, SCHOOL_CHANNEL, at, to, 0)

    def add_school_comment(self, text: str, *, at: datetime | None = None) -> str:
        return self._add(text, SCHOOL_NAME, SCHOOL_CHANNEL, at, None, 0)

    def remove(self, native_id: str) -> None:
        self.comments = [c for c in self.comments if native_id not in (c.id, c.parent)]

    def add_malformed(self) -> None:
        comment = self._new(text="broken", author_name="x", author_channel=None, at=None, parent=None, likes=0)
        comment.malformed = True
        self.comments.append(comment)

    def expire_credentials(self) -> None:
        self.expired = True

    def renew_credentials(self) -> None:
        self.expired = False

    # -- state ----------------------------------------------------------------------------

    def _add(self, text: str, author: str | None, channel: str | None, at: datetime | None,
             reply_to: str | None, likes: int) -> str:
        parent = None
        if reply_to is not None:
            target = next(c for c in self.comments if c.id == reply_to)
            parent = target.parent or target.id  # YouTube threads are flat
        comment = self._new(text=text, author_name=author, author_channel=channel, at=at, parent=parent, likes=likes)
        self.comments.append(comment)
        return comment.id

    def _new(self, *, text, author_name, author_channel, at, parent, likes) -> FakeComment:
        number = next(self._numbers)
        if parent:
            comment_id = f"{parent}.{number:08d}AbCd"
            video = next(c.video_id for c in self.comments if c.id == parent)
        else:
            comment_id = f"Ugz{number:08d}fakeThread4AaABAg"
            video = self.video_id
        return FakeComment(id=comment_id, video_id=video, text=text, published=at or datetime.now(timezone.utc),
                           author_name=author_name, author_channel=author_channel, parent=parent, likes=likes)

    def _top_level(self) -> list[FakeComment]:
        return sorted((c for c in self.comments if c.parent is None), key=lambda c: c.published, reverse=True)

    def _replies_of(self, thread_id: str) -> list[FakeComment]:
        return sorted((c for c in self.comments if c.parent == thread_id), key=lambda c: c.published)

    # -- serving --------------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        if self.expired or request.query.get("key") != self.api_key:
            return Response(401, {"error": {
                "code": 401, "message": "Request had invalid authentication credentials.",
                "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                            "location": "Authorization", "locationType": "header"}],
                "status": "UNAUTHENTICATED"}})
        return None

    def _page(self, request: Request, records: list[Any], kind: str, render) -> Response:
        size = min(int(request.query.get("maxResults", 20)), self.page_size)
        start = int(request.query.get("pageToken", "0").removeprefix("CDIQAA") or 0)
        page = records[start:start + size]
        body: dict[str, Any] = {
            "kind": kind, "etag": "fake-etag",
            "pageInfo": {"totalResults": len(records), "resultsPerPage": size},
            "items": [render(record) for record in page],
        }
        if start + size < len(records):
            body["nextPageToken"] = f"CDIQAA{start + size}"
        return Response(200, body)

    def _serve_threads(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        if request.query.get("allThreadsRelatedToChannelId") != SCHOOL_CHANNEL:
            return Response(404, {"error": {"code": 404, "message": "channel not found",
                                            "errors": [{"reason": "channelNotFound"}]}})
        return self._page(request, self._top_level(), "youtube#commentThreadListResponse", self._render_thread)

    def _serve_comments(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        if "id" in request.query:
            return self._serve_lookup(request)
        replies = self._replies_of(request.query.get("parentId", ""))
        return self._page(request, replies, "youtube#commentListResponse", self._render_comment)

    def _serve_lookup(self, request: Request) -> Response:
        """``comments.list?id=a,b``: the comments that exist among those named, none for a deleted one."""
        if "parentId" in request.query:
            return Response(400, {"error": {
                "code": 400, "message": "Incompatible parameters specified in the request: id, parentId",
                "errors": [{"domain": "youtube.parameter", "reason": "incompatibleParameters"}]}})
        wanted = request.query["id"].split(",")
        found = [c for c in self.comments if c.id in wanted]
        parts = set(request.query.get("part", "").split(","))
        render = self._render_comment if "snippet" in parts else self._render_id
        return Response(200, {"kind": "youtube#commentListResponse", "etag": "fake-etag",
                              "items": [render(comment) for comment in found]})

    @staticmethod
    def _render_id(comment: FakeComment) -> dict[str, Any]:
        return {"kind": "youtube#comment", "etag": "e", "id": comment.id}

    def _render_thread(self, top: FakeComment) -> dict[str, Any]:
        replies = self._replies_of(top.id)
        thread: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": "e", "id": top.id,
            "snippet": {
                "channelId": SCHOOL_CHANNEL, "videoId": top.video_id, "topLevelComment": self._render_comment(top),
                "canReply": True, "totalReplyCount": len(replies), "isPublic": True,
            },
        }
        if replies:
            thread["replies"] = {"comments": [self._render_comment(r) for r in replies[: self.embedded_replies]]}
        return thread

    def _render_comment(self, comment: FakeComment) -> dict[str, Any]:
        published = comment.published.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        snippet: dict[str, Any] = {
            "channelId": SCHOOL_CHANNEL, "textDisplay": comment.text, "textOriginal": comment.text,
            "canRate": True, "viewerRating": "none", "likeCount": comment.likes,
            "publishedAt": "not a date" if comment.malformed else published, "updatedAt": published,
        }
        if comment.parent is None:
            snippet["videoId"] = comment.video_id
        else:
            snippet["parentId"] = comment.parent
        if comment.author_name is not None:
            snippet["authorDisplayName"] = comment.author_name
            snippet["authorProfileImageUrl"] = "https://yt3.ggpht.com/fake"
        if comment.author_channel is not None:
            snippet["authorChannelId"] = {"value": comment.author_channel}
            snippet["authorChannelUrl"] = f"http://www.youtube.com/@{(comment.author_name or 'x').replace(' ', '')}"
        return {"kind": "youtube#comment", "etag": "e", "id": comment.id, "snippet": snippet}
