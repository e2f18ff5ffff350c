"""A fake YouTube Data API v3: ``commentThreads`` and ``comments`` for one channel, and Google's
OAuth 2.0 token endpoint.

Threads are served newest first (``order=time``) with ``nextPageToken`` paging; each embeds at most
``embedded_replies`` replies, the rest are read through ``comments?parentId=``; ``comments?id=``
looks comments up by id (a deleted one is simply absent from ``items``).

Credentials are refused as Google refuses them: a wrong, deleted or restricted API key with HTTP 400
``badRequest`` "API key not valid" and an ``ErrorInfo`` reason ``API_KEY_INVALID`` (not 401); no key
and no token with 403 (``PERMISSION_DENIED``); an unknown or expired access token with 401
``authError`` (``UNAUTHENTICATED``).

``POST /token`` answers the refresh-token grant as https://oauth2.googleapis.com/token does
(form body in; ``access_token``, ``expires_in`` 3599, ``scope``, ``token_type`` out; ``invalid_grant``
for a revoked refresh token, ``invalid_client`` for a wrong client). Access tokens stop working 3,600 s
after they were issued, by ``clock``. ``moderationStatus`` other than ``published`` is refused (403
``forbidden``) unless the request carries the channel owner's access token with the
``youtube.force-ssl`` scope, as the reference says ("can only be used in a properly authorized request").

The channel owner's writes, as the Data API takes them (each needs an OAuth access token with
``youtube.force-ssl``): ``POST comments?part=snippet`` with a comment resource whose
``snippet.parentId`` is a top-level comment (comments.insert); ``POST comments/setModerationStatus``
with ``id`` and ``moderationStatus`` as query parameters and no body, answered 204 (a rejected
comment cannot be published again, and disappears with its replies); ``DELETE comments?id=``, which
only the comment's author may use. Refused as Google refuses them: with an API key only, 401
``required`` (``CREDENTIALS_MISSING``: "API keys are not supported by this API"); with a token
lacking the scope, 403 ``insufficientPermissions`` (``ACCESS_TOKEN_SCOPE_INSUFFICIENT``).
``POST commentThreads?part=snippet`` (commentThreads.insert) posts a new top-level comment on a video,
with the properties the reference requires (``snippet.channelId``, ``snippet.videoId``,
``snippet.topLevelComment.snippet.textOriginal``) and its refusals: 400 ``channelOrVideoIdMissing``,
``commentTextRequired``, ``commentTextTooLong``; 404 ``videoNotFound``, ``channelNotFound``; 403
``commentsDisabled`` on a video whose comments are turned off (``videos``). ``commentThreads?videoId=``
lists one video's threads (403 ``commentsDisabled`` there too, 404 ``videoNotFound``).
``permissions`` holds the scopes the owner still grants (discard one to revoke it); ``write_delay``
holds a write's answer back after the write is made.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response

SCHOOL_CHANNEL = "UCravenswood00000000000a"
SCHOOL_NAME = "Ravens Wood School"
FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"
READONLY = "https://www.googleapis.com/auth/youtube.readonly"
#: how long Google's access tokens last
TOKEN_LIFETIME = timedelta(seconds=3600)


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
    status: str = "published"  # or heldForReview, likelySpam, rejected


@dataclass
class IssuedToken:
    channel: str
    scope: str
    expires_at: datetime


class FakeYouTube(FakePlatform):
    type = "youtube"

    def __init__(self, *, page_size: int = 5, embedded_replies: int = 5) -> None:
        super().__init__()
        self.page_size = page_size
        self.embedded_replies = embedded_replies
        self.api_key = "fake-youtube-key"
        self.expired = False
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.client_id = "1234567890-fake.apps.googleusercontent.com"
        self.client_secret = "GOCSPX-fake-client-secret"
        #: refresh token -> (channel it was granted by, scope)
        self.refresh_tokens: dict[str, tuple[str, str]] = {"1//fake-refresh-token": (SCHOOL_CHANNEL, FORCE_SSL)}
        self.access_tokens: dict[str, IssuedToken] = {}
        self.comments: list[FakeComment] = []
        self.video_id = "dQw4w9WgXcQ"
        #: the channel's videos: id -> whether comments are allowed on it
        self.videos: dict[str, bool] = {self.video_id: True}
        self._numbers = itertools.count(1)
        self.route("GET", "/youtube/v3/commentThreads")(self._serve_threads)
        self.route("GET", "/youtube/v3/comments")(self._serve_comments)
        self.route("POST", "/token")(self._serve_token)
        self.route("POST", "/youtube/v3/comments")(self._write_reply)
        self.route("POST", "/youtube/v3/commentThreads")(self._write_thread)
        self.route("POST", "/youtube/v3/comments/setModerationStatus")(self._write_moderation)
        self.route("DELETE", "/youtube/v3/comments")(self._write_delete)
        #: the scopes the channel owner still grants the monitor (a token is issued with these only)
        self.permissions = {FORCE_SSL, READONLY}
        #: seconds a write's answer is held back after the write is made (a crash between the two)
        self.write_delay = 0.0

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

    def oauth_config(self, name: str) -> dict[str, Any]:
        """A source reading as the channel owner through OAuth (refresh token), without an API key."""
        config = {k: v for k, v in self.source_config(name).items() if k != "api_key"}
        return {**config, "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": next(iter(self.refresh_tokens)), "token_url": f"{self.url}/token"}

    def add_held_comment(self, text: str, *, author: str = "A Parent", at: datetime | None = None,
                         reply_to: str | None = None) -> str:
        """A comment YouTube held for the channel's review: not public, listed only to the owner."""
        comment_id = self.add_comment(text, author=author, at=at, reply_to=reply_to)
        self._find(comment_id).status = "heldForReview"
        return comment_id

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._add(text, SCHOOL_NAME, SCHOOL_CHANNEL, at, to, 0)

    def add_school_comment(self, text: str, *, at: datetime | None = None) -> str:
        return self._add(text, SCHOOL_NAME, SCHOOL_CHANNEL, at, None, 0)

    def school_threads(self, video_id: str) -> list[FakeComment]:
        """The channel's own published top-level comments on a video (for tests)."""
        return [c for c in self.comments if c.parent is None and c.video_id == video_id
                and c.author_channel == SCHOOL_CHANNEL and c.status == "published"]

    def remove(self, native_id: str) -> None:
        self.comments = [c for c in self.comments if native_id not in (c.id, c.parent)]

    def node(self, native_id: str) -> FakeComment | None:
        return next((c for c in self.comments if c.id == native_id), None)

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

    def _new(self, *, text, author_name, author_channel, at, parent, likes, video=None) -> FakeComment:
        number = next(self._numbers)
        if parent:
            comment_id = f"{parent}.{number:08d}AbCd"
            video = next(c.video_id for c in self.comments if c.id == parent)
        else:
            comment_id = f"Ugz{number:08d}fakeThread4AaABAg"
            video = video or self.video_id
        return FakeComment(id=comment_id, video_id=video, text=text, published=at or datetime.now(timezone.utc),
                           author_name=author_name, author_channel=author_channel, parent=parent, likes=likes)

    def _find(self, comment_id: str) -> FakeComment:
        return next(c for c in self.comments if c.id == comment_id)

    def _top_level(self, status: str = "published") -> list[FakeComment]:
        """Threads whose top comment has ``status``, or, for a moderation queue, any of its replies."""
        def listed(top: FakeComment) -> bool:
            if status == "published":
                return top.status == "published"
            return top.status == status or any(r.status == status for r in self._replies_of(top.id, None))
        tops = (c for c in self.comments if c.parent is None and listed(c))
        return sorted(tops, key=lambda c: c.published, reverse=True)

    def _replies_of(self, thread_id: str, status: str | None = "published") -> list[FakeComment]:
        replies = (c for c in self.comments if c.parent == thread_id and (c.status == status if status else self._listed(c)))
        return sorted(replies, key=lambda c: c.published)

    def _listed(self, comment: FakeComment) -> bool:
        """Not rejected, nor under a rejected comment ("also effectively hides all replies")."""
        top = comment if comment.parent is None else next((c for c in self.comments if c.id == comment.parent), None)
        return comment.status != "rejected" and top is not None and top.status != "rejected"

    def school_replies(self, comment_id: str) -> list[FakeComment]:
        """The channel's own replies in the thread of ``comment_id`` (for tests)."""
        thread = self._find(comment_id).parent or comment_id
        return [c for c in self.comments if c.parent == thread and c.author_channel == SCHOOL_CHANNEL]

    def status_of(self, comment_id: str) -> str | None:
        """A comment's moderation status, None once deleted (for tests)."""
        found = [c for c in self.comments if c.id == comment_id]
        return found[0].status if found else None

    # -- serving --------------------------------------------------------------------------

    def _bearer(self, request: Request) -> IssuedToken | None:
        header = request.header("authorization") or ""
        token = self.access_tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if token is None or self.expired or self.clock() >= token.expires_at:
            return None
        return token

    def _refused(self, request: Request) -> Response | None:
        if request.header("authorization"):
            if self._bearer(request) is None:
                return Response(401, {"error": {
                    "code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential. See "
                    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                    "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                                "location": "Authorization", "locationType": "header"}],
                    "status": "UNAUTHENTICATED"}})
            return None
        if "key" not in request.query:
            return Response(403, {"error": {
                "code": 403, "message": "The request is missing a valid API key.",
                "errors": [{"message": "The request is missing a valid API key.", "domain": "global",
                            "reason": "forbidden"}], "status": "PERMISSION_DENIED"}})
        if self.expired or request.query["key"] != self.api_key:
            message = "API key not valid. Please pass a valid API key."
            return Response(400, {"error": {
                "code": 400, "message": message,
                "errors": [{"message": message, "domain": "global", "reason": "badRequest"}],
                "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}]}})
        return None

    def _unmoderated(self, request: Request, channel: str) -> Response | None:
        """A moderation queue is only for the channel owner's token with the force-ssl scope."""
        token = self._bearer(request)
        if token is not None and token.channel == channel and FORCE_SSL in token.scope.split():
            return None
        if token is not None and token.channel == channel:
            return Response(403, {"error": {
                "code": 403, "message": "Request had insufficient authentication scopes.",
                "errors": [{"message": "Insufficient Permission", "domain": "global",
                            "reason": "insufficientPermissions"}], "status": "PERMISSION_DENIED"}})
        message = ("The comment thread could not be retrieved due to insufficient permissions. "
                   "The request might not be properly authorized.")
        return Response(403, {"error": {"code": 403, "message": message, "errors": [{
            "message": message, "domain": "youtube.commentThread", "reason": "forbidden",
            "location": "moderationStatus", "locationType": "parameter"}]}})

    def _serve_token(self, request: Request) -> Response:
        """Google's token endpoint, refresh-token grant only (what a server-side monitor uses)."""
        if not (request.header("content-type") or "").startswith("application/x-www-form-urlencoded"):
            return Response(400, {"error": "invalid_request", "error_description": "Invalid content type."})
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "
                                  + form.get("grant_type", "")})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Response(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        granted = self.refresh_tokens.get(form.get("refresh_token", ""))
        if granted is None or self.expired:
            return Response(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        channel, scope = granted
        scope = " ".join(s for s in scope.split() if s in self.permissions) or READONLY
        access = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens[access] = IssuedToken(channel, scope, self.clock() + TOKEN_LIFETIME)
        return Response(200, {"access_token": access, "expires_in": int(TOKEN_LIFETIME.total_seconds()) - 1,
                              "scope": scope, "token_type": "Bearer"},
                        {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"})

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
        if "videoId" in request.query:
            return self._serve_video_threads(request)
        if request.query.get("allThreadsRelatedToChannelId") != SCHOOL_CHANNEL:
            return Response(404, {"error": {"code": 404, "message": "channel not found",
                                            "errors": [{"reason": "channelNotFound"}]}})
        status = request.query.get("moderationStatus", "published")
        if status not in ("published", "heldForReview", "likelySpam"):
            return Response(400, {"error": {"code": 400, "message": "Invalid value for moderationStatus",
                                            "errors": [{"reason": "invalidParameter"}]}})
        if status != "published" and (refused := self._unmoderated(request, SCHOOL_CHANNEL)) is not None:
            return refused
        owner = self._bearer(request) is not None
        return self._page(request, self._top_level(status), "youtube#commentThreadListResponse",
                          lambda top: self._render_thread(top, status, owner))

    def _serve_video_threads(self, request: Request) -> Response:
        """``commentThreads.list?videoId=``: one video's published threads, newest first."""
        if "allThreadsRelatedToChannelId" in request.query or "id" in request.query:
            return self._bad(400, "incompatibleParameters", "Incompatible parameters specified in the request: "
                             "videoId and another filter", "youtube.parameter")
        video = request.query["videoId"]
        if video not in self.videos:
            return self._bad(404, "videoNotFound", "The video identified by the videoId parameter could not be "
                             "found.", "youtube.commentThread")
        if not self.videos[video]:
            return self._bad(403, "commentsDisabled", "The video identified by the videoId parameter has disabled "
                             "comments.", "youtube.commentThread")
        owner = self._bearer(request) is not None
        threads = [t for t in self._top_level() if t.video_id == video]
        return self._page(request, threads, "youtube#commentThreadListResponse",
                          lambda top: self._render_thread(top, "published", owner))

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
        found = [c for c in self.comments if c.id in wanted and self._listed(c)]
        parts = set(request.query.get("part", "").split(","))
        render = self._render_comment if "snippet" in parts else self._render_id
        return Response(200, {"kind": "youtube#commentListResponse", "etag": "fake-etag",
                              "items": [render(comment) for comment in found]})

    @staticmethod
    def _render_id(comment: FakeComment) -> dict[str, Any]:
        return {"kind": "youtube#comment", "etag": "e", "id": comment.id}

    def _render_thread(self, top: FakeComment, status: str = "published", owner: bool = False) -> dict[str, Any]:
        replies = self._replies_of(top.id)
        shown = replies if status == "published" else self._replies_of(top.id, None)
        thread: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": "e", "id": top.id,
            "snippet": {
                "channelId": SCHOOL_CHANNEL, "videoId": top.video_id,
                "topLevelComment": self._render_comment(top, owner),
                "canReply": True, "totalReplyCount": len(replies), "isPublic": True,
            },
        }
        if shown:
            thread["replies"] = {"comments": [self._render_comment(r, owner) for r in shown[: self.embedded_replies]]}
        return thread

    def _render_comment(self, comment: FakeComment, owner: bool = False) -> dict[str, Any]:
        published = comment.published.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        snippet: dict[str, Any] = {
            "channelId": SCHOOL_CHANNEL, "textDisplay": comment.text, "textOriginal": comment.text,
            "canRate": True, "viewerRating": "none", "likeCount": comment.likes,
            "publishedAt": "not a date" if comment.malformed else published, "updatedAt": published,
        }
        if owner:  # only shown to the channel owner
            snippet["moderationStatus"] = comment.status
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

    # -- the channel owner's writes -------------------------------------------------------------

    def _writer(self, request: Request) -> tuple[IssuedToken | None, Response | None]:
        """The owner's token of a write, or Google's refusal: writes take OAuth only, with force-ssl."""
        if not request.header("authorization"):
            message = ("API keys are not supported by this API. Expected OAuth2 access token or other "
                       "authentication credentials that assert a principal. See "
                       "https://cloud.google.com/docs/authentication")
            return None, Response(401, {"error": {
                "code": 401, "message": message,
                "errors": [{"message": "Login Required.", "domain": "global", "reason": "required",
                            "location": "Authorization", "locationType": "header"}],
                "status": "UNAUTHENTICATED",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CREDENTIALS_MISSING",
                             "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}]}})
        if (refused := self._refused(request)) is not None:
            return None, refused
        token = self._bearer(request)
        if FORCE_SSL not in token.scope.split():
            return None, Response(403, {"error": {
                "code": 403, "message": "Request had insufficient authentication scopes.",
                "errors": [{"message": "Insufficient Permission", "domain": "global",
                            "reason": "insufficientPermissions"}],
                "status": "PERMISSION_DENIED",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
                             "metadata": {"service": "youtube.googleapis.com"}}]}})
        return token, None

    @staticmethod
    def _bad(status: int, reason: str, message: str, domain: str = "youtube.comment") -> Response:
        return Response(status, {"error": {"code": status, "message": message, "errors": [
            {"message": message, "domain": domain, "reason": reason}]}})

    def _snippet_writer(self, request: Request) -> tuple[IssuedToken | None, Response | None]:
        """The writing channel's token, or the refusal of a write without it or without ``part=snippet``."""
        token, refused = self._writer(request)
        if refused is None and request.query.get("part") not in ("snippet", "id,snippet", "snippet,id"):
            refused = self._bad(400, "required", "No filter selected. Expected one of: part", "global")
        return token, refused

    def _write_reply(self, request: Request) -> Response:
        """comments.insert: a reply to a top-level comment, as the token's channel."""
        token, refused = self._snippet_writer(request)
        if refused is not None:
            return refused
        try:
            body = request.json()
            snippet = body["snippet"]
            parent_id, text = snippet.get("parentId"), snippet.get("textOriginal")
        except (ValueError, KeyError, TypeError, AttributeError):
            return self._bad(400, "processingFailure", "The API server failed to successfully process the request.")
        if not parent_id:
            return self._bad(400, "parentIdMissing", "The comment must be linked to a parent comment.")
        if not isinstance(text, str) or not text.strip():
            return self._bad(400, "commentTextRequired", "The comment resource must specify a value for snippet.textOriginal.")
        parent = self.node(parent_id)
        if parent is None or not self._listed(parent):
            return self._bad(404, "parentNotFound", "The specified parent comment could not be found.")
        if parent.status != "published":
            return self._bad(400, "parentCommentIsPrivate", "The specified parent comment is private. The API does "
                             "not support replies to private comments.")
        if parent.parent is not None:  # threads are one level deep: a reply answers the top-level comment
            return self._bad(400, "operationNotSupported", "The API user is not able to insert a comment in reply "
                             "to the comment identified by the snippet.parentId property.")
        name = SCHOOL_NAME if token.channel == SCHOOL_CHANNEL else token.channel
        comment = self._new(text=text, author_name=name, author_channel=token.channel, at=self.clock().replace(microsecond=0),
                            parent=parent.id, likes=0)
        self.comments.append(comment)
        return Response(200, self._render_comment(comment), delay=self.write_delay)

    def _write_thread(self, request: Request) -> Response:
        """commentThreads.insert: a new top-level comment on a video, as the token's channel."""
        token, refused = self._snippet_writer(request)
        if refused is not None:
            return refused
        try:
            snippet = request.json()["snippet"]
            channel, video = snippet.get("channelId"), snippet.get("videoId")
            text = snippet["topLevelComment"]["snippet"].get("textOriginal")
        except (ValueError, KeyError, TypeError, AttributeError):
            return self._bad(400, "processingFailure", "The API server failed to successfully process the request. "
                             "Check the structure of the commentThread resource in the request body.",
                             "youtube.commentThread")
        if not channel or not video:
            return self._bad(400, "channelOrVideoIdMissing", "The comment thread must be linked to a specified "
                             "channel or video.", "youtube.commentThread")
        if not isinstance(text, str) or not text.strip():
            return self._bad(400, "commentTextRequired", "The comment resource that is being inserted must specify "
                             "a value for the snippet.topLevelComment.snippet.textOriginal property.")
        if len(text) > 10000:
            return self._bad(400, "commentTextTooLong", "The comment resource that is being inserted contains too "
                             "many characters in the snippet.topLevelComment.snippet.textOriginal property.")
        if channel != SCHOOL_CHANNEL:
            return self._bad(404, "channelNotFound", "The specified channel could not be found.",
                             "youtube.commentThread")
        if video not in self.videos:
            return self._bad(404, "videoNotFound", "The specified video could not be found.", "youtube.commentThread")
        if not self.videos[video]:
            return self._bad(403, "commentsDisabled", "The video identified by the videoId parameter has disabled "
                             "comments.", "youtube.commentThread")
        name = SCHOOL_NAME if token.channel == SCHOOL_CHANNEL else token.channel
        comment = self._new(text=text, author_name=name, author_channel=token.channel,
                            at=self.clock().replace(microsecond=0), parent=None, likes=0, video=video)
        self.comments.append(comment)
        return Response(200, self._render_thread(comment, owner=True), delay=self.write_delay)

    def _write_moderation(self, request: Request) -> Response:
        """comments.setModerationStatus: only the channel owner; no body; 204."""
        token, refused = self._writer(request)
        if refused is not None:
            return refused
        status = request.query.get("moderationStatus")
        ids = [i for i in request.query.get("id", "").split(",") if i]
        if request.body:
            return self._bad(400, "processingFailure", "Do not provide a request body when calling this method.")
        if not ids or status not in ("heldForReview", "published", "rejected"):
            return self._bad(400, "invalidParameter", "Invalid value for moderationStatus or id.", "global")
        if request.query.get("banAuthor") == "true" and status != "rejected":
            return self._bad(400, "banWithoutReject", "The banAuthor parameter can only be used if the "
                             "moderationStatus parameter value is rejected.")
        found = [self.node(i) for i in ids]
        if any(c is None for c in found):
            return self._bad(404, "commentNotFound", "One or more comments that the request is trying to update "
                             "cannot be found.")
        if token.channel != SCHOOL_CHANNEL:
            return self._bad(403, "forbidden", "The moderation status of one or more comments cannot be set due "
                             "to insufficient permissions.")
        if status == "published" and any(c.status == "rejected" for c in found):
            return self._bad(400, "processingFailure", "A rejected comment cannot be published.")
        for comment in found:
            comment.status = status
        return Response(204, None, delay=self.write_delay)

    def _write_delete(self, request: Request) -> Response:
        """comments.delete: only the comment's own author may delete it."""
        token, refused = self._writer(request)
        if refused is not None:
            return refused
        comment = self.node(request.query.get("id", ""))
        if comment is None:
            return self._bad(404, "commentNotFound", "The specified comment could not be found.")
        if comment.author_channel != token.channel:
            return self._bad(403, "forbidden", "The comment could not be deleted because of insufficient permissions.")
        self.remove(comment.id)
        return Response(204, None, delay=self.write_delay)
