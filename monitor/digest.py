"""The weekly digest for the principal: what was said about the school, and how well it answered.

:func:`build_digest` computes a :class:`Digest` from the store (every number by SQL);
:func:`render_html`, :func:`render_text` and :func:`render_chart` turn it into an email's parts;
:func:`send_digest` archives the HTML beside the database and puts the email in the outbox under
the key ``digest:<YYYY-Www>``, so a week's digest is queued once, never twice; :func:`send_due_digest`
is the daemon's weekly job, which also catches up a digest missed while the server was off.

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

All external text (comments, names, source names, URLs) is escaped in the HTML (Jinja2 autoescape);
only ``http``/``https`` URLs become links.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.clock import require_aware
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.sanitize import one_line
from monitor.store import BLIND_KINDS, Store, from_db, to_db

if TYPE_CHECKING:
    from monitor.outbox import Alert

logger = logging.getLogger(__name__)

#: The kinds of item that count as mentions (see the module docstring).
MENTION_KINDS = ("comment", "reply", "mention")
TOP_COUNT = 5
#: The flagged items listed one by one; the count always covers all of them.
FLAGGED_LISTED = 25
#: the breaches listed one by one, the first received first; the counts cover all of them
BREACHES_LISTED = 25
EXCERPT_LENGTH = 140
CHART_CID = "digest-chart"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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


def last_scheduled_send(now: datetime, config: Config) -> datetime:
    """The latest moment at or before ``now`` when a digest was due (``digest.weekday`` at ``digest.time``)."""
    tz = config.school.tz
    local = require_aware(now, "now").astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=WEEKDAYS.index(config.digest.weekday))
    moment = datetime.combine(day, config.digest.time, tzinfo=tz)
    if moment > local:
        moment = datetime.combine(day - timedelta(days=7), config.digest.time, tzinfo=tz)
    return moment.astimezone(timezone.utc)


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
    import json

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


# -- small helpers ------------------------------------------------------------------------------


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


def short_url(url: str, length: int = 60) -> str:
    """A link's visible text: the address without its scheme, cut with an ellipsis."""
    text = re.sub(r"^https?://", "", url, flags=re.IGNORECASE)
    return text if len(text) <= length else text[: length - 1] + "…"


def local_text(moment: datetime | None, tz: ZoneInfo) -> str:
    """``Tue 17 Nov 14:05`` in the school's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%a %d %b %H:%M")


def duration_text(value: timedelta | None) -> str:
    """``2 h 05 min``, ``3 d 4 h``, ``45 min``; a dash for none."""
    if value is None:
        return "–"
    minutes = max(0, round(value.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def change_text(now: int, before: int) -> str:
    """``+12 (+30%)``, ``-3 (-10%)``, ``no change``, ``none last week``."""
    delta = now - before
    if delta == 0:
        return "no change"
    if before == 0:
        return "none last week"
    return f"{delta:+d} ({delta / before:+.0%})"


# -- rendering ----------------------------------------------------------------------------------

#: Inline styles (many mail clients drop <style>): a single column that wraps everything.
CSS = {
    "wrap": (
        "max-width:640px;margin:0 auto;padding:16px;background:#ffffff;color:#1f2937;"
        "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:15px;"
        "line-height:1.45;overflow-wrap:anywhere;word-break:break-word;box-sizing:border-box;"
    ),
    "h1": "font-size:20px;line-height:1.3;margin:4px 0 12px 0;",
    "h2": "font-size:17px;margin:20px 0 6px 0;padding-bottom:2px;border-bottom:2px solid #e5e7eb;",
    "h3": "font-size:15px;margin:12px 0 4px 0;",
    "table": "width:100%;max-width:100%;border-collapse:collapse;table-layout:fixed;",
    "th": (
        "text-align:left;padding:4px 6px;border-bottom:1px solid #d1d5db;font-weight:600;"
        "overflow-wrap:anywhere;word-break:break-word;"
    ),
    "td": (
        "text-align:left;vertical-align:top;padding:4px 6px;border-bottom:1px solid #eef0f2;"
        "overflow-wrap:anywhere;word-break:break-word;"
    ),
    "a": "color:#1d4ed8;overflow-wrap:anywhere;word-break:break-all;",
    "card": "margin:0 0 10px 0;padding:6px 8px;border-left:3px solid #d1d5db;background:#f9fafb;",
    "muted": "color:#6b7280;font-size:13px;",
}


@functools.lru_cache(maxsize=8)
def _environment(tz: ZoneInfo, autoescape: bool):
    """A Jinja2 environment per zone (kept: templates compile once)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # plain text (a terminal, an email): every value on one line, without control characters
        finalize=None if autoescape else _one_line_value,
    )
    env.filters.update(
        local=lambda moment: local_text(moment, tz),
        day_long=lambda value: _as_date(value, tz).strftime("%a %d %b %Y"),
        day_short=lambda value: _as_date(value, tz).strftime("%a %d %b"),
        duration=duration_text,
        pct=lambda share: f"{share:.0%}",
        change=change_text,
        short_url=short_url,
    )
    return env


def _one_line_value(value: Any) -> Any:
    return one_line(value) if isinstance(value, str) else value


def _as_date(value: date | datetime, tz: ZoneInfo) -> date:
    return value.astimezone(tz).date() if isinstance(value, datetime) else value


def _context(digest: Digest) -> dict[str, Any]:
    return {"d": digest, "css": CSS, "last_day": week_monday(digest.week) + timedelta(days=6)}


def render_html(digest: Digest, chart_src: str | None = f"cid:{CHART_CID}") -> str:
    """The email's HTML; ``chart_src`` is the chart's address (``cid:`` in the email, ``data:`` in a file)."""
    env = _environment(ZoneInfo(digest.timezone), autoescape=True)
    return env.get_template("digest.html").render(**_context(digest), chart_src=chart_src)


