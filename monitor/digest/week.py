"""The week and its figures: which week is meant, and what the store says happened in it.

:func:`parse_week`, :func:`week_bounds` and :func:`last_complete_week` do the week arithmetic in the
school's time zone; :func:`build_digest` computes a :class:`Digest` from the store (every number by
SQL), the record that :mod:`monitor.digest.render` turns into an email's parts.

Definitions (the digest's footer repeats the short form of them):

- **The week** ``YYYY-Www`` is the ISO week, from Monday 00:00 to the next Monday 00:00 in the
  school's time zone (so a week with a clock change lasts 167 or 169 hours). "Last week" is the ISO
  week before it. A day is midnight to midnight in the school's time zone. The default week is the
  last complete one at the time of asking.
- **Mentions** are the items *not written by the school's own account* (``by_school = 0``) whose
  kind is ``comment``, ``reply`` or ``mention``, counted by the platform's timestamp (``created_at``)
  falling in the week. Posts (thread roots, in practice the school's own feed) are not mentions.
- **Top mentions** are the five mentions with the highest engagement the platform reports
  (likes, shares, replies: ``items.engagement``); mentions without a figure come after every
  mention that has one, the most recent first.
- **Flagged items** are the mentions of the week whose classifier verdict is ``flagged``. What
  became of each: its acknowledgement case (who closed it, when and how, or still open) and every
  audit-log entry about the item or its case, up to the time the digest is built.
- **Acknowledgement** covers the cases *received* in the week (``cases.received_at``), as known
  when the digest is built (``now``). A case is *on time* if closed at or before its deadline,
  *late* if closed after it, *overdue* if still open after it, and *pending* if still open with its
  deadline ahead. Late and overdue cases are the *breaches*, each listed with its link. The on-time
  share is on time / (on time + late + overdue): pending cases are left out, not counted as met.
  Time to acknowledge is ``closed_at - received_at`` over the closed cases (never negative); the
  median is the usual one (the mean of the two middle values for an even count), the
  90th percentile is the nearest-rank value (the ``ceil(0.9 n)``-th smallest).
- **Source health** lists every ``source_outages`` row overlapping the week, clipped to it. An
  ``auth`` outage means the platform refused the credentials: the source was *blind*, and what was
  said there in that time may never be collected. Any other kind means fetching failed for a time;
  the source resumed from where it stopped, so its items were collected late but not lost.
- **The chart** shows mentions and flagged items per day of the week.

Text taken from the platforms is cut to one line (:func:`excerpt`) and only ``http``/``https`` URLs
are kept (:func:`safe_url`) before rendering.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from monitor.clock import require_aware
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.store import BLIND_KINDS, Store, from_db, to_db

#: The kinds of item that count as mentions (see the module docstring).
MENTION_KINDS = ("comment", "reply", "mention")
TOP_COUNT = 5
#: The flagged items listed one by one; the count always covers all of them.
FLAGGED_LISTED = 25
#: the breaches listed one by one, the first received first; the counts cover all of them
BREACHES_LISTED = 25
EXCERPT_LENGTH = 140

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MENTION = f"i.by_school = 0 AND i.kind IN ({', '.join(repr(k) for k in MENTION_KINDS)})"


class DigestError(MonitorError):
    """The digest cannot be built as asked (e.g. a malformed week)."""


# -- weeks --------------------------------------------------------------------------------------


def parse_week(text: str) -> str:
    """Validate an ISO week ``YYYY-Www`` and return it normalised; DigestError if malformed."""
    match = _WEEK.match(text.strip()) if isinstance(text, str) else None
    if match:
        try:
            date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
            return text.strip()
        except ValueError:
            pass
    raise DigestError(f"{text!r} is not an ISO week: write YYYY-Www, e.g. 2026-W47")


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def week_monday(week: str) -> date:
    year, number = (int(part) for part in parse_week(week).split("-W"))
    return date.fromisocalendar(year, number, 1)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in ``tz``, as aware UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in ``tz``, as aware UTC datetimes."""
    monday = week_monday(week)
    return local_midnight(monday, tz), local_midnight(monday + timedelta(days=7), tz)


