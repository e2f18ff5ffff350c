"""Acknowledgement deadlines, as pure functions of aware datetimes.

``received`` is when the comment was posted (the platform's timestamp). Its day is judged in the
school's time zone, on the school's :class:`~monitor.sla.calendar.WorkingCalendar`.

- ``24h``: received on a working day -> due exactly 24 hours later, in elapsed time (a clock change
  in between does not move it, and it may land on a weekend: Friday 16:00 is due Saturday 16:00).
  Received on a non-working day -> due at close of business on the next working day.
- ``2wd``: due at close of business on the second working day after the day of receipt, whatever
  the day of receipt (Monday 09:00 -> Wednesday 17:00; Saturday -> Tuesday 17:00).

Deadlines are returned as aware UTC datetimes; a naive ``received`` is refused with ValueError.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from monitor.clock import require_aware
from monitor.sla.calendar import WorkingCalendar

Policy = Literal["24h", "2wd"]
POLICIES: tuple[str, ...] = ("24h", "2wd")


def due_at(received: datetime, policy: Policy, calendar: WorkingCalendar) -> datetime:
    """When a comment received at ``received`` must be acknowledged, under ``policy`` (UTC)."""
    received = require_aware(received, "received")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}")
    try:
        return due_24h(received, calendar) if policy == "24h" else due_two_working_days(received, calendar)
    except OverflowError:  # 9999-12-31 + 24 h, or a day before 0001-01-01 in the school's zone
        raise ValueError(f"{received.isoformat()} is too close to the calendar's ends for a deadline") from None


def due_24h(received: datetime, calendar: WorkingCalendar) -> datetime:
    received = require_aware(received, "received")
    day = calendar.local_date(received)
    if calendar.is_working_day(day):
        return received + timedelta(hours=24)
    return calendar.close_of_business_on(calendar.next_working_day(day))


def due_two_working_days(received: datetime, calendar: WorkingCalendar) -> datetime:
    received = require_aware(received, "received")
    first = calendar.next_working_day(calendar.local_date(received))
    return calendar.close_of_business_on(calendar.next_working_day(first))


def local_iso(instant: datetime, calendar: WorkingCalendar) -> str:
    """ISO 8601 in the school's zone with its offset: ``2026-11-23T17:00:00+00:00``."""
    return require_aware(instant, "instant").astimezone(calendar.tz).isoformat()


def parse_received(text: str) -> datetime:
    """An ISO 8601 timestamp with an offset (or ``Z``) as aware UTC; ValueError otherwise.

    A timestamp without an offset is refused: a local time is ambiguous in the hour the clocks go
    back, and a receipt time comes from a platform, which always states its zone.
    """
    value = text.strip().lstrip("\ufeff")
    if not value:
        raise ValueError("empty: expected an ISO 8601 timestamp such as 2026-11-20T16:00:00Z")
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text.strip()!r} is not an ISO 8601 timestamp: write e.g. 2026-11-20T16:00:00Z "
            "or 2026-06-19T16:00:00+01:00"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(
            f"{text.strip()!r} has no UTC offset: add one (Z for UTC, or e.g. +01:00 for British Summer Time)"
        )
    return parsed.astimezone(timezone.utc)


def deadlines_for_lines(lines: list[str], policy: Policy, calendar: WorkingCalendar) -> list[str]:
    """One local ISO deadline per received timestamp, in order (bulk checks).

    Every line is read before anything is returned; a bad line is a ValueError naming its number.
    Blank lines at the very end are ignored (a trailing newline too many); a blank line inside is bad.
    """
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            received = parse_received(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        out.append(local_iso(due_at(received, policy, calendar), calendar))
    return out
