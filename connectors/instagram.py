"""An Instagram business or creator account through the Graph API: comments, replies and tags.

One poll reads the account's media back to ``comment_window``, the comments of each media that
has any (``comments_count``), each with its replies nested (``replies{...}``), and the media the
account is tagged in (``/tags``, as mentions). The comments edge promises no order and a reply
can arrive under an old comment, so every page of comments is read; only the records at or after
the checkpoint (the newest ``timestamp`` already committed, less a small overlap) are returned.

The school's own replies are recognised by username, which Instagram always reports, rather than
by ``from.id``, which it may withhold.

Requests per idle poll: one for the media and one for ``/tags`` (when ``tags = true``). The
comments of a media are read again only when its ``comments_count`` has changed since the last
poll (a new comment or reply raises it), and all of them once every ``FULL_READ_EVERY``, in case a
deletion and a new comment left a count unchanged: that read goes back to the previous full read,
so such a comment is late by at most an hour, never lost.

Asking whether a comment still exists is one ``/{comment-id}?fields=id,hidden``: a comment the
account hid counts as gone; a tagged media has no ``hidden`` field, so for a mention the answer is
"cannot tell". A comment that "does not exist" (100/33) is *not* taken for deleted: Meta does not
return comments by an account that the school restricted ("Comments created by IG users who have
been restricted by the app user are not returned unless the IG user is unrestricted and the comment
is approved", IG Comment reference, Limitations), and such a comment answers exactly as a deleted
one. It is still there, waiting for the school to approve or delete it, so the answer is "cannot
tell" and its case stays open until a person acknowledges it.

Media that tag the account (``/tags``) are posts made elsewhere: mentions, with no case to answer.

Permissions: ``instagram_basic``, ``instagram_manage_comments``, ``pages_read_engagement``, and,
when the token's user has their role on the linked Page through Business Manager, ``ads_read``
or ``ads_management`` as well (IG Comment and IG Media reference, Requirements).
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

OVERLAP = timedelta(minutes=5)
#: how often every media's comments are read, whether or not its count changed
FULL_READ_EVERY = timedelta(hours=1)
MEDIA_FIELDS = "id,caption,timestamp,permalink,comments_count,like_count,username"
REPLY_FIELDS = "id,text,timestamp,username,from,parent_id,like_count"
COMMENT_FIELDS = f"id,text,timestamp,username,from,hidden,like_count,replies{{{REPLY_FIELDS}}}"
RAW_KEYS = ("id", "timestamp", "username", "from", "parent_id", "hidden", "permalink")


class InstagramSettings(GraphSettings):
    type: Literal["instagram"] = "instagram"
    #: the Instagram professional account's id (the ig-user-id, not the Facebook Page id)
    user_id: str
    #: the account's username, without @: replies written under it are the school's
    username: str
    # token: a long-lived access token with instagram_basic and instagram_manage_comments
    comment_window: duration("1h", "400d") = timedelta(days=14)
    max_media: int = Field(50, ge=1, le=500)
    #: media by others that tag the account are collected as mentions
    tags: bool = True
    page_size: int = Field(50, ge=1, le=100)


class InstagramConnector(GraphConnector):
    type = "instagram"
    Settings = InstagramSettings
    platform = "Instagram"
    lookup_fields = "id,hidden"
    hidden_field = "hidden"  # a comment the account hid is gone for the public
    missing_means_gone = False  # deleted, or by an account the school restricted: see the module docstring
    mentions_need_ack = False
    renew_hint = (
        "the account's long-lived Instagram token lasts 60 days: a Page admin must generate a new one "
        "(Meta Business Suite, or the Graph API Explorer with instagram_basic and instagram_manage_comments) "
        "and update the source's token (with ads_read too when the Page role comes through Business Manager)"
    )

    # Writes (IG Comment and IG Comment Replies reference): POST /{ig-comment-id}/replies with message
    # (a reply to a reply joins its top-level comment), POST /{ig-comment-id} hide=true, and
    # DELETE /{ig-comment-id}; each needs instagram_manage_comments.
    supported_actions = frozenset({"reply", "hide", "delete", "notice"})
    action_scopes = dict.fromkeys(supported_actions, "instagram_manage_comments")
    reply_edge, hide_param, text_field, time_field = "replies", "hide", "text", "timestamp"
    reply_fields = "id,text,timestamp,username"

    def by_school(self, record: dict[str, Any]) -> bool:
        return record.get("username") == self.settings.username  # type: ignore[attr-defined]

    def owner_edge(self) -> str:
        return f"{self.settings.user_id}/media"  # type: ignore[attr-defined]

    def missing_unclear(self, native_id: str) -> bool | None:
        logger.info("source=%s comment %s is not returned by Instagram: deleted, or its author is restricted "
                    "by the account (then it awaits approval); its case stays open", self.name, native_id)
        return None

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        settings: InstagramSettings = self.settings  # type: ignore[assignment]
        self.graph.start_poll()
        now = self.clock()
        since = checkpoint(cursor, self.name)
        floor = since - OVERLAP if since else None
        known, last_full = _comment_counts(cursor)
        full_read = last_full is None or not timedelta(0) <= now - last_full < FULL_READ_EVERY  # or the clock went back
        comment_floor = min(floor, last_full - OVERLAP) if full_read and floor and last_full else floor
        items: list[Item] = []
        counts: dict[str, int] = {}
        for media, record in self._recent_media(now - settings.comment_window, settings.max_media):
            if floor is None or media.created_at >= floor:
                items.append(media)
            count = record.get("comments_count")
            if count == 0:
                continue
            if isinstance(count, int) and not isinstance(count, bool):
                counts[media.native_id] = count
                if not full_read and known.get(media.native_id) == count:
                    continue
            items.extend(i for i in self._comments(media) if comment_floor is None or i.created_at >= comment_floor)
        if settings.tags:
            items.extend(self._tags(floor or now - settings.comment_window))
        result = next_cursor(items, since, self.clock(), cursor)
        if counts:
            read_at = now if full_read else last_full
            result = {**(result or {}), "comment_counts": counts, "full_read_at": read_at.isoformat()}
        return items, result

    # -- reading --------------------------------------------------------------------------

    def _recent_media(self, window_start: datetime, limit: int) -> list[tuple[Item, dict[str, Any]]]:
        user_id = self.settings.user_id  # type: ignore[attr-defined]
        params = {"fields": MEDIA_FIELDS, "limit": self.settings.page_size}  # type: ignore[attr-defined]
        records: dict[str, dict[str, Any]] = {}

        def to_item(record: Any) -> Item | None:
            media = self._item(record, lambda r: {"kind": "post", "by_school": True, "thread_id": r["id"],
                                                  "author_handle": self.settings.username})  # type: ignore[attr-defined]
            if media is not None:
                records[media.native_id] = record
            return media

        found = newest_first(self.owner_pages(f"{user_id}/media", params), to_item, window_start, limit)
        return [(media, records[media.native_id]) for media in found]

    def _comments(self, media: Item) -> list[Item]:
        found: list[Item] = []
        params = {"fields": COMMENT_FIELDS, "limit": self.settings.page_size}  # type: ignore[attr-defined]
        try:
            for page in self.graph.pages(f"{media.native_id}/comments", params):
                for record in page:
                    comment = self._item(record, lambda r: self._comment_fields(r, media, None))
                    if comment is None:
                        continue
                    found.append(comment)
                    found.extend(self._replies(record, comment, media))
        except GraphObjectMissing:
            logger.info("source=%s media %s disappeared while its comments were read", self.name, media.native_id)
        return found

    def _replies(self, record: dict[str, Any], comment: Item, media: Item) -> list[Item]:
        nested = record.get("replies")
        if not isinstance(nested, dict):
            return []
        records = list(nested.get("data") or []) if isinstance(nested.get("data"), list) else []
        paging = nested.get("paging") if isinstance(nested.get("paging"), dict) else {}
        if paging.get("next"):  # more replies than fit in the nested edge: read them all from their own edge
            params = {"fields": REPLY_FIELDS, "limit": self.settings.page_size}  # type: ignore[attr-defined]
            records = [r for page in self.graph.pages(f"{comment.native_id}/replies", params) for r in page]
        replies = (self._item(r, lambda r: self._comment_fields(r, media, comment.native_id)) for r in records)
        return [reply for reply in replies if reply is not None]

    def _tags(self, floor: datetime) -> list[Item]:
        user_id = self.settings.user_id  # type: ignore[attr-defined]
        params = {"fields": MEDIA_FIELDS, "limit": self.settings.page_size}  # type: ignore[attr-defined]
        to_item = lambda r: self._item(r, lambda r: {"kind": "mention", "thread_id": r["id"],  # noqa: E731
                                                     "by_school": self._is_school(r), **_author(r)})
        return newest_first(self.owner_pages(f"{user_id}/tags", params), to_item, floor)

    # -- records to items -------------------------------------------------------------------

    def _item(self, record: Any, fields) -> Item | None:
        try:
            if not isinstance(record, dict):
                raise TypeError("record is not an object")
            return Item(source=self.name, **{**_common(record), **fields(record)})
        except MALFORMED as exc:
            self.graph.skip(record, str(exc))
            return None

    def _comment_fields(self, record: dict[str, Any], media: Item, parent: str | None) -> dict[str, Any]:
        parent_id = record.get("parent_id") if parent else None
        return {
            "kind": "reply" if parent else "comment",
            "parent_id": str(parent_id or parent or media.native_id),
            "thread_id": media.native_id,
            "url": media.url,
            "by_school": self._is_school(record),
            **_author(record),
        }

    def _is_school(self, record: dict[str, Any]) -> bool:
        username = record.get("username")
        if isinstance(username, str) and username:
            return username.casefold() == self.settings.username.casefold()  # type: ignore[attr-defined]
        author = record.get("from")
        return isinstance(author, dict) and str(author.get("id")) == self.settings.user_id  # type: ignore[attr-defined]


def _comment_counts(cursor: Cursor | None) -> tuple[dict[str, int], datetime | None]:
    """The comment count of each media at the last poll, and when all comments were last read."""
    if not isinstance(cursor, dict):
        return {}, None
    counts = cursor.get("comment_counts")
    try:
        last_full = parse_timestamp(cursor["full_read_at"]) if cursor.get("full_read_at") else None
    except (TypeError, ValueError):
        last_full = None
    if not isinstance(counts, dict) or last_full is None:
        return {}, None
    return {str(k): v for k, v in counts.items() if isinstance(v, int)}, last_full


def _common(record: dict[str, Any]) -> dict[str, Any]:
    native_id = record["id"]
    if not isinstance(native_id, str) or not native_id:
        raise ValueError("record has no id")
    text = record.get("text", record.get("caption")) or ""
    if not isinstance(text, str):
        raise TypeError("text is not a string")
    likes, comments = record.get("like_count"), record.get("comments_count")
    counts = [v for v in (likes, comments) if isinstance(v, int) and not isinstance(v, bool)]
    url = record.get("permalink")
    return {
        "native_id": native_id,
        "text": text,
        "created_at": parse_timestamp(record["timestamp"]),
        "url": url if isinstance(url, str) and url else None,
        "engagement": sum(counts) if counts else None,
        "raw": small_raw(record, RAW_KEYS),
    }


def _author(record: dict[str, Any]) -> dict[str, Any]:
    """The author's handle and id; None for both when the account was deleted."""
    username = record.get("username")
    author = record.get("from") if isinstance(record.get("from"), dict) else {}
    handle = username if isinstance(username, str) and username else author.get("username")
    author_id = author.get("id")
    return {
        "author_handle": handle if isinstance(handle, str) and handle else None,
        "author_id": str(author_id) if author_id else None,
    }
