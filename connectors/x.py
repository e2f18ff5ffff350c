"""X (Twitter) API v2 through tweepy.Client: the school's posts, the replies under them, mentions, a search.

One poll makes these reads, each from its own ``since_id`` (kept in the cursor):

- the school's own timeline (``GET /2/users/:id/tweets``): its posts and its replies, which close cases;
- mentions of the school's account (``GET /2/users/:id/mentions``);
- replies under the school's posts of the last seven days, by a recent search for
  ``conversation_id:<root>`` (one per post, or several joined by OR with ``combine_conversations``);
  a conversation first seen in this poll is searched from its root;
- optionally a public search ``query`` (as mentions).

tweepy has no setting for the API host, so a transport adapter mounted on the client's session
sends its requests to ``base_url`` (and gives them a timeout, which tweepy does not).

Requests per idle poll: two (timeline and mentions), plus one per school post of the last seven
days (one per ~12 posts with ``combine_conversations``), plus one when ``query`` is set.

Whether a tweet still exists is one lookup, ``GET /2/tweets/:id``.

Writes (``actions``) are made as the school's account, which an app bearer token cannot do ("Authenticating
with OAuth 2.0 Application-Only is forbidden for this endpoint"): they take the OAuth 1.0a user keys of
the school's account (``consumer_key``, ``consumer_secret``, ``access_token``, ``access_token_secret``),
made while the app's permission was "Read and write". OAuth 1.0a is chosen over an OAuth 2.0 user token
because its keys do not expire, whereas an OAuth 2.0 refresh token is replaced at every use and would
have to be written back to the configuration.

- reply: ``POST /2/tweets`` with ``{"text": ..., "reply": {"in_reply_to_tweet_id": ...}}``;
- hide: ``PUT /2/tweets/:id/hidden`` with ``{"hidden": true}``: the reply leaves the conversation and
  stays behind "View hidden replies"; only replies in a conversation the school started can be hidden;
- delete: not offered. ``DELETE /2/tweets/:id`` deletes only the account's own posts, and the comments
  a school moderates are other people's.

Every write is a paid call under X's pay-per-usage pricing (https://docs.x.com/x-api/getting-started/pricing:
"Content: Create" $0.015 a request, $0.200 with a URL in the text; hiding is a write charged per
request too), taken from the same credits as the reads: an empty balance refuses it (HTTP 402).
An in-doubt reply is looked for on the school's own timeline (its replies since the tweet answered);
hiding is idempotent, and a hidden reply cannot be told apart through the API, so an in-doubt hide is
simply made again. X refuses a second post with the same text ("duplicate content"): such a refusal
is taken as a sign that the reply was made, and it is looked for again instead of being given up.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Literal

import requests
import tweepy
from pydantic import Field, model_validator

from connectors.base import (
    MALFORMED,
    ActionNeeded,
    AuthError,
    Connector,
    Cursor,
    Item,
    RateLimited,
    Secret,
    SourceError,
    SourceSettings,
    TransientError,
    Written,
    skip_record,
    small_raw,
    user_agent,
)
from connectors.http import read_requests_bounded

logger = logging.getLogger(__name__)
# tweepy's debug lines print the request headers, bearer token included: they never reach a log
logging.getLogger("tweepy.client").setLevel(logging.INFO)

TWITTER_HOST = "https://api.twitter.com"
TWEET_FIELDS = ["author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets", "created_at", "public_metrics"]
#: recent search reaches seven days back; a since_id older than that is refused by the API
SEARCH_WINDOW = timedelta(days=7) - timedelta(minutes=5)
#: the longest search query the basic access level accepts
MAX_QUERY = 512
MAX_CONVERSATIONS = 60
MAX_PAGES = 100
RATE_WINDOW = timedelta(minutes=15)
#: an id or timestamp further in the future than this is not believed
FUTURE_SKEW = timedelta(hours=1)
TWITTER_EPOCH_MS = 1288834974657
#: X names its problem types by URL, on api.x.com today and api.twitter.com before (and still in
#: places): only the path is compared. https://docs.x.com/x-api/fundamentals/response-codes-and-errors
#: gives ".../resource-not-found" (a tweet that does not exist: deleted, or never was) and ".../usage-capped".
NOT_FOUND = "/2/problems/resource-not-found"
USAGE_CAPPED = "/2/problems/usage-capped"
#: the pay-per-use balance is empty: HTTP 402, title "CreditsDepleted", type ".../2/problems/credits",
#: detail "Your enrolled account [<id>] does not have any credits to fulfill this request."
CREDITS = "/2/problems/credits"
#: a write refused for the app's permission (keys made while it was "Read" only) or the kind of token
OAUTH1_PERMISSIONS = "/2/problems/oauth1-permissions"
UNSUPPORTED_AUTH = "/2/problems/unsupported-authentication"
#: X's app permission that writes need (OAuth 1.0a user keys made while the app had it)
WRITE_PERMISSION = "Read and write"
RAW_KEYS = ("id", "author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets", "created_at")


class XSettings(SourceSettings):
    type: Literal["x"] = "x"
    base_url: str = "https://api.x.com"
    #: the school account's numeric user id
    user_id: str
    #: the school account's username, without @
    username: str
    #: an app bearer token whose access level includes mentions and recent search
    bearer_token: Secret
    #: OAuth 1.0a keys of the school's account (app permission "Read and write"), needed for ``actions``:
    #: the app's API key and secret, and the account's access token and secret
    consumer_key: Secret | None = None
    consumer_secret: Secret | None = None
    access_token: Secret | None = None
    access_token_secret: Secret | None = None
    #: a public recent-search query whose results are collected as mentions, e.g. '"Ravens Wood School" -is:retweet'
    query: str | None = None
    #: watch the replies under the school's posts of the last seven days
    replies: bool = True
    #: search the replies of several posts in one request ("conversation_id:A OR conversation_id:B"):
    #: fewer requests, for an access level whose search accepts OR; otherwise one search per post
    combine_conversations: bool = False
    page_size: int = Field(100, ge=5, le=100)

    @model_validator(mode="after")
    def _user_keys(self) -> "XSettings":
        keys = [self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret]
        if any(k is not None for k in keys) and any(k is None for k in keys):
            raise ValueError("the school account's keys go together: set all of consumer_key, consumer_secret, "
                             "access_token and access_token_secret")
        if self.actions and keys[0] is None:
            raise ValueError(f"actions ({', '.join(self.actions)}) are made as the school's account, which the app's "
                             "bearer token cannot do: set consumer_key, consumer_secret, access_token and "
                             "access_token_secret (OAuth 1.0a, app permission \"Read and write\")")
        return self

    def user_keys(self) -> dict[str, str | None]:
        names = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        return {n: (getattr(self, n).get_secret_value() if getattr(self, n) is not None else None) for n in names}


class BaseURLAdapter(requests.adapters.HTTPAdapter):
    """Sends what tweepy addresses to api.twitter.com to ``base_url`` instead, with a timeout, and
    reads each answer within the source's ``max_body`` and ``request_deadline`` (``connectors.http``)."""

    def __init__(self, base_url: str, timeout: float, *, max_body: int, deadline: float):
        super().__init__(max_retries=0)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_body = max_body
        self.deadline = max(deadline, timeout)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.url and request.url.startswith(TWITTER_HOST):
            request.url = self.base_url + request.url[len(TWITTER_HOST):]
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        kwargs["stream"] = True
        deadline = time.monotonic() + self.deadline
        response = super().send(request, **kwargs)
        read_requests_bounded(response, self.max_body, deadline)
        return response


