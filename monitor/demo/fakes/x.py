"""A fake X API v2: the school's timeline, its mentions and recent search, newest first; one tweet by id.

Tweet ids are snowflakes minted from the tweet's time, as X's are, so ``since_id`` and the
time a tweet id carries behave as they do on the real API. Paging follows ``meta.next_token``;
with no results ``data`` is absent and ``result_count`` is 0. A bad bearer token gets the
documented 401 body, a rate limit the 429 body with ``x-rate-limit-*`` headers.

Pay-per-use billing stops every read as X does: an empty balance with HTTP 402 ``CreditsDepleted``
(``deplete_credits``), a reached spending cap with HTTP 429 ``UsageCapExceeded`` (``cap_usage``),
whose rate-limit headers still show requests left. Problem types are on ``api.x.com``
(https://docs.x.com/x-api/fundamentals/response-codes-and-errors), except the credits one, which
X still writes on ``api.twitter.com``.

The school account's writes, as X takes them: ``POST /2/tweets`` with ``{"text", "reply":
{"in_reply_to_tweet_id"}}`` (201, ``data.id`` and ``data.text``) and ``PUT /2/tweets/:id/hidden`` with
``{"hidden": true}`` (``data.hidden``; only a reply in a conversation the account started). Both need
user context: an OAuth 1.0a ``Authorization: OAuth ...`` header with the school's consumer key and access
token, signed with HMAC-SHA1 over the request as the client addressed it (``api.twitter.com``: the
connector sends tweepy's requests to ``base_url`` after they are signed), or 401. The app's bearer token is refused with 403
``unsupported-authentication``; keys made while the app's permission was "Read" with 403
``oauth1-permissions`` (``permissions`` holds the app's permission: discard "Read and write"); the same
text twice with 403 "duplicate content"; an empty balance with 402 ``CreditsDepleted``.
``write_delay`` holds a write's answer back after the write is made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlencode

from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature

from monitor.demo.fakes.base import FakePlatform
from monitor.demo.fakes.server import Request, Response

TWITTER_EPOCH_MS = 1288834974657
_TERM = re.compile(r'-?"[^"]*"|\(|\)|\S+')


def x_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class FakeX(FakePlatform):
    type = "x"

    def __init__(self, user_id: str = "1234567890123456789", username: str = "RavensWoodSch",
                 name: str = "Ravens Wood School") -> None:
        super().__init__()
        self.token = "fake-bearer-token"
        self.school = {"id": user_id, "username": username, "name": name}
        self.users: dict[str, dict[str, str]] = {user_id: self.school}
        self.deleted_users: set[str] = set()
        self.tweets: list[dict[str, Any]] = []
        self.page_size = 10
        self.credentials_expired = False
        self.billing_stop: Response | None = None
        self.default_time = lambda: datetime.now(timezone.utc).replace(microsecond=0)
        self._seq = itertools.count(1)
        self.route("GET", r"/2/users/(?P<id>\d+)/tweets")(self._guarded(self._timeline))
        self.route("GET", r"/2/users/(?P<id>\d+)/mentions")(self._guarded(self._mentions))
        self.route("GET", r"/2/tweets/search/recent")(self._guarded(self._search))
        self.route("GET", r"/2/tweets/(?P<id>\d+)")(self._guarded(self._lookup))
        self.route("POST", r"/2/tweets")(self._as_school(self._write_tweet))
        self.route("PUT", r"/2/tweets/(?P<id>\d+)/hidden")(self._as_school(self._write_hidden))
        #: the OAuth 1.0a keys of the school's account, and the app permission they were made with
        self.consumer_key, self.consumer_secret = "fake-consumer-key", "fake-consumer-secret"
        self.access_token = f"{user_id}-fakeAccessToken"
        self.access_token_secret = "fake-access-token-secret"
        self.permissions = {"Read", "Read and write"}
        #: seconds a write's answer is held back after the write is made (a crash between the two)
        self.write_delay = 0.0

    # -- FakePlatform -------------------------------------------------------------------------

    def source_config(self, name: str) -> dict[str, Any]:
        return {"name": name, "type": "x", "base_url": self.url, "user_id": self.school["id"],
                "username": self.school["username"], "bearer_token": self.token, "interval": "5m", "timeout": "5s"}

    def user_config(self, name: str) -> dict[str, Any]:
        """A source that may also write, with the school account's OAuth 1.0a keys."""
        return {**self.source_config(name), "consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret,
                "access_token": self.access_token, "access_token_secret": self.access_token_secret}

    def node(self, native_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tweets if t["id"] == native_id), None)

    def replies_to(self, native_id: str) -> list[dict[str, Any]]:
        """The posts answering ``native_id`` (for tests)."""
        return [t for t in self.tweets if {"type": "replied_to", "id": native_id} in t.get("referenced_tweets", [])]

    def add_post(self, text: str, *, at: datetime | None = None) -> str:
        """A post by the school's account (the root of a conversation)."""
        return self._add(text, self.school["id"], self._at(at))

    def add_comment(self, text: str, *, author: str | None = "A Parent", at: datetime | None = None,
                    reply_to: str | None = None) -> str:
        """A reply under the school's newest post (or under ``reply_to``)."""
        when = self._at(at)
        if reply_to is None:
            own = [t for t in self.tweets if t["author_id"] == self.school["id"] and "referenced_tweets" not in t
                   and t["_at"] <= when]
            reply_to = max(own, key=lambda t: t["_at"])["id"] if own else self.add_post(
                "This week at Ravens Wood 🌳", at=when - timedelta(hours=1))
        return self._add(text, self._person(author), when, reply_to=reply_to)

    def add_mention(self, text: str, *, author: str | None = "A Parent", at: datetime | None = None) -> str:
        """A post by someone else naming the school's account."""
        handle = f"@{self.school['username']}"
        return self._add(text if handle in text else f"{text} {handle}", self._person(author), self._at(at))

    def add_public_post(self, text: str, *, author: str | None = "A Parent", at: datetime | None = None) -> str:
        """A post by someone else, found only by a search for its words."""
        return self._add(text, self._person(author), self._at(at))

    def add_school_reply(self, to: str, text: str, *, at: datetime | None = None) -> str:
        return self._add(text, self.school["id"], self._at(at), reply_to=to)

    def remove(self, native_id: str) -> None:
        self.tweets = [t for t in self.tweets if t.get("id") != native_id]

    def add_malformed(self) -> None:
        """A reply under the school's newest post whose created_at cannot be read."""
        tweet_id = self.add_comment("unreadable date")
        record = next(t for t in self.tweets if t["id"] == tweet_id)
        record["created_at"] = "last Tuesday"

    def expire_credentials(self) -> None:
        self.credentials_expired = True

    def renew_credentials(self) -> None:
        self.credentials_expired = False

    def deplete_credits(self) -> None:
        """The developer account's pay-per-use balance is empty: every read gets HTTP 402."""
        self.billing_stop = Response(402, {
            "title": "CreditsDepleted", "type": "https://api.twitter.com/2/problems/credits",
            "detail": "Your enrolled account [1918540743066472448] does not have any credits to fulfill this request."})

    def cap_usage(self, period: str = "Monthly") -> None:
        """The account reached its usage cap: every read gets HTTP 429 ``UsageCapExceeded``."""
        self.billing_stop = Response(429, {
            "title": "UsageCapExceeded", "type": "https://api.x.com/2/problems/usage-capped", "status": 429,
            "detail": f"Usage cap exceeded: {period} product cap", "period": period, "scope": "Product"},
            _rate_headers())

    def top_up(self) -> None:
        self.billing_stop = None

    def rate_limit(self, *, reset_at: datetime, times: int = 1, path: str | None = None, legacy: bool = False) -> None:
        """The next requests get 429 until ``reset_at`` (in the v1.1 ``errors`` form if ``legacy``)."""
        body = ({"errors": [{"code": 88, "message": "Rate limit exceeded"}]} if legacy else
                {"title": "Too Many Requests", "status": 429, "type": "about:blank", "detail": "Too Many Requests"})
        headers = {"x-rate-limit-limit": "180", "x-rate-limit-remaining": "0",
                   "x-rate-limit-reset": str(int(reset_at.timestamp()))}
        self.script(Response(429, body, headers), path=path, times=times)

    # -- state --------------------------------------------------------------------------------

    def _at(self, at: datetime | None) -> datetime:
        return (at or self.default_time()).astimezone(timezone.utc)

    def _person(self, name: str | None) -> str:
        if name is None:  # an account deleted since: its id stays on the tweet, its user is gone
            user_id = str(900000 + next(self._seq))
            self.deleted_users.add(user_id)
            return user_id
        user_id = str(int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:12], 16))
        # an author written as a handle ("@ex_rw_2019") is that username; a name becomes one
        username = re.sub(r"\W+", "_", name.removeprefix("@"))[:15]
        self.users.setdefault(user_id, {"id": user_id, "username": username, "name": name})
        return user_id

    def _add(self, text: str, author_id: str, at: datetime, *, reply_to: str | None = None) -> str:
        seq = next(self._seq)
        tweet_id = str(((int(at.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF))
        tweet: dict[str, Any] = {
            "id": tweet_id, "text": text, "author_id": author_id, "conversation_id": tweet_id,
            "created_at": x_time(at), "edit_history_tweet_ids": [tweet_id],
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0},
            "_at": at, "_seq": seq,
        }
        if reply_to is not None:
            parent = next((t for t in self.tweets if t["id"] == reply_to), None)
            if parent is None:
                raise KeyError(f"no tweet {reply_to!r}")
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
            parent["public_metrics"]["reply_count"] += 1
        self.tweets.append(tweet)
        return tweet_id

    # -- serving ------------------------------------------------------------------------------

    def _guarded(self, handler):
        def serve(request: Request) -> Response:
            if request.header("authorization") != f"Bearer {self.token}" or self.credentials_expired:
                return Response(401, {"title": "Unauthorized", "status": 401, "type": "about:blank",
                                      "detail": "Unauthorized"})
            if self.billing_stop is not None:
                return self.billing_stop
            return handler(request)

        return serve

    def _as_school(self, handler):
        """A write: user context (OAuth 1.0a) as the school's account, with write permission and credits."""
        def serve(request: Request) -> Response:
            header = request.header("authorization") or ""
            if header.startswith("Bearer "):
                return Response(403, {
                    "title": "Unsupported Authentication", "status": 403,
                    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                              "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."})
            oauth = _oauth_params(header)
            if (oauth.get("oauth_consumer_key") != self.consumer_key or oauth.get("oauth_token") != self.access_token
                    or not self._signed(request, header, oauth) or self.credentials_expired):
                return Response(401, {"title": "Unauthorized", "status": 401, "type": "about:blank",
                                      "detail": "Unauthorized"})
            if "Read and write" not in self.permissions:
                return Response(403, {
                    "title": "Forbidden", "status": 403, "type": "https://api.twitter.com/2/problems/oauth1-permissions",
                    "detail": "Your client app is not configured with the appropriate oauth1 app permissions for "
                              "this endpoint."})
            if self.billing_stop is not None:
                return self.billing_stop
            return handler(request)

        return serve

    def _signed(self, request: Request, header: str, oauth: dict[str, str]) -> bool:
        """Whether the HMAC-SHA1 signature matches the request (RFC 5849 section 3.4)."""
        if oauth.get("oauth_signature_method") != "HMAC-SHA1" or not oauth.get("oauth_signature"):
            return False
        params = signature.collect_parameters(uri_query=urlencode(request.query), headers={"Authorization": header},
                                              exclude_oauth_signature=True)
        base = signature.signature_base_string(request.method, signature.base_string_uri(
            f"https://api.twitter.com{request.path}"), signature.normalize_parameters(params))
        expected = signature.sign_hmac_sha1_with_client(base, Client(
            self.consumer_key, client_secret=self.consumer_secret, resource_owner_key=self.access_token,
            resource_owner_secret=self.access_token_secret))
        return hmac.compare_digest(expected, oauth["oauth_signature"])

    def _write_tweet(self, request: Request) -> Response:
        try:
            body = request.json()
            text, target = body["text"], body.get("reply", {}).get("in_reply_to_tweet_id")
        except (ValueError, KeyError, TypeError, AttributeError):
            return Response(400, {"title": "Invalid Request", "status": 400, "type": "https://api.x.com/2/problems/invalid-request",
                                  "detail": "One or more parameters to your request was invalid."})
        if not isinstance(text, str) or not text.strip():
            return Response(400, {"title": "Invalid Request", "status": 400, "type": "https://api.x.com/2/problems/invalid-request",
                                  "detail": "Post text is required."})
        if target is not None and self.node(str(target)) is None:
            return Response(403, {"title": "Forbidden", "status": 403, "type": "about:blank",
                                  "detail": "You attempted to reply to a Tweet that is deleted or not visible to you."})
        if any(t["author_id"] == self.school["id"] and t["text"] == text for t in self.tweets):
            return Response(403, {"title": "Forbidden", "status": 403, "type": "about:blank",
                                  "detail": "You are not allowed to create a Tweet with duplicate content."})
        tweet_id = self._add(text, self.school["id"], self._at(None), reply_to=str(target) if target else None)
        return Response(201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}},
                        _rate_headers(), delay=self.write_delay)

    def _write_hidden(self, request: Request) -> Response:
        tweet = self.node(request.params["id"])
        try:
            hidden = request.json()["hidden"]
        except (ValueError, KeyError, TypeError):
            hidden = None
        if not isinstance(hidden, bool):
            return Response(400, {"title": "Invalid Request", "status": 400, "type": "https://api.x.com/2/problems/invalid-request",
                                  "detail": "The `hidden` field is required and must be a boolean."})
        if tweet is None:
            return Response(404, {"title": "Not Found Error", "status": 404,
                                  "type": "https://api.x.com/2/problems/resource-not-found",
                                  "detail": f"Could not find tweet with id: [{request.params['id']}]."})
        root = self.node(tweet["conversation_id"])
        if "referenced_tweets" not in tweet or root is None or root["author_id"] != self.school["id"]:
            return Response(403, {"title": "Forbidden", "status": 403, "type": "about:blank",
                                  "detail": "You can only hide or unhide replies to conversations you authored."})
        tweet["_hidden"] = hidden
        return Response(200, {"data": {"hidden": hidden}}, _rate_headers(), delay=self.write_delay)

    def _timeline(self, request: Request) -> Response:
        user = request.params["id"]
        return self._page(request, [t for t in self.tweets if t["author_id"] == user], "pagination_token")

    def _mentions(self, request: Request) -> Response:
        user = self.users.get(request.params["id"])
        if user is None:
            return Response(404, {"title": "Not Found Error", "status": 404, "detail": "Could not find user"})
        handle = f"@{user['username']}".casefold()
        records = [t for t in self.tweets if t["author_id"] != user["id"]
                   and (handle in t["text"].casefold() or t.get("in_reply_to_user_id") == user["id"])]
        return self._page(request, records, "pagination_token")

    def _lookup(self, request: Request) -> Response:
        """One tweet; a missing one is HTTP 200 with no ``data`` and a resource-not-found error."""
        tweet_id = request.params["id"]
        tweet = next((t for t in self.tweets if t["id"] == tweet_id), None)
        if tweet is None:
            body: dict[str, Any] = {"errors": [{
                "value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].", "title": "Not Found Error",
                "resource_type": "tweet", "parameter": "id", "resource_id": tweet_id,
                "type": "https://api.x.com/2/problems/resource-not-found"}]}
        else:
            fields = {"id", "text", "edit_history_tweet_ids", *request.query.get("tweet.fields", "").split(",")}
            body = {"data": {k: v for k, v in tweet.items() if k in fields}}
        return Response(200, body, _rate_headers())

    def _search(self, request: Request) -> Response:
        query = request.query.get("query", "")
        if not query or len(query) > 512:
            return Response(400, {"title": "Invalid Request", "status": 400,
                                  "detail": "One or more parameters to your request was invalid."})
        alternatives = [_terms(part) for part in re.split(r"\s+OR\s+", query)]
        records = [t for t in self.tweets if any(all(self._matches(t, term) for term in terms) for terms in alternatives)]
        return self._page(request, records, "next_token")

    def _matches(self, tweet: dict[str, Any], term: str) -> bool:
        negated = term.startswith("-")
        term = term.lstrip("-")
        key, _, value = term.partition(":")
        if term.startswith('"'):
            result = term.strip('"').casefold() in tweet["text"].casefold()
        elif key == "conversation_id":
            result = tweet["conversation_id"] == value
        elif key in ("from", "to"):
            field = tweet["author_id"] if key == "from" else tweet.get("in_reply_to_user_id")
            user = self.users.get(field or "", {})
            result = value.casefold() in (str(field), user.get("username", "").casefold())
        elif key in ("is", "lang", "has"):
            return True  # the fake has no retweets, languages or media: such filters keep everything
        else:
            result = re.search(rf"(?<!\w){re.escape(term.casefold())}(?!\w)", tweet["text"].casefold()) is not None
        return result != negated

    def _page(self, request: Request, records: list[dict[str, Any]], token_name: str) -> Response:
        query = request.query
        if "since_id" in query:
            records = [t for t in records if int(t["id"]) > int(query["since_id"])]
        if "start_time" in query:
            start = datetime.fromisoformat(query["start_time"].replace("Z", "+00:00"))
            records = [t for t in records if t["_at"] >= start]
        records = sorted(records, key=lambda t: int(t["id"]), reverse=True)
        limit = min(int(query.get("max_results", 10)), self.page_size)
        offset = _offset(query.get(token_name))
        chunk = records[offset : offset + limit]
        body: dict[str, Any] = {"meta": {"result_count": len(chunk)}}
        if chunk:
            body["data"] = [{k: v for k, v in t.items() if not k.startswith("_")} for t in chunk]
            authors = dict.fromkeys(t["author_id"] for t in chunk)
            users = [self.users[a] for a in authors if a in self.users and a not in self.deleted_users]
            if users:
                body["includes"] = {"users": [dict(u) for u in users]}
            body["meta"].update(newest_id=chunk[0]["id"], oldest_id=chunk[-1]["id"])
        if offset + limit < len(records):
            body["meta"]["next_token"] = _token(offset + limit)
        return Response(200, body, _rate_headers())


def _oauth_params(header: str) -> dict[str, str]:
    """The parameters of an ``Authorization: OAuth k="v", ...`` header (RFC 5849 section 3.5.1)."""
    if not header.startswith("OAuth "):
        return {}
    pairs = (part.strip().split("=", 1) for part in header[6:].split(","))
    return {unquote(k): unquote(v.strip('"')) for k, v in (p for p in pairs if len(p) == 2)}


def _rate_headers() -> dict[str, str]:
    reset = int((datetime.now(timezone.utc) + timedelta(minutes=15)).timestamp())
    return {"x-rate-limit-limit": "180", "x-rate-limit-remaining": "179", "x-rate-limit-reset": str(reset)}


def _terms(part: str) -> list[str]:
    return [t for t in _TERM.findall(part.strip().strip("()")) if t not in ("(", ")")]


def _token(offset: int) -> str:
    return base64.b32encode(f"page{offset}".encode()).decode().rstrip("=").lower()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    padded = token.upper() + "=" * (-len(token) % 8)
    return int(base64.b32decode(padded).decode()[4:])
