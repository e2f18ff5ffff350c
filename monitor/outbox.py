"""The outbox: every alert is written here first, in the transaction that caused it.

An alert is an intent (kind, payload, idempotency key). :func:`enqueue` expands it into one row
per channel and recipient, by the routing rules:

- the moderators: the Slack channel and the moderators' email addresses, when configured;
- the source's ``leads`` (email addresses, or Slack user/channel ids);
- for escalations, ``notify.email.escalate_to`` as well.

Each row's key is ``<alert key>|<channel>|<recipient>``, unique in the table: enqueueing the same
alert twice (a second poll, a restart, a retry) adds nothing.

:class:`Dispatcher` delivers the rows (see its docstring, and ``docs/ALERTS.md`` for the guarantee
each channel gives).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from monitor.config import Config
from monitor.errors import ChannelRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError
from monitor.notify.base import Message
from monitor.sanitize import printable
from monitor.store import Store, from_db, to_db

logger = logging.getLogger(__name__)

_SLACK_ID = re.compile(r"^[CGDUW][A-Z0-9]{6,}$")


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Something a person must be told. ``key`` makes it unique (e.g. ``breach:case:42``)."""

    key: str
    kind: str
    payload: dict[str, Any]
    source: str | None = None
    item_id: int | None = None
    case_id: int | None = None
    escalate: bool = False
    #: False for alerts meant only for ``extra_recipients`` (e.g. the principal's digest)
    moderators: bool = True
    extra_recipients: tuple[str, ...] = field(default_factory=tuple)


def routes(config: Config, alert: Alert) -> list[tuple[str, str | None]]:
    """(channel, recipient) pairs that should receive ``alert``, without repeats."""
    found: list[tuple[str, str | None]] = []
    slack, email = config.notify.slack, config.notify.email
    if slack is not None and alert.moderators:
        found.append(("slack", slack.channel))
    if email is not None and alert.moderators:
        found.extend(("email", address) for address in email.moderators)
    extra = list(alert.extra_recipients)
    if alert.source and alert.moderators:
        try:
            extra.extend(config.source(alert.source).leads)
        except Exception:  # noqa: BLE001 - a source removed from the configuration
            pass
    if alert.escalate and email is not None:
        extra.extend(email.escalate_to)
    for recipient in extra:
        if "@" in recipient and email is not None:
            found.append(("email", recipient))
        elif _SLACK_ID.match(recipient) and slack is not None:
            found.append(("slack", recipient))
    return list(dict.fromkeys(found))


def enqueue(store: Store, config: Config, alert: Alert) -> int:
    """Write the alert's rows to the outbox; returns how many were new (0 if already queued)."""
    now = to_db(store.now())
    payload = json.dumps(alert.payload, ensure_ascii=False, default=str)
    added = 0
    with store.transaction():
        for channel, recipient in routes(config, alert):
            cursor = store.execute(
                """INSERT OR IGNORE INTO alerts (key, kind, channel, recipient, source, item_id, case_id,
                    payload, created_at, state, next_attempt_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)""",
                (
                    f"{alert.key}|{channel}|{recipient or ''}", alert.kind, channel, recipient,
                    alert.source, alert.item_id, alert.case_id, payload, now, now,
                ),
            )
            added += cursor.rowcount
    if not routes(config, alert):
        logger.warning("alert %s (%s) has no recipient: configure [notify.slack] or [notify.email]", alert.key, alert.kind)
    return added


# -- the dispatcher -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DispatchReport:
    """What one pass of the dispatcher did."""

    sent: int = 0
    reconciled: int = 0  # in-doubt rows found already delivered
    failed: int = 0  # permanently
    waiting: int = 0  # channels left with rows to retry later