class XConnector(Connector):
    type = "x"
    Settings = XSettings
    renew_hint = (
        "generate a new bearer token for the school's app in the X developer portal (Projects & Apps > "
        "Keys and tokens), check that its access level still includes mentions and search, and update the "
        "source's bearer_token"
    )

    def __init__(self, settings: XSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.client = tweepy.Client(bearer_token=settings.bearer_token.get_secret_value(), return_type=dict,
                                    **settings.user_keys())
        self.client.user_agent = f"{user_agent()} Tweepy/{tweepy.__version__}"
        self.client.session.mount(TWITTER_HOST, BaseURLAdapter(
            settings.base_url, settings.timeout.total_seconds(), max_body=settings.max_body or self.max_body_default,
            deadline=settings.request_deadline.total_seconds()))

    supported_actions = frozenset({"reply", "hide"})
    action_scopes = dict.fromkeys(supported_actions, WRITE_PERMISSION)

    @property
    def user_id(self) -> str:
        return self.settings.user_id  # type: ignore[attr-defined]

    # -- writes (see the module docstring) ---------------------------------------------------------

    def reply(self, native_id: str, text: str) -> Written:
        tweet_id = _tweet_id(native_id)
        answer = self._write("create_tweet", native_id,
                             lambda: self.client.create_tweet(text=text, in_reply_to_tweet_id=tweet_id))
        data = answer.get("data") if isinstance(answer, dict) else None
        new_id = str(data.get("id") or "") if isinstance(data, dict) else ""
        minted = minted_at(new_id)
        if minted is None:
            raise TransientError(f"X answered the reply to {native_id} without the new post's id")
        return Written(native_id=new_id, at=minted)

    def find_reply(self, native_id: str, text: str) -> Written | None:
        """The school's reply with ``text`` to ``native_id``, from its own timeline since that tweet."""
        found = Found()
        self._read(found, self.client.get_users_tweets, self.user_id, since_id=_tweet_id(native_id))
        wanted = text.strip()
        for tweet in found.tweets.values():
            minted = minted_at(str(tweet.get("id")))
            if (minted is not None and _replied_to(tweet) == native_id and str(tweet.get("author_id")) == self.user_id
                    and str(tweet.get("text") or "").strip() == wanted):
                return Written(native_id=str(tweet["id"]), at=minted)
        return None

    def hide(self, native_id: str) -> Written:
        tweet_id = _tweet_id(native_id)
        answer = self._write("hide_reply", native_id, lambda: self.client.hide_reply(tweet_id))
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict) or data.get("hidden") is not True:
            raise TransientError(f"X answered the hiding of {native_id} without hidden: true")
        return Written(native_id=None, at=self.clock())

    def visibility(self, native_id: str) -> Literal["visible", "hidden", "gone"]:
        """"gone" when X says the tweet does not exist; otherwise "visible": the API does not say whether a
        reply is hidden, and hiding again is harmless."""
        return "gone" if self.exists(_tweet_id(native_id)) is False else "visible"

    def _write(self, what: str, native_id: str, call: Callable[[], Any]) -> Any:
        """One write through tweepy: its errors as the connector's; one that can never succeed (the
        tweet is gone, not in the school's conversation) as a ValueError."""
        try:
            with self._errors(what):
                try:
                    return call()
                except tweepy.HTTPException as exc:
                    raise self._write_refusal(exc, what, native_id) from exc
        except CannotWrite as exc:
            raise ValueError(str(exc)) from exc

    def _write_refusal(self, exc: tweepy.HTTPException, what: str, native_id: str) -> SourceError:
        """X's refusals of a write that mean something else than their status says; else as for a read."""
        detail, problem = _messages(exc).rstrip("."), _problem_type(exc.response)
        if isinstance(exc, tweepy.Forbidden) and "duplicate content" in detail:
            # the same text was posted already: an earlier attempt made the reply, look for it again
            return TransientError(f"X says this reply to {native_id} is already posted ({detail})")
        if isinstance(exc, tweepy.Forbidden) and problem in (OAUTH1_PERMISSIONS, UNSUPPORTED_AUTH):
            return AuthError(f"X refused {what} (HTTP 403): {detail}. Set the app's permission to "
                             f"\"{WRITE_PERMISSION}\" (User authentication settings), then generate the "
                             "account's access token and secret again")
        if isinstance(exc, tweepy.Unauthorized):
            return AuthError(f"X refused the school account's keys for {what} (HTTP 401): {detail}. Check "
                             "consumer_key, consumer_secret, access_token and access_token_secret")
        if problem == NOT_FOUND or "deleted or not visible" in detail:
            return CannotWrite(f"tweet {native_id} is no longer on X ({detail})")
        if "conversations you authored" in detail:
            return CannotWrite(f"X hides only replies in a conversation the school's account started ({detail})")
        return self._refusal(exc, what)

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        settings: XSettings = self.settings  # type: ignore[assignment]
        state = dict(cursor or {})
        found = Found()
        state["timeline"] = self._read_timeline(found, state.get("timeline"))
        state["mentions"] = self._read(found, self.client.get_users_mentions, self.user_id, since_id=state.get("mentions"))
        conversations = self._conversations(state.get("conversations") or {}, found)
        if settings.replies:
            state["replies"] = self._read_replies(found, conversations, state.get("replies"))
        state["conversations"] = conversations
        if settings.query:
            previous = state.get("query") if isinstance(state.get("query"), dict) else {}
            since = previous.get("since_id") if previous.get("q") == settings.query else None
            state["query"] = {"q": settings.query, "since_id": self._search(found, settings.query, since)}
        items = [item for tweet in found.tweets.values() if (item := self._item(tweet, found, conversations))]
        return items, state

    def close(self) -> None:
        self.client.session.close()
        super().close()

    def exists(self, native_id: str) -> bool | None:
        """One tweet lookup (``GET /2/tweets/:id``). X answers a deleted tweet with HTTP 200, no
        ``data`` and a ``resource-not-found`` error naming the id; anything else is not "gone"."""
        if not isinstance(native_id, str) or not (native_id.isascii() and native_id.isdigit()):
            return None  # not a tweet id: nothing to ask
        with self._errors("get_tweet"):
            answer = self.client.get_tweet(native_id)
        if not isinstance(answer, dict):
            raise TransientError("X answered get_tweet with an unexpected shape")
        data = answer.get("data")
        if isinstance(data, dict) and str(data.get("id")) == native_id:
            return True
        errors = answer.get("errors")
        if data is None and isinstance(errors, list) and any(_not_found(e, native_id) for e in errors):
            return False
        if data is None and isinstance(errors, list) and errors:
            # e.g. not-authorized-for-resource: a protected or suspended author, the tweet may still be there
            logger.info("source=%s cannot see tweet %s: %s", self.name, native_id, _problem_titles(errors))
            return None
        raise TransientError("X answered get_tweet with neither the tweet nor an error about it")

    # -- reading --------------------------------------------------------------------------

    def _read(self, found: "Found", method: Callable[..., Any], *args: Any, since_id: str | None, **params: Any) -> str | None:
        """Read every page newer than ``since_id`` into ``found``; the newest id seen (or ``since_id``)."""
        params = {"tweet_fields": TWEET_FIELDS, "expansions": ["author_id"], "user_fields": ["username", "name"],
                  "max_results": self._page_size(method), **params}
        if since_id:
            params["since_id"] = since_id
        newest = since_id
        pages = tweepy.Paginator(method, *args, limit=MAX_PAGES, **params)
        for number, page in enumerate(self._translated(pages, method.__name__)):
            if not isinstance(page, dict) or not isinstance(page.get("meta", {}), dict):
                raise TransientError(f"X answered {method.__name__} with an unexpected shape")
            found.add_page(self.name, page)
            page_newest = str(page.get("meta", {}).get("newest_id") or "")
            if number == 0 and self._plausible(page_newest):
                newest = _max_id(newest, page_newest)
        return newest

    def _read_timeline(self, found: "Found", since_id: str | None) -> str | None:
        """The school's own posts and replies; without this endpoint its replies still come by search."""
        try:
            return self._read(found, self.client.get_users_tweets, self.user_id, since_id=since_id)
        except EndpointMissing as exc:
            logger.warning("source=%s cannot read the school's timeline (%s); relying on search", self.name, exc)
            return since_id

    def _translated(self, pages: tweepy.Paginator, what: str):
        iterator = iter(pages)
        while True:
            with self._errors(what):
                try:
                    page = next(iterator)
                except StopIteration:
                    return
            yield page

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """tweepy's and requests' exceptions, as the connector errors."""
        try:
            yield
        except tweepy.HTTPException as exc:
            raise self._refusal(exc, what) from exc
        except requests.Timeout as exc:
            raise TransientError(f"X did not answer {what} in time") from exc
        except requests.RequestException as exc:
            raise TransientError(f"cannot reach X for {what}: {type(exc).__name__}") from exc
        except (ValueError, RecursionError) as exc:  # the body was not JSON, or nested too deep to read
            raise TransientError(f"X answered {what} with unreadable JSON") from exc
        except (RuntimeError, TypeError, AttributeError, KeyError) as exc:  # tweepy's paging on an odd shape
            raise TransientError(f"X answered {what} with an unexpected shape ({type(exc).__name__})") from exc

    def _refusal(self, exc: tweepy.HTTPException, what: str) -> SourceError:
        """The connector error for an HTTP error answer. Pay-per-use billing stops are told apart
        from rate limits: an empty balance (402) or a reached usage cap (429 ``UsageCapExceeded``)
        does not pass by waiting 15 minutes, so a person is alerted at once."""
        status = exc.response.status_code
        billing = _billing_problem(exc.response)
        if billing == "credits" or (billing is None and status == 402):
            return ActionNeeded(
                f"X refused {what} (HTTP {status}, CreditsDepleted): the school's developer account has no "
                "pay-per-use credits left. Buy credits, or turn on auto-recharge, in the X Developer Console "
                "(console.x.com, Billing); monitoring resumes at the next poll after that")
        if billing == "usage_cap":
            return ActionNeeded(
                f"X refused {what} (HTTP {status}, UsageCapExceeded: {_messages(exc)}): the developer account "
                "reached its usage cap. Raise the spending limit in the X Developer Console (console.x.com, "
                "Billing), or wait for the cap to reset; monitoring resumes at the next poll after that")
        if isinstance(exc, tweepy.TooManyRequests):
            return RateLimited(f"X rate limit reached for {what}", self._reset(exc.response))
        if isinstance(exc, tweepy.Unauthorized):
            return AuthError(f"X refused the bearer token (HTTP 401): {_messages(exc)}")
        if isinstance(exc, tweepy.Forbidden):
            return AuthError(f"X refused {what} (HTTP 403): the app's access level may not include it: {_messages(exc)}")
        if isinstance(exc, tweepy.NotFound):
            return EndpointMissing(f"X has no {what} here (HTTP 404): {_messages(exc)}")
        if isinstance(exc, tweepy.TwitterServerError):
            return TransientError(f"X had a server error (HTTP {status}) on {what}")
        return TransientError(f"X refused {what} (HTTP {status}): {_messages(exc)}")

    def _search(self, found: "Found", query: str, since_id: str | None) -> str | None:
        params: dict[str, Any] = {}
        if since_id and not self._plausible(since_id, since=self.clock() - SEARCH_WINDOW):
            since_id = None  # too old for recent search: read the whole window instead
        if not since_id:
            params["start_time"] = self.clock() - SEARCH_WINDOW
        return self._read(found, self.client.search_recent_tweets, query, since_id=since_id, **params)

    def _read_replies(self, found: "Found", conversations: dict[str, str], since_id: str | None) -> str | None:
        """Search the replies in each watched conversation; a conversation new to the cursor is
        searched from its root (its replies are all newer than the root, maybe older than since_id)."""
        if not conversations:
            return since_id
        previous = set(found.previous_conversations)
        roots = sorted(conversations, key=int)
        combine = self.settings.combine_conversations  # type: ignore[attr-defined]
        newest = since_id
        for query, batch in conversation_queries(roots, combine=combine):
            fresh = [root for root in batch if root not in previous]
            start = min((since_id, *fresh), key=int) if since_id and fresh else since_id
            newest = _max_id(newest, self._search(found, query, start))
        return newest

    def _conversations(self, known: dict[str, str], found: "Found") -> dict[str, str]:
        """The conversations to search (id -> when first seen): the school's posts of the last seven
        days and the conversations where someone answered the school."""
        found.previous_conversations = list(known)
        roots = dict(known)
        seen = self.clock().isoformat()
        for tweet in found.tweets.values():
            if tweet.get("author_id") == self.user_id and not _replied_to(tweet) and isinstance(tweet.get("id"), str):
                roots.setdefault(tweet["id"], seen)
            elif str(tweet.get("in_reply_to_user_id")) == self.user_id and tweet.get("conversation_id"):
                roots.setdefault(str(tweet["conversation_id"]), seen)
        horizon = self.clock() - SEARCH_WINDOW
        recent = [r for r in roots if self._plausible(str(r), since=horizon)]
        return {r: roots[r] for r in sorted(recent, key=int)[-MAX_CONVERSATIONS:]}

    def _plausible(self, tweet_id: str, *, since: datetime | None = None) -> bool:
        """A tweet id minted after ``since`` and not in the future (a bad id must not stall the cursor)."""
        minted = minted_at(tweet_id)
        return minted is not None and minted <= self.clock() + FUTURE_SKEW and (since is None or minted >= since)

    def _page_size(self, method: Callable[..., Any]) -> int:
        size = self.settings.page_size  # type: ignore[attr-defined]
        low = 10 if method.__name__ == "search_recent_tweets" else 5
        return max(low, min(100, size))

    def _reset(self, response: Any) -> datetime:
        value = getattr(response, "headers", {}).get("x-rate-limit-reset")
        try:
            return datetime.fromtimestamp(int(value), tz=timezone.utc)
        except (TypeError, ValueError, OverflowError):
            return self.clock() + RATE_WINDOW

    # -- records to items -------------------------------------------------------------------

    def _item(self, tweet: dict[str, Any], found: "Found", conversations: dict[str, str]) -> Item | None:
        try:
            native_id = tweet["id"]
            if not isinstance(native_id, str) or not native_id.isdigit():
                raise ValueError("tweet has no numeric id")
            text = tweet["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
            author_id = str(tweet["author_id"]) if tweet.get("author_id") else None
            author = found.users.get(author_id or "", {})
            handle = author.get("username") if isinstance(author.get("username"), str) else None
            parent_id = _replied_to(tweet)
            return Item(
                source=self.name,
                native_id=native_id,
                kind=self._kind(tweet, parent_id, author_id, conversations),
                text=text,
                created_at=self.timestamp(tweet["created_at"]),
                url=f"https://x.com/{handle}/status/{native_id}" if handle else f"https://x.com/i/web/status/{native_id}",
                author_id=author_id,
                author_name=author.get("name") if isinstance(author.get("name"), str) else None,
                author_handle=handle,
                parent_id=parent_id,
                thread_id=str(tweet.get("conversation_id") or native_id),
                by_school=author_id == self.user_id,
                engagement=_engagement(tweet.get("public_metrics")),
                raw=small_raw(tweet, RAW_KEYS),
            )
        except MALFORMED as exc:
            skip_record(self.name, tweet, str(exc))
            return None

    def _kind(self, tweet: dict[str, Any], parent_id: str | None, author_id: str | None, conversations: dict[str, str]) -> str:
        if author_id == self.user_id:
            return "reply" if parent_id else "post"
        conversation = str(tweet.get("conversation_id") or "")
        if parent_id and (conversation in conversations or str(tweet.get("in_reply_to_user_id")) == self.user_id):
            return "comment" if parent_id == conversation else "reply"
        return "mention"


class CannotWrite(TransientError):
    """The write can never succeed (the tweet is gone, or not the school's to moderate)."""


class EndpointMissing(TransientError):
    """The API answered 404 for an endpoint (a proxy or server that does not offer it)."""


class Found:
    """The tweets and users read during one poll, each once."""

    def __init__(self) -> None:
        self.tweets: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.previous_conversations: list[str] = []
        self._unnamed = 0

    def add_page(self, source: str, page: dict[str, Any]) -> None:
        data = page.get("data", [])
        includes = page.get("includes", {})
        if not isinstance(data, list) or not isinstance(includes, dict):
            raise TransientError("X answered with an unexpected shape (data is not a list)")
        users = includes.get("users")
        for user in users if isinstance(users, list) else []:
            if isinstance(user, dict) and user.get("id"):
                self.users[str(user["id"])] = user
        for tweet in data:
            if not isinstance(tweet, dict) or not isinstance(tweet.get("id"), str):
                skip_record(source, tweet, "tweet without an id")
                continue
            self.tweets.setdefault(tweet["id"], tweet)


def conversation_queries(roots: list[str], *, combine: bool = False) -> list[tuple[str, list[str]]]:
    """(query, roots) pairs: one ``conversation_id:<root>`` query per root, or (``combine``)
    ``conversation_id:A OR conversation_id:B ...`` queries within the length limit."""
    if not combine:
        return [(f"conversation_id:{root}", [root]) for root in roots]
    batches: list[list[str]] = []
    for root in roots:
        terms = [f"conversation_id:{r}" for r in (batches[-1] if batches else [])] + [f"conversation_id:{root}"]
        if batches and len(" OR ".join(terms)) <= MAX_QUERY:
            batches[-1].append(root)
        else:
            batches.append([root])
    return [(" OR ".join(f"conversation_id:{r}" for r in batch), batch) for batch in batches]


def snowflake_time(tweet_id: str) -> datetime:
    """When a tweet id was minted (X ids carry their creation time in milliseconds)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, tz=timezone.utc)


def minted_at(tweet_id: str) -> datetime | None:
    """:func:`snowflake_time`, or None for something that is not a plausible tweet id."""
    if not isinstance(tweet_id, str) or not tweet_id.isdigit() or len(tweet_id) > 20:
        return None
    try:
        return snowflake_time(tweet_id)
    except (ValueError, OverflowError, OSError):
        return None


def _replied_to(tweet: dict[str, Any]) -> str | None:
    references = tweet.get("referenced_tweets")
    for reference in references if isinstance(references, list) else []:
        if isinstance(reference, dict) and reference.get("type") == "replied_to" and reference.get("id"):
            return str(reference["id"])
    return None


def _engagement(metrics: Any) -> int | None:
    if not isinstance(metrics, dict):
        return None
    counts = [metrics.get(k) for k in ("like_count", "retweet_count", "reply_count", "quote_count")]
    numbers = [c for c in counts if isinstance(c, int) and not isinstance(c, bool)]
    return sum(numbers) if numbers else None


def _max_id(a: str | None, b: str | None) -> str | None:
    candidates = [x for x in (a, b) if x and str(x).isdigit()]
    return max(candidates, key=int) if candidates else a


def _is_problem(problem_type: Any, path: str) -> bool:
    """Whether an X problem type URL (on either host) names this problem."""
    return isinstance(problem_type, str) and problem_type.endswith(path)


def _not_found(error: Any, tweet_id: str) -> bool:
    """Whether an entry of a lookup's ``errors`` says that this tweet does not exist."""
    return (isinstance(error, dict) and _is_problem(error.get("type"), NOT_FOUND)
            and tweet_id in (str(error.get("resource_id")), str(error.get("value"))))


def _billing_problem(response: Any) -> str | None:
    """``"credits"`` or ``"usage_cap"`` when an error body says that billing stopped the app."""
    try:
        body = response.json()
    except ValueError:
        return None
    problems = [body, *(body.get("errors") or [])] if isinstance(body, dict) else []
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        if problem.get("title") == "CreditsDepleted" or _is_problem(problem.get("type"), CREDITS):
            return "credits"
        if problem.get("title") == "UsageCapExceeded" or _is_problem(problem.get("type"), USAGE_CAPPED):
            return "usage_cap"
    return None


def _problem_type(response: Any) -> str | None:
    """The path of an error body's problem ``type`` (on either host), e.g. ``/2/problems/oauth1-permissions``."""
    try:
        body = response.json()
    except ValueError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return "/" + kind.split("://", 1)[-1].split("/", 1)[-1] if isinstance(kind, str) and "://" in kind else None


def _tweet_id(native_id: str) -> str:
    if not isinstance(native_id, str) or not (native_id.isascii() and native_id.isdigit()):
        raise ValueError(f"not a tweet id: {native_id!r}")
    return native_id


def _problem_titles(errors: list[Any]) -> str:
    titles = [str(e.get("title") or e.get("type")) for e in errors if isinstance(e, dict)]
    return "; ".join(dict.fromkeys(titles))[:300] or "no detail"


def _messages(exc: tweepy.HTTPException) -> str:
    messages = list(exc.api_messages)
    try:
        body = exc.response.json()
        if isinstance(body, dict) and body.get("detail"):
            messages.append(str(body["detail"]))
    except (ValueError, RecursionError):
        pass
    return "; ".join(dict.fromkeys(messages))[:300] or "no detail"
