"""A fake Instagram professional account on the Graph API: media, comments with nested replies, tags.

Media and comments are served newest first; a comment carries its replies nested (oldest first)
up to ``nested_replies``, with ``paging.next`` beyond that, the rest being served by
``/{comment-id}/replies``. Instagram has one level of replies: answering a reply adds to the
thread of its top-level comment. The account, media and comments can be looked up by id
(``/{object-id}``); a comment the account hid (``hide``) is served with ``hidden: true``.

A comment by an account the school restricted (``restrict``) is not returned at all, neither in
the edges nor by id, where it answers 100/33 exactly as a deleted comment does (IG Comment
reference, Limitations: such comments "are not returned unless the IG user is unrestricted and the
comment is approved"); it is returned again once the account is unrestricted and the comment
approved (``unrestrict``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, ClassVar

from monitor.demo.fakes.graph import ROUTE, VERSION, FakeGraph, graph_time, newest_first, user_id
from monitor.demo.fakes.server import Request, Response


class FakeInstagram(FakeGraph):
    type = "instagram"
    rate_code = 80002
    node_fields: ClassVar[dict[str, frozenset[str]]] = {
        "User": frozenset({"id", "username"}),
        "Media": frozenset({"id", "caption", "timestamp", "permalink", "comments_count", "like_count", "username",
                            "media_type"}),
        "Comment": frozenset({"id", "text", "timestamp", "username", "from", "hidden", "like_count", "parent_id",
                              "replies", "media"}),
    }
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "User": (), "Media": (), "Comment": ("text", "timestamp"),
    }

    def __init__(self, account_id: str = "17841400000000001", username: str = "ravenswoodschool") -> None:
        super().__init__()
        self.account_id = account_id
        self.username = username
        self.nested_replies = 25
        self.media: list[dict[str, Any]] = []
        self.tagged: list[dict[str, Any]] = []
        self.comments: dict[str, list[dict[str, Any]]] = {}  # media id -> top-level comments
        self.restricted: set[str] = set()  # usernames the school restricted
        self.route("GET", f"{ROUTE}/media")(self.guarded(self._media))
        self.route("GET", f"{ROUTE}/tags")(self.guarded(self._tags))
        self.route("GET", f"{ROUTE}/comments")(self.guarded(self._comments))
        self.route("GET", f"{ROUTE}/replies")(self.guarded(self._replies))
        # the account's writes (IG Comment and IG Comment Replies reference)
        self.route("POST", f"{ROUTE}/replies")(self.guarded(self._write_reply))
        self.route("POST", f"{ROUTE}/comments")(self.guarded(self._write_comment))
        self.route("POST", ROUTE)(self.guarded(self._write_hidden))
        self.route("DELETE", ROUTE)(self.guarded(self._write_delete))
        #: what the token was granted; a write without instagram_manage_comments is refused (#200)
        self.permissions = {"instagram_basic", "instagram_manage_comments", "pages_read_engagement",
                            "pages_show_list"}
        #: seconds a write's answer is held back after the write is made (a crash between the two)
        self.write_delay = 0.0

    # -- FakePlatform -------------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {"name": name, "type": "instagram", "base_url": self.url, "api_version": VERSION,
                "user_id": self.account_id, "username": self.username, "token": self.token, "interval": "5m",
                "timeout": "5s"}

    def add_post(self, text: str, *, at: datetime | None = None) -> str:
        """A media published by the school's account."""
        return self._add_media(self.media, text, self.username, self._at(at))

    def add_mention(self, text: str, *, author: str = "a_parent", at: datetime | None = None) -> str:
        """A media by someone else that tags the school's account (served by ``/tags``)."""
        return self._add_media(self.tagged, text, author, self._at(at))

    def add_comment(self, text: str, *, author: str | None = "a_parent", at: datetime | None = None,
                    reply_to: str | None = None) -> str:
        """A comment under the newest media (``reply_to`` a media or comment id to choose)."""
        when = self._at(at)
        if reply_to is None:
            own = [m for m in self.media if m["_at"] <= when]
            reply_to = newest_first(own)[0]["id"] if own else self.add_post("This week at school 📸", at=when - timedelta(hours=1))
        return self._add_comment(reply_to, text, _handle(author), when)

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._add_comment(to, text, self.username, self._at(at))

    def remove(self, native_id: str) -> None:
        self.media = [m for m in self.media if m["id"] != native_id]
        self.tagged = [m for m in self.tagged if m["id"] != native_id]
        self.comments.pop(native_id, None)
        for media_id, comments in self.comments.items():
            kept = [c for c in comments if c.get("id") != native_id]
            for comment in kept:
                comment["_replies"] = [r for r in comment["_replies"] if r["id"] != native_id]
            self.comments[media_id] = kept

    def hide(self, native_id: str) -> None:
        """The account hides a comment or reply: it stays, marked ``hidden``, but the public no longer sees it."""
        top = self._top_level(native_id)
        record = top if top["id"] == native_id else next(r for r in top["_replies"] if r["id"] == native_id)
        record["hidden"] = True

    def restrict(self, author: str) -> None:
        """The school restricts an account (by display name, as ``add_comment`` takes it): its comments
        are no longer returned."""
        self.restricted.add(_handle(author) or "")

    def unrestrict(self, author: str) -> None:
        """The account is unrestricted and its comments approved: they are returned again."""
        self.restricted.discard(_handle(author) or "")

    def add_malformed(self) -> None:
        """A comment without a timestamp under the newest media."""
        media_id = newest_first(self.media)[0]["id"] if self.media else self.add_post("School news")
        number = self._next_number()
        self.comments[media_id].append({"id": f"1790000000{number:07d}", "text": "no timestamp", "username": "someone",
                                        "_at": self.default_time(), "_seq": number, "_replies": []})

    # -- state --------------------------------------------------------------------------------

    def node(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        if object_id == self.account_id:
            return "User", {"id": self.account_id, "username": self.username}
        for media in (*self.media, *self.tagged):
            if media["id"] == object_id:
                return "Media", self._served_media(media)
        try:
            top = self._top_level(object_id)
        except KeyError:
            return None
        record = top if top["id"] == object_id else next(r for r in top["_replies"] if r["id"] == object_id)
        if not self._returned(record):
            return None  # 100/33, as for a deleted comment
        return "Comment", {"hidden": False, **record}

    def _returned(self, comment: dict[str, Any]) -> bool:
        """Whether the API returns a comment: not when its author is restricted."""
        return comment.get("username") not in self.restricted

    def _add_media(self, where: list[dict[str, Any]], caption: str, username: str, at: datetime) -> str:
        number = self._next_number()
        media_id = f"1790{number:013d}"
        shortcode = hashlib.sha256(media_id.encode()).hexdigest()[:11]
        where.append({"id": media_id, "caption": caption, "timestamp": graph_time(at), "media_type": "IMAGE",
                      "permalink": f"https://www.instagram.com/p/{shortcode}/", "like_count": 0, "username": username,
                      "_at": at, "_seq": number})
        self.comments.setdefault(media_id, [])
        return media_id

    def _add_comment(self, to: str, text: str, username: str | None, at: datetime) -> str:
        number = self._next_number()
        record: dict[str, Any] = {"id": f"1800{number:013d}", "text": text, "timestamp": graph_time(at), "like_count": 0,
                                  "_at": at, "_seq": number}
        if username:
            record["username"] = username
            record["from"] = {"id": self.account_id if username == self.username else user_id(username),
                              "username": username}
        if to in self.comments:
            record.update(hidden=False, _replies=[])
            self.comments[to].append(record)
            return record["id"]
        top = self._top_level(to)
        record["parent_id"] = top["id"]
        top["_replies"].append(record)
        return record["id"]

    def _top_level(self, comment_id: str) -> dict[str, Any]:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == comment_id or any(r["id"] == comment_id for r in comment["_replies"]):
                    return comment
        raise KeyError(f"no media or comment {comment_id!r}")

    def _served_media(self, media: dict[str, Any]) -> dict[str, Any]:
        comments = [c for c in self.comments.get(media["id"], []) if self._returned(c)]
        count = len(comments) + sum(1 for c in comments for r in c["_replies"] if self._returned(r))
        return {**media, "comments_count": count}

    def _served_comment(self, comment: dict[str, Any], request: Request) -> dict[str, Any]:
        served = dict(comment)
        replies = sorted((r for r in comment["_replies"] if self._returned(r)), key=lambda r: (r["_at"], r["_seq"]))
        if replies:
            nested: dict[str, Any] = {"data": replies[: self.nested_replies]}
            if len(replies) > self.nested_replies:
                nested["paging"] = {"cursors": {"after": "bmVzdGVk"},
                                    "next": f"{self.url}/{VERSION}/{comment['id']}/replies?after=bmVzdGVk"}
            served["replies"] = nested
        return served

    # -- writes -------------------------------------------------------------------------------

    def _comment_or_refusal(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        found = self.node(request.params["id"])
        if found is None or found[0] != "Comment":
            return None, self.missing(request.params["id"])
        if "instagram_manage_comments" not in self.permissions:
            # permission errors are codes 200-299 (Graph API "Handling errors" guide)
            return None, self.error(403, 200, "(#200) The user hasn't authorized the application to perform this action")
        top = self._top_level(request.params["id"])
        record = top if top["id"] == request.params["id"] else next(r for r in top["_replies"]
                                                                     if r["id"] == request.params["id"])
        return record, None

    def _write_reply(self, request: Request) -> Response:
        """``POST /{ig-comment-id}/replies`` with ``message``: a reply to a reply joins its top-level comment."""
        record, refused = self._comment_or_refusal(request)
        if refused:
            return refused
        message = {**request.query, **request.form()}.get("message", "")
        if not message.strip():
            return self.error(400, 100, "(#100) The parameter message is required")
        reply_id = self._add_comment(request.params["id"], message, self.username, self.default_time())
        return Response(200, {"id": reply_id}, delay=self.write_delay)

    def _write_comment(self, request: Request) -> Response:
        """``POST /{ig-media-id}/comments`` with ``message``: a top-level comment by the account on its own
        media (another's media, where it is only tagged, answers 100/33 here, as does a comment id)."""
        media_id = request.params["id"]
        if not any(m["id"] == media_id for m in self.media):
            return self.missing(media_id)
        if "instagram_manage_comments" not in self.permissions:
            return self.error(403, 200, "(#200) The user hasn't authorized the application to perform this action")
        message = {**request.query, **request.form()}.get("message", "")
        if not message.strip():
            return self.error(400, 100, "(#100) The parameter message is required")
        comment_id = self._add_comment(media_id, message, self.username, self.default_time())
        return Response(200, {"id": comment_id}, delay=self.write_delay)

    def comments_on(self, media_id: str) -> list[dict[str, Any]]:
        """The top-level comments on a media, oldest first (for tests)."""
        return sorted(self.comments.get(media_id, []), key=lambda c: (c["_at"], c["_seq"]))

    def _write_hidden(self, request: Request) -> Response:
        """``POST /{ig-comment-id}`` with ``hide=true|false``."""
        record, refused = self._comment_or_refusal(request)
        if refused:
            return refused
        value = {**request.query, **request.form()}.get("hide")
        if value not in ("true", "false"):
            return self.error(400, 100, "(#100) Invalid parameter")
        record["hidden"] = value == "true"
        return Response(200, {"success": True}, delay=self.write_delay)

    def _write_delete(self, request: Request) -> Response:
        """``DELETE /{ig-comment-id}``."""
        record, refused = self._comment_or_refusal(request)
        if refused:
            return refused
        self.remove(request.params["id"])
        return Response(200, {"success": True}, delay=self.write_delay)

    def replies_to(self, native_id: str) -> list[dict[str, Any]]:
        """The replies in a comment's thread, oldest first (for tests)."""
        return list(self._top_level(native_id)["_replies"])

    # -- routes -------------------------------------------------------------------------------

    def _media(self, request: Request) -> Response:
        if request.params["id"] != self.account_id:
            return self.missing(request.params["id"])
        return self.paged(request, [self._served_media(m) for m in newest_first(self.media)], "Media")

    def _tags(self, request: Request) -> Response:
        if request.params["id"] != self.account_id:
            return self.missing(request.params["id"])
        return self.paged(request, [self._served_media(m) for m in newest_first(self.tagged)], "Media")

    def _comments(self, request: Request) -> Response:
        comments = self.comments.get(request.params["id"])
        if comments is None:
            return self.missing(request.params["id"])
        ordered = sorted((c for c in comments if self._returned(c)), key=lambda c: (c["_at"], c["_seq"]), reverse=True)
        return self.paged(request, [self._served_comment(c, request) for c in ordered], "Comment")

    def _replies(self, request: Request) -> Response:
        try:
            top = self._top_level(request.params["id"])
        except KeyError:
            return self.missing(request.params["id"])
        replies = [r for r in top["_replies"] if self._returned(r)]
        return self.paged(request, sorted(replies, key=lambda r: (r["_at"], r["_seq"])), "Comment")


def _handle(author: str | None) -> str | None:
    """An Instagram-like handle from a display name ("A Parent" -> "a_parent")."""
    return "_".join(author.lower().split()) if author else None