class Dispatcher:
    """Sends the outbox's pending rows, oldest first and one at a time per channel.

    Before each provider call the row is marked ``sending`` and committed; after it, the receipt is
    recorded. A row found ``sending`` at start (a crash in between), or after a send that got no
    answer (:class:`DeliveryInDoubt`), is first looked up with the notifier's ``find_sent``: sent
    already means only the receipt is recorded. A row that fails waits with capped exponential
    back-off and jitter (or the provider's Retry-After), and the rows queued after it on the same
    channel wait behind it, so that alerts arrive in the order they were written.
    """

    def __init__(
        self,
        store: Store,
        notifiers: dict[str, Any],
        *,
        clock: Any = None,
        base_delay: timedelta = timedelta(seconds=10),
        max_delay: timedelta = timedelta(minutes=10),
        per_pass: int = 200,
        rng: random.Random | None = None,
    ):
        self.store = store
        self.notifiers = notifiers
        self.clock = clock or store.clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.per_pass = per_pass
        self.rng = rng or random.Random()
        self.held: dict[str, str] = {}  # channel -> why nothing can be sent on it
        self._failing: set[str] = set()
        self._recovered = False
        self._lock = threading.Lock()

    def run(self) -> DispatchReport:
        """One pass over every channel; never raises for a delivery failure."""
        with self._lock:
            if not self._recovered:
                self.recover()
            totals = {"sent": 0, "reconciled": 0, "failed": 0, "waiting": 0}
            for channel, notifier in self.notifiers.items():
                for name, count in self._drain(channel, notifier).items():
                    totals[name] += count
            return DispatchReport(**totals)

    def recover(self) -> None:
        """At start: rows a crash left ``sending`` are looked up first; held channels are retried."""
        now = to_db(self.clock())
        with self.store.transaction():
            self.store.execute(
                "UPDATE alerts SET state = 'pending', next_attempt_at = ?, failure = NULL "
                "WHERE state = 'failed' AND failure = 'channel'", (now,),
            )
            in_doubt = self.store.execute(
                "UPDATE alerts SET next_attempt_at = ? WHERE state = 'sending'", (now,)
            ).rowcount
        if in_doubt:
            logger.warning("outbox: %d alerts were being sent when the monitor stopped: checking them first", in_doubt)
        self._recovered = True

    def _drain(self, channel: str, notifier: Any) -> dict[str, int]:
        counts = {"sent": 0, "reconciled": 0, "failed": 0, "waiting": 0}
        if channel in self.held:
            return counts
        for _ in range(self.per_pass):
            row = self._head(channel)
            if row is None:
                return counts
            # a row never tried is due at once, even if the host clock stepped back since it was written
            if row["attempts"] and from_db(row["next_attempt_at"]) > self.clock():
                counts["waiting"] += 1
                return counts
            outcome = self._deliver(channel, notifier, row)
            if outcome in ("retry", "held"):
                counts["waiting"] += 1
                return counts
            counts[outcome] += 1
        return counts

    def _head(self, channel: str) -> dict[str, Any] | None:
        rows = self.store.query(
            "SELECT * FROM alerts WHERE channel = ? AND state IN ('pending', 'sending') ORDER BY id LIMIT 1",
            (channel,),
        )
        return rows[0] if rows else None

    def _deliver(self, channel: str, notifier: Any, row: dict[str, Any]) -> str:
        try:
            message = to_message(row)
        except ValueError as exc:
            self._fail(row, f"unreadable outbox row: {exc}", scope="message")
            return "failed"
        if row["state"] == "sending":
            try:
                receipt = notifier.find_sent(message)
            except NotifyError as exc:
                # cannot check yet: the row stays in doubt, whatever the error (never sent blind)
                if isinstance(exc, ChannelRefused):
                    self.held[channel] = str(exc)
                    logger.error("outbox: %s alerts are held: %s (fix the configuration, then restart)", channel, exc)
                    return "held"
                self._retry(channel, row, exc, in_doubt=True)
                return "retry"
            if receipt is not None:
                self._record_sent(row, receipt)
                logger.info("outbox: %s to %s was already delivered (receipt %s)", row["kind"], _to(row), receipt.id)
                return "reconciled"
        try:
            self._mark_sending(row)
            receipt = notifier.send(message)
        except ChannelRefused as exc:
            self._fail(row, str(exc), scope="channel")
            self.held[channel] = str(exc)
            logger.error("outbox: %s alerts are held: %s (fix the configuration, then restart)", channel, exc)
            return "held"
        except PermanentNotifyError as exc:
            self._fail(row, str(exc), scope="message")
            logger.error("outbox: %s alert %s to %s cannot be delivered: %s", channel, row["key"], _to(row), exc)
            return "failed"
        except NotifyError as exc:
            self._retry(channel, row, exc, in_doubt=isinstance(exc, DeliveryInDoubt))
            return "retry"
        except Exception as exc:  # noqa: BLE001 - a bug with one alert must not block the others
            logger.exception("outbox: %s alert %s failed unexpectedly", channel, row["key"])
            self._fail(row, f"unexpected {type(exc).__name__}: {exc}", scope="message")
            return "failed"
        self._record_sent(row, receipt)
        if channel in self._failing:
            self._failing.discard(channel)
            logger.info("outbox: %s delivers again", channel)
        return "sent"

    def _mark_sending(self, row: dict[str, Any]) -> None:
        with self.store.transaction():
            self.store.execute(
                "UPDATE alerts SET state = 'sending', attempts = attempts + 1 WHERE id = ?", (row["id"],)
            )

    def _record_sent(self, row: dict[str, Any], receipt: Any) -> None:
        receipt_json = json.dumps({"id": receipt.id, **receipt.detail}, ensure_ascii=False, default=str)
        with self.store.transaction():
            self.store.execute(
                "UPDATE alerts SET state = 'sent', sent_at = ?, receipt = ?, last_error = NULL, failure = NULL "
                "WHERE id = ?",
                (to_db(self.clock()), receipt_json, row["id"]),
            )

    def _fail(self, row: dict[str, Any], error: str, *, scope: str) -> None:
        with self.store.transaction():
            self.store.execute(
                "UPDATE alerts SET state = 'failed', last_error = ?, failure = ? WHERE id = ?",
                (printable(error), scope, row["id"]),
            )

    def _retry(self, channel: str, row: dict[str, Any], exc: NotifyError, *, in_doubt: bool) -> None:
        delay = self.backoff(row["attempts"] + 1, exc.retry_after)
        # a send that got no answer stays 'sending': it is looked up before the next attempt
        state = "sending" if in_doubt else "pending"
        with self.store.transaction():
            self.store.execute(
                "UPDATE alerts SET state = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (state, to_db(self.clock() + delay), printable(exc), row["id"]),
            )
        if channel not in self._failing:
            self._failing.add(channel)
            logger.warning("outbox: %s is not delivering (%s); retrying with back-off", channel, exc)
        else:
            logger.debug("outbox: %s still not delivering (%s); next try in %s", channel, exc, delay)

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """Capped exponential back-off with jitter; a provider's Retry-After is a minimum."""
        if retry_after is not None:
            return timedelta(seconds=retry_after * (1 + self.rng.uniform(0, 0.1)))
        ceiling = min(self.max_delay.total_seconds(), self.base_delay.total_seconds() * 2 ** min(attempts - 1, 30))
        return timedelta(seconds=self.rng.uniform(ceiling / 2, ceiling))


def to_message(row: dict[str, Any]) -> Message:
    """The notifier's view of an outbox row (ValueError if its payload is not a JSON object)."""
    try:
        payload = json.loads(row["payload"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"payload is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    return Message(
        key=row["key"], kind=row["kind"], channel=row["channel"], recipient=row["recipient"],
        payload=payload, created_at=from_db(row["created_at"]), source=row["source"],
        item_id=row["item_id"], case_id=row["case_id"],
    )


def build_notifiers(config: Config, clock: Any = None) -> dict[str, Any]:
    """The notifiers the configuration asks for: ``{"slack": ..., "email": ...}``."""
    from monitor.notify.email import EmailNotifier
    from monitor.notify.slack import SlackNotifier

    notifiers: dict[str, Any] = {}
    tz = config.school.tz
    if config.notify.slack is not None:
        notifiers["slack"] = SlackNotifier(config.notify.slack, tz=tz)
    if config.notify.email is not None:
        kwargs = {"clock": clock} if clock is not None else {}
        notifiers["email"] = EmailNotifier(config.notify.email, tz=tz, school=config.school.name, **kwargs)
    return notifiers


def _to(row: dict[str, Any]) -> str:
    return row["recipient"] or row["channel"]
