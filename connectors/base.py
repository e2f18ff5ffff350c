"""The connector interface, the ``Item`` record and the errors a connector may raise.

A connector has one job: given the cursor it returned last time (``None`` on the first poll),
return the new items and the next cursor::

    items, next_cursor = connector.fetch(cursor)

The cursor is any JSON-serialisable value the connector chooses (newest id, timestamp, ETag...).
The pipeline stores it in the same transaction as the items it covers, so a crash between
``fetch`` and the commit simply repeats the fetch: connectors must therefore be repeatable with
the same cursor, and items are de-duplicated on ``(source, native_id)`` by the store.

Errors: a connector raises only :class:`AuthError` (or :class:`ActionNeeded`), :class:`RateLimited`
or :class:`TransientError` (all :class:`SourceError`). A malformed record is not an error: it is
logged with :func:`skip_record` and the rest of the page is kept.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar, Literal, get_args

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from connectors.http import MiB, bounded_client, parse_size
from monitor.clock import Clock, system_clock
from monitor.config import PollInterval, Recipient, Secret, Timeout, duration, refuse_credentials, web_url
from monitor.errors import ActionNeeded, AuthError, RateLimited, SourceError, TransientError

__all__ = [
    "ActionNeeded",
    "AuthError",
    "Secret",
    "Connector",
    "Cursor",
    "Item",
    "ItemKind",
    "MALFORMED",
    "RateLimited",
    "SourceError",
    "SourceSettings",
    "TransientError",
    "Written",
    "skip_record",
]

logger = logging.getLogger(__name__)

ItemKind = Literal["comment", "reply", "post", "mention"]
ITEM_KINDS: tuple[str, ...] = ("comment", "reply", "post", "mention")
Cursor = Any  # JSON-serialisable, chosen by each connector

#: What parsing a malformed record raises: such a record is skipped with :func:`skip_record`.
MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError)

#: Raw extracts are kept small: enough to debug a parser, not a copy of the platform.
RAW_LIMIT = 2000

#: A platform's timestamp is believed between these: before EARLIEST (older than any platform here,
#: e.g. an author's client writing 0001-01-01) it is taken as EARLIEST; after ``now + FUTURE_SKEW``
#: (9999-12-31) as ``now + FUTURE_SKEW``. Deadlines and checkpoints are then always computable.
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
FUTURE_SKEW = timedelta(minutes=5)


_OPTIONAL_TEXT = ("url", "author_id", "author_name", "author_handle", "parent_id", "thread_id")


@dataclass(frozen=True, kw_only=True)
class Item:
    """One comment, reply, post or mention, as collected from a source.

    ``created_at`` is the platform's own timestamp, aware and in UTC (a naive one is refused).
    ``parent_id`` is the native id of what this replies to; ``thread_id`` the native id of the
    thread's root (a post). ``by_school`` is True when the school's own account wrote it: such a
    reply closes the acknowledgement case of the comment it answers.
    """

    source: str
    native_id: str
    kind: ItemKind
    text: str
    created_at: datetime
    url: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author_handle: str | None = None
    parent_id: str | None = None
    thread_id: str | None = None
    by_school: bool = False
    engagement: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.native_id or not isinstance(self.native_id, str):
            raise ValueError("an item needs a native id (text)")
        if self.kind not in ITEM_KINDS:
            raise ValueError(f"unknown item kind {self.kind!r}")
        if not isinstance(self.created_at, datetime) or self.created_at.tzinfo is None:
            raise ValueError("created_at must be a timezone-aware datetime")
        if self.created_at.utcoffset() != timezone.utc.utcoffset(None):
            object.__setattr__(self, "created_at", self.created_at.astimezone(timezone.utc))
        if not isinstance(self.text, str):
            raise ValueError("text must be a string")
        # a malformed record (a number or a list where text belongs) is refused here, so that the
        # connector skips it instead of the store failing on the whole poll
        for name in _OPTIONAL_TEXT:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be text, not {type(value).__name__}")
        if self.engagement is not None and (isinstance(self.engagement, bool) or not isinstance(self.engagement, int)):
            raise ValueError(f"engagement must be a whole number, not {type(self.engagement).__name__}")
        if not isinstance(self.by_school, bool):
            raise ValueError("by_school must be True or False")


ByteSize = Annotated[int, BeforeValidator(parse_size)]

#: what a source may be asked to do on its platform (see ``Connector.reply``, ``hide``, ``delete``,
#: ``block``, ``report``). ``block`` and ``report`` are for platforms where the school cannot hide or
#: delete another account's post (Mastodon, Bluesky): the post stays public.
ACTION_NAMES: tuple[str, ...] = ("reply", "hide", "delete", "block", "report")
ActionName = Literal["reply", "hide", "delete", "block", "report"]


@dataclass(frozen=True, kw_only=True)
class Written:
    """A write the platform accepted: the new record's native id (a reply), and the platform's time."""

    native_id: str | None
    at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.at, datetime) or self.at.tzinfo is None:
            raise ValueError("at must be a timezone-aware datetime")


class SourceSettings(BaseModel):
    """Settings every source has; each connector extends this with its own keys.

    Unknown keys are refused so that a typo in the configuration is reported, not ignored, and
    values are strict (``official = "yes"`` is no boolean). Every ``base_url`` is an http(s) address.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    type: str
    official: bool = False
    enabled: bool = True
    interval: PollInterval = timedelta(minutes=5)
    timeout: Timeout = timedelta(seconds=30)
    #: the longest one request may take in all (connect, headers, body, redirects); at least ``timeout``
    request_deadline: duration("1s", "1h") = timedelta(seconds=60)
    #: the largest answer read, once decoded; by default the source type's own (see ``Connector``)
    max_body: ByteSize | None = None
    base_url: str | None = None
    leads: list[Recipient] = Field(default_factory=list)
    #: what moderators may do on the platform from Slack or the command line (opt-in; the
    #: connector must support each, and the token must carry the permission it needs)
    actions: list[ActionName] = Field(default_factory=list)

    #: whether the source's addresses may carry a user name and password (HTTP Basic): a feed's may
    #: (a private feed); a platform API's may not, as it signs in with its own keys
    credentials_in_address: ClassVar[bool] = False

    @field_validator("base_url", "token_url", "plc_url", check_fields=False)
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        """Every address a source type has, its own or overridden (a subclass's default is trusted)."""
        if value is None:
            return None
        value = web_url(value)
        if not cls.credentials_in_address:
            keys = ", ".join(secret_keys(cls)) or "its own"
            refuse_credentials(value, f"a {cls.model_fields['type'].default} source's credentials go in its keys "
                                      f'({keys}, written as "env:NAME" or "file:/path"), not in its address')
        return value