def render_text(digest: Digest) -> str:
    """The plain-text alternative."""
    env = _environment(ZoneInfo(digest.timezone), autoescape=False)
    return env.get_template("digest.txt").render(**_context(digest))


def render_chart(digest: Digest) -> bytes:
    """A PNG bar chart of mentions and flagged items per day (matplotlib, Agg, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [day.day.strftime("%a %d") for day in digest.by_day]
    positions = range(len(labels))
    figure = Figure(figsize=(6.4, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar([p - 0.2 for p in positions], [d.mentions for d in digest.by_day], width=0.4, label="mentions", color="#3b82f6")
    axes.bar([p + 0.2 for p in positions], [d.flagged for d in digest.by_day], width=0.4, label="flagged", color="#dc2626")
    axes.set_xticks(list(positions), labels)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_ylim(0, max([d.mentions for d in digest.by_day] + [1]) * 1.1)
    axes.legend(frameon=False, fontsize=10, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    axes.tick_params(labelsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def standalone_html(digest: Digest, png: bytes | None = None) -> str:
    """The HTML with the chart embedded, viewable as a file in any browser."""
    return render_html(digest, data_uri(png if png is not None else render_chart(digest)))


# -- archiving and sending ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Published:
    """What :func:`publish` did with a week's digest."""

    digest: Digest
    archive: Path
    out: Path | None = None
    #: outbox rows added (0: this week's digest was queued before); None when not sent
    queued: int | None = None

    @property
    def week(self) -> str:
        return self.digest.week


def archive_path(config: Config, week: str) -> Path:
    """``<database folder>/digests/<YYYY-Www>.html``."""
    return config.database_path.parent / "digests" / f"{parse_week(week)}.html"


def write_file(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half a file), private to the monitor's user: a
    digest names the children and parents who wrote."""
    from monitor.files import write_private

    return write_private(path, text)


def outbox_key(week: str) -> str:
    return f"digest:{parse_week(week)}"


def already_queued(store: Store, week: str) -> bool:
    """Whether this week's digest is in the outbox (rows are keyed ``digest:<week>|<channel>|<recipient>``)."""
    prefix = outbox_key(week) + "|"
    row = store.execute(
        "SELECT 1 FROM alerts WHERE key >= ? AND key < ? LIMIT 1", (prefix, prefix[:-1] + "}")
    ).fetchone()
    return row is not None


def digest_alert(config: Config, digest: Digest, png: bytes) -> Alert:
    """The outbox intent: an email to ``digest.recipients`` only, the chart inline by Content-ID."""
    from monitor.outbox import Alert

    return Alert(
        key=outbox_key(digest.week),
        kind="digest",
        moderators=False,
        extra_recipients=tuple(config.digest.recipients),
        payload={
            "subject": digest.subject,
            "text": render_text(digest),
            "html": render_html(digest),
            "images": {CHART_CID: base64.b64encode(png).decode("ascii")},
        },
    )


def publish(
    store: Store, config: Config, week: str | None = None, *, now: datetime | None = None,
    out: Path | None = None, send: bool = False,
) -> Published:
    """Build a week's digest, archive its HTML beside the database, optionally write it to ``out``
    and queue it for ``digest.recipients``.

    Queuing is idempotent: the outbox key ``digest:<week>`` admits one email per recipient, ever.
    """
    from monitor.outbox import enqueue

    if send and not config.digest.recipients:
        raise DigestError('no one to send the digest to: set [digest] recipients = ["head@example.org"]')
    digest = build_digest(store, config, week, now=now)
    png = render_chart(digest)
    page = standalone_html(digest, png)
    archive = write_file(archive_path(config, digest.week), page)
    if out is not None:
        write_file(Path(out), page)
    queued = enqueue(store, config, digest_alert(config, digest, png)) if send else None
    logger.info("week=%s digest archived at %s (outbox rows added: %s)", digest.week, archive, queued)
    return Published(digest=digest, archive=archive, out=Path(out) if out is not None else None, queued=queued)


def send_digest(store: Store, config: Config, week: str | None = None, *, now: datetime | None = None) -> Published:
    """:func:`publish` and queue: the email goes once per week, however often this is called."""
    return publish(store, config, week, now=now, send=True)


def due_week(config: Config, now: datetime) -> str:
    """The week whose digest is due at ``now``: the last complete week at the last scheduled moment."""
    return last_complete_week(last_scheduled_send(now, config), config.school.tz)


_UNROUTABLE: set[str] = set()  # weeks already warned about, so the tick does not repeat it


def send_due_digest(store: Store, config: Config, *, now: datetime | None = None) -> Published | None:
    """The daemon's job: queue the digest due at ``now`` unless it is queued already.

    Run at start and on a periodic tick, it sends the digest on time, and after a server that was
    off at the scheduled moment comes back, it sends the latest missed one (only that one) at once.
    """
    from monitor.outbox import Alert, routes

    now = require_aware(now or store.now(), "now")
    week = due_week(config, now)
    probe = Alert(key="", kind="digest", payload={}, moderators=False, extra_recipients=tuple(config.digest.recipients))
    if not routes(config, probe):
        if week not in _UNROUTABLE:
            _UNROUTABLE.add(week)
            logger.warning(
                "week=%s digest not sent: set [digest] recipients to email addresses and configure [notify.email]", week
            )
        return None
    if already_queued(store, week):
        return None
    logger.info("week=%s digest due since %s: building it", week, last_scheduled_send(now, config).isoformat())
    return send_digest(store, config, week, now=now)
