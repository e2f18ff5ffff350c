"""The school's working-day calendar.

A working day is a Monday to Friday, in the school's time zone, that is neither a public holiday of
the configured region (the ``holidays`` package) nor a configured closure day.

Regions (``sla.holidays``):

- ``"GB-ENG"``: England and its substitute days ("Christmas Day (observed)" on 27 December 2027...);
  likewise ``"GB-WLS"``, ``"GB-SCT"``, ``"GB-NIR"``;
- ``"FR"``, ``"IE"``...: a country's public holidays by ISO 3166 code; ``"XX-YY"`` a subdivision;
- ``"none"`` (or ``""``): no public holidays, only weekends and closures.

Closures (``sla.closures``) are single dates ``"2026-10-26"`` or inclusive ranges
``"2026-12-21/2027-01-01"``. The school's term dates can also be read from an iCalendar file
(:func:`closures_from_ics`, config key ``sla.term_calendar``): every all-day event whose name says
holiday, half term, closed, INSET or training day closes the school for its days.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays

from monitor.clock import require_aware
from monitor.errors import ConfigError

logger = logging.getLogger(__name__)

#: How far ahead a working day is looked for before the calendar is declared impossible.
SEARCH_LIMIT = timedelta(days=3 * 366)

_NO_HOLIDAYS = {"", "none", "no", "off"}
_CLOSURE_WORDS = re.compile(r"holiday|half[\s-]?term|closed|closure|inset|training day|staff day|break", re.I)


@lru_cache(maxsize=64)
def _holiday_dates(region: str, year: int) -> frozenset[date]:
    country, _, subdiv = region.partition("-")
    found = holidays.country_holidays(country, subdiv=subdiv or None, years=year)
    return frozenset(found.keys())


def check_region(region: str) -> str:
    """The region normalised (``"gb-eng"`` -> ``"GB-ENG"``), or ValueError naming what is known."""
    normal = region.strip().upper()
    if normal.lower() in _NO_HOLIDAYS:
        return ""
    country, _, subdiv = normal.partition("-")
    try:
        _holiday_dates(normal, 2026)
    except NotImplementedError:
        if subdiv:
            try:
                known = ", ".join(f"{country}-{s}" for s in holidays.country_holidays(country).subdivisions)
            except NotImplementedError:
                known = ""
            if known:
                raise ValueError(f"{region!r}: {country} has no subdivision {subdiv!r} (known: {known})") from None
        raise ValueError(
            f'{region!r} is not a holiday region: write e.g. "GB-ENG", "GB-WLS", "GB-SCT", "GB-NIR", '
            'an ISO country code such as "IE", or "none"'
        ) from None
    return normal


def parse_closures(values: Iterable[str]) -> tuple[tuple[date, date], ...]:
    """``["2026-10-26", "2026-12-21/2027-01-01"]`` -> inclusive (first, last) ranges."""
    ranges = []
    for value in values:
        parts = [part.strip() for part in value.split("/")]
        try:
            days = [date.fromisoformat(part) for part in parts]
        except ValueError:
            raise ValueError(
                f'{value!r}: write a date "YYYY-MM-DD" or an inclusive range "YYYY-MM-DD/YYYY-MM-DD"'
            ) from None
        if len(days) > 2 or days[-1] < days[0]:
            raise ValueError(f"{value!r}: a range is two dates, the first not after the second")
        ranges.append((days[0], days[-1]))
    return tuple(ranges)


@dataclass(frozen=True, kw_only=True)
class WorkingCalendar:
    """Working days and close of business of one school."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    region: str = "GB-ENG"
    closures: tuple[tuple[date, date], ...] = ()
    close_of_business: time = time(17, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "region", check_region(self.region))

    @classmethod
    def from_config(cls, config) -> "WorkingCalendar":
        """The calendar of a :class:`monitor.config.Config`; ConfigError names the bad key."""
        sla = config.sla
        try:
            region = check_region(sla.holidays)
        except ValueError as exc:
            raise ConfigError(f"sla.holidays: {exc}") from None
        try:
            closures = parse_closures(sla.closures)
        except ValueError as exc:
            raise ConfigError(f"sla.closures: {exc}") from None
        term_calendar = getattr(sla, "term_calendar", None)
        if term_calendar:
            path = Path(term_calendar).expanduser()
            if not path.is_absolute() and config.path is not None:
                path = config.path.parent / path
            closures += closures_from_ics(path)
        return cls(tz=config.school.tz, region=region, closures=closures, close_of_business=sla.close_of_business)

    def is_holiday(self, day: date) -> bool:
        return bool(self.region) and day in _holiday_dates(self.region, day.year)

    def is_closed(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.closures)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, not a public holiday, not a closure."""
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date; use local_date() for an instant")
        return day.weekday() < 5 and not self.is_holiday(day) and not self.is_closed(day)

    def local_date(self, instant: datetime) -> date:
        """The day an instant falls on in the school's time zone (23:30 UTC on a summer Sunday is Monday).

        ValueError for an instant at the calendar's very ends (0001-01-01 00:00 UTC has no London date).
        """
        try:
            return require_aware(instant, "instant").astimezone(self.tz).date()
        except OverflowError:
            raise ValueError(f"{instant.isoformat()} has no date in {self.tz}") from None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        candidate = day
        while True:
            if candidate >= date.max:
                raise ValueError(f"no working day after {day}: the calendar ends on {date.max}")
            candidate += timedelta(days=1)
            if self.is_working_day(candidate):
                return candidate
            if candidate - day > SEARCH_LIMIT:
                raise ValueError(f"no working day within three years after {day}: check sla.closures")

    def close_of_business_on(self, day: date) -> datetime:
        """Close of business on ``day`` in the school's zone, as an aware UTC datetime."""
        local = datetime.combine(day, self.close_of_business, tzinfo=self.tz)
        # a close of business inside a spring-forward gap is read with the offset before the change
        try:
            return local.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError(f"close of business on {day} is beyond the calendar's end") from None


def closures_from_ics(path: str | Path) -> tuple[tuple[date, date], ...]:
    """Closure ranges from a school's term-dates iCalendar file.

    Every all-day event whose summary says holiday, half term, closed, INSET, training day or break
    is a closure for its days (DTEND of an all-day event is exclusive, as RFC 5545 says).
    ConfigError if the file is missing, unreadable or not iCalendar.
    """
    try:
        import icalendar
    except ImportError:
        raise ConfigError("sla.term_calendar needs the icalendar package: pip install icalendar") from None
    path = Path(path)
    try:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"sla.term_calendar: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"sla.term_calendar: {path} is not an iCalendar file: {exc}") from None
    ranges = []
    for event in calendar.walk("VEVENT"):
        summary = str(event.get("SUMMARY", ""))
        start = event.get("DTSTART")
        if start is None or not _CLOSURE_WORDS.search(summary):
            continue
        first = start.dt
        if isinstance(first, datetime):
            logger.info("term calendar %s: %r is not an all-day event, not a closure", path, summary)
            continue
        end = event.get("DTEND")
        last = end.dt - timedelta(days=1) if end is not None and not isinstance(end.dt, datetime) else first
        ranges.append((first, max(first, last)))
    logger.info("term calendar %s: %d closures", path, len(ranges))
    return tuple(ranges)
