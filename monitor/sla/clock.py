"""The SLA clock: run every minute, it writes reminders, breach notices and escalations to the outbox.

For each open case:

- a reminder at ``due - sla.remind_before`` (key ``reminder:case:<id>``), never after ``due``;
- a breach notice at ``due`` (key ``breach:case:<id>``);
- an escalation, also to ``notify.email.escalate_to``, ``sla.escalate_after`` after the breach
  notice was written (key ``escalation:case:<id>``): normally ``due + escalate_after``.

Each is written once: the outbox row and the case's ``reminded_at`` / ``breach_noticed_at`` /
``escalated_at`` mark are committed in one transaction, so a restart, a second daemon tick or a
crash between the two writes nothing twice. A tick that comes late (the daemon was stopped) writes
the breach notice of a case past its deadline, but not its reminder (a reminder after the deadline
tells nothing), and the escalation follows the usual delay after it: a late start sends one notice
per case, not three in the same second. A comment first seen after its deadline has had its
"seen after its deadline" notice from :mod:`monitor.notify.alerting`, which counts as its breach notice.
A case closed in time gets no further notice.

Before a notice is written, ``still_there`` (the daemon passes :meth:`Pipeline.still_there`) is
asked whether the comment is still on its platform. A comment the moderator deleted or hid closes
its case as ``removed`` instead of raising an alert. When the platform cannot tell, or the question
fails, the notice is written: a doubt never hides an alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from monitor.clock import require_aware
from monitor.config import Config
from monitor.notify.outbox import Alert, enqueue
from monitor.sla.cases import Case, get_case, mark_removed
from monitor.store import Store, to_db

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    kind: str  # the alert kind, also the first part of its key
    column: str  # the case column that records it was written
    condition: str  # which open cases are due it (SQL over ``cases``, with placeholders)
    escalate: bool = False


#: cases written per transaction (each case's outbox rows and mark stay atomic within it)
BATCH = 500

# a reminder is due from remind_before ahead of the deadline, and never once it has passed;
# an escalation follows the breach notice (or the "seen after its deadline" notice) by escalate_after
REMINDER = Notice("reminder", "reminded_at", "due_at <= ? AND due_at > ?")
BREACH = Notice("breach", "breach_noticed_at", "due_at <= ?")
ESCALATION = Notice("escalation", "escalated_at", "due_at <= ? AND breach_noticed_at <= ?", escalate=True)


#: (source, native id) -> still on the platform? None when it cannot tell
StillThere = Callable[[str, str], "bool | None"]


def tick(store: Store, config: Config, now: datetime, still_there: StillThere | None = None) -> dict[str, int]:
    """Write every notice whose time has come; returns how many of each kind were written."""
    now = require_aware(now, "now")
    checked: dict[int, bool] = {}
    # a source that could not answer once is not asked again in this tick: one hanging platform
    # must not hold up every other case's notice for a timeout each
    mute: set[str] = set()
    sla = config.sla
    latest = to_db(now - sla.escalate_after)
    thresholds = [
        (REMINDER, (to_db(now + sla.remind_before), to_db(now))),  # due - remind_before <= now < due
        (BREACH, (to_db(now),)),
        (ESCALATION, (latest, latest)),
    ]
    written = {notice.kind: 0 for notice, _ in thresholds}
    for notice, params in thresholds:
        rows = store.query(
            f"SELECT id FROM cases WHERE state = 'open' AND {notice.column} IS NULL AND {notice.condition} "
            "ORDER BY due_at, id",
            params,
        )
        for start in range(0, len(rows), BATCH):
            ids = [row["id"] for row in rows[start : start + BATCH]]
            if still_there is not None:  # platform lookups happen outside the transaction
                ids = [case_id for case_id in ids if _still_open(store, case_id, now, still_there, checked, mute)]
            with store.transaction():  # one commit per batch: a late tick over thousands of cases stays quick
                written[notice.kind] += sum(_write(store, config, notice, case_id, now) for case_id in ids)
    return written


def _still_open(store: Store, case_id: int, now: datetime, still_there: StillThere, checked: dict[int, bool],
                mute: set[str]) -> bool:
    """False when the case's comment has gone from its platform: the case is closed as removed."""
    if case_id not in checked:
        case = get_case(store, case_id, now=now)
        answer = None
        if case.state == "open" and case.source not in mute:
            answer = still_there(case.source, case.native_id)
            if answer is None:
                mute.add(case.source)
        gone = answer is False
        if gone:
            mark_removed(store, case_id, by="monitor", at=now, note=f"no longer on {case.source}")
        checked[case_id] = not gone
    return checked[case_id]


def _write(store: Store, config: Config, notice: Notice, case_id: int, now: datetime) -> bool:
    with store.transaction():
        # re-read inside the transaction: a person may have acknowledged the case meanwhile
        case = get_case(store, case_id, now=now)
        if case.state != "open":
            return False
        marked = store.execute(
            f"UPDATE cases SET {notice.column} = ? WHERE id = ? AND {notice.column} IS NULL",
            (to_db(now), case_id),
        ).rowcount
        if not marked:
            return False
        alert = Alert(
            key=f"{notice.kind}:case:{case.id}", kind=notice.kind, payload=payload(case, notice.kind),
            source=case.source, item_id=case.item_id, case_id=case.id, escalate=notice.escalate,
        )
        enqueue(store, config, alert)
    logger.info("source=%s case %d: %s written to the outbox (due %s)", case.source, case.id, notice.kind,
                to_db(case.due))
    return True


def payload(case: Case, kind: str) -> dict[str, Any]:
    """What an alert about a case needs to render: the comment, who wrote it, where, and the deadline."""
    item = {
        "item_id": case.item_id,
        "case_id": case.id,
        "source": case.source,
        "kind": case.kind,
        "author": case.author,
        "text": case.text,
        "url": case.url,
        "received_at": to_db(case.received),
        "due_at": to_db(case.due),
    }
    return {
        "kind": kind,
        "case_id": case.id,
        "source": case.source,
        "received": to_db(case.received),
        "due": to_db(case.due),
        "policy": case.policy,
        "item": item,
    }
