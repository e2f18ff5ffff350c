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
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.config import SLACK_ID, Config
from monitor.errors import ChannelRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError
from monitor.notify.base import Message
from monitor.notify.render import GROUP_LIMIT, payload_items
from monitor.notify.routing import URGENT, deadline_limits, is_routine, moderator_channels, release_time, stands_alone
from monitor.sanitize import printable
from monitor.store import Store, from_db, to_db

logger = logging.getLogger(__name__)

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
    """(channel, recipient) pairs that should receive ``alert``, without repeats.

    The moderators get it on the channels :func:`monitor.notify.routing.moderator_channels` names for its
    kind; the source's leads and (for escalations) ``escalate_to`` get it on whichever configured
    channel their address belongs to.
    """
    found: list[tuple[str, str | None]] = []
    slack, email, teams = config.notify.slack, config.notify.email, config.notify.teams
    if alert.moderators:
        for channel in moderator_channels(config, alert.kind):
            if channel == "slack":
                found.append(("slack", slack.channel))
            elif channel == "teams":
                found.append(("teams", None))
            else:
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
        elif SLACK_ID.match(recipient) and slack is not None:
            found.append(("slack", recipient))
    return list(dict.fromkeys(found))


def enqueue(store: Store, config: Config, alert: Alert) -> int:
    """Write the alert's rows to the outbox; returns how many were new (0 if already queued).

    An urgent alert's rows are ``pending`` (sent at once); a routine alert's rows are ``waiting``
    until their ``release_at`` (see :func:`monitor.notify.routing.release_time`), when the dispatcher
    merges every waiting row of the same channel and recipient into one message.
    """
    now_at = store.now()
    now = to_db(now_at)
    payload = json.dumps(alert.payload, ensure_ascii=False, default=str)
    targets = routes(config, alert)
    batched = is_routine(alert.kind) and config.notify.routing.batch_window.total_seconds() > 0
    limits = deadline_limits(config, alert.payload) if batched else []
    added = 0
    with store.transaction():
        for channel, recipient in targets:
            release = to_db(release_time(config, channel, now_at, limits)) if batched else None
            cursor = store.execute(
                """INSERT OR IGNORE INTO alerts (key, kind, channel, recipient, source, item_id, case_id,
                    payload, created_at, state, next_attempt_at, release_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    f"{alert.key}|{channel}|{recipient or ''}", alert.kind, channel, recipient,
                    alert.source, alert.item_id, alert.case_id, payload, now,
                    "waiting" if batched else "pending", release or now, release,
                ),
            )
            added += cursor.rowcount
    if not targets:
        logger.warning("alert %s (%s) has no recipient: configure [notify.slack], [notify.teams] or [notify.email]",
                       alert.key, alert.kind)
    return added


# -- batches --------------------------------------------------------------------------------------

#: what a routine alert is, as a line of a batch
WHY = {"new_comments": "new comment", "reminder": "reminder: acknowledge soon", "source_recovered": "source back"}


def release_batches(store: Store, channel: str, now: datetime) -> int:
    """Merge the waiting rows of ``channel`` that are due into one message per recipient.

    A recipient's rows are due when the earliest ``release_at`` among them has come, or when an
    urgent message (not a threat or self-harm hit) is about to go to the same recipient: it carries
    them along, and the moderator gets the news sooner in fewer messages. Members become
    ``batched`` (``batch_id`` names their message) in the same transaction that writes the batch
    row, so a crash leaves either the waiting rows or the batch, never both or neither.
    Returns how many messages were made or extended.
    """
    made = 0
    recipients = store.query(
        "SELECT recipient, min(release_at) AS due FROM alerts WHERE channel = ? AND state = 'waiting' "
        "GROUP BY recipient", (channel,),
    )
    for row in recipients:
        with store.transaction():
            members = store.query(
                "SELECT * FROM alerts WHERE channel = ? AND recipient IS ? AND state = 'waiting' ORDER BY id",
                (channel, row["recipient"]),
            )
            if not members:
                continue
            carrier = _carrier(store, channel, row["recipient"])
            if carrier is None and from_db(min(m["release_at"] for m in members)) > now:
                continue
            made += _merge(store, channel, row["recipient"], members, carrier, now)
    return made


def _carrier(store: Store, channel: str, recipient: str | None) -> dict[str, Any] | None:
    """An urgent row to this recipient not yet tried, that may carry routine news along."""
    rows = store.query(
        "SELECT * FROM alerts WHERE channel = ? AND recipient IS ? AND state = 'pending' AND attempts = 0 "
        "AND release_at IS NULL ORDER BY id DESC LIMIT 20", (channel, recipient),
    )
    for row in rows:
        try:
            payload = json.loads(row["payload"])
        except (TypeError, json.JSONDecodeError):
            continue
        if row["kind"] in URGENT and isinstance(payload, dict) and not stands_alone(row["kind"], payload):
            return row
    return None


def _merge(store: Store, channel: str, recipient: str | None, members: list[dict[str, Any]],
           carrier: dict[str, Any] | None, now: datetime) -> int:
    items, notes = batch_contents(store, members)
    ids = [m["id"] for m in members]
    if not items and not notes:
        store.execute(
            f"UPDATE alerts SET state = 'skipped', last_error = ? WHERE id IN ({','.join('?' * len(ids))})",
            ("every case it named was closed before it was sent", *ids),
        )
        logger.info("outbox: %d waiting %s alerts dropped: their cases were closed meanwhile", len(ids), channel)
        return 0
    # at most GROUP_LIMIT items per message, so that every comment keeps its buttons
    chunks = [items[start : start + GROUP_LIMIT] for start in range(0, len(items), GROUP_LIMIT)] or [[]]
    batch_id = None
    if carrier is not None:
        payload = json.loads(carrier["payload"])
        payload["also"] = {"items": chunks.pop(0), "notes": notes}
        notes = []
        store.execute("UPDATE alerts SET payload = ? WHERE id = ?",
                      (json.dumps(payload, ensure_ascii=False, default=str), carrier["id"]))
        batch_id = carrier["id"]
    for part, chunk in enumerate(chunks, start=1):
        key = f"batch:{channel}:{recipient or ''}:{min(ids)}-{max(ids)}" + (f":{part}" if len(chunks) > 1 else "")
        payload = {"items": chunk, "notes": notes if part == 1 else []}
        cursor = store.execute(
            """INSERT OR IGNORE INTO alerts (key, kind, channel, recipient, payload, created_at, state, next_attempt_at)
               VALUES (?, 'batch', ?, ?, ?, ?, 'pending', ?)""",
            (f"{key}|{channel}|{recipient or ''}", channel, recipient,
             json.dumps(payload, ensure_ascii=False, default=str), to_db(now), to_db(now)),
        )
        batch_id = batch_id or cursor.lastrowid
    store.execute(
        f"UPDATE alerts SET state = 'batched', batch_id = ? WHERE id IN ({','.join('?' * len(ids))})",
        (batch_id, *ids),
    )
    logger.info("outbox: %d routine alerts to %s %s %s", len(ids), channel, recipient or "",
                "ride along with an urgent one" if carrier is not None else "merged into one message")
    return 1


def batch_contents(store: Store, members: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(items, notes) of a batch: each item once, oldest deadline first, with why it is listed;
    items whose case was closed meanwhile (acknowledged, removed) are left out."""
    items: dict[Any, dict[str, Any]] = {}
    notes: list[dict[str, Any]] = []
    for member in members:
        try:
            payload = json.loads(member["payload"])
        except (TypeError, json.JSONDecodeError):
            payload = {}
        listed = payload_items(payload) if isinstance(payload, dict) else []
        if not listed:
            notes.append({"kind": member["kind"], "title": payload.get("title") or WHY.get(member["kind"], member["kind"]),
                          "message": payload.get("message") or ""})
            continue
        for item in listed:
            key = item.get("case_id") or item.get("item_id") or id(item)
            why = WHY.get(member["kind"], member["kind"].replace("_", " "))
            if key in items:
                items[key]["why"] = why if member["kind"] == "reminder" else items[key]["why"]
            else:
                items[key] = {**item, "why": why}
    open_cases = _open_cases(store, [i["case_id"] for i in items.values() if i.get("case_id") is not None])
    kept = [i for i in items.values() if i.get("case_id") is None or i["case_id"] in open_cases]
    kept.sort(key=lambda i: (i.get("due_at") is None, str(i.get("due_at") or ""), str(i.get("received_at") or "")))
    return kept, notes


def waiting_batches(store: Store, config: Config) -> list[dict[str, Any]]:
    """What waits in a batch, per channel and recipient: how many alerts, until when, and whether
    the quiet hours hold it (what `monitor status` shows)."""
    rows = store.query(
        "SELECT channel, recipient, count(*) AS alerts, min(release_at) AS until, min(created_at) AS since "
        "FROM alerts WHERE state = 'waiting' GROUP BY channel, recipient ORDER BY channel, recipient"
    )
    routing = config.notify.routing
    found = []
    for row in rows:
        since, until = from_db(row["since"]), from_db(row["until"])
        quiet = (row["channel"] in routing.quiet_channels and routing.quiet is not None
                 and until > since + routing.batch_window)
        found.append({**row, "quiet_hours": quiet})
    return found


def _open_cases(store: Store, case_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start : start + 500]
        rows = store.query(
            f"SELECT id FROM cases WHERE state = 'open' AND id IN ({','.join('?' * len(chunk))})", chunk
        )
        found.update(row["id"] for row in rows)
    return found


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
        try:
            release_batches(self.store, channel, self.clock())
        except Exception:  # noqa: BLE001 - a bad waiting row must not stop urgent alerts
            logger.exception("outbox: could not merge the waiting %s alerts", channel)
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
        if not self._claim(row):
            # another process (the daemon, while `monitor poll` delivers) took this row first
            return "retry"
        try:
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

    def _claim(self, row: dict[str, Any]) -> bool:
        """Mark the row ``sending`` if it is still as read: two dispatchers never send the same row."""
        with self.store.transaction():
            return bool(self.store.execute(
                "UPDATE alerts SET state = 'sending', attempts = attempts + 1 WHERE id = ? AND state = ? AND attempts = ?",
                (row["id"], row["state"], row["attempts"]),
            ).rowcount)

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


def deliver_once(store: Store, config: Config, *, send: bool = True) -> dict[str, Any]:
    """One pass of the dispatcher (``monitor poll``): sends what is due now, and says plainly what
    is left for the daemon (rows waiting for a batch or the quiet hours, or for a retry). The
    summary is empty when there was nothing to send and nothing is left."""
    report = DispatchReport()
    notifiers = build_notifiers(config) if send else {}
    try:
        if notifiers:
            report = Dispatcher(store, notifiers).run()
    finally:
        for notifier in notifiers.values():
            notifier.close()
    pending = store.execute("SELECT count(*) FROM alerts WHERE state IN ('pending', 'sending')").fetchone()[0]
    batches = waiting_batches(store, config)
    parts = [f"alerts: {report.sent} sent" if send else "alerts: none sent (--no-send)"]
    if report.failed:
        parts.append(f"{report.failed} failed (`monitor status` says why)")
    if pending:
        parts.append(f"{pending} queued for `monitor run` to send" + (" (retrying)" if send and notifiers else ""))
    waiting = sum(b["alerts"] for b in batches)
    if waiting:
        first = min(from_db(b["until"]) for b in batches).astimezone(config.school.tz)
        parts.append(f"{waiting} routine alerts wait in a batch that `monitor run` sends from "
                     f"{first:%a %d %b %H:%M %Z}")
    quiet = not (report.sent or report.failed or pending or waiting)
    return {"sent": report.sent, "failed": report.failed, "queued": pending, "batched": waiting,
            "summary": "" if quiet else "; ".join(parts)}


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
    """The notifiers the configuration asks for: ``{"slack": ..., "teams": ..., "email": ...}``."""
    from monitor.notify.email import EmailNotifier
    from monitor.notify.slack import SlackNotifier
    from monitor.notify.teams import TeamsNotifier

    notifiers: dict[str, Any] = {}
    tz = config.school.tz
    if config.notify.slack is not None:
        notifiers["slack"] = SlackNotifier(config.notify.slack, tz=tz)
    if config.notify.teams is not None:
        notifiers["teams"] = TeamsNotifier(config.notify.teams, tz=tz)
    if config.notify.email is not None:
        kwargs = {"clock": clock} if clock is not None else {}
        notifiers["email"] = EmailNotifier(config.notify.email, tz=tz, school=config.school.name, **kwargs)
    return notifiers


def _to(row: dict[str, Any]) -> str:
    return row["recipient"] or row["channel"]
