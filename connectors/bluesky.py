"""Bluesky (AT Protocol) through the XRPC HTTP API, logged in with an app password.

Three streams, each newest first and read down to its checkpoint:

- ``app.bsky.notification.listNotifications`` (replies, mentions, quotes): the comments on the
  school's posts and the posts that tag it;
- ``app.bsky.feed.getAuthorFeed`` of the school's account: its posts and replies, so that a reply
  by the school closes the case of the post it answers;
- ``app.bsky.feed.searchPosts`` for each configured query (``sort=latest``, ``since``, ``cursor``):
  public talk about the school that does not tag it.

An idle poll makes two requests plus one per query. The session (``createSession``) is kept in
memory, never stored; an ``ExpiredToken`` answer is met with ``refreshSession`` (or a new login)
and one retry. A refused app password is an AuthError. ``searchPosts`` needs this session: the
public AppView has refused anonymous searches since January 2025 (bluesky-social/atproto#3423).

Checkpoints use the server's ``indexedAt``, never the ``createdAt`` the author's client wrote
(which can say 9999-12-31 or 0001-01-01), and never run ahead of the connector's clock. Search's
``since`` filters on ``sortAt``, the earlier of the two (the searchPosts lexicon: "Expected to use
'sortAt' timestamp, which may not match 'createdAt'"), so a checkpoint from ``indexedAt`` less the
overlap covers every post indexed since; a post backdated by more than the overlap is not found by
search (notifications still bring replies and mentions).

Whether a post still exists is asked of the author's own PDS, found through the author's DID
document (the PLC directory for ``did:plc``, ``/.well-known/did.json`` for ``did:web``), with
``com.atproto.repo.getRecord`` and no session. Not through the school's AppView session:
``app.bsky.feed.getPosts`` leaves out every post across a block in either direction (atproto
``packages/bsky/src/api/app/bsky/feed/getPosts.ts``, ``noBlocks`` and ``viewerBlockExists``), so a
harasser the school blocked, or who blocked the school, would read as deleted while the post stays
public. Only the PDS's ``RecordNotFound`` counts as gone (``packages/pds/src/api/com/atproto/repo/
getRecord.ts``); any other answer cannot tell. The school's session token is never sent there.

Writes, for a source with ``actions``, all with the app password's session: an app password has "most
of the same abilities as the user's account password" (only account deletion, migration and new app
passwords are withheld: bluesky-social/atproto-ecosystem ``app-passwords.md``), so no permission
beyond it is needed, and none exists to grant.

- ``reply``: ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` whose ``reply`` holds
  strong refs (uri and cid) to the post answered (``parent``) and to its thread's first post
  (``root``: the parent's own ``reply.root`` when the parent is itself a reply), as the
  ``app.bsky.feed.post`` lexicon requires. The parent is read with ``app.bsky.feed.getPosts``. An
  in-doubt reply is looked for in the school's own repository (``com.atproto.repo.listRecords``,
  which the PDS answers at once) and in the thread (``app.bsky.feed.getPostThread``, which the
  AppView fills a moment later) before it is made again. A web address in the reply is made a link
  (an ``app.bsky.richtext.facet#link`` over its UTF-8 bytes): Bluesky, unlike Mastodon, links nothing
  by itself.
- Nobody but a post's author (and Bluesky's moderators) can remove it, so ``hide`` and ``delete``
  are not offered. ``block``: a ``app.bsky.graph.block`` record naming the author (public, as every
  block on Bluesky is): they can no longer reply to the school or see its posts, and their replies
  are hidden from the school's account, the monitor included; an in-doubt block is read in
  ``app.bsky.actor.getProfile`` (``viewer.blocking``). ``report``:
  ``com.atproto.moderation.createReport`` of the post (a strong ref; reason
  ``com.atproto.moderation.defs#reasonRude``), sent through the school's PDS to Bluesky's moderation
  service (the ``atproto-proxy`` header, ``moderation_service``). The post stays public after both.
- A record the PDS refuses is answered 400 ``InvalidRequest`` (a reply longer than 300 graphemes): the
  action is refused with Bluesky's message. An expired session is renewed and the write tried once more.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Literal
from urllib.parse import unquote

import httpx
from pydantic import Field

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
)
from connectors.webapi import bearer_token, body_json, expect_json, reset_time, send
from monitor.config import Lookback

logger = logging.getLogger(__name__)

#: Timestamps are the platform's and may arrive a little out of order: re-read this much.
OVERLAP = timedelta(minutes=10)
SESSION_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}
NOTIFY_REASONS = ("reply", "mention", "quote")
TEXT_LIMIT = 10000
#: no Bluesky AppView indexed anything before this: an earlier checkpoint is not a real one
EPOCH = datetime(2023, 1, 1, tzinfo=timezone.utc)
#: how long a DID's PDS address is remembered (accounts move between PDSs rarely)
PDS_MEMORY = timedelta(hours=1)
PDS_MEMORY_SIZE = 1000
#: Bluesky's own moderation service, where the school's PDS forwards a report (``atproto-proxy``)
BLUESKY_MODERATION = "did:plc:ar7c4by46qjdydhdevvrndac#atproto_labeler"
REPORT_REASON = "Reported by the school's social media moderators as abusive."


class BlueskySettings(SourceSettings):
    type: Literal["bluesky"] = "bluesky"
    #: the school's PDS (bsky.social for most accounts); it forwards reads to the Bluesky AppView
    base_url: str = "https://bsky.social"
    #: the school's handle (or its account email) and an app password (Settings > App passwords)
    identifier: str
    password: Secret
    #: the school's DID; by default the DID of the account the app password belongs to
    did: str | None = Field(default=None, pattern=r"^did:[a-z]+:[A-Za-z0-9._:%-]+$")
    #: searchPosts queries for public posts about the school, e.g. "Ravens Wood School"
    queries: list[str] = Field(default_factory=list)
    #: the PLC directory, where a did:plc author's DID document (and so their PDS) is found
    plc_url: str = "https://plc.directory"
    page_size: int = Field(default=50, ge=1, le=100)
    backfill: Lookback = timedelta(days=7)
    #: the moderation service a report goes to (a DID and its ``#atproto_labeler`` service)
    moderation_service: str = Field(default=BLUESKY_MODERATION, pattern=r"^did:[a-z]+:[A-Za-z0-9._:%-]+#atproto_labeler$")


class BlueskyConnector(Connector):
    type = "bluesky"
    Settings = BlueskySettings
    supported_actions = frozenset({"reply", "block", "report"})
    #: Bluesky has no narrower permission: the app password's session can make every one of these
    action_scopes = dict.fromkeys(supported_actions, "app password")
    renew_hint = (
        "create a new app password for the school's Bluesky account (Settings > Privacy and security > "
        "App passwords) and update password in the configuration"
    )

    def __init__(self, settings: SourceSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.session: dict[str, str] | None = None
        #: DID -> (its PDS, until when that is trusted)
        self._pds_memory: dict[str, tuple[str | None, datetime]] = {}

    @property
    def school_did(self) -> str | None:
        return self.settings.did or (self.session or {}).get("did")

    # -- the poll -------------------------------------------------------------------------

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        cursor = dict(cursor or {})
        if self.session is None:
            self._login()
        streams = {"notifications": self._notifications, "school": self._school_feed}
        for query in self.settings.queries:
            streams[f"search:{query}"] = lambda since, q=query: self._search(q, since)
        items: dict[str, Item] = {}
        next_cursor: dict[str, Any] = {}
        for key, read in streams.items():
            found, next_cursor[key] = self._read_stream(read, cursor.get(key))
            for item in found:
                items.setdefault(item.native_id, item)
        return list(items.values()), next_cursor

    def _read_stream(self, read, saved: Any) -> tuple[list[Item], dict[str, Any]]:
        """Read one stream newest first down to its checkpoint (less an overlap).

        The checkpoint is the newest ``indexedAt`` seen, never later than now: one post's date
        can neither push it into the future (nothing newer would be read again) nor before Bluesky
        existed (a floor no calendar can subtract from)."""
        saved = saved if isinstance(saved, dict) else {}
        now = self.clock()
        since = _time_or_none(saved.get("since"))
        if since is not None:
            since = min(since, now) if since >= EPOCH else None
        seen = set(saved.get("seen") or [])
        floor = since - OVERLAP if since else now - self.settings.backfill
        items: list[Item] = []
        newest = since
        recent: dict[str, datetime] = {}
        for record, when in read(floor):
            if when is not None and when < floor:
                break
            try:
                item = self._to_item(record)
            except MALFORMED as exc:
                skip_record(self.name, record, str(exc))
                continue
            when = min(max(when or item.created_at, floor), now)
            newest = max(newest, when) if newest else when
            recent[item.native_id] = when
            if item.native_id not in seen:
                items.append(item)
        # everything this close to the checkpoint is read again next time: remember it, to skip it
        recent_seen = sorted(u for u, w in recent.items() if newest and w >= newest - OVERLAP)
        return items, {"since": newest.isoformat() if newest else None, "seen": recent_seen}

    def _notifications(self, floor: datetime) -> Iterator[tuple[Any, datetime | None]]:
        params = {"limit": self.settings.page_size, "reasons": list(NOTIFY_REASONS)}
        for entry in self._pages("app.bsky.notification.listNotifications", params, "notifications"):
            if isinstance(entry, dict) and entry.get("reason") not in NOTIFY_REASONS:
                continue
            yield entry, _sort_time(entry)

    def _school_feed(self, floor: datetime) -> Iterator[tuple[Any, datetime | None]]:
        params = {"actor": self.school_did, "filter": "posts_with_replies", "limit": self.settings.page_size}
        for entry in self._pages("app.bsky.feed.getAuthorFeed", params, "feed"):
            post = entry.get("post") if isinstance(entry, dict) else None
            if isinstance(entry, dict) and entry.get("reason"):
                continue  # a repost by the school, not its own words
            yield post if post is not None else entry, _sort_time(post)

    def _search(self, query: str, floor: datetime) -> Iterator[tuple[Any, datetime | None]]:
        params = {"q": query, "sort": "latest", "since": floor.isoformat().replace("+00:00", "Z"),
                  "limit": self.settings.page_size}
        for post in self._pages("app.bsky.feed.searchPosts", params, "posts"):
            yield post, _sort_time(post)  # the server's indexedAt; ``since`` bounds the search by sortAt

    def _pages(self, nsid: str, params: dict[str, Any], key: str) -> Iterator[Any]:
        page_cursor = None
        while True:
            data = self._call(nsid, {**params, "cursor": page_cursor} if page_cursor else params)
            records = data.get(key)
            if not isinstance(records, list):
                raise TransientError(f"Bluesky {nsid} answered without a list of {key}")
            yield from records
            page_cursor = data.get("cursor")
            if not page_cursor or not records:
                return

    def exists(self, native_id: str) -> bool | None:
        """``com.atproto.repo.getRecord`` on the author's PDS, without a session (see the module's
        docstring): True when it serves the record, False on ``RecordNotFound``, else None."""
        parts = _post_parts(native_id)
        if parts is None:
            return None  # not a post uri: nothing to ask
        did, collection, rkey = parts
        pds = self._pds(did)
        if pds is None:
            return None
        response = send(self, "GET", f"{pds}/xrpc/com.atproto.repo.getRecord",
                        params={"repo": did, "collection": collection, "rkey": rkey})
        status, name = response.status_code, _error_name(response)
        if status == 400 and name == "RecordNotFound":
            return False
        if status == 429 or status >= 500:
            self._checked(response, "getRecord")
        if status == 200:
            body = body_json(response)
            if isinstance(body, dict) and body.get("uri") == native_id and isinstance(body.get("value"), dict):
                return True
            raise TransientError(f"the PDS of {did} answered getRecord with another or no record")
        logger.info("source=%s cannot tell whether %s still exists: its PDS answered HTTP %s %s",
                    self.name, native_id, status, _error_message(response))
        return None

    def _pds(self, did: str) -> str | None:
        """The PDS named by the DID's document (remembered for a while), or None when there is none
        to trust."""
        now = self.clock()
        remembered = self._pds_memory.get(did)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        if did.startswith("did:plc:"):
            where = f"{self.settings.plc_url.rstrip('/')}/{did}"
        elif did.startswith("did:web:") and ":" not in did[8:] and self._may_ask(httpx.URL(f"https://{unquote(did[8:])}/")):
            where = f"https://{unquote(did[8:])}/.well-known/did.json"
        else:
            return None
        response = send(self, "GET", where)
        if response.status_code == 429 or response.status_code >= 500:
            self._checked(response, f"DID document of {did}")
        document = body_json(response) if response.status_code == 200 else None
        pds = self._pds_endpoint(did, document)
        if pds is None:
            logger.info("source=%s found no PDS to ask for %s (HTTP %s)", self.name, did, response.status_code)
        if len(self._pds_memory) >= PDS_MEMORY_SIZE:
            self._pds_memory.clear()
        self._pds_memory[did] = (pds, now + PDS_MEMORY)
        return pds

    def _pds_endpoint(self, did: str, document: Any) -> str | None:
        """The ``#atproto_pds`` service of a DID document: an https origin (http only when the
        directory configured is itself http, a test or a local network), else None."""
        if not isinstance(document, dict) or document.get("id") != did or not isinstance(document.get("service"), list):
            return None
        for service in document["service"]:
            if (isinstance(service, dict) and service.get("id") in ("#atproto_pds", f"{did}#atproto_pds")
                    and service.get("type") == "AtprotoPersonalDataServer"
                    and isinstance(service.get("serviceEndpoint"), str)):
                try:
                    url = httpx.URL(service["serviceEndpoint"])
                except (httpx.InvalidURL, ValueError, TypeError):
                    return None
                if not self._may_ask(url) or url.userinfo or url.path not in ("", "/") or url.query:
                    return None
                return str(url.copy_with(path="/")).rstrip("/")
        return None

    def _may_ask(self, url: httpx.URL) -> bool:
        """Whether an address taken from an author's DID may be asked: https on a public host. An
        author chooses it, so it must not turn the monitor towards the school's own network. With
        a plain-http directory (a test, or a network of one's own) any http(s) host is allowed."""
        if httpx.URL(self.settings.plc_url).scheme == "http":
            return url.scheme in ("http", "https") and bool(url.host)
        if url.scheme != "https" or not url.host or url.host == "localhost" or url.host.endswith(".localhost"):
            return False
        try:
            return ipaddress.ip_address(url.host).is_global
        except ValueError:
            return "." in url.host  # a name, not an address

    # -- writes ---------------------------------------------------------------------------

    def reply(self, native_id: str, text: str) -> Written:
        parent = self._post_view(native_id)
        parent_ref = _strong_ref(parent)
        if parent_ref is None:
            raise TransientError(f"Bluesky answered {native_id} without its cid")
        root_ref = _strong_ref(((parent.get("record") or {}).get("reply") or {}).get("root")) or parent_ref
        at = self.clock()
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": _iso(at),
                  "reply": {"root": root_ref, "parent": parent_ref}}
        if facets := link_facets(text):
            record["facets"] = facets
        made = self._create("app.bsky.feed.post", record, "reply")
        return Written(native_id=made["uri"], at=self.timestamp(record["createdAt"]))

    def find_reply(self, native_id: str, text: str) -> Written | None:
        """The school's post answering ``native_id`` with ``text``: in its own repository (newest 100
        records), else in the thread."""
        self._ensure_session()
        wanted = text.strip()
        listed = self._call("com.atproto.repo.listRecords", {"repo": self.school_did,
                                                             "collection": "app.bsky.feed.post", "limit": 100})
        for entry in listed.get("records") or []:
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, dict) and _answers(value, native_id, wanted) and isinstance(entry.get("uri"), str):
                return Written(native_id=entry["uri"], at=self.timestamp(value.get("createdAt")))
        thread = self._call("app.bsky.feed.getPostThread", {"uri": native_id, "depth": 1},
                            missing=("NotFound",)).get("thread") or {}
        for reply in thread.get("replies") or []:
            post = reply.get("post") if isinstance(reply, dict) else None
            if (isinstance(post, dict) and (post.get("author") or {}).get("did") == self.school_did
                    and isinstance(post.get("record"), dict) and _answers(post["record"], native_id, wanted)):
                return Written(native_id=post["uri"], at=self.timestamp(post["record"].get("createdAt")))
        return None

    def block(self, native_id: str) -> Written:
        author = _author_did(native_id)
        at = self.clock()
        made = self._create("app.bsky.graph.block", {"$type": "app.bsky.graph.block", "subject": author,
                                                      "createdAt": _iso(at)}, "block")
        return Written(native_id=made["uri"], at=at)

    def report(self, native_id: str) -> Written:
        ref = self._record_ref(native_id)
        body = {"reasonType": "com.atproto.moderation.defs#reasonRude", "reason": REPORT_REASON,
                "subject": {"$type": "com.atproto.repo.strongRef", **ref}}
        made = self._procedure("com.atproto.moderation.createReport", body, "report",
                               headers={"atproto-proxy": self.settings.moderation_service})
        if made.get("id") is None:
            raise TransientError(f"Bluesky answered the report of {native_id} without the report's id")
        try:
            at = self.timestamp(made.get("createdAt"))
        except ValueError:
            at = self.clock()
        return Written(native_id=str(made["id"]), at=at)

    def was_done(self, action: str, native_id: str) -> Written | None:
        """An in-doubt block is read in the author's profile as the school sees it (``viewer.blocking``);
        a report cannot be (Bluesky lists no account's own reports): None, so it is sent again."""
        if action != "block":
            return None
        self._ensure_session()
        profile = self._call("app.bsky.actor.getProfile", {"actor": _author_did(native_id)})
        blocking = (profile.get("viewer") or {}).get("blocking")
        return Written(native_id=blocking, at=self.clock()) if isinstance(blocking, str) else None

    def _post_view(self, native_id: str) -> dict[str, Any]:
        """The post as the AppView shows it to the school; ValueError when it is not shown."""
        _author_did(native_id)
        self._ensure_session()
        posts = self._call("app.bsky.feed.getPosts", {"uris": native_id}).get("posts") or []
        found = next((p for p in posts if isinstance(p, dict) and p.get("uri") == native_id), None)
        if found is None:
            raise ValueError(f"Bluesky does not show {native_id} to the school: it was deleted, or a block "
                             "stands between its author and the school")
        return found

    def _record_ref(self, native_id: str) -> dict[str, str]:
        """A strong ref to the post: from the AppView, or (across a block) from its author's PDS."""
        try:
            ref = _strong_ref(self._post_view(native_id))
        except ValueError:
            ref = None
        if ref is None:
            did, collection, rkey = _post_parts(native_id) or (None, None, None)
            pds = self._pds(did) if did else None
            if pds is not None:
                response = send(self, "GET", f"{pds}/xrpc/com.atproto.repo.getRecord",
                                params={"repo": did, "collection": collection, "rkey": rkey})
                body = body_json(response) if response.status_code == 200 else None
                ref = _strong_ref(body) if isinstance(body, dict) and body.get("uri") == native_id else None
        if ref is None:
            raise ValueError(f"{native_id} is no longer on Bluesky: there is nothing to report")
        return ref

    def _create(self, collection: str, record: dict[str, Any], action: str) -> dict[str, Any]:
        self._ensure_session()
        made = self._procedure("com.atproto.repo.createRecord",
                               {"repo": self.school_did, "collection": collection, "record": record}, action)
        if not isinstance(made.get("uri"), str) or not made["uri"].startswith(f"at://{self.school_did}/{collection}/"):
            raise TransientError(f"Bluesky answered the {action} without the new record's uri")
        return made

    def _procedure(self, nsid: str, body: dict[str, Any], action: str, *,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
        """A POST with the session (renewed once if it expired): a refused session is an AuthError, a
        refused request (400 ``InvalidRequest``...) a ValueError, so that the action is refused."""
        self._ensure_session()
        response = self._post(nsid, body, headers)
        if _session_error(response):
            self._renew()
            response = self._post(nsid, body, headers)
            if _session_error(response):
                raise AuthError(f"Bluesky refused the session of {self.settings.identifier} after a new login")
        if response.status_code == 400:
            raise ValueError(f"Bluesky refused to {action}: {_error_message(response)}")
        return self._checked(response, nsid)

    def _post(self, nsid: str, body: dict[str, Any], headers: dict[str, str] | None) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.session['accessJwt']}"} if self.session else {}
        return send(self, "POST", self._url(nsid), json=body, headers={**(headers or {}), **auth})

    def _ensure_session(self) -> None:
        if self.session is None:
            self._login()

    # -- records --------------------------------------------------------------------------

    def _to_item(self, post: Any) -> Item:
        uri = post["uri"]
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise ValueError(f"not an at:// uri: {uri!r}")
        record = post["record"]
        author = post.get("author") or {}
        reply = record.get("reply") or {}
        parent = (reply.get("parent") or {}).get("uri")
        root = (reply.get("root") or {}).get("uri")
        by_school = bool(author.get("did")) and author.get("did") == self.school_did
        counts = [post.get(k) for k in ("likeCount", "repostCount", "replyCount", "quoteCount")]
        numbers = [c for c in counts if isinstance(c, int)]
        return Item(
            source=self.name,
            native_id=uri,
            kind=self._kind(by_school, parent),
            text=str(record.get("text") or "")[:TEXT_LIMIT],
            created_at=self.timestamp(record.get("createdAt") or post.get("indexedAt")),
            url=_permalink(uri, author.get("handle")),
            author_id=author.get("did"),
            author_name=author.get("displayName") or None,
            author_handle=author.get("handle") if author.get("handle") != "handle.invalid" else None,
            parent_id=parent,
            thread_id=root or (uri if not parent else None),
            by_school=by_school,
            engagement=sum(numbers) if numbers else None,
            raw={"cid": post.get("cid"), "reason": post.get("reason"), "indexedAt": post.get("indexedAt"),
                 "createdAt": record.get("createdAt")},
        )

    def _kind(self, by_school: bool, parent: str | None) -> str:
        if parent is None:
            return "post" if by_school else "mention"
        if not by_school and self.school_did and parent.startswith(f"at://{self.school_did}/"):
            return "comment"
        return "reply"

    # -- HTTP and the session -------------------------------------------------------------

    def _call(self, nsid: str, params: dict[str, Any], *, missing: tuple[str, ...] = ()) -> dict[str, Any]:
        """A query with the session (renewed once if it expired); a 400 naming one of ``missing`` is {}."""
        response = self._get(nsid, params)
        if _session_error(response):
            self._renew()
            response = self._get(nsid, params)
            if _session_error(response):
                raise AuthError(f"Bluesky refused the session of {self.settings.identifier} after a new login")
        if response.status_code == 400 and _error_name(response) in missing:
            return {}
        return self._checked(response, nsid)

    def _get(self, nsid: str, params: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.session['accessJwt']}"} if self.session else {}
        return send(self, "GET", self._url(nsid), params=params, headers=headers)

    def _login(self) -> None:
        body = {"identifier": self.settings.identifier, "password": self.settings.password.get_secret_value()}
        response = send(self, "POST", self._url("com.atproto.server.createSession"), json=body)
        refused = _error_name(response) in ("AuthenticationRequired", "AccountTakedown", "AuthFactorTokenRequired")
        if response.status_code == 401 or (response.status_code == 400 and refused):
            raise AuthError(
                f"Bluesky refused the app password of {self.settings.identifier}: "
                f"{_error_message(response)}"
            )
        self.session = self._session_from(self._checked(response, "createSession"))
        logger.info("source=%s logged in to Bluesky as %s", self.name, self.session.get("handle"))

    def _renew(self) -> None:
        """Refresh the session; if the refresh token is refused too, log in again."""
        refresh = (self.session or {}).get("refreshJwt")
        if refresh:
            response = send(self, "POST", self._url("com.atproto.server.refreshSession"),
                            headers={"Authorization": f"Bearer {refresh}"})
            if response.status_code == 200:
                self.session = self._session_from(self._checked(response, "refreshSession"))
                logger.info("source=%s refreshed its Bluesky session", self.name)
                return
            if response.status_code == 429 or response.status_code >= 500:
                self._checked(response, "refreshSession")
        self.session = None
        self._login()

    def _session_from(self, data: dict[str, Any]) -> dict[str, str]:
        if not all(isinstance(data.get(k), str) for k in ("accessJwt", "refreshJwt", "did")):
            raise TransientError("Bluesky answered the login without a session")
        for key in ("accessJwt", "refreshJwt"):
            bearer_token(data[key], f"Bluesky's login ({key})")
        return {k: data[k] for k in ("accessJwt", "refreshJwt", "did", "handle") if isinstance(data.get(k), str)}

    def _checked(self, response: httpx.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            when = reset_time(response.headers.get("ratelimit-reset"), self.clock())
            raise RateLimited(f"Bluesky {what}: rate limited ({_error_message(response)})", when)
        if status in (401, 403):
            raise AuthError(f"Bluesky {what} refused access for {self.settings.identifier}: {_error_message(response)}")
        if 400 <= status < 500:
            raise TransientError(f"Bluesky {what} answered HTTP {status}: {_error_message(response)}")
        return expect_json(response)

    def _url(self, nsid: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/xrpc/{nsid}"


def _session_error(response: httpx.Response) -> bool:
    return response.status_code in (400, 401) and _error_name(response) in SESSION_ERRORS


def _error_name(response: httpx.Response) -> str | None:
    body = body_json(response)
    return body.get("error") if isinstance(body, dict) else None


def _error_message(response: httpx.Response) -> str:
    body = body_json(response)
    if isinstance(body, dict):
        return " ".join(str(body[k]) for k in ("error", "message") if body.get(k)) or f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}"


def _sort_time(entry: Any) -> datetime | None:
    if not isinstance(entry, dict):
        return None
    return _time_or_none(entry.get("indexedAt"))


def _time_or_none(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value) if value else None
    except (ValueError, OverflowError):
        return None


def _post_parts(uri: Any) -> tuple[str, str, str] | None:
    """(DID, collection, record key) of an ``at://`` post uri, else None."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or not parts[0].startswith("did:") or parts[1] != "app.bsky.feed.post" or not parts[2]:
        return None
    return parts[0], parts[1], parts[2]


def _permalink(uri: str, handle: str | None) -> str | None:
    # at://did:plc:xyz/app.bsky.feed.post/3kabc -> https://bsky.app/profile/<handle or did>/post/3kabc
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    who = handle if handle and handle != "handle.invalid" else parts[0]
    return f"https://bsky.app/profile/{who}/post/{parts[2]}"


#: a web address in a reply's text, less the punctuation that ends a sentence after it
_LINK = re.compile(r"https?://[^\s<>\"]+")


def link_facets(text: str) -> list[dict[str, Any]]:
    """``app.bsky.richtext.facet`` links for the web addresses in ``text``, indexed in UTF-8 bytes."""
    facets = []
    for match in _LINK.finditer(text):
        url = match.group().rstrip(".,;:!?)'")
        start = len(text[:match.start()].encode("utf-8"))
        facets.append({"index": {"byteStart": start, "byteEnd": start + len(url.encode("utf-8"))},
                       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}]})
    return facets


def _strong_ref(value: Any) -> dict[str, str] | None:
    """``{"uri", "cid"}`` of a post view, a record answer or a strong ref, when both are there."""
    if not isinstance(value, dict):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    if isinstance(uri, str) and uri.startswith("at://") and isinstance(cid, str) and cid:
        return {"uri": uri, "cid": cid}
    return None


def _author_did(native_id: str) -> str:
    parts = _post_parts(native_id)
    if parts is None:
        raise ValueError(f"not a Bluesky post: {native_id!r}")
    return parts[0]


def _answers(record: dict[str, Any], native_id: str, text: str) -> bool:
    """Whether a post record replies to ``native_id`` with ``text``."""
    parent = (record.get("reply") or {}).get("parent") if isinstance(record.get("reply"), dict) else None
    return (isinstance(parent, dict) and parent.get("uri") == native_id
            and str(record.get("text") or "").strip() == text)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