def previous_week(week: str) -> str:
    return week_of(week_monday(week) - timedelta(days=7))


def last_complete_week(now: datetime, tz: ZoneInfo) -> str:
    """The last ISO week that has ended by ``now`` in ``tz``."""
    today = require_aware(now, "now").astimezone(tz).date()
    return week_of(today - timedelta(days=today.isoweekday()))


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SourceCount:
    source: str
    this_week: int
    last_week: int


@dataclass(frozen=True, kw_only=True)
class DayCount:
    day: date
    mentions: int
    flagged: int


@dataclass(frozen=True, kw_only=True)
class Mention:
    item_id: int
    source: str
    created_at: datetime
    excerpt: str
    url: str | None
    author: str | None
    engagement: int | None


@dataclass(frozen=True, kw_only=True)
class Event:
    """One thing that happened to a flagged item (case closing or audit-log entry)."""

    at: datetime
    text: str


@dataclass(frozen=True, kw_only=True)
class FlaggedItem:
    mention: Mention
    score: float
    labels: tuple[str, ...]
    outcome: str
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Breach:
    case_id: int
    source: str
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None
    url: str | None
    excerpt: str
    #: past the deadline: until the closing, or until the digest was built if still open
    late_by: timedelta


@dataclass(frozen=True, kw_only=True)
class AckStats:
    received: int
    on_time: int
    late: int
    overdue: int
    pending: int
    median: timedelta | None
    p90: timedelta | None
    breaches: tuple[Breach, ...]

    @property
    def breached(self) -> int:
        return self.late + self.overdue

    @property
    def decided(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.decided if self.decided else None


@dataclass(frozen=True, kw_only=True)
class Outage:
    source: str
    kind: str
    started_at: datetime
    ended_at: datetime | None  # None: still failing when the digest was built
    last_error: str | None
    #: the part of the outage inside the week
    from_: datetime
    until: datetime

    @property
    def blind(self) -> bool:
        return self.kind in BLIND_KINDS

    @property
    def blind_reason(self) -> str:
        return "credentials refused" if self.kind == "auth" else "the platform account needed action"

    @property
    def duration(self) -> timedelta:
        return self.until - self.from_


@dataclass(frozen=True, kw_only=True)
class Digest:
    week: str
    previous: str
    school: str
    timezone: str
    start: datetime
    end: datetime
    generated_at: datetime
    mentions: int
    mentions_last_week: int
    by_source: tuple[SourceCount, ...]
    by_day: tuple[DayCount, ...]
    top: tuple[Mention, ...]
    flagged_total: int
    flagged_last_week: int
    flagged: tuple[FlaggedItem, ...]
    ack: AckStats
    outages: tuple[Outage, ...]
    healthy_sources: tuple[str, ...]

    @property
    def subject(self) -> str:
        return f"{self.school}: social media digest, week {self.week}"


# -- building -----------------------------------------------------------------------------------


def build_digest(store: Store, config: Config, week: str | None = None, *, now: datetime | None = None) -> Digest:
    """The digest of ``week`` (default: the last complete week), as known at ``now`` (default: the store's clock)."""
    now = require_aware(now or store.now(), "now")
    tz = config.school.tz
    week = parse_week(week) if week else last_complete_week(now, tz)
    previous = previous_week(week)
    start, end = week_bounds(week, tz)
    prev_start, _ = week_bounds(previous, tz)
    by_source = _by_source(store, prev_start, start, end)
    outages = _outages(store, start, end, now)
    return Digest(
        week=week,
        previous=previous,
        school=config.school.name,
        timezone=config.school.timezone,
        start=start,
        end=end,
        generated_at=now,
        mentions=sum(row["this_week"] for row in by_source),
        mentions_last_week=sum(row["last_week"] for row in by_source),
        by_source=tuple(
            SourceCount(source=row["source"], this_week=row["this_week"], last_week=row["last_week"])
            for row in by_source
        ),
        by_day=_by_day(store, week, tz),
        top=_top(store, start, end),
        flagged_total=sum(row["flagged"] for row in by_source),
        flagged_last_week=sum(row["flagged_last"] for row in by_source),
        flagged=_flagged(store, start, end, tz),
        ack=_ack(store, start, end, now),
        outages=outages,
        healthy_sources=tuple(
            s.name for s in config.sources if s.enabled and s.name not in {o.source for o in outages}
        ),
    )


def _by_source(store: Store, prev_start: datetime, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per source: mentions and flagged mentions this week and last week (one pass over both weeks)."""
    return store.query(
        f"""SELECT i.source,
              count(*) FILTER (WHERE i.created_at >= :start) AS this_week,
              count(*) FILTER (WHERE i.created_at < :start) AS last_week,
              count(*) FILTER (WHERE i.created_at >= :start AND v.flagged = 1) AS flagged,
              count(*) FILTER (WHERE i.created_at < :start AND v.flagged = 1) AS flagged_last
            FROM items i LEFT JOIN verdicts v ON v.item_id = i.id
            WHERE i.created_at >= :prev AND i.created_at < :end AND {_MENTION}
            GROUP BY i.source ORDER BY this_week DESC, last_week DESC, i.source""",
        {"prev": to_db(prev_start), "start": to_db(start), "end": to_db(end)},
    )


def _by_day(store: Store, week: str, tz: ZoneInfo) -> tuple[DayCount, ...]:
    monday = week_monday(week)
    days = [monday + timedelta(days=n) for n in range(7)]
    edges = [to_db(local_midnight(day, tz)) for day in days] + [to_db(local_midnight(monday + timedelta(days=7), tz))]
    # the day's number by comparing with each local midnight: correct across clock changes
    bucket = "CASE " + " ".join(f"WHEN i.created_at < ? THEN {n}" for n in range(6)) + " ELSE 6 END"
    rows = store.execute(
        f"""SELECT {bucket} AS day, count(*), count(*) FILTER (WHERE v.flagged = 1)
            FROM items i LEFT JOIN verdicts v ON v.item_id = i.id
            WHERE i.created_at >= ? AND i.created_at < ? AND {_MENTION}
            GROUP BY day""",
        [*edges[1:7], edges[0], edges[7]],
    ).fetchall()
    counts = {day: (mentions, flagged) for day, mentions, flagged in rows}
    return tuple(
        DayCount(day=day, mentions=counts.get(n, (0, 0))[0], flagged=counts.get(n, (0, 0))[1])
        for n, day in enumerate(days)
    )


_MENTION_COLUMNS = "i.id, i.source, i.created_at, i.text, i.url, i.author_name, i.author_handle, i.engagement"


def _mention(row: dict[str, Any]) -> Mention:
    author = row["author_name"] or (f"@{row['author_handle']}" if row["author_handle"] else None)
    return Mention(
        item_id=row["id"],
        source=row["source"],
        created_at=from_db(row["created_at"]),
        excerpt=excerpt(row["text"]),
        url=safe_url(row["url"]),
        author=author,
        engagement=row["engagement"],
    )


def _top(store: Store, start: datetime, end: datetime) -> tuple[Mention, ...]:
    rows = store.query(
        f"""SELECT {_MENTION_COLUMNS} FROM items i WHERE i.id IN (
              SELECT i.id FROM items i WHERE i.created_at >= ? AND i.created_at < ? AND {_MENTION}
              ORDER BY i.engagement IS NULL, i.engagement DESC, i.created_at DESC, i.id DESC LIMIT {TOP_COUNT})
            ORDER BY i.engagement IS NULL, i.engagement DESC, i.created_at DESC, i.id DESC""",
        (to_db(start), to_db(end)),
    )
    return tuple(_mention(row) for row in rows)


def _flagged(store: Store, start: datetime, end: datetime, tz: ZoneInfo) -> tuple[FlaggedItem, ...]:
    rows = store.query(
        # the listed ids first (from the index alone), then their rows
        f"""WITH listed AS (
              SELECT i.id, v.score, v.labels, i.created_at FROM items i JOIN verdicts v ON v.item_id = i.id
              WHERE i.created_at >= ? AND i.created_at < ? AND v.flagged = 1 AND {_MENTION}
              ORDER BY v.score DESC, i.created_at DESC, i.id DESC LIMIT {FLAGGED_LISTED})
            SELECT {_MENTION_COLUMNS}, l.score, l.labels, c.id AS case_id, c.state, c.due_at,
              c.closed_at, c.closed_by, c.closed_how
            FROM listed l JOIN items i ON i.id = l.id LEFT JOIN cases c ON c.item_id = i.id
            ORDER BY l.score DESC, l.created_at DESC, l.id DESC""",
        (to_db(start), to_db(end)),
    )
    events = _audit_events(store, rows, tz)
    return tuple(
        FlaggedItem(
            mention=_mention(row),
            score=row["score"],
            labels=_labels(row["labels"]),
            outcome=_outcome(row, tz),
            events=events.get(row["id"], ()),
        )
        for row in rows
    )


def _labels(raw: str | None) -> tuple[str, ...]:
    try:
        labels = json.loads(raw or "{}")
    except ValueError:
        return ()
    if isinstance(labels, dict):
        return tuple(str(k) for k, v in sorted(labels.items(), key=lambda kv: -_number(kv[1])) if _number(v) >= 0.5)
    if isinstance(labels, list):
        return tuple(str(label) for label in labels)
    return ()


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _outcome(row: dict[str, Any], tz: ZoneInfo) -> str:
    if row["case_id"] is None:
        return "no acknowledgement case (not on an official account)"
    if row["closed_at"]:
        how = f" ({row['closed_how']})" if row["closed_how"] else ""
        by = f" by {row['closed_by']}" if row["closed_by"] else ""
        return f"acknowledged{by}{how} on {local_text(from_db(row['closed_at']), tz)}"
    return f"not yet acknowledged (due {local_text(from_db(row['due_at']), tz)})"


def _audit_events(store: Store, rows: list[dict[str, Any]], tz: ZoneInfo) -> dict[int, tuple[Event, ...]]:
    """Audit-log entries about each listed item, directly or through its case."""
    if not rows:
        return {}
    by_case = {row["case_id"]: row["id"] for row in rows if row["case_id"] is not None}
    item_ids = [row["id"] for row in rows]
    marks_items = ",".join("?" * len(item_ids))
    marks_cases = ",".join("?" * len(by_case)) or "NULL"
    found = store.query(
        f"""SELECT at, actor, action, case_id, item_id FROM audit_log
            WHERE item_id IN ({marks_items}) OR case_id IN ({marks_cases}) ORDER BY at, id""",
        [*item_ids, *by_case],
    )
    events: dict[int, list[Event]] = {}
    for entry in found:
        item_id = entry["item_id"] if entry["item_id"] in item_ids else by_case.get(entry["case_id"])
        if item_id is None:
            continue
        at = from_db(entry["at"])
        text = f"{entry['action'].replace('_', ' ')} by {entry['actor']} on {local_text(at, tz)}"
        events.setdefault(item_id, []).append(Event(at=at, text=text))
    return {key: tuple(value) for key, value in events.items()}


def _ack(store: Store, start: datetime, end: datetime, now: datetime) -> AckStats:
    params = {"start": to_db(start), "end": to_db(end), "now": to_db(now)}
    counts = store.query(
        """SELECT count(*) AS received,
              count(*) FILTER (WHERE closed_at IS NOT NULL AND closed_at <= due_at) AS on_time,
              count(*) FILTER (WHERE closed_at IS NOT NULL AND closed_at > due_at) AS late,
              count(*) FILTER (WHERE closed_at IS NULL AND due_at <= :now) AS overdue,
              count(*) FILTER (WHERE closed_at IS NULL AND due_at > :now) AS pending
            FROM cases WHERE received_at >= :start AND received_at < :end""",
        params,
    )[0]
    seconds = [
        row[0]
        for row in store.execute(
            """SELECT max(0, CAST(round((julianday(closed_at) - julianday(received_at)) * 86400) AS INTEGER)) AS s
               FROM cases WHERE received_at >= :start AND received_at < :end AND closed_at IS NOT NULL
               ORDER BY s""",
            params,
        )
    ]
    breaches = store.query(
        f"""SELECT c.id, c.source, c.received_at, c.due_at, c.closed_at, i.url, i.text
           FROM cases c JOIN items i ON i.id = c.item_id
           WHERE c.received_at >= :start AND c.received_at < :end
             AND ((c.closed_at IS NOT NULL AND c.closed_at > c.due_at) OR (c.closed_at IS NULL AND c.due_at <= :now))
           ORDER BY c.received_at, c.id LIMIT {BREACHES_LISTED}""",
        params,
    )
    return AckStats(
        received=counts["received"],
        on_time=counts["on_time"] or 0,
        late=counts["late"] or 0,
        overdue=counts["overdue"] or 0,
        pending=counts["pending"] or 0,
        median=_seconds(median(seconds)),
        p90=_seconds(nearest_rank(seconds, 90)),
        breaches=tuple(
            Breach(
                case_id=row["id"], source=row["source"], received_at=from_db(row["received_at"]),
                due_at=from_db(row["due_at"]), closed_at=from_db(row["closed_at"]),
                url=safe_url(row["url"]), excerpt=excerpt(row["text"]),
                late_by=(from_db(row["closed_at"]) or now) - from_db(row["due_at"]),
            )
            for row in breaches
        ),
    )


def _outages(store: Store, start: datetime, end: datetime, now: datetime) -> tuple[Outage, ...]:
    rows = store.query(
        """SELECT source, kind, started_at, ended_at, last_error FROM source_outages
           WHERE started_at < ? AND (ended_at IS NULL OR ended_at > ?)
           ORDER BY source, started_at""",
        (to_db(end), to_db(start)),
    )
    outages = []
    for row in rows:
        started, ended = from_db(row["started_at"]), from_db(row["ended_at"])
        until = min(ended or now, end)
        outages.append(
            Outage(
                source=row["source"], kind=row["kind"], started_at=started, ended_at=ended,
                last_error=row["last_error"], from_=max(started, start), until=max(until, start),
            )
        )
    return tuple(outages)


# -- figures and text ------------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    """The median of sorted ``values`` (mean of the two middle ones for an even count)."""
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def nearest_rank(values: list[float], percent: float) -> float | None:
    """The nearest-rank percentile of sorted ``values``: the ceil(p/100 * n)-th smallest."""
    if not values:
        return None
    return values[max(1, math.ceil(percent / 100 * len(values))) - 1]


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def excerpt(text: str | None, length: int = EXCERPT_LENGTH) -> str:
    """One line: whitespace collapsed, cut at a word near ``length`` with an ellipsis."""
    line = " ".join((text or "").split())
    if len(line) <= length:
        return line
    cut = line[:length]
    if " " in cut[length // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" .,;:") + "…"


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) (a link can never run script), else None."""
    if not url:
        return None
    url = url.strip()
    return url if re.match(r"^https?://[^\s\"'<>]+$", url, re.IGNORECASE) else None


def local_text(moment: datetime | None, tz: ZoneInfo) -> str:
    """``Tue 17 Nov 14:05`` in the school's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%a %d %b %H:%M")
