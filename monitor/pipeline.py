"""One poll of one source: fetch, classify what is new, store it all in one transaction.

::

    connector.fetch(cursor) ──► items, next_cursor            (network; outside the transaction)
    classifier.classify(new texts) ──► verdicts               (CPU; outside the transaction)
    BEGIN
      upsert items · save verdicts · hooks.on_ingest (cases, alerts) · advance cursor
    COMMIT

A crash before COMMIT leaves the old cursor, so the next poll fetches the same items again and
the store's uniqueness on (source, native_id) keeps them from doubling. A crash after COMMIT
leaves nothing to redo.

Hooks are the seams where the other capabilities plug in (acknowledgement cases, alerts, source
health). Each runs inside the poll's transaction, so what it writes is atomic with the items.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Sequence

from classifiers.base import Classifier, NullClassifier, Verdict
from connectors import connector_class
from connectors.base import Connector, Item, SourceSettings, sane_time
from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.errors import MAX_WAIT, ActionNeeded, AuthError, ConfigError, RateLimited, SourceError, StoreError
from monitor.redact import redact_urls
from monitor.sanitize import printable
from monitor.store import SourceState, Store, StoredItem

logger = logging.getLogger(__name__)

#: The longest a failing source waits between attempts (a rate limit's own reset may be later).
MAX_BACKOFF = timedelta(hours=1)
#: seconds an existence check waits for the source's poll to end before it says "cannot tell"
STILL_THERE_WAIT = 2.0


@dataclass(frozen=True, kw_only=True)
class IngestBatch:
    """What one successful poll stored, handed to each hook inside the transaction."""

    source: SourceSettings
    stored: list[StoredItem]
    verdicts: dict[int, Verdict]
    polled_at: datetime
    #: the source's first successful poll: what it returns is the backlog from before monitoring began
    first_poll: bool = False

    @property
    def new(self) -> list[StoredItem]:
        return [s for s in self.stored if s.new]


class PipelineHook:
    """A capability that reacts to polls. Every method runs inside the poll's transaction."""

    def on_ingest(self, store: Store, batch: IngestBatch) -> None:
        """Items were stored (``batch.new`` are the first-seen ones)."""

    def on_failure(self, store: Store, source: SourceSettings, state: SourceState, error: Exception) -> None:
        """A poll failed; ``state`` already counts this failure."""

    def on_recovery(self, store: Store, source: SourceSettings, previous: SourceState) -> None:
        """A poll worked after one or more failures (``previous`` is the failing state)."""