def secret_keys(settings: type[BaseModel]) -> list[str]:
    """The keys of a settings class that hold secrets (tokens, passwords)."""
    return [name for name, field in settings.model_fields.items() if _holds_secret(field.annotation)]


def _holds_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_holds_secret(arg) for arg in get_args(annotation))


class Connector(ABC):
    """A source of items. Subclasses set ``type``, ``Settings`` and implement :meth:`fetch`."""

    type: ClassVar[str]
    Settings: ClassVar[type[SourceSettings]] = SourceSettings
    #: Where the school renews this source's credentials; named in the alert when they expire.
    renew_hint: ClassVar[str] = "check the source's credentials in the configuration"
    #: the largest answer (decoded) read from this source type unless ``max_body`` says otherwise
    max_body_default: ClassVar[int] = 8 * MiB
    #: False where a "mention" is a post made elsewhere that names or tags the account (Facebook
    #: ``/tagged``, Instagram ``/tags``): no acknowledgement case is opened for it on an official source.
    mentions_need_ack: ClassVar[bool] = True

    def __init__(
        self,
        settings: SourceSettings,
        *,
        http: httpx.Client | None = None,
        clock: Clock = system_clock,
    ):
        self.settings = settings
        self.name = settings.name
        self.clock = clock
        self.http = http or bounded_client(
            max_body=settings.max_body or self.max_body_default,
            deadline=settings.request_deadline.total_seconds(),
            timeout=settings.timeout.total_seconds(),
            headers={"User-Agent": user_agent()},
        )

    @abstractmethod
    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        """Return the items newer than ``cursor`` and the cursor to pass next time."""

    def timestamp(self, value: Any) -> datetime:
        """A platform's timestamp as aware UTC, within the believable window (see :func:`sane_time`).

        ValueError on something that is not a timestamp, so that the record is skipped.
        """
        return sane_time(parse_timestamp(value), self.clock())

    def status(self) -> dict[str, Any]:
        """Extra facts for ``monitor status`` (e.g. quota used today). Empty by default."""
        return {}

    @classmethod
    def config_warnings(cls, settings: SourceSettings) -> list[str]:
        """What ``monitor check-config`` should say about valid settings that cannot work as they are."""
        return []

    def exists(self, native_id: str) -> bool | None:
        """Whether the record is still on the platform: False when the platform says it is gone
        (deleted or hidden), True when it is there, None when this connector cannot tell.

        Asked before a reminder or a breach notice, so that a comment the moderator deleted stops
        its case instead of raising alerts. It may raise the usual connector errors.
        """
        return None

    # -- writes (only where ``supported_actions`` names them) --------------------------------
    #: the writes this connector can make; a source opts in with ``actions = [...]``
    supported_actions: ClassVar[frozenset[str]] = frozenset()
    #: the permission (scope) each write needs, as the platform names it, for messages and docs
    action_scopes: ClassVar[dict[str, str]] = {}

    def reply(self, native_id: str, text: str) -> Written:
        """Post ``text`` as the school's account in reply to the record ``native_id``.

        AuthError when the token lacks the permission; the usual connector errors otherwise. A
        TransientError may come after the platform made the write: the caller checks with
        :meth:`find_reply` before trying again.
        """
        raise NotImplementedError(f"{self.type} cannot reply")

    def find_reply(self, native_id: str, text: str) -> Written | None:
        """The school's reply with exactly ``text`` under ``native_id``, if the platform has one."""
        raise NotImplementedError(f"{self.type} cannot reply")

    def hide(self, native_id: str) -> Written:
        """Hide the record from the public (the platform keeps it; the author still sees it)."""
        raise NotImplementedError(f"{self.type} cannot hide")

    def delete(self, native_id: str) -> Written:
        """Delete the record from the platform."""
        raise NotImplementedError(f"{self.type} cannot delete")

    def tell_thread(self, thread_id: str, text: str) -> Written:
        """Post ``text`` as the school's account on the thread ``thread_id`` (the post or video a removed
        comment was under), where its audience reads: the removal notice. Only where ``supported_actions``
        names ``notice``; it needs the permission of a reply. Errors as for :meth:`reply`."""
        raise NotImplementedError(f"{self.type} cannot post a notice")

    def find_in_thread(self, thread_id: str, text: str) -> Written | None:
        """The school's comment with exactly ``text`` on the thread ``thread_id``, if the platform has one."""
        raise NotImplementedError(f"{self.type} cannot post a notice")

    def visibility(self, native_id: str) -> Literal["visible", "hidden", "gone"]:
        """Whether the record is shown, hidden or gone: how an in-doubt hide or delete is checked."""
        raise NotImplementedError(f"{self.type} cannot tell")

    def block(self, native_id: str) -> Written:
        """Block the record's author from the school's account (the record itself stays public)."""
        raise NotImplementedError(f"{self.type} cannot block")

    def report(self, native_id: str) -> Written:
        """Report the record to the platform's moderators (it stays public until they act)."""
        raise NotImplementedError(f"{self.type} cannot report")

    def was_done(self, action: str, native_id: str) -> Written | None:
        """How an in-doubt ``block`` or ``report`` is checked: the write if the platform shows it made,
        None if it does not or cannot tell (the write is then made again)."""
        return None

    def close(self) -> None:
        self.http.close()


