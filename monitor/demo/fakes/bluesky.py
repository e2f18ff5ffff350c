"""A fake Bluesky: the school's PDS (app-password sessions, and the AppView reads it forwards:
notifications, the school's author feed, post search, getPosts), every author's PDS
(``com.atproto.repo.getRecord``, no session needed) and the PLC directory (``GET /<did>``, the DID
document naming the author's PDS). One server plays them all.

Access tokens expire on demand (``expire_access``: the next call gets the documented
``ExpiredToken`` 400 and the client must refresh), and ``expire_credentials`` refuses everything,
the app password included. Lists are newest first with an opaque ``cursor``, ``page_size`` at a time.
A public comment (``add_comment``) is a reply under the school's latest post, as on a real account.

As on the real AppView:
- a post has the ``createdAt`` its author's client wrote (any date at all, see ``claimed``) and
  the ``indexedAt`` the server gave it; ``sortAt`` is the earlier of the two, and search sorts and
  filters ``since`` on it (the searchPosts lexicon: "Expected to use 'sortAt' timestamp, which may
  not match 'createdAt'");
- a block in either direction between the school and an author (``block``) hides the author's
  posts from the school's session in getPosts, searchPosts and notifications (atproto
  ``packages/bsky/src/api/app/bsky/feed/getPosts.ts``: ``noBlocks`` drops every post for which
  ``viewerBlockExists``), while the author's PDS still serves the record to anyone;
- the author's PDS answers a deleted record with 400 ``RecordNotFound`` (atproto
  ``packages/pds/src/api/com/atproto/repo/getRecord.ts``).

The school's writes: ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` (a reply, whose
``reply.root`` and ``reply.parent`` must be strong refs to the thread's first post and the post
answered, cids included) or an ``app.bsky.graph.block``; ``com.atproto.moderation.createReport``
(a strong ref to an existing post and a known ``reasonType``; the ``atproto-proxy`` header is kept in
``reports``); and the reads that check them: ``com.atproto.repo.listRecords`` of the school's
repository, ``app.bsky.feed.getPostThread`` and ``app.bsky.actor.getProfile`` (``viewer.blocking``).
A record that does not validate is refused with 400 ``InvalidRequest`` ("Invalid app.bsky.feed.post
record: ..."), as the PDS does; text over 300 graphemes included. An expired session gets the usual
400 ``ExpiredToken``, a missing one 401 ``AuthenticationRequired``.
"""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response

SCHOOL_DID = "did:plc:ravenswoodschool0000001"
SCHOOL_HANDLE = "ravenswood.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
MODERATION_SERVICE = "did:plc:ar7c4by46qjdydhdevvrndac#atproto_labeler"
#: the app.bsky.feed.post lexicon: ``text`` maxGraphemes 300, maxLength 3000
MAX_GRAPHEMES, MAX_LENGTH = 300, 3000
REASONS = {f"com.atproto.moderation.defs#{r}" for r in
           ("reasonSpam", "reasonViolation", "reasonMisleading", "reasonSexual", "reasonRude", "reasonOther")}


@dataclass
class FakePost:
    uri: str
    author_did: str
    handle: str
    display_name: str | None
    text: str
    created: datetime
    parent: str | None = None
    root: str | None = None
    likes: int = 0
    malformed: bool = False
    #: the createdAt the author's client wrote, when it is not the time the post was indexed
    claimed: str | None = None

    @property
    def sort_at(self) -> datetime:
        """The AppView's sortAt: the earlier of the client's createdAt and the server's indexedAt."""
        try:
            claimed = datetime.fromisoformat(self.claimed.replace("Z", "+00:00")) if self.claimed else None
        except ValueError:
            claimed = None
        if claimed is None or claimed.tzinfo is None:
            return self.created
        return min(claimed, self.created)


