"""YouTube Data API v3: comments and replies on the school channel's videos.

One poll reads ``commentThreads?allThreadsRelatedToChannelId=...&order=time`` newest first and
stops at a horizon: the older of the checkpoint (the newest thread seen) and the reply window.
Threads inside the reply window are re-read because a reply does not move its thread: the cursor
keeps each recent thread's ``totalReplyCount``, and only a thread whose count changed has its
replies read, from those embedded or, when more exist, through ``comments?parentId=``.
An idle poll therefore costs one request (one quota unit) while the recent threads fit on a page.

Every request costs quota, counted per Pacific day (when Google resets it) and shown by
``monitor status``; ``quotaExceeded`` waits until the next Pacific midnight. Asking whether a
comment still exists (``comments?id=``) costs one unit too.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

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
    parse_timestamp,
    skip_record,
    small_raw,
)
from connectors.webapi import body_json, expect_json, reset_time, send
from monitor.config import Duration

logger = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"}
AUTH_REASONS = {"authError", "keyInvalid", "keyExpired", "forbidden", "accessNotConfigured",
                "insufficientPermissions", "ipRefererBlocked"}
TEXT_LIMIT = 10000
#: what a comment id is made of; anything else (a comma would ask for several) is not looked up
COMMENT_ID = re.compile(r"[A-Za-z0-9_.-]+")


class YouTubeSettings(SourceSettings):
    type: Literal["youtube"] = "youtube"
    base_url: str = "https://www.googleapis.com/youtube/v3"
    #: the school's channel id (UC...): its videos are read, and its replies close cases
    channel_id: str = Field(pattern=r"^[A-Za-z0-9_-]{10,40}$")
    #: an API key (enough for public comments) or an OAuth access token: one of the two
    api_key: Secret | None = None
    token: Secret | None = None
    page_size: int = Field(default=100, ge=1, le=100)
    #: how far back the first poll reads
    backfill: Duration = timedelta(days=7)
    #: threads this recent are re-read for new replies
    reply_window: Duration = timedelta(days=3)

    @model_validator(mode="after")
    def _one_credential(self) -> "YouTubeSettings":
        if self.api_key is None and self.token is None:
            raise ValueError("set api_key (an API key) or token (an OAuth access token)")
        return self


class YouTubeConnector(Connector):
    type = "youtube"
    Settings = YouTubeSettings
    renew_hint = (
        "renew the API key (Google Cloud console > APIs & Services > Credentials, YouTube Data API v3 "
        "enabled) or the OAuth token, and update api_key/token in the configuration"
    )

    def __init__(self, settings: SourceSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.quota_day: str | None = None
        self.quota_units = 0

    # -- the poll -------------------------------------------------------------------------

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        cursor = dict(cursor or {})
        self._restore_quota(cursor.get("quota"))
        now = self.clock()
        window_start = now - self.settings.reply_window
        checkpoint = _optional_time(cursor.get("checkpoint"))
        horizon = min(checkpoint or now - self.settings.backfill, window_start)
        known: dict[str, int] = dict(cursor.get("threads") or {})
        items: list[Item] = []
        threads: dict[str, int] = {}
        newest = checkpoint
        for thread in self._threads(horizon):
            try:
                top, count, embedded = self._parse_thread(thread)
            except MALFORMED as exc:
                skip_record(self.name, thread, str(exc))
                continue
            newest = max(newest, top.created_at) if newest else top.created_at
            if top.native_id not in known:
                items.append(top)
            if count and count != known.get(top.native_id, 0):
                items.extend(self._replies(top, count, embedded))
            if top.created_at >= window_start:
                threads[top.native_id] = count
        next_cursor = {
            "checkpoint": newest.isoformat() if newest else None,
            "threads": threads,
            "quota": {"day": self.quota_day, "units": self.quota_units},
        }
        return items, next_cursor

    def status(self) -> dict[str, Any]:
        self._roll_quota_day()
        return {"quota_units_today": self.quota_units}

    def exists(self, native_id: str) -> bool | None:
        """``comments.list?id=...&part=id``, one quota unit: a deleted comment comes back as no items."""
        if not isinstance(native_id, str) or not COMMENT_ID.fullmatch(native_id):
            return None
        data = self._get("comments", {"part": "id", "id": native_id})
        if not isinstance(data.get("items"), list):
            raise TransientError("YouTube answered a comment lookup without a list of items")
        found = [record.get("id") if isinstance(record, dict) else None for record in data["items"]]
        if native_id in found:
            return True
        if found:
            raise TransientError(f"YouTube answered the lookup of comment {native_id} with other records")
        return False

    def _threads(self, horizon: datetime):
        """Comment threads newest first, down to the first one older than ``horizon``."""
        page_token = None
        while True:
            params = {
                "part": "snippet,replies",
                "allThreadsRelatedToChannelId": self.settings.channel_id,
                "order": "time",
                "maxResults": self.settings.page_size,
                "textFormat": "plainText",
            }
            if page_token:
                params["pageToken"] = page_token
            data = self._get("commentThreads", params)
            for thread in _records(data):
                published = _thread_time(thread)
                if published is not None and published < horizon:
                    return
                yield thread
            page_token = data.get("nextPageToken")
            if not page_token:
                return

    def _replies(self, top: Item, count: int, embedded: list[Any]) -> list[Item]:
        records = embedded
        if count > len(embedded):
            records = list(self._all_replies(top.native_id))
        replies = []
        for record in records:
            try:
                replies.append(self._to_item(record, parent=top))
            except MALFORMED as exc:
                skip_record(self.name, record, str(exc))
        return replies

    def _all_replies(self, parent_id: str):
        page_token = None
        while True:
            params = {"part": "snippet", "parentId": parent_id, "maxResults": 100, "textFormat": "plainText"}
            if page_token:
                params["pageToken"] = page_token
            data = self._get("comments", params)
            yield from _records(data)
            page_token = data.get("nextPageToken")
            if not page_token:
                return

    # -- records --------------------------------------------------------------------------

    def _parse_thread(self, thread: Any) -> tuple[Item, int, list[Any]]:
        snippet = thread["snippet"]
        top = self._to_item(snippet["topLevelComment"], video_id=snippet.get("videoId"))
        count = snippet.get("totalReplyCount") or 0
        if not isinstance(count, int):
            raise ValueError(f"totalReplyCount is not a number: {count!r}")
        embedded = (thread.get("replies") or {}).get("comments") or []
        return top, count, embedded if isinstance(embedded, list) else []

    def _to_item(self, comment: Any, *, parent: Item | None = None, video_id: str | None = None) -> Item:
        comment_id = comment["id"]
        snippet = comment["snippet"]
        if not isinstance(comment_id, str) or not comment_id:
            raise ValueError("comment without an id")
        text = snippet.get("textOriginal")
        if text is None:
            text = snippet.get("textDisplay") or ""
        author = snippet.get("authorChannelId")
        author_id = author.get("value") if isinstance(author, dict) else None
        video_id = video_id or snippet.get("videoId") or (parent.thread_id if parent else None)
        likes = snippet.get("likeCount")
        return Item(
            source=self.name,
            native_id=comment_id,
            kind="reply" if parent else "comment",
            text=str(text)[:TEXT_LIMIT],
            created_at=parse_timestamp(snippet["publishedAt"]),
            url=_permalink(video_id, comment_id),
            author_id=author_id,
            author_name=snippet.get("authorDisplayName") or None,
            author_handle=_handle(snippet.get("authorChannelUrl")),
            parent_id=parent.native_id if parent else None,
            thread_id=video_id,
            by_school=author_id == self.settings.channel_id,
            engagement=likes if isinstance(likes, int) else None,
            raw=small_raw(snippet, ("videoId", "parentId", "authorChannelUrl", "updatedAt", "likeCount")),
        )

    # -- HTTP and quota -------------------------------------------------------------------

    def _get(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = {}
        if self.settings.api_key is not None:
            params = {**params, "key": self.settings.api_key.get_secret_value()}
        if self.settings.token is not None:
            headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        url = f"{self.settings.base_url.rstrip('/')}/{resource}"
        response = send(self, "GET", url, params=params, headers=headers)
        self._count_unit()
        if response.status_code >= 400:
            self._raise_for_error(response, resource)
        return expect_json(response)

    def _raise_for_error(self, response, resource: str) -> None:
        status = response.status_code
        body = body_json(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        reasons = {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)}
        message = error.get("message") or (body.get("error") if isinstance(body, dict) else None) or f"HTTP {status}"
        if reasons & QUOTA_REASONS or status == 429:
            if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
                retry_at = next_pacific_midnight(self.clock())
            else:
                retry_at = reset_time(response.headers.get("retry-after"), self.clock(), relative=True)
            raise RateLimited(f"YouTube {resource}: {message} ({', '.join(sorted(filter(None, reasons)))})",
                              retry_at)
        if status == 401 or reasons & AUTH_REASONS or error.get("status") == "UNAUTHENTICATED":
            raise AuthError(f"YouTube refused the credentials for channel {self.settings.channel_id}: {message}")
        raise TransientError(f"YouTube {resource} answered HTTP {status}: {message}")

    def _roll_quota_day(self) -> None:
        today = self.clock().astimezone(PACIFIC).date().isoformat()
        if self.quota_day != today:
            self.quota_day, self.quota_units = today, 0

    def _count_unit(self) -> None:
        self._roll_quota_day()
        self.quota_units += 1

    def _restore_quota(self, saved: Any) -> None:
        """After a restart, carry on counting from what the last stored poll had used."""
        self._roll_quota_day()
        if isinstance(saved, dict) and saved.get("day") == self.quota_day:
            units = saved.get("units")
            if isinstance(units, int) and units > self.quota_units:
                self.quota_units = units


def next_pacific_midnight(now: datetime) -> datetime:
    """When YouTube's daily quota resets: the next midnight in California, in UTC."""
    local = now.astimezone(PACIFIC)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC).astimezone(timezone.utc)


def _records(data: dict[str, Any]) -> list[Any]:
    items = data.get("items", [])
    if not isinstance(items, list):
        raise TransientError("YouTube answered without a list of items")
    return items


def _thread_time(thread: Any) -> datetime | None:
    try:
        return parse_timestamp(thread["snippet"]["topLevelComment"]["snippet"]["publishedAt"])
    except (KeyError, TypeError, ValueError):
        return None


def _optional_time(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value) if value else None
    except ValueError:
        return None


def _permalink(video_id: str | None, comment_id: str) -> str | None:
    if not video_id:
        return None
    return f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}"


def _handle(channel_url: Any) -> str | None:
    if isinstance(channel_url, str) and "/@" in channel_url:
        return channel_url.rsplit("/@", 1)[1] or None
    return None
