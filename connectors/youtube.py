"""YouTube Data API v3: comments and replies on the school channel's videos.

One poll reads ``commentThreads?allThreadsRelatedToChannelId=...&order=time`` newest first and
stops at a horizon: the older of the checkpoint (the newest thread seen) and the reply window.
Threads inside the reply window are re-read because a reply does not move its thread: the cursor
keeps each recent thread's ``totalReplyCount``, and only a thread whose count changed has its
replies read, from those embedded or, when more exist, through ``comments?parentId=``.
An idle poll therefore costs one request (one quota unit) while the recent threads fit on a page.

With OAuth as the channel owner (``client_id``, ``client_secret``, ``refresh_token``), each poll
also reads the comments YouTube held for the channel's review
(``commentThreads?moderationStatus=heldForReview``, which "can only be used in a properly authorized
request": https://developers.google.com/youtube/v3/docs/commentThreads/list): they are not public
and an API key cannot see them. The whole queue is read each time (it is short) and only comments
not seen in it before are returned. The access token lasts an hour; it is renewed from the refresh
token shortly before it expires (:mod:`connectors.oauth`).

Every request costs quota, counted per Pacific day (when Google resets it) and shown by
``monitor status``; ``quotaExceeded`` waits until the next Pacific midnight. Asking whether a
comment still exists (``comments?id=``) costs one unit too.

Writes, as the channel owner through OAuth with the ``youtube.force-ssl`` scope (an API key can
make none), 50 quota units each (https://developers.google.com/youtube/v3/docs/comments):

- reply: ``comments.insert`` (``POST comments?part=snippet`` with ``snippet.parentId`` and
  ``snippet.textOriginal``). YouTube threads are one level deep: a reply to a reply is posted under
  the thread's top-level comment, whose id is the reply's id up to its first dot. A comment held for
  review takes no reply (400 ``parentCommentIsPrivate``): like every 400 on a write, that refusal
  is final, as repeating a write spends 50 units each time.
- hide: ``comments.setModerationStatus`` with ``heldForReview``: the comment leaves the public
  view and waits in the channel's review queue (YouTube Studio), from where it can be published
  again. It is the reversible choice.
- delete: ``comments.setModerationStatus`` with ``rejected``. ``comments.delete`` "can only be used
  by the comment's original author"; "to remove a comment authored by another user from your
  channel or video, set its moderation status to rejected" (comments/setModerationStatus). A
  rejected comment cannot be published again, and its replies go with it.

- removal notice ("tell the audience"): ``commentThreads.insert`` (``POST commentThreads?part=snippet``
  with ``snippet.channelId``, ``snippet.videoId`` and ``snippet.topLevelComment.snippet.textOriginal``,
  the three properties the reference requires; 50 units, scope ``youtube.force-ssl``:
  https://developers.google.com/youtube/v3/docs/commentThreads/insert): a new top-level comment on
  the video the removed comment was under. A video whose comments are turned off refuses it (403
  ``commentsDisabled``), a video gone with 404 ``videoNotFound``: both final.

An in-doubt notice is looked for among the video's threads (``commentThreads.list?videoId=``, newest
first, one unit a page): a top-level comment by the channel with the same text.
An in-doubt reply is looked for among the thread's replies (``comments.list?parentId=``): a school
reply with the same text, published after the comment it answers. An in-doubt hide or delete is
checked in the review queue and by ``comments.list?id=`` (which does not say a comment's
moderation status: "this property is not set if the API request used the id filter parameter");
both are idempotent anyway, so repeating one is harmless.

Google refuses a bad, deleted or restricted API key with HTTP 400 (``badRequest`` "API key not
valid", ``ErrorInfo`` reason ``API_KEY_INVALID``; older answers ``keyInvalid``), not 401: such
answers, and the other ``ErrorInfo`` reasons about keys, tokens and the Cloud project
(google/api/error_reason.proto), are credential failures alerted at once.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from contextlib import contextmanager
from typing import Any, Iterator, Literal
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
    Written,
    parse_timestamp,
    skip_record,
    small_raw,
)
from connectors.oauth import RefreshingToken
from connectors.webapi import body_json, expect_json, reset_time, send
from monitor.config import Lookback

logger = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"}
AUTH_REASONS = {"authError", "keyInvalid", "keyExpired", "forbidden", "accessNotConfigured",
                "insufficientPermissions", "ipRefererBlocked"}
#: ``google.rpc.ErrorInfo`` reasons (domain googleapis.com) that a person must fix: the key, the token
#: or the Cloud project (google/api/error_reason.proto)
AUTH_INFO_REASONS = {
    "API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED",
    "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED", "SERVICE_DISABLED", "BILLING_DISABLED",
    "CONSUMER_SUSPENDED", "CONSUMER_INVALID", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
    "ACCESS_TOKEN_TYPE_UNSUPPORTED", "ACCOUNT_STATE_INVALID", "CREDENTIALS_MISSING", "USER_BLOCKED_BY_ADMIN",
}
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
FORCE_SSL_SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
#: quota units of a write (comments.insert, comments.setModerationStatus)
WRITE_UNITS = 50
#: the moderation status each removal sets (see the module docstring)
MODERATION = {"hide": "heldForReview", "delete": "rejected"}
#: held comments remembered in the cursor, so that each is returned once
HELD_MEMORY = 1000
TEXT_LIMIT = 10000
#: what a comment id is made of; anything else (a comma would ask for several) is not looked up
COMMENT_ID = re.compile(r"[A-Za-z0-9_.-]+")
#: a video id: 11 characters of the URL-safe base64 alphabet
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
#: pages of a video's threads read to find an in-doubt notice (100 threads a page, one unit each)
NOTICE_PAGES = 20


class YouTubeSettings(SourceSettings):
    type: Literal["youtube"] = "youtube"
    base_url: str = "https://www.googleapis.com/youtube/v3"
    #: the school's channel id (UC...): its videos are read, and its replies close cases
    channel_id: str = Field(pattern=r"^[A-Za-z0-9_-]{10,40}$")
    #: an API key: enough for public comments
    api_key: Secret | None = None
    #: OAuth as the channel owner (scope youtube.force-ssl), needed for held-for-review comments:
    #: the OAuth client's id and secret and the refresh token the owner granted
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    token_url: str = GOOGLE_TOKEN_URL
    #: an OAuth access token used as it is: it expires after an hour, so for a trial only
    token: Secret | None = None
    #: also read the comments held for the channel's review; default: on with OAuth
    held_for_review: bool | None = None
    page_size: int = Field(default=100, ge=1, le=100)
    #: how far back the first poll reads
    backfill: Lookback = timedelta(days=7)
    #: threads this recent are re-read for new replies
    reply_window: Lookback = timedelta(days=3)

    @model_validator(mode="after")
    def _credentials(self) -> "YouTubeSettings":
        oauth = [self.client_id, self.client_secret, self.refresh_token]
        if any(v is not None for v in oauth) and any(v is None for v in oauth):
            raise ValueError("OAuth needs all three of client_id, client_secret and refresh_token")
        if self.api_key is None and self.token is None and self.refresh_token is None:
            raise ValueError("set api_key (an API key), or client_id, client_secret and refresh_token (OAuth as "
                             "the channel owner)")
        if self.actions and not self.oauth:
            raise ValueError(f"actions ({', '.join(self.actions)}) are made as the channel owner, and YouTube takes "
                             "no write with an API key: set client_id, client_secret and refresh_token (OAuth with "
                             "the youtube.force-ssl scope)")
        if self.held_for_review and not self.oauth:
            raise ValueError("held_for_review needs OAuth as the channel owner: set client_id, client_secret and "
                             "refresh_token")
        return self

    @property
    def oauth(self) -> bool:
        return self.refresh_token is not None or self.token is not None

    @property
    def reads_held(self) -> bool:
        return self.oauth if self.held_for_review is None else self.held_for_review


class YouTubeConnector(Connector):
    type = "youtube"
    Settings = YouTubeSettings
    renew_hint = (
        "renew the API key (Google Cloud console > APIs & Services > Credentials, YouTube Data API v3 "
        "enabled, no referrer restriction) and update api_key; with OAuth, have the channel owner authorise "
        "the monitor again (scope youtube.force-ssl) and update refresh_token"
    )

    supported_actions = frozenset({"reply", "hide", "delete", "notice"})
    action_scopes = dict.fromkeys(supported_actions, FORCE_SSL_SCOPE)

    def __init__(self, settings: SourceSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.quota_day: str | None = None
        self.quota_units = 0
        self.oauth: RefreshingToken | None = None
        if self.settings.refresh_token is not None:
            self.oauth = RefreshingToken(self, self.settings.token_url, {
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret.get_secret_value(),
                "refresh_token": self.settings.refresh_token.get_secret_value(),
            }, renew_hint="have the channel owner authorise the monitor again and update refresh_token "
                          "(a refresh token ends when access is revoked, after six months unused, or after "
                          "seven days while the OAuth app is in Testing)")

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
        if self.settings.reads_held:
            held, next_cursor["held"] = self._held(cursor.get("held"), {i.native_id for i in items})
            items.extend(held)
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

    # -- writes (see the module docstring) -------------------------------------------------------

    def reply(self, native_id: str, text: str) -> Written:
        body = {"snippet": {"parentId": _thread_of(native_id), "textOriginal": text}}
        with _missing_is_final(native_id):
            response = self._call("POST", "comments", {"part": "snippet"}, units=WRITE_UNITS, body=body)
        record = expect_json(response)
        if not isinstance(record.get("id"), str) or not COMMENT_ID.fullmatch(record["id"]):
            raise TransientError(f"YouTube answered the reply to {native_id} without the new comment's id")
        return Written(native_id=record["id"], at=self._written_at(record))

    def find_reply(self, native_id: str, text: str) -> Written | None:
        """The channel's reply with ``text`` in the thread, published after the comment it answers."""
        wanted, after, found = text.strip(), None, None
        with _missing_is_final(native_id):
            records = list(self._all_replies(_thread_of(native_id)))
        for record in records:
            try:
                snippet = record["snippet"]
                published = self.timestamp(snippet["publishedAt"])
                author = (snippet.get("authorChannelId") or {}).get("value")
            except MALFORMED:
                continue
            if record.get("id") == native_id:
                after = published
            elif (author == self.settings.channel_id and str(snippet.get("textOriginal") or "").strip() == wanted
                  and (found is None or published >= found.at)):
                found = Written(native_id=str(record["id"]), at=published)
        if found is not None and after is not None and found.at < after:
            return None  # the same words said earlier in the thread, to someone else
        return found

    def tell_thread(self, thread_id: str, text: str) -> Written:
        """The removal notice: a top-level comment on video ``thread_id`` (commentThreads.insert)."""
        if not isinstance(thread_id, str) or not VIDEO_ID.fullmatch(thread_id):
            raise ValueError(f"not a YouTube video id: {thread_id!r}")
        body = {"snippet": {"channelId": self.settings.channel_id, "videoId": thread_id,
                            "topLevelComment": {"snippet": {"textOriginal": text}}}}
        with _missing_is_final(thread_id, "video"):
            response = self._call("POST", "commentThreads", {"part": "snippet"}, units=WRITE_UNITS, body=body)
        record = expect_json(response)
        top = (record.get("snippet") or {}).get("topLevelComment") if isinstance(record.get("snippet"), dict) else None
        new_id = top.get("id") if isinstance(top, dict) else record.get("id")
        if not isinstance(new_id, str) or not COMMENT_ID.fullmatch(new_id):
            raise TransientError(f"YouTube answered the notice on video {thread_id} without the new comment's id")
        return Written(native_id=new_id, at=self._written_at(top if isinstance(top, dict) else record))

    def find_in_thread(self, thread_id: str, text: str) -> Written | None:
        """The channel's own top-level comment with ``text`` on video ``thread_id``, newest first."""
        if not isinstance(thread_id, str) or not VIDEO_ID.fullmatch(thread_id):
            raise ValueError(f"not a YouTube video id: {thread_id!r}")
        wanted = text.strip()
        params: dict[str, Any] = {"part": "snippet", "videoId": thread_id, "order": "time", "maxResults": 100,
                                  "textFormat": "plainText"}
        for _ in range(NOTICE_PAGES):
            try:
                data = self._get("commentThreads", params)
            except CommentsDisabled:
                return None  # no comment can be there, the notice included: the write will say so
            for thread in _records(data):
                try:
                    top = thread["snippet"]["topLevelComment"]
                    snippet = top["snippet"]
                    author = (snippet.get("authorChannelId") or {}).get("value")
                    if author == self.settings.channel_id and str(snippet.get("textOriginal") or "").strip() == wanted:
                        return Written(native_id=str(top["id"]), at=self.timestamp(snippet["publishedAt"]))
                except MALFORMED:
                    continue
            token = data.get("nextPageToken")
            if not isinstance(token, str) or not token:
                return None
            params["pageToken"] = token
        raise TransientError(f"video {thread_id} has too many comment threads to check for the notice")

    def hide(self, native_id: str) -> Written:
        return self._moderate(native_id, MODERATION["hide"])

    def delete(self, native_id: str) -> Written:
        return self._moderate(native_id, MODERATION["delete"])

    def visibility(self, native_id: str) -> Literal["visible", "hidden", "gone"]:
        if not COMMENT_ID.fullmatch(native_id):
            raise ValueError(f"not a YouTube comment id: {native_id!r}")
        held = {item.native_id for item in self._held(None, set())[0]}
        if native_id in held:
            return "hidden"
        return "visible" if self.exists(native_id) else "gone"

    def _moderate(self, native_id: str, status: str) -> Written:
        if not COMMENT_ID.fullmatch(native_id):
            raise ValueError(f"not a YouTube comment id: {native_id!r}")
        with _missing_is_final(native_id):
            self._call("POST", "comments/setModerationStatus", {"id": native_id, "moderationStatus": status},
                       units=WRITE_UNITS)
        return Written(native_id=None, at=self.clock())

    def _written_at(self, record: dict[str, Any]):
        try:
            return self.timestamp(record["snippet"]["publishedAt"])
        except MALFORMED:
            logger.warning("source=%s the time of reply %s cannot be read: using the clock's", self.name, record.get("id"))
            return self.clock()

    def _held(self, seen: Any, found: set[str]) -> tuple[list[Item], list[str]]:
        """The comments held for review not returned before, and the ids now in the queue."""
        seen = set(seen) if isinstance(seen, list) else set()
        items: list[Item] = []
        queue: list[str] = []
        for thread in self._threads(None, moderation="heldForReview"):
            try:
                top, _, embedded = self._parse_thread(thread)
                records = [(top, None), *((r, top) for r in embedded)]
            except MALFORMED as exc:
                skip_record(self.name, thread, str(exc))
                continue
            for record, parent in records:
                try:
                    item = record if parent is None else self._to_item(record, parent=parent)
                except MALFORMED as exc:
                    skip_record(self.name, record, str(exc))
                    continue
                if item.raw.get("moderationStatus") != "heldForReview":
                    continue  # the published top of a thread with a held reply
                queue.append(item.native_id)
                if item.native_id not in seen and item.native_id not in found:
                    items.append(item)
        return items, queue[:HELD_MEMORY]

    def _threads(self, horizon: datetime | None, *, moderation: str | None = None):
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
            if moderation:
                params["moderationStatus"] = moderation
            if page_token:
                params["pageToken"] = page_token
            data = self._get("commentThreads", params)
            for thread in _records(data):
                published = _thread_time(thread)
                if horizon is not None and published is not None and published < horizon:
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
            created_at=self.timestamp(snippet["publishedAt"]),
            url=_permalink(video_id, comment_id),
            author_id=author_id,
            author_name=snippet.get("authorDisplayName") or None,
            author_handle=_handle(snippet.get("authorChannelUrl")),
            parent_id=parent.native_id if parent else None,
            thread_id=video_id,
            by_school=author_id == self.settings.channel_id,
            engagement=likes if isinstance(likes, int) else None,
            raw=small_raw(snippet, ("videoId", "parentId", "authorChannelUrl", "updatedAt", "likeCount",
                                    "moderationStatus")),
        )

    # -- HTTP and quota -------------------------------------------------------------------

    def _get(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        return expect_json(self._call("GET", resource, params))

    def _call(self, method: str, resource: str, params: dict[str, Any], *, units: int = 1,
              body: dict[str, Any] | None = None):
        """One request (``units`` of quota); a refused access token is renewed once; errors raised."""
        url = f"{self.settings.base_url.rstrip('/')}/{resource}"
        extra = {} if body is None else {"json": body}
        response = send(self, method, url, **self._credentials(params), **extra)
        self._count_unit(units)
        if response.status_code == 401 and self.oauth is not None:
            # revoked or cut short before its time: one new access token, then the answer stands
            # (a 401 is an answer before any work: repeating a write after it makes it once)
            self.oauth.forget()
            response = send(self, method, url, **self._credentials(params), **extra)
            self._count_unit(units)
        if response.status_code >= 400:
            self._raise_for_error(response, resource)
        return response

    def _credentials(self, params: dict[str, Any]) -> dict[str, Any]:
        """OAuth when configured (the owner's view), else the API key."""
        if self.oauth is not None:
            return {"params": params, "headers": self.oauth.header()}
        if self.settings.token is not None:
            return {"params": params, "headers": {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}}
        return {"params": {**params, "key": self.settings.api_key.get_secret_value()}}

    def _raise_for_error(self, response, resource: str) -> None:
        status = response.status_code
        body = body_json(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        reasons = {e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)}
        info = {d.get("reason") for d in error.get("details") or [] if isinstance(d, dict)}
        message = error.get("message") or (body.get("error") if isinstance(body, dict) else None) or f"HTTP {status}"
        if reasons & QUOTA_REASONS or status == 429:
            if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
                retry_at = next_pacific_midnight(self.clock())
            else:
                retry_at = reset_time(response.headers.get("retry-after"), self.clock(), relative=True)
            raise RateLimited(f"YouTube {resource}: {message} ({', '.join(sorted(filter(None, reasons)))})",
                              retry_at)
        if status == 401 or reasons & AUTH_REASONS or info & AUTH_INFO_REASONS or error.get("status") == "UNAUTHENTICATED":
            raise AuthError(f"YouTube refused the credentials for channel {self.settings.channel_id} "
                            f"(HTTP {status}, {', '.join(sorted(filter(None, reasons | info)))}): {message}")
        if status == 404 and reasons & {"commentNotFound", "parentNotFound", "videoNotFound"}:
            raise CommentMissing(f"YouTube {resource}: {message}")
        if status == 403 and "commentsDisabled" in reasons:
            raise CommentsDisabled(f"YouTube {resource}: comments are turned off on this video (HTTP 403, "
                                   f"commentsDisabled): {message}")
        if status == 400:
            raise BadRequest(f"YouTube {resource} refused the request (HTTP 400, "
                             f"{', '.join(sorted(filter(None, reasons))) or 'badRequest'}): {message}")
        raise TransientError(f"YouTube {resource} answered HTTP {status}: {message}")

    def _roll_quota_day(self) -> None:
        today = self.clock().astimezone(PACIFIC).date().isoformat()
        if self.quota_day != today:
            self.quota_day, self.quota_units = today, 0

    def _count_unit(self, units: int = 1) -> None:
        self._roll_quota_day()
        self.quota_units += units

    def _restore_quota(self, saved: Any) -> None:
        """After a restart, carry on counting from what the last stored poll had used."""
        self._roll_quota_day()
        if isinstance(saved, dict) and saved.get("day") == self.quota_day:
            units = saved.get("units")
            if isinstance(units, int) and units > self.quota_units:
                self.quota_units = units


class CommentMissing(TransientError):
    """The comment named does not exist (any more): a write on it can never succeed."""


class BadRequest(TransientError):
    """HTTP 400: the API refused the request as it is (e.g. ``parentCommentIsPrivate``, a reply to a
    comment held for review); a read may be repeated, a write is not (each try costs 50 units)."""


class CommentsDisabled(BadRequest):
    """The video's comments are turned off (403 ``commentsDisabled``): nothing can be posted on it."""


@contextmanager
def _missing_is_final(native_id: str, what: str = "comment") -> Iterator[None]:
    """A write YouTube refused for what it is (the comment or video is gone, a 400, comments turned
    off) is final: repeating it every few minutes would only spend quota."""
    try:
        yield
    except CommentMissing as exc:
        raise ValueError(f"{what} {native_id} is no longer on YouTube ({exc})") from exc
    except BadRequest as exc:
        raise ValueError(str(exc)) from exc


def _thread_of(native_id: str) -> str:
    """The top-level comment of a comment's thread: a reply's id is its parent's id, a dot, its own part."""
    if not isinstance(native_id, str) or not COMMENT_ID.fullmatch(native_id):
        raise ValueError(f"not a YouTube comment id: {native_id!r}")
    return native_id.split(".", 1)[0]


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