class FakeBluesky(FakePlatform):
    type = "bluesky"

    def __init__(self, *, page_size: int = 5) -> None:
        super().__init__()
        self.page_size = page_size
        self.posts: list[FakePost] = []
        self.refused = False
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.logins = 0
        #: (blocker DID, blocked DID)
        self.blocks: set[tuple[str, str]] = set()
        #: every account that ever posted: DID -> handle (an account outlives its deleted posts)
        self.accounts: dict[str, str] = {SCHOOL_DID: SCHOOL_HANDLE}
        #: the PDS a DID document names, when not this server
        self.pds_of: dict[str, str] = {}
        self._numbers = itertools.count(1)
        self.route("POST", "/xrpc/com.atproto.server.createSession")(self._create_session)
        self.route("POST", "/xrpc/com.atproto.server.refreshSession")(self._refresh_session)
        self.route("GET", "/xrpc/app.bsky.notification.listNotifications")(self._notifications)
        self.route("GET", "/xrpc/app.bsky.feed.getAuthorFeed")(self._author_feed)
        self.route("GET", "/xrpc/app.bsky.feed.searchPosts")(self._search)
        self.route("GET", "/xrpc/app.bsky.feed.getPosts")(self._get_posts)
        self.route("GET", "/xrpc/com.atproto.repo.getRecord")(self._get_record)
        self.route("GET", r"/(?P<did>did:[a-z]+:[A-Za-z0-9._:%-]+)")(self._did_document)
        self.route("POST", "/xrpc/com.atproto.repo.createRecord")(self._create_record)
        self.route("POST", "/xrpc/com.atproto.moderation.createReport")(self._create_report)
        self.route("GET", "/xrpc/com.atproto.repo.listRecords")(self._list_records)
        self.route("GET", "/xrpc/app.bsky.feed.getPostThread")(self._post_thread)
        self.route("GET", "/xrpc/app.bsky.actor.getProfile")(self._profile)
        #: the school's block records: rkey -> blocked DID; the reports it made
        self.block_records: dict[str, str] = {}
        self.reports: list[dict[str, Any]] = []
        #: the links in the school's posts: (the text a facet covers, the uris it links to)
        self.links: list[tuple[str, list[Any]]] = []
        #: seconds a write's answer is held back after the write is made (a crash between the two)
        self.write_delay = 0.0
        #: the time the school's writes are given
        self.default_time = lambda: datetime.now(timezone.utc)

    # -- FakePlatform ---------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "type": "bluesky", "official": True, "interval": "5m", "timeout": "5s",
            "base_url": self.url, "plc_url": self.url, "identifier": SCHOOL_HANDLE, "password": APP_PASSWORD,
            "queries": ["Ravens Wood"], "backfill": "14d",
        }

    def add_comment(self, text: str, *, author: str = "A Parent", at: datetime | None = None,
                    reply_to: str | None = None, likes: int = 0, claimed: str | None = None) -> str:
        """A reply under ``reply_to`` (by default the school's latest post), indexed ``at``;
        ``claimed`` is what the author's client wrote as createdAt, when it differs."""
        at = at or datetime.now(timezone.utc)
        if reply_to is None:
            reply_to = self._school_post(at).uri
        post = self._post(author_did(author), f"{author.split()[-1].lower()}.bsky.social", author, text, at,
                          reply_to, likes)
        post.claimed = claimed
        return post.uri

    def add_mention(self, text: str, *, author: str = "A Neighbour", at: datetime | None = None,
                    claimed: str | None = None) -> str:
        """A post that is not a reply (found by search, or by notification if it tags the school)."""
        post = self._post(author_did(author), "neighbour.bsky.social", author, text,
                          at or datetime.now(timezone.utc), None, 0)
        post.claimed = claimed
        return post.uri

    def block(self, blocker: str, blocked: str) -> None:
        """``blocker`` (a DID) blocks ``blocked``: the AppView hides each from the other."""
        self.blocks.add((blocker, blocked))

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._post(SCHOOL_DID, SCHOOL_HANDLE, "Ravens Wood School", text,
                          at or datetime.now(timezone.utc), to, 0).uri

    def remove(self, native_id: str) -> None:
        self.posts = [p for p in self.posts if p.uri != native_id]

    def add_malformed(self) -> None:
        post = self._post("did:plc:broken", "broken.bsky.social", None, "broken",
                          datetime.now(timezone.utc), self._school_post(datetime.now(timezone.utc)).uri, 0)
        post.malformed = True

    def expire_credentials(self) -> None:
        self.refused = True
        self.access.clear()
        self.refresh.clear()

    def renew_credentials(self) -> None:
        self.refused = False

    def expire_access(self) -> None:
        """Access tokens expire (as they do every couple of hours); refresh tokens still work."""
        self.access.clear()

    def school_replies(self, to: str) -> list[FakePost]:
        """The school's posts answering ``to`` (for tests)."""
        return [p for p in self.posts if p.author_did == SCHOOL_DID and p.parent == to]

    def author_of(self, uri: str) -> str:
        return self._author_of(uri)

    # -- state ----------------------------------------------------------------------------

    def _school_post(self, at: datetime) -> FakePost:
        own = [p for p in self.posts if p.author_did == SCHOOL_DID and p.parent is None]
        if own:
            return max(own, key=lambda p: p.created)
        return self._post(SCHOOL_DID, SCHOOL_HANDLE, "Ravens Wood School", "Welcome back to the new term!",
                          at - timedelta(minutes=1), None, 0)

    def _post(self, did, handle, name, text, at, reply_to, likes) -> FakePost:
        root = None
        if reply_to is not None:
            target = next(p for p in self.posts if p.uri == reply_to)
            root = target.root or target.uri
        rkey = f"3l{next(self._numbers):011d}"
        post = FakePost(uri=f"at://{did}/app.bsky.feed.post/{rkey}", author_did=did, handle=handle,
                        display_name=name, text=text, created=at, parent=reply_to, root=root, likes=likes)
        self.posts.append(post)
        self.accounts.setdefault(did, handle)
        return post

    def _blocked(self, post: FakePost) -> bool:
        """Whether a block stands between the school (every session's viewer) and the post's author."""
        return (SCHOOL_DID, post.author_did) in self.blocks or (post.author_did, SCHOOL_DID) in self.blocks

    def _author_of(self, uri: str | None) -> str | None:
        return uri.removeprefix("at://").split("/")[0] if uri else None

    def _newest(self, posts) -> list[FakePost]:
        return sorted(posts, key=lambda p: p.created, reverse=True)

    # -- serving --------------------------------------------------------------------------

    def _create_session(self, request: Request) -> Response:
        body = request.json() or {}
        if self.refused or body.get("identifier") != SCHOOL_HANDLE or body.get("password") != APP_PASSWORD:
            return Response(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
        self.logins += 1
        return Response(200, self._session())

    def _refresh_session(self, request: Request) -> Response:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if token not in self.refresh:
            return Response(400, {"error": "ExpiredToken", "message": "Token has expired"})
        self.refresh.discard(token)
        return Response(200, self._session())

    def _session(self) -> dict[str, Any]:
        number = next(self._numbers)
        access, refresh = f"access-{number}", f"refresh-{number}"
        self.access.add(access)
        self.refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, "handle": SCHOOL_HANDLE, "did": SCHOOL_DID,
                "email": "office@ravenswood.example", "active": True}

    def _authorised(self, request: Request) -> Response | None:
        header = request.header("authorization")
        if not header:
            return Response(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        if header.removeprefix("Bearer ") not in self.access:
            return Response(400, {"error": "ExpiredToken", "message": "Token has expired"})
        return None

    def _page(self, request: Request, records: list[Any], key: str, render) -> Response:
        size = min(int(request.query.get("limit", 50)), self.page_size)
        start = int(request.query.get("cursor") or 0)
        body: dict[str, Any] = {key: [render(r) for r in records[start:start + size]]}
        if start + size < len(records):
            body["cursor"] = str(start + size)
        return Response(200, body)

    def _notifications(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        mention = f"@{SCHOOL_HANDLE}"
        found = [
            p for p in self._newest(self.posts) if p.author_did != SCHOOL_DID and not self._blocked(p) and (
                SCHOOL_DID in (self._author_of(p.parent), self._author_of(p.root)) or mention in p.text)
        ]
        return self._page(request, found, "notifications", self._notification)

    def _author_feed(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        actor = request.query.get("actor")
        own = sorted((p for p in self.posts if actor in (p.author_did, p.handle)), key=lambda p: p.sort_at,
                     reverse=True)
        return self._page(request, own, "feed", lambda p: {"post": self._post_view(p)})

    def _search(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        terms = request.query.get("q", "").casefold().split()
        since = request.query.get("since")
        since_at = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        found = sorted((p for p in self.posts if not self._blocked(p) and all(t in p.text.casefold() for t in terms)
                        and (since_at is None or p.sort_at >= since_at)), key=lambda p: p.sort_at, reverse=True)
        response = self._page(request, found, "posts", self._post_view)
        response.body["hitsTotal"] = len(found)
        return response

    def _get_posts(self, request: Request) -> Response:
        """The post asked for if it exists and no block stands between its author and the viewer;
        otherwise it is simply left out of ``posts``.
        (The real call takes up to 25 ``uris``; the fake server keeps one value per key.)"""
        if (refused := self._authorised(request)) is not None:
            return refused
        uri = request.query.get("uris")
        if not uri:
            return Response(400, {"error": "InvalidRequest", "message": 'Error: Params must have the property "uris"'})
        return Response(200, {"posts": [self._post_view(p) for p in self.posts if p.uri == uri and not self._blocked(p)]})

    def _get_record(self, request: Request) -> Response:
        """com.atproto.repo.getRecord on the author's PDS: public, no session, blind to blocks."""
        params = {k: request.query.get(k) for k in ("repo", "collection", "rkey")}
        for name, value in params.items():
            if not value:
                return Response(400, {"error": "InvalidRequest", "message": f'Error: Params must have the property "{name}"'})
        did = params["repo"] if params["repo"] in self.accounts else next(
            (d for d, h in self.accounts.items() if h == params["repo"]), None)
        if did is None:
            return Response(400, {"error": "InvalidRequest", "message": f"Could not find repo: {params['repo']}"})
        uri = f"at://{did}/{params['collection']}/{params['rkey']}"
        post = next((p for p in self.posts if p.uri == uri), None)
        if post is None:
            return Response(400, {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"})
        return Response(200, {"uri": uri, "cid": _cid(uri), "value": self._record(post)})

    def _did_document(self, request: Request) -> Response:
        """The PLC directory's answer: the DID document, whose #atproto_pds service is the PDS."""
        did = request.params["did"]
        if did not in self.accounts:
            return Response(404, {"message": f"DID not registered: {did}"})
        return Response(200, {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did, "alsoKnownAs": [f"at://{self.accounts[did]}"],
            "verificationMethod": [{"id": f"{did}#atproto", "type": "Multikey", "controller": did,
                                    "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                         "serviceEndpoint": self.pds_of.get(did, self.url)}],
        })

    # -- the school's writes ---------------------------------------------------------------

    def _create_record(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        body = request.json() if isinstance(request.json(), dict) else {}
        if body.get("repo") not in (SCHOOL_DID, SCHOOL_HANDLE):
            return Response(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        collection, record = body.get("collection"), body.get("record")
        if not isinstance(record, dict) or record.get("$type", collection) != collection:
            return _invalid(f"Invalid {collection} record: Record/$type must be {collection}")
        if collection == "app.bsky.feed.post":
            return self._create_post(record)
        if collection == "app.bsky.graph.block":
            subject = record.get("subject")
            if not isinstance(subject, str) or not subject.startswith("did:") or not _datetime(record.get("createdAt")):
                return _invalid("Invalid app.bsky.graph.block record: Record/subject must be a valid did")
            rkey = f"3b{next(self._numbers):011d}"
            self.block_records[rkey] = subject
            self.blocks.add((SCHOOL_DID, subject))
            uri = f"at://{SCHOOL_DID}/app.bsky.graph.block/{rkey}"
            return Response(200, {"uri": uri, "cid": _cid(uri), "validationStatus": "valid"}, delay=self.write_delay)
        return _invalid(f"Lexicon not found: lex:{collection}")

    def _create_post(self, record: dict[str, Any]) -> Response:
        text = record.get("text")
        if not isinstance(text, str):
            return _invalid("Invalid app.bsky.feed.post record: Record/text must be a string")
        if len(text) > MAX_LENGTH or _graphemes(text) > MAX_GRAPHEMES:
            return _invalid(f"Invalid app.bsky.feed.post record: Record/text must not be longer than "
                            f"{MAX_GRAPHEMES} graphemes")
        created = _datetime(record.get("createdAt"))
        if created is None:
            return _invalid("Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime")
        for facet in record.get("facets") or []:
            index = facet.get("index") if isinstance(facet, dict) else None
            encoded = text.encode("utf-8")
            if (not isinstance(index, dict) or not all(isinstance(index.get(k), int) for k in ("byteStart", "byteEnd"))
                    or not 0 <= index["byteStart"] < index["byteEnd"] <= len(encoded)):
                return _invalid("Invalid app.bsky.feed.post record: Record/facets/index must be a byte range of the text")
            self.links.append((encoded[index["byteStart"]:index["byteEnd"]].decode("utf-8", "replace"),
                               [f.get("uri") for f in facet.get("features") or [] if isinstance(f, dict)]))
        reply = record.get("reply")
        parent = None
        if reply is not None:
            refs = reply if isinstance(reply, dict) else {}
            root_ref, parent_ref = refs.get("root"), refs.get("parent")
            if not (_is_ref(root_ref) and _is_ref(parent_ref)):
                return _invalid("Invalid app.bsky.feed.post record: Record/reply/root and Record/reply/parent "
                                "must be strong refs (uri and cid)")
            parent = next((p for p in self.posts if p.uri == parent_ref["uri"]), None)
            # the AppView drops a reply whose refs do not name the thread it is in
            if (parent is None or parent_ref["cid"] != _cid(parent.uri)
                    or root_ref["uri"] != (parent.root or parent.uri) or root_ref["cid"] != _cid(root_ref["uri"])):
                return _invalid("Invalid app.bsky.feed.post record: Record/reply does not name an existing "
                                "post and its thread's root")
        post = self._post(SCHOOL_DID, SCHOOL_HANDLE, "Ravens Wood School", text, self.default_time(),
                          parent.uri if parent else None, 0)
        post.claimed = record["createdAt"]
        return Response(200, {"uri": post.uri, "cid": _cid(post.uri), "validationStatus": "valid",
                              "commit": {"cid": "bafycommit" + post.uri[-8:], "rev": post.uri[-13:]}},
                        delay=self.write_delay)

    def _create_report(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        body = request.json() if isinstance(request.json(), dict) else {}
        subject = body.get("subject")
        if body.get("reasonType") not in REASONS:
            return _invalid("Input/reasonType must be a known reason")
        if not _is_ref(subject) or not any(p.uri == subject["uri"] and _cid(p.uri) == subject["cid"] for p in self.posts):
            return _invalid("Input/subject must be a strong ref to an existing record")
        report = {"id": len(self.reports) + 1, "reasonType": body["reasonType"], "reason": body.get("reason"),
                  "subject": subject, "reportedBy": SCHOOL_DID,
                  "createdAt": self._indexed_at_time(self.default_time())}
        self.reports.append({**report, "proxy": request.header("atproto-proxy")})
        return Response(200, report, delay=self.write_delay)

    def _list_records(self, request: Request) -> Response:
        repo, collection = request.query.get("repo"), request.query.get("collection")
        if repo not in (SCHOOL_DID, SCHOOL_HANDLE):
            return Response(400, {"error": "InvalidRequest", "message": f"Could not find repo: {repo}"})
        own = [p for p in self._newest(self.posts) if p.author_did == SCHOOL_DID]
        records = ([{"uri": p.uri, "cid": _cid(p.uri), "value": self._record(p)} for p in own]
                   if collection == "app.bsky.feed.post" else [])
        return Response(200, {"records": records[:min(int(request.query.get("limit", 50)), 100)]})

    def _post_thread(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        post = next((p for p in self.posts if p.uri == request.query.get("uri")), None)
        if post is None:
            return Response(400, {"error": "NotFound", "message": f"Post not found: {request.query.get('uri')}"})
        replies = [{"$type": "app.bsky.feed.defs#threadViewPost", "post": self._post_view(p), "replies": []}
                   for p in self.posts if p.parent == post.uri and not self._blocked(p)]
        return Response(200, {"thread": {"$type": "app.bsky.feed.defs#threadViewPost",
                                         "post": self._post_view(post), "replies": replies}})

    def _profile(self, request: Request) -> Response:
        if (refused := self._authorised(request)) is not None:
            return refused
        actor = request.query.get("actor")
        did = actor if actor in self.accounts else next((d for d, h in self.accounts.items() if h == actor), None)
        if did is None:
            return Response(400, {"error": "InvalidRequest", "message": "Profile not found"})
        viewer: dict[str, Any] = {"muted": False, "blockedBy": (did, SCHOOL_DID) in self.blocks}
        rkey = next((k for k, blocked in self.block_records.items() if blocked == did), None)
        if rkey is not None:
            viewer["blocking"] = f"at://{SCHOOL_DID}/app.bsky.graph.block/{rkey}"
        return Response(200, {"did": did, "handle": self.accounts[did], "viewer": viewer})

    def _indexed_at_time(self, at: datetime) -> str:
        return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _author(self, post: FakePost) -> dict[str, Any]:
        author: dict[str, Any] = {"did": post.author_did, "handle": post.handle, "labels": []}
        if post.display_name is not None:
            author["displayName"] = post.display_name
        return author

    def _indexed_at(self, post: FakePost) -> str:
        if post.malformed:
            return "yesterday"
        return post.created.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _record(self, post: FakePost) -> dict[str, Any]:
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": post.text,
                                  "createdAt": post.claimed or self._indexed_at(post), "langs": ["en"]}
        if post.parent:
            record["reply"] = {"root": {"uri": post.root, "cid": _cid(post.root)},
                               "parent": {"uri": post.parent, "cid": _cid(post.parent)}}
        return record

    def _post_view(self, post: FakePost) -> dict[str, Any]:
        view = {
            "uri": post.uri, "cid": _cid(post.uri), "author": self._author(post), "record": self._record(post),
            "replyCount": sum(1 for p in self.posts if p.parent == post.uri), "repostCount": 0,
            "likeCount": post.likes, "quoteCount": 0, "indexedAt": self._indexed_at(post),
        }
        if post.malformed:
            del view["uri"]
        return view

    def _notification(self, post: FakePost) -> dict[str, Any]:
        school_thread = SCHOOL_DID in (self._author_of(post.parent), self._author_of(post.root))
        view = {
            "uri": post.uri, "cid": _cid(post.uri), "author": self._author(post),
            "reason": "reply" if school_thread else "mention", "record": self._record(post), "isRead": False,
            "indexedAt": self._indexed_at(post), "labels": [],
        }
        if school_thread:
            view["reasonSubject"] = post.parent
        if post.malformed:
            del view["uri"]
        return view


def author_did(author: str) -> str:
    """The DID the fake gives an author's name."""
    return f"did:plc:{hashlib.sha256(author.encode()).hexdigest()[:24]}"



def _cid(uri: str | None) -> str:
    """The cid the fake gives the record at ``uri`` (content-addressed on the real network)."""
    return "bafy" + (uri or "")[-11:]


def _is_ref(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("uri"), str) and value["uri"].startswith("at://")
            and isinstance(value.get("cid"), str) and bool(value["cid"]))


def _invalid(message: str) -> Response:
    return Response(400, {"error": "InvalidRequest", "message": message})


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _graphemes(text: str) -> int:
    """Grapheme clusters, near enough: a combining mark joins the character before it."""
    return sum(1 for ch in text if not unicodedata.combining(ch))
