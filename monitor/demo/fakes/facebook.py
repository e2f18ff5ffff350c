"""A fake Facebook Page on the Graph API: ``/{page}/feed``, ``/{post}/comments``, ``/{page}/tagged``,
and the Page, its posts and comments looked up by id (``/{object-id}``).

Posts and comments are served newest first (comments with ``order=reverse_chronological``, oldest
first otherwise), ``filter=stream`` includes replies and the default ``toplevel`` does not. Authors
are withheld (no ``from``) for a deleted account, as Facebook does.

As on Facebook: the feed holds the posts that tag the Page as well as the Page's own and visitor
posts (Page Feed reference); a person's post that tags the Page comes without ``from`` (Page Tagged
reference: "the from field will only be returned if the user making the request is the same user
who created the post"); a comment or post the Page hid is still served, with ``is_hidden: true``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from monitor.demo.fakes.graph import ROUTE, VERSION, FakeGraph, graph_time, newest_first, user_id
from monitor.demo.fakes.server import Request, Response


class FakeFacebook(FakeGraph):
    type = "facebook"
    rate_code = 80001
    node_fields: ClassVar[dict[str, frozenset[str]]] = {
        "Page": frozenset({"id", "name"}),
        "Post": frozenset({"id", "message", "created_time", "from", "permalink_url", "shares", "is_hidden"}),
        "Comment": frozenset({"id", "message", "created_time", "from", "parent", "permalink_url", "like_count",
                              "comment_count", "is_hidden", "can_hide"}),
    }
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "Page": ("name",), "Post": ("created_time", "message"), "Comment": ("created_time", "from", "message"),
    }

    def __init__(self, page_id: str = "1010101010", page_name: str = "Ravens Wood School") -> None:
        super().__init__()
        self.page_id = page_id
        self.page_name = page_name
        self.posts: list[dict[str, Any]] = []  # the Page's feed: its own posts and visitor posts
        self.tagged: list[dict[str, Any]] = []
        self.comments: dict[str, list[dict[str, Any]]] = {}  # post id -> comments and replies
        self.honour_order = True  # False: comments always oldest first, whatever ``order`` asks
        self.route("GET", f"{ROUTE}/feed")(self.guarded(self._feed))
        self.route("GET", f"{ROUTE}/published_posts")(self.guarded(self._published))
        self.route("GET", f"{ROUTE}/tagged")(self.guarded(self._tagged))
        self.route("GET", f"{ROUTE}/comments")(self.guarded(self._comments))
        # the Page's writes (Comment reference: publishing, updating is_hidden, deleting)
        self.route("POST", f"{ROUTE}/comments")(self.guarded(self._write_reply))
        self.route("POST", ROUTE)(self.guarded(self._write_hidden))
        self.route("DELETE", ROUTE)(self.guarded(self._write_delete))
        #: what the Page token was granted; a write without pages_manage_engagement is refused (#200)
        self.permissions = {"pages_show_list", "pages_read_engagement", "pages_read_user_content",
                            "pages_manage_engagement"}
        #: seconds a write's answer is held back after the write is made (a crash between the two)
        self.write_delay = 0.0

    # -- FakePlatform -------------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {"name": name, "type": "facebook", "base_url": self.url, "api_version": VERSION,
                "page_id": self.page_id, "token": self.token, "interval": "5m", "timeout": "5s"}

    def add_post(self, text: str, *, at: datetime | None = None) -> str:
        """A post by the Page itself."""
        return self._add_post(self.posts, text, self._page_author(), self._at(at))

    def add_visitor_post(self, text: str, *, author: str | None = "A Parent", at: datetime | None = None) -> str:
        """A post by a member of the public on the Page's timeline."""
        return self._add_post(self.posts, text, self._person(author), self._at(at))

    def add_mention(self, text: str, *, author: str | None = "A Parent", at: datetime | None = None,
                    page: bool = False) -> str:
        """A post elsewhere that tags the Page (served by ``/tagged`` and in the feed); by a person
        (its ``from`` withheld) or, with ``page``, by another Page."""
        return self._add_post(self.tagged, text, self._person(author) if page else None, self._at(at))

    def hide(self, native_id: str) -> None:
        """The Page hides a comment or visitor post: still served, with ``is_hidden: true``."""
        found = self.node(native_id)
        if found is None or found[0] == "Page":
            raise KeyError(f"no post or comment {native_id!r}")
        found[1]["is_hidden"] = True

    def add_comment(self, text: str, *, author: str | None = "A Parent", at: datetime | None = None,
                    reply_to: str | None = None) -> str:
        """A comment under the newest Page post (``reply_to`` a post or comment id to choose)."""
        when = self._at(at)
        if reply_to is None:
            own = [p for p in self.posts if p.get("from", {}).get("id") == self.page_id and p["_at"] <= when]
            reply_to = newest_first(own)[0]["id"] if own else self.add_post("News from the school this week", at=when - timedelta(hours=1))
        return self._add_comment(reply_to, text, self._person(author), when)

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._add_comment(to, text, self._page_author(), self._at(at))

    def remove(self, native_id: str) -> None:
        self.posts = [p for p in self.posts if p.get("id") != native_id]
        self.tagged = [p for p in self.tagged if p.get("id") != native_id]
        self.comments.pop(native_id, None)
        for post_id, comments in self.comments.items():
            self.comments[post_id] = [c for c in comments if c.get("id") != native_id]

    def add_malformed(self) -> None:
        """A comment with an unreadable created_time under the newest Page post."""
        post_id = newest_first(self.posts)[0]["id"] if self.posts else self.add_post("School news")
        number = self._next_number()
        self.comments.setdefault(post_id, []).append({
            "id": f"{post_id.split('_')[-1]}_{number}", "message": "broken", "created_time": "yesterday-ish",
            "from": self._person("Someone"), "_at": self.default_time(), "_seq": number,
        })

    # -- state --------------------------------------------------------------------------------

    def node(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        if object_id == self.page_id:
            return "Page", {"id": self.page_id, "name": self.page_name}
        for post in (*self.posts, *self.tagged):
            if post["id"] == object_id:
                return "Post", post
        for comments in self.comments.values():
            for comment in comments:
                if comment.get("id") == object_id:
                    return "Comment", comment
        return None

    def _page_author(self) -> dict[str, str]:
        return {"id": self.page_id, "name": self.page_name}

    @staticmethod
    def _person(name: str | None) -> dict[str, str] | None:
        return {"id": user_id(name), "name": name} if name else None

    def _add_post(self, where: list[dict[str, Any]], text: str, author: dict[str, str] | None, at: datetime) -> str:
        number = self._next_number()
        owner = self.page_id if where is self.posts else user_id(f"profile-{number}")
        post_id = f"{owner}_{number}"
        record = {"id": post_id, "message": text, "created_time": graph_time(at), "is_hidden": False,
                  "permalink_url": f"https://www.facebook.com/{owner}/posts/{number}", "_at": at, "_seq": number}
        if author:
            record["from"] = author
        where.append(record)
        self.comments.setdefault(post_id, [])
        return post_id

    def _add_comment(self, to: str, text: str, author: dict[str, str] | None, at: datetime) -> str:
        post_id, parent = self._locate(to)
        number = self._next_number()
        comment_id = f"{post_id.split('_')[-1]}_{number}"
        record: dict[str, Any] = {
            "id": comment_id, "message": text, "created_time": graph_time(at), "like_count": 0, "comment_count": 0,
            "is_hidden": False, "can_hide": True,
            "permalink_url": f"https://www.facebook.com/{post_id.replace('_', '/posts/')}?comment_id={number}",
            "_at": at, "_seq": number,
        }
        if author:
            record["from"] = author
        if parent is not None:
            record["parent"] = {"id": parent["id"]}
            parent["comment_count"] = parent.get("comment_count", 0) + 1
        self.comments[post_id].append(record)
        return comment_id

    def _locate(self, native_id: str) -> tuple[str, dict[str, Any] | None]:
        """(post id, parent comment or None) of what ``native_id`` names."""
        if native_id in self.comments:
            return native_id, None
        for post_id, comments in self.comments.items():
            for comment in comments:
                if comment.get("id") == native_id:
                    return post_id, comment
        raise KeyError(f"no post or comment {native_id!r}")

    # -- writes -------------------------------------------------------------------------------

    def _may_write(self) -> Response | None:
        """Graph's answer to a write the Page token has no permission for (error 200), else None."""
        if "pages_manage_engagement" in self.permissions:
            return None
        # permission errors are codes 200-299 (Graph API "Handling errors" guide)
        return self.error(403, 200, "(#200) The user hasn't authorized the application to perform this action")

    def _write_reply(self, request: Request) -> Response:
        """``POST /{object-id}/comments`` with ``message``: the Page comments (replies) on it."""
        target = request.params["id"]
        found = self.node(target)
        if found is None or found[0] == "Page":
            return self.missing(target)
        refused = self._may_write()
        if refused:
            return refused
        message = {**request.query, **request.form()}.get("message", "")
        if not message.strip():
            return self.error(400, 100, "(#100) Missing message or attachment")
        comment_id = self._add_comment(target, message, self._page_author(), self.default_time())
        return Response(200, {"id": comment_id}, delay=self.write_delay)

    def _write_hidden(self, request: Request) -> Response:
        """``POST /{comment-id}`` with ``is_hidden=true|false``."""
        found = self.node(request.params["id"])
        if found is None:
            return self.missing(request.params["id"])
        refused = self._may_write()
        if refused:
            return refused
        value = {**request.query, **request.form()}.get("is_hidden")
        if found[0] != "Comment" or value not in ("true", "false") or not found[1].get("can_hide"):
            return self.error(400, 100, "(#100) Invalid parameter")
        found[1]["is_hidden"] = value == "true"
        return Response(200, {"success": True}, delay=self.write_delay)

    def _write_delete(self, request: Request) -> Response:
        """``DELETE /{comment-id}``."""
        found = self.node(request.params["id"])
        if found is None or found[0] == "Page":
            return self.missing(request.params["id"])
        refused = self._may_write()
        if refused:
            return refused
        self.remove(request.params["id"])
        return Response(200, {"success": True}, delay=self.write_delay)

    def replies_to(self, native_id: str) -> list[dict[str, Any]]:
        """The replies under a comment or post, oldest first (for tests)."""
        post_id, parent = self._locate(native_id)
        return [c for c in self.comments.get(post_id, [])
                if (parent is None and "parent" not in c) or c.get("parent", {}).get("id") == native_id]

    # -- routes -------------------------------------------------------------------------------

    def _feed(self, request: Request) -> Response:
        if request.params["id"] != self.page_id:
            return self.missing(request.params["id"])
        return self.paged(request, newest_first([*self.posts, *self.tagged]), "Post")

    def _published(self, request: Request) -> Response:
        if request.params["id"] != self.page_id:
            return self.missing(request.params["id"])
        own = [p for p in self.posts if p.get("from", {}).get("id") == self.page_id]
        return self.paged(request, newest_first(own), "Post")

    def _tagged(self, request: Request) -> Response:
        if request.params["id"] != self.page_id:
            return self.missing(request.params["id"])
        return self.paged(request, newest_first(self.tagged), "Post")

    def _comments(self, request: Request) -> Response:
        post_id = request.params["id"]
        if post_id not in self.comments:
            try:
                post_id, parent = self._locate(post_id)
            except KeyError:
                return self.missing(request.params["id"])
            records = [c for c in self.comments[post_id] if c.get("parent", {}).get("id") == parent["id"]]
        else:
            records = self.comments[post_id]
            if request.query.get("filter", "toplevel") != "stream":
                records = [c for c in records if "parent" not in c]
        ordered = newest_first(records)
        if request.query.get("order", "chronological") != "reverse_chronological" or not self.honour_order:
            ordered.reverse()
        return self.paged(request, ordered, "Comment")
