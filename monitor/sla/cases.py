"""Acknowledgement cases: one per comment that the school must answer.

A case is opened, in the poll's transaction, for every new item on an ``official`` source that the
school's own account did not write, except, where the connector says mentions need no answer
(``mentions_need_ack``: Facebook, Instagram), a post made elsewhere that tags the account. ``received`` is the item's own timestamp and ``due`` follows
the configured policy (see :mod:`monitor.sla.deadlines`).

::

    open ──► acknowledged   a reply by the school on the platform, a Slack button, the CLI, the web
      └────► removed        the comment vanished from the platform

A reply by the school's own account (``by_school``) closes, at the reply's own time:

- the case of the comment it answers (its ``parent_id`` is that comment's native id, same source);
- the cases of the other replies in the same sub-thread (same ``parent_id``) posted before it:
  on platforms whose sub-threads are flat (Facebook, Instagram, YouTube) the school answers the
  whole exchange in one reply. Replies posted after the school's reply stay open. This holds only
  under a comment by someone else: a school comment directly under a post (its parent is the
  thread's root, or the school's own item) answers no one in particular and closes nothing else.

So a reply written before the deadline counts as met even when the poll that saw it came later. A
school reply stored before the comment it answers (platforms do not always list them in order) is
found when the comment's case is opened, which then opens already closed.

Breached: still open at the deadline, or closed after it.

A source's first successful poll brings its backlog from before monitoring began. Comments in it
whose deadline had already passed are stored (and classified) but open no case: chasing them would
flood the moderator with breach notices on the day the monitor is installed. Comments found late
for any other reason (a source that was failing) open cases as usual, breached if overdue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors import connector_class
from monitor.clock import require_aware
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.pipeline import IngestBatch, PipelineHook
from monitor.sanitize import NAME_LIMIT, printable
from monitor.sla.calendar import WorkingCalendar
from monitor.sla.deadlines import due_at
from monitor.store import Store, from_db, to_db

logger = logging.getLogger(__name__)

CLOSED_HOW = ("platform_reply", "slack", "cli", "web")
STATES = ("open", "acknowledged", "removed")


@dataclass(frozen=True, kw_only=True)
class Case:
    """An acknowledgement case, with what a person needs to see about its comment."""

    id: int
    item_id: int
    source: str
    native_id: str
    kind: str
    text: str
    author: str | None
    url: str | None
    received: datetime
    due: datetime
    policy: str
    state: str
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    closed_how: str | None = None
    note: str | None = None
    breached: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; times in ISO 8601 UTC."""
        data = dict(self.__dict__)
        for key in ("received", "due", "opened_at", "closed_at"):
            data[key] = to_db(data[key]) if data[key] else None
        return data


@dataclass(frozen=True, kw_only=True)
class Acknowledgement:
    """What :func:`acknowledge` did: ``changed`` is False when the case was already closed."""

    case: Case
    changed: bool

    @property
    def message(self) -> str:
        case = self.case
        if self.changed:
            late = " (after its deadline)" if case.breached else ""
            return f"case {case.id} acknowledged by {case.closed_by} via {case.closed_how}{late}"
        when = to_db(case.closed_at) if case.closed_at else "earlier"
        return f"case {case.id} was already {case.state} by {case.closed_by} via {case.closed_how} at {when}: unchanged"


class CasesHook(PipelineHook):
    """Opens a case for each new comment on an official source; closes cases the school answered."""

    def __init__(self, config: Config, calendar: WorkingCalendar | None = None):
        self.config = config
        self.policy = config.sla.policy
        self.calendar = calendar or WorkingCalendar.from_config(config)

    def on_ingest(self, store: Store, batch: IngestBatch) -> None:
        if not batch.source.official:
            return
        # numbered in the order the comments were posted, whatever order the platform listed them in
        new = sorted(batch.new, key=lambda stored: stored.item.created_at)
        backlog = 0
        mentions_need_ack = connector_class(batch.source.type).mentions_need_ack
        for stored in new:
            if stored.item.by_school or (stored.item.kind == "mention" and not mentions_need_ack):
                continue  # the school's own, or a post elsewhere that tags the account: nothing to answer
            if batch.first_poll and due_at(stored.item.created_at, self.policy, self.calendar) <= batch.polled_at:
                backlog += 1  # already overdue before monitoring began: not a case to chase
                continue
            self._open(store, stored.id, stored.item)
        if backlog:
            logger.info("source=%s first poll: %d older comments, already past their deadline, stored without cases",
                        batch.source.name, backlog)
        for stored in new:
            if stored.item.by_school:
                close_answered(store, stored.item)

    def _open(self, store: Store, item_id: int, item) -> None:
        due = due_at(item.created_at, self.policy, self.calendar)
        cursor = store.execute(
            """INSERT OR IGNORE INTO cases (item_id, source, received_at, due_at, policy, state, opened_at)
               VALUES (?, ?, ?, ?, ?, 'open', ?)""",
            (item_id, item.source, to_db(item.created_at), to_db(due), self.policy, to_db(store.now())),
        )
        if not cursor.rowcount:
            return
        logger.info("source=%s case %d opened for %s, due %s", item.source, cursor.lastrowid, item.native_id,
                    to_db(due))
        reply = earlier_school_reply(store, item)
        if reply is not None:
            _close(store, cursor.lastrowid, by=reply["by"], how="platform_reply", at=from_db(reply["created_at"]),
                   note=f"reply {reply['native_id']}")