def user_agent() -> str:
    from monitor import __version__

    return f"school-social-monitor/{__version__} (+https://github.com/school-social-monitor)"


def skip_record(source: str, record: Any, reason: str) -> None:
    """Log a malformed record that is skipped, with its id when it has one; the rest of the page is kept."""
    extract = repr(record)
    if len(extract) > 300:
        extract = extract[:300] + "..."
    logger.warning("source=%s skipped a malformed record (id %s): %s: %s", source, record_id(record), reason, extract)


def record_id(record: Any) -> str:
    """The id a platform gave a raw record (``id``, ``uri``, ``guid``...), looked for one level down too."""
    for candidate in (record, *(record.values() if isinstance(record, dict) else ())):
        if isinstance(candidate, dict):
            for key in ("id", "uri", "guid", "name", "link"):
                value = candidate.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                    return str(value)[:200]
    return "unknown"


def sane_time(when: datetime, now: datetime) -> datetime:
    """``when`` within ``[EARLIEST, now + FUTURE_SKEW]``: a platform (or an author's client) can
    write any date, and one outside the window would break deadline arithmetic or a checkpoint."""
    return min(max(when, EARLIEST), now + FUTURE_SKEW)


def small_raw(record: dict[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A small extract of a raw record for debugging, bounded in size."""
    import json

    picked = {k: record[k] for k in (keys or tuple(record)) if k in record}
    try:
        text = json.dumps(picked, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return {}
    if len(text) <= RAW_LIMIT:
        return json.loads(text)
    return {"truncated": text[:RAW_LIMIT]}


def parse_timestamp(value: Any) -> datetime:
    """Parse a platform timestamp (ISO 8601, with Z or offset, or Unix seconds) to aware UTC.

    Raises ValueError on anything else (a number no calendar holds too), so the caller can skip the record.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"not a time any calendar holds: {value!r}") from None
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    # Facebook writes +0000 without a colon.
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in no UTC year: the calendar's end it is nearest
        return (datetime.max if parsed.year == datetime.max.year else datetime.min).replace(tzinfo=timezone.utc)