@dataclass(frozen=True, kw_only=True)
class PollResult:
    source: str
    fetched: int = 0
    new: int = 0
    flagged: int = 0
    error: str | None = None
    error_kind: str | None = None
    skipped: bool = False  # in back-off: not polled this time

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Pipeline:
    config: Config
    store: Store
    classifier: Classifier = field(default_factory=NullClassifier)
    clock: Clock = system_clock
    hooks: Sequence[PipelineHook] = ()
    connectors: dict[str, Connector] = field(default_factory=dict)
    http_factory: Any = None  # callable(settings) -> httpx.Client, for tests and proxies
    _locks: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def connector(self, name: str) -> Connector:
        """The connector of a configured source, built once."""
        if name not in self.connectors:
            settings = self.config.source(name)
            kwargs: dict[str, Any] = {"clock": self.clock}
            if self.http_factory is not None:
                kwargs["http"] = self.http_factory(settings)
            self.connectors[name] = connector_class(settings.type)(settings, **kwargs)
        return self.connectors[name]

    def still_there(self, source: str, native_id: str) -> bool | None:
        """Whether a record is still on its platform (see :meth:`Connector.exists`).

        None when the source cannot tell, is no longer configured, or the question failed: a
        failure must never hide an alert, so it counts as "cannot tell". Credentials refused here
        are recorded as the source's failure, as a poll's would be, so the school is told at once.
        """
        try:
            settings = self.config.source(source)
        except ConfigError:  # a source removed from the configuration cannot tell
            return None
        lock = self._lock(source)
        # a poll hanging on a slow server holds the lock: the SLA clock must not hang behind it
        if not lock.acquire(timeout=STILL_THERE_WAIT):
            logger.info("source=%s is busy polling: cannot check now whether %s still exists", source, native_id)
            return None
        try:
            return self.connector(source).exists(native_id)
        except AuthError as exc:
            self._fail(settings, self.store.source_state(source), exc)
            return None
        except Exception as exc:  # noqa: BLE001
            logger.warning("source=%s could not check whether %s still exists: %s",
                           source, native_id, describe_failure(exc)[1])
            return None
        finally:
            lock.release()

    def _lock(self, name: str) -> threading.Lock:
        """One lock per source: a poll and an existence check never share a connector at once."""
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def poll(self, name: str, *, respect_backoff: bool = False) -> PollResult:
        """Poll one source once. Never raises for a source's failure: it is recorded instead."""
        settings = self.config.source(name)
        previous = self.store.source_state(name)
        now = self.clock()
        if respect_backoff and previous.backoff_until and previous.backoff_until > now:
            return PollResult(source=name, skipped=True)
        try:
            connector = self.connector(name)
            with self._lock(name):
                items, cursor = connector.fetch(previous.cursor)
            items = self._believable(name, [item for item in items if item.source == name])
            fresh = self._first_seen(name, items)
            verdicts = self._classify(name, fresh)
            with self.store.transaction():
                stored = self.store.upsert_items(items)
                by_key = {(s.item.source, s.item.native_id): s.id for s in stored}
                verdict_by_id = {by_key[(i.source, i.native_id)]: v for i, v in zip(fresh, verdicts)}
                for item_id, verdict in verdict_by_id.items():
                    self.store.save_verdict(item_id, verdict)
                batch = IngestBatch(
                    source=settings, stored=stored, verdicts=verdict_by_id, polled_at=self.clock(),
                    first_poll=previous.last_success_at is None,
                )
                for hook in self.hooks:
                    hook.on_ingest(self.store, batch)
                self.store.record_success(name, cursor, len(batch.new), extra=connector.status() or None)
                if previous.consecutive_failures:
                    for hook in self.hooks:
                        hook.on_recovery(self.store, settings, previous)
        except Exception as exc:  # noqa: BLE001 - a source's failure must never stop the others
            return self._fail(settings, previous, exc)
        if previous.consecutive_failures:
            logger.info("source=%s recovered after %d failed polls", name, previous.consecutive_failures)
        new = len(batch.new)
        flagged = sum(1 for v in verdict_by_id.values() if v.flagged)
        logger.info("source=%s polled: %d fetched, %d new, %d flagged", name, len(items), new, flagged)
        return PollResult(source=name, fetched=len(items), new=new, flagged=flagged)

    def _believable(self, name: str, items: list[Item]) -> list[Item]:
        """The items with their timestamps inside the believable window (see ``sane_time``): one
        dated 9999 or 0001 by its author is kept, at the nearest believable time, and logged."""
        now = self.clock()
        kept = []
        for item in items:
            when = sane_time(item.created_at, now)
            if when != item.created_at:
                logger.warning("source=%s %s is dated %s, outside what can be believed: taken as %s",
                               name, item.native_id, item.created_at.isoformat(), when.isoformat())
                item = replace(item, created_at=when)
            kept.append(item)
        return kept

    def _first_seen(self, name: str, items: list[Item]) -> list[Item]:
        """The items not stored yet, each once (what gets classified)."""
        known = self.store.existing_ids(name, (i.native_id for i in items))
        fresh: dict[str, Item] = {}
        for item in items:
            if item.native_id not in known:
                fresh.setdefault(item.native_id, item)
        return list(fresh.values())

    def _classify(self, name: str, items: list[Item]) -> list[Verdict]:
        if not items:
            return []
        verdicts = self.classifier.classify([item.text for item in items])
        if len(verdicts) != len(items):
            raise RuntimeError(f"classifier returned {len(verdicts)} verdicts for {len(items)} texts")
        return verdicts

    def _fail(self, settings: SourceSettings, previous: SourceState, exc: Exception) -> PollResult:
        name = settings.name
        kind, message = describe_failure(exc)
        backoff_until = self._backoff_until(settings, previous.consecutive_failures + 1, exc)
        try:
            with self.store.transaction():
                state = self.store.record_failure(name, kind, message, backoff_until)
                for hook in self.hooks:
                    hook.on_failure(self.store, settings, state, exc)
        except Exception:  # noqa: BLE001 - even the failure record failed (disk full?)
            logger.exception("source=%s could not record its failure", name)
        if previous.consecutive_failures == 0 or previous.last_error_kind != kind:
            if kind == "error":
                logger.error("source=%s failed: %s", name, message, exc_info=exc)
            else:
                logger.error("source=%s failed (%s): %s", name, kind, message)
        else:
            logger.debug("source=%s still failing (%s): %s", name, kind, message)
        return PollResult(source=name, error=message, error_kind=kind)

    def _backoff_until(self, settings: SourceSettings, failures: int, exc: Exception) -> datetime:
        now = self.clock()
        wait = min(settings.interval * (2 ** min(failures - 1, 16)), max(MAX_BACKOFF, settings.interval))
        if isinstance(exc, RateLimited) and exc.retry_at is not None:
            return min(exc.retry_at, now + MAX_WAIT)  # a platform's wait, but never beyond a day
        return now + wait


def describe_failure(exc: Exception) -> tuple[str, str]:
    """(kind, message) of a poll failure: kind is auth, action, rate_limited, transient, store or error.

    The message is on one line, its control characters shown as escapes (:func:`printable`), and the
    URLs in it redacted (:func:`redact_urls`): a platform's error text is stored, logged, shown by
    ``status`` and sent in alerts.
    """
    kind, message = _describe_failure(exc)
    return kind, printable(redact_urls(message))


def _describe_failure(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ActionNeeded):
        return "action", str(exc)
    if isinstance(exc, AuthError):
        return "auth", str(exc)
    if isinstance(exc, RateLimited):
        when = f" until {exc.retry_at.isoformat(timespec='seconds')}" if exc.retry_at else ""
        return "rate_limited", f"{exc}{' (waiting' + when + ')' if when else ''}"
    if isinstance(exc, SourceError):
        return "transient", str(exc)
    if isinstance(exc, StoreError):  # the database, not the source (a full disk): said plainly
        return "store", str(exc)
    return "error", f"unexpected {type(exc).__name__}: {exc}"