def close_answered(store: Store, reply) -> int:
    """Close the open cases a school reply answers (see the module docstring); how many closed."""
    if not reply.parent_id:
        return 0
    rows = store.query(
        """SELECT cases.id FROM cases JOIN items ON items.id = cases.item_id
           WHERE cases.state = 'open' AND items.source = ? AND items.by_school = 0
             AND (items.native_id = ? OR (items.parent_id = ? AND items.created_at <= ?))""",
        (reply.source, reply.parent_id, subthread(store, reply), to_db(reply.created_at)),
    )
    by = reply.author_name or reply.author_handle or reply.author_id or reply.source
    for row in rows:
        _close(store, row["id"], by=by, how="platform_reply", at=reply.created_at, note=f"reply {reply.native_id}")
        logger.info("source=%s case %d acknowledged by the school's reply %s", reply.source, row["id"], reply.native_id)
    return len(rows)


def earlier_school_reply(store: Store, item) -> dict[str, Any] | None:
    """A school reply already stored that answers ``item`` (the first one), if any."""
    rows = store.query(
        """SELECT native_id, created_at, COALESCE(author_name, author_handle, author_id, source) AS by
           FROM items WHERE source = ? AND by_school = 1
             AND (parent_id = ? OR (? IS NOT NULL AND parent_id = ? AND created_at >= ?))
           ORDER BY created_at LIMIT 1""",
        (item.source, item.native_id, parent := subthread(store, item), parent, to_db(item.created_at)),
    )
    return rows[0] if rows else None


def subthread(store: Store, item) -> str | None:
    """The native id whose replies form ``item``'s flat sub-thread, or None if it is in none.

    That is the item's parent, when the parent is a comment by someone else: not the thread's root
    (a post) and not written by the school.
    """
    parent = item.parent_id
    if not parent or parent == item.thread_id:
        return None
    row = store.execute(
        "SELECT by_school, kind FROM items WHERE source = ? AND native_id = ?", (item.source, parent)
    ).fetchone()
    if row is not None and (row[0] or row[1] == "post"):
        return None
    return parent


