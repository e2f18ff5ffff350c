"""A Facebook Page through the Graph API: its posts, visitor posts, every comment and reply, tags.

One poll reads the posts that tag the Page (``/tagged``) back to ``comment_window``, the Page's
feed (its own posts and visitor posts) as far back, and the comments of each of those posts with
``filter=stream`` (replies included) newest first. The feed holds the posts that tag the Page too
(developers.facebook.com/docs/graph-api/reference/page/feed: "public posts in which the Page has
been tagged"): those found in ``/tagged`` are mentions made elsewhere, not visitor posts, so they
need no acknowledgement and their comments are not read. Comments have no ``since`` parameter:
reading stops at the checkpoint, the newest ``created_time`` already committed, less a small
overlap so that a comment that became visible late is still caught (the store drops the repeats).

Requests per idle poll: one for ``/tagged``, one for the feed, one per post inside
``comment_window``. Asking whether a comment still exists is one ``/{object-id}?fields=id,is_hidden``:
a comment or visitor post the Page hid counts as gone (the Page dealt with it), as on Instagram.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.base import MALFORMED, Cursor, Item, parse_timestamp, small_raw
from connectors.graph import GraphConnector, GraphObjectMissing, GraphSettings, checkpoint, newest_first, next_cursor
from pydantic import Field

from monitor.config import duration

logger = logging.getLogger(__name__)

#: a comment may become visible a little after its created_time: read this far behind the checkpoint
OVERLAP = timedelta(minutes=5)
POST_FIELDS = "id,message,created_time,from{id,name},permalink_url,shares"
COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},permalink_url,like_count,comment_count"
RAW_KEYS = ("id", "created_time", "from", "parent", "permalink_url")


class FacebookSettings(GraphSettings):
    type: Literal["facebook"] = "facebook"
    #: the Page's numeric id
    page_id: str
    # token: a Page access token of an admin or moderator of the Page (comment ids are withheld otherwise)
    #: comments are read on the posts published within this window
    comment_window: duration("1h", "400d") = timedelta(days=14)
    #: at most this many recent posts are watched for comments
    max_posts: int = Field(50, ge=1, le=500)
    #: posts by others that tag the Page are collected as mentions (never as comments to answer)
    tagged: bool = True
    page_size: int = Field(100, ge=1, le=100)


class FacebookConnector(GraphConnector):
    type = "facebook"
    Settings = FacebookSettings
    platform = "Facebook"
    # a hidden comment stays "present" to the API (Comment.is_hidden, changelog v2.2)
    lookup_fields = "id,is_hidden"
    hidden_field = "is_hidden"
    mentions_need_ack = False
    renew_hint = (
        "a Page admin must generate a new Page access token (Meta Business Suite > Settings, or the "
        "Graph API Explorer with pages_read_engagement and pages_read_user_content) and update the "
        "source's token"
    )

    # Writes (developers.facebook.com/docs/graph-api/reference/comment): a reply is published with
    # POST /{comment-id}/comments, hidden with POST /{comment-id} is_hidden=true, removed with
    # DELETE /{comment-id}; each needs a Page access token with pages_manage_engagement.
    supported_actions = frozenset({"reply", "hide", "delete", "notice"})
    action_scopes = dict.fromkeys(supported_actions, "pages_manage_engagement")
    reply_edge, hide_param, text_field, time_field = "comments", "is_hidden", "message", "created_time"
    reply_fields = "id,message,created_time,from{id}"

    def by_school(self, record: dict[str, Any]) -> bool:
        return _author(record)[0] == self.page_id

    @property
    def page_id(self) -> str:
        return self.settings.page_id  # type: ignore[attr-defined]

    def owner_edge(self) -> str:
        return f"{self.page_id}/feed"

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        settings: FacebookSettings = self.settings  # type: ignore[assignment]
        self.graph.start_poll()
        since = checkpoint(cursor, self.name)
        window_start = self.clock() - settings.comment_window
        floor = since - OVERLAP if since else None
        tags = self._tagged(window_start)
        tagging = {tag.native_id for tag in tags}
        items: list[Item] = [t for t in tags if floor is None or t.created_at >= floor] if settings.tagged else []
        for post in self._recent_posts(window_start, settings.max_posts):
            if post.native_id in tagging:
                continue  # a post elsewhere that tags the Page: a mention (above), not a thread of the Page
            if floor is None or post.created_at >= floor:
                items.append(post)
            items.extend(self._comments(post.native_id, floor))
        return items, next_cursor(items, since, self.clock(), cursor)

    # -- reading --------------------------------------------------------------------------

    def _recent_posts(self, window_start: datetime, limit: int) -> list[Item]:
        params = {"fields": POST_FIELDS, "limit": self.settings.page_size}  # type: ignore[attr-defined]
        pages = self.owner_pages(f"{self.page_id}/feed", params)
        return newest_first(pages, lambda r: self._item(r, self._post_fields), window_start, limit)

    def _comments(self, post_id: str, floor: datetime | None) -> list[Item]:
        params = {
            "fields": COMMENT_FIELDS,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": self.settings.page_size,  # type: ignore[attr-defined]
        }
        pages = self.graph.pages(f"{post_id}/comments", params)
        try:
            return newest_first(pages, lambda r: self._item(r, lambda r: self._comment_fields(r, post_id)), floor)
        except GraphObjectMissing:
            logger.info("source=%s post %s disappeared while its comments were read", self.name, post_id)
            return []

    def _tagged(self, floor: datetime) -> list[Item]:
        params = {"fields": POST_FIELDS, "limit": self.settings.page_size}  # type: ignore[attr-defined]
        pages = self.owner_pages(f"{self.page_id}/tagged", params)
        return newest_first(pages, lambda r: self._item(r, self._tagged_fields), floor)

    # -- records to items -------------------------------------------------------------------

    def _item(self, record: Any, fields) -> Item | None:
        try:
            if not isinstance(record, dict):
                raise TypeError("record is not an object")
            return Item(source=self.name, **_common(record), **fields(record))
        except MALFORMED as exc:
            self.graph.skip(record, str(exc))
            return None

    def _post_fields(self, record: dict[str, Any]) -> dict[str, Any]:
        by_school = _author(record)[0] == self.page_id
        return {"kind": "post" if by_school else "comment", "by_school": by_school, "thread_id": record["id"],
                "engagement": _count(record.get("shares"))}

    def _tagged_fields(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "mention", "by_school": _author(record)[0] == self.page_id, "thread_id": record["id"]}

    def _comment_fields(self, record: dict[str, Any], post_id: str) -> dict[str, Any]:
        parent = record.get("parent")
        parent_id = parent.get("id") if isinstance(parent, dict) else None
        likes, replies = record.get("like_count"), record.get("comment_count")
        engagement = sum(v for v in (likes, replies) if isinstance(v, int)) if (likes, replies) != (None, None) else None
        return {
            "kind": "reply" if parent_id else "comment",
            "parent_id": str(parent_id) if parent_id else post_id,
            "thread_id": post_id,
            "by_school": _author(record)[0] == self.page_id,
            "engagement": engagement,
        }


def _common(record: dict[str, Any]) -> dict[str, Any]:
    native_id = record["id"]
    if not isinstance(native_id, str) or not native_id:
        raise ValueError("record has no id")
    text = record.get("message") or ""
    if not isinstance(text, str):
        raise TypeError("message is not text")
    author_id, author_name = _author(record)
    url = record.get("permalink_url")
    return {
        "native_id": native_id,
        "text": text,
        "created_at": parse_timestamp(record["created_time"]),
        "url": url if isinstance(url, str) and url else f"https://www.facebook.com/{native_id}",
        "author_id": author_id,
        "author_name": author_name,
        "raw": small_raw(record, RAW_KEYS),
    }


def _author(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """(id, name) of ``from``; both None when Facebook withholds it or the account was deleted."""
    author = record.get("from")
    if not isinstance(author, dict):
        return None, None
    author_id, name = author.get("id"), author.get("name")
    return (str(author_id) if author_id else None), (name if isinstance(name, str) and name else None)


def _count(value: Any) -> int | None:
    if isinstance(value, dict) and isinstance(value.get("count"), int):
        return value["count"]
    return None