def acknowledge(
    store: Store, case_id: int, *, by: str, how: str, note: str | None = None, at: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> Acknowledgement:
    """Acknowledge a case (``how``: platform_reply, slack, cli or web), written to the audit log.

    ``detail`` is added to the audit row (e.g. the Slack user id of who clicked).

    A case already closed is returned unchanged (``changed=False``). MonitorError if there is no such
    case; ValueError for an unknown ``how`` or an empty ``by``.
    """
    if how not in CLOSED_HOW:
        raise ValueError(f"unknown way of acknowledging {how!r}: use one of {', '.join(CLOSED_HOW)}")
    if not by or not by.strip():
        raise ValueError("say who acknowledged the case")
    at = require_aware(at, "at") if at is not None else store.now()
    with store.transaction():
        case = get_case(store, case_id)
        if case.state != "open":
            logger.info("source=%s case %d is already %s: acknowledgement by %s ignored", case.source, case_id,
                        case.state, by)
            return Acknowledgement(case=case, changed=False)
        _close(store, case_id, by=by.strip(), how=how, at=at, note=note, detail=detail)
        case = get_case(store, case_id)
    logger.info("source=%s case %d acknowledged by %s via %s", case.source, case_id, case.closed_by, how)
    return Acknowledgement(case=case, changed=True)


def mark_removed(store: Store, case_id: int, *, by: str = "monitor", at: datetime | None = None,
                 note: str | None = None, detail: dict[str, Any] | None = None) -> Acknowledgement:
    """The comment vanished from the platform (or a moderator hid or deleted it from the monitor):
    its open case is closed as removed (audited, with ``detail``)."""
    at = require_aware(at, "at") if at is not None else store.now()
    with store.transaction():
        case = get_case(store, case_id)
        if case.state != "open":
            return Acknowledgement(case=case, changed=False)
        _close(store, case_id, by=by, how="removed", at=at, note=note, state="removed", detail=detail)
        case = get_case(store, case_id)
    logger.info("source=%s case %d closed: the comment was removed", case.source, case_id)
    return Acknowledgement(case=case, changed=True)


def _close(store: Store, case_id: int, *, by: str, how: str, at: datetime, note: str | None,
           state: str = "acknowledged", detail: dict[str, Any] | None = None) -> None:
    with store.transaction():
        store.execute(
            """UPDATE cases SET state = ?, closed_at = ?, closed_by = ?, closed_how = ?, note = ?
               WHERE id = ? AND state = 'open'""",
            (state, to_db(at), by, how, note, case_id),
        )
        item_id = store.execute("SELECT item_id FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
        action = "acknowledge" if state == "acknowledged" else "remove"
        store.audit(by, action, case_id=case_id, item_id=item_id,
                    detail={**(detail or {}), "how": how, "at": to_db(at), **({"note": note} if note else {})})


_SELECT = """SELECT cases.*, items.native_id, items.kind, items.text, items.url,
                    COALESCE(items.author_name, items.author_handle, items.author_id) AS author
             FROM cases JOIN items ON items.id = cases.item_id"""


def get_case(store: Store, case_id: int, *, now: datetime | None = None) -> Case:
    rows = store.query(f"{_SELECT} WHERE cases.id = ?", (case_id,))
    if not rows:
        raise MonitorError(f"no case {case_id}: `monitor cases` lists them")
    return _case(rows[0], now or store.now())


def list_cases(store: Store, open_only: bool = False, *, now: datetime | None = None) -> list[Case]:
    """Cases, the open ones by deadline (soonest first), else all by number."""
    now = now or store.now()
    if open_only:
        rows = store.query(f"{_SELECT} WHERE cases.state = 'open' ORDER BY cases.due_at, cases.id")
    else:
        rows = store.query(f"{_SELECT} ORDER BY cases.id")
    return [_case(row, now) for row in rows]


def _case(row: dict[str, Any], now: datetime) -> Case:
    due, closed_at = from_db(row["due_at"]), from_db(row["closed_at"])
    breached = (closed_at > due) if closed_at is not None else (row["state"] == "open" and now >= due)
    return Case(
        id=row["id"], item_id=row["item_id"], source=row["source"], native_id=row["native_id"],
        kind=row["kind"], text=row["text"], author=row["author"], url=row["url"],
        received=from_db(row["received_at"]), due=due, policy=row["policy"], state=row["state"],
        opened_at=from_db(row["opened_at"]), closed_at=closed_at, closed_by=row["closed_by"],
        closed_how=row["closed_how"], note=row["note"], breached=breached,
    )


def format_cases(cases: list[Case], tz) -> str:
    """Cases as lines a person reads (times in the school's zone)."""
    if not cases:
        return "No cases."
    lines = []
    for case in cases:
        def when(value: datetime | None) -> str:
            return value.astimezone(tz).strftime("%a %d %b %Y %H:%M") if value else "-"

        status = case.state + (" (breached)" if case.breached else "")
        closed = f", closed {when(case.closed_at)} by {case.closed_by} via {case.closed_how}"
        lines.append(
            # the item number is what `monitor hide` and `monitor delete` take
            printable(f"#{case.id} {case.source} {status}: received {when(case.received)}, due {when(case.due)}"
                      + (closed if case.closed_at else "") + f" (item {case.item_id})")
        )
        # what strangers wrote, on one line, every control character shown: it cannot clear the screen,
        # colour the terminal or start a line of its own
        text = printable(" ".join(case.text.split()))
        author = printable(" ".join((case.author or "someone").split()))[:NAME_LIMIT]
        lines.append(f"    {author}: {text[:100]}{'…' if len(text) > 100 else ''}")
    return "\n".join(lines)
