"""Acknowledgement deadlines: worked examples from the rules, and properties over 2020-2030.

The worked examples were written out by hand from DESIGN.md ("Acknowledgement deadlines") and the
published UK bank holidays; each comment says why the answer is what it is. Clocks in London go
forward on the last Sunday of March at 01:00 UTC and back on the last Sunday of October at 01:00 UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.sla.calendar import WorkingCalendar, parse_closures
from monitor.sla.deadlines import deadlines_for_lines, due_at, local_iso, parse_received

LONDON = ZoneInfo("Europe/London")
ENGLAND = WorkingCalendar()
HALF_TERM = WorkingCalendar(closures=parse_closures(["2026-10-23/2026-10-27"]))  # Fri to Tue


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# (calendar, policy, received UTC, due UTC, why)
WORKED = [
    (ENGLAND, "24h", "2026-11-23T09:00", "2026-11-24T09:00", "Monday: 24 hours later"),
    (ENGLAND, "24h", "2026-11-20T16:00", "2026-11-21T16:00", "Friday: 24 hours later, even on a Saturday"),
    (ENGLAND, "24h", "2026-11-21T10:00", "2026-11-23T17:00", "Saturday: close of business Monday (GMT)"),
    (ENGLAND, "24h", "2026-11-22T22:00", "2026-11-23T17:00", "Sunday night: close of business Monday"),
    (ENGLAND, "24h", "2026-06-14T23:30", "2026-06-15T23:30", "23:30 UTC Sunday is 00:30 BST Monday: working"),
    (ENGLAND, "24h", "2026-06-19T23:30", "2026-06-22T16:00", "23:30 UTC Friday is Saturday 00:30 BST: Monday 17:00 BST"),
    (ENGLAND, "24h", "2026-06-19T22:59:59", "2026-06-20T22:59:59", "Friday 23:59:59 BST is still Friday"),
    (ENGLAND, "24h", "2026-06-19T23:00", "2026-06-22T16:00", "Saturday 00:00 BST: Monday 17:00 BST"),
    (ENGLAND, "24h", "2026-11-20T23:59:59", "2026-11-21T23:59:59", "Friday 23:59:59 GMT: 24 hours"),
    (ENGLAND, "24h", "2026-11-23T00:00", "2026-11-24T00:00", "Monday midnight is Monday"),
    (ENGLAND, "24h", "2026-03-28T12:00", "2026-03-30T16:00", "Saturday before clocks go forward: Monday 17:00 BST"),
    (ENGLAND, "24h", "2026-03-29T00:30", "2026-03-30T16:00", "Sunday 00:30 GMT, just before the change"),
    (ENGLAND, "24h", "2026-03-27T12:00", "2026-03-28T12:00", "Friday before the change: 24 hours, in GMT"),
    (ENGLAND, "24h", "2026-10-24T12:00", "2026-10-26T17:00", "Saturday before clocks go back: Monday 17:00 GMT"),
    (ENGLAND, "24h", "2026-10-25T00:30", "2026-10-26T17:00", "Sunday 01:30 BST, first of the repeated hour"),
    (ENGLAND, "24h", "2026-10-23T16:30", "2026-10-24T16:30", "Friday 17:30 BST: 24 hours later"),
    (ENGLAND, "24h", "2026-12-24T10:00", "2026-12-25T10:00", "Christmas Eve is a working day: due on Christmas Day"),
    (ENGLAND, "24h", "2026-12-25T10:00", "2026-12-29T17:00", "Christmas (Fri); Boxing Day substitute Mon 28th"),
    (ENGLAND, "24h", "2026-12-31T15:00", "2027-01-01T15:00", "New Year's Eve is working: due on New Year's Day"),
    (ENGLAND, "24h", "2027-01-01T09:00", "2027-01-04T17:00", "New Year's Day (Fri): Monday 4th"),
    (ENGLAND, "24h", "2026-04-02T14:00", "2026-04-03T14:00", "Thursday before Good Friday: 24 hours"),
    (ENGLAND, "24h", "2026-04-03T10:00", "2026-04-07T16:00", "Good Friday: Tuesday after Easter Monday, 17:00 BST"),
    (ENGLAND, "24h", "2026-04-06T08:00", "2026-04-07T16:00", "Easter Monday: Tuesday 17:00 BST"),
    (ENGLAND, "24h", "2027-12-26T12:00", "2027-12-29T17:00", "2027: 27 and 28 December are substitute days"),
    (ENGLAND, "24h", "2027-12-27T09:00", "2027-12-29T17:00", "Christmas Day (observed)"),
    (ENGLAND, "24h", "2027-12-28T09:00", "2027-12-29T17:00", "Boxing Day (observed)"),
    (ENGLAND, "24h", "2022-09-19T09:00", "2022-09-20T16:00", "the Queen's state funeral was a bank holiday"),
    (ENGLAND, "24h", "2022-12-27T09:00", "2022-12-28T17:00", "2022: Christmas on a Sunday, substitute Tue 27th"),
    (HALF_TERM, "24h", "2026-10-22T12:00", "2026-10-23T12:00", "Thursday before a closure: 24 hours"),
    (HALF_TERM, "24h", "2026-10-23T09:00", "2026-10-28T17:00", "closure Fri-Tue across a weekend: Wednesday"),
    (HALF_TERM, "2wd", "2026-10-22T09:00", "2026-10-29T17:00", "closure: Wednesday is first, Thursday second"),
    (ENGLAND, "2wd", "2026-11-23T09:00", "2026-11-25T17:00", "Monday: Tuesday first, Wednesday second"),
    (ENGLAND, "2wd", "2026-11-23T18:00", "2026-11-25T17:00", "after close on Monday: still from Monday"),
    (ENGLAND, "2wd", "2026-11-21T10:00", "2026-11-24T17:00", "Saturday: Monday first, Tuesday second"),
    (ENGLAND, "2wd", "2026-11-19T10:00", "2026-11-23T17:00", "Thursday: Friday, then Monday"),
    (ENGLAND, "2wd", "2026-11-20T10:00", "2026-11-24T17:00", "Friday: Monday, then Tuesday"),
    (ENGLAND, "2wd", "2026-04-02T10:00", "2026-04-08T16:00", "over Easter: Tue 7th, Wed 8th, 17:00 BST"),
    (ENGLAND, "2wd", "2026-12-23T10:00", "2026-12-29T17:00", "Thu 24th, then Tue 29th after the holidays"),
    (ENGLAND, "2wd", "2026-03-27T12:00", "2026-03-31T16:00", "over the spring change: Tuesday 17:00 BST"),
    (ENGLAND, "2wd", "2026-10-24T12:00", "2026-10-27T17:00", "over the autumn change: Tuesday 17:00 GMT"),
    (ENGLAND, "2wd", "2026-06-14T23:30", "2026-06-17T16:00", "Monday 00:30 BST: Tue, Wed"),
    (ENGLAND, "2wd", "2027-12-23T12:00", "2027-12-29T17:00", "Fri 24th, then Wed 29th after two substitute days"),
    (WorkingCalendar(region="GB-SCT"), "24h", "2027-01-01T09:00", "2027-01-05T17:00",
     "Scotland: 2 January (a Saturday) is observed on Monday 4th"),
    (WorkingCalendar(region="GB-SCT"), "24h", "2026-04-06T08:00", "2026-04-07T08:00",
     "Scotland has no Easter Monday holiday"),
    (WorkingCalendar(region="GB-NIR"), "24h", "2026-03-17T10:00", "2026-03-18T17:00",
     "Northern Ireland: St Patrick's Day"),
    (ENGLAND, "24h", "2026-03-17T10:00", "2026-03-18T10:00", "England: St Patrick's Day is a working day"),
    (WorkingCalendar(close_of_business=time(16, 30)), "2wd", "2026-11-23T09:00", "2026-11-25T16:30",
     "close of business 16:30"),
    (WorkingCalendar(tz=ZoneInfo("Asia/Jerusalem"), region="none"), "24h", "2026-03-26T08:00", "2026-03-27T08:00",
     "clocks go forward on Friday 27 March in Israel: elapsed time, so 11:00 local, not 10:00"),
]


@pytest.mark.parametrize(
    "calendar, policy, received, expected, why", WORKED, ids=[f"{w[1]}-{w[2]}" for w in WORKED]
)
def test_worked_example(calendar, policy, received, expected, why):
    assert due_at(utc(received), policy, calendar) == utc(expected), why


def test_there_are_enough_worked_examples():
    assert len(WORKED) >= 30


def test_local_iso_carries_the_school_offset():
    assert local_iso(utc("2026-06-22T16:00"), ENGLAND) == "2026-06-22T17:00:00+01:00"
    assert local_iso(utc("2026-11-23T17:00"), ENGLAND) == "2026-11-23T17:00:00+00:00"
    israel = WorkingCalendar(tz=ZoneInfo("Asia/Jerusalem"), region="none")
    assert local_iso(due_at(utc("2026-03-26T08:00"), "24h", israel), israel) == "2026-03-27T11:00:00+03:00"


def test_received_with_an_offset_is_the_same_instant():
    summer = datetime(2026, 6, 15, 0, 30, tzinfo=LONDON)
    assert due_at(summer, "24h", ENGLAND) == utc("2026-06-15T23:30")


def test_naive_received_is_refused():
    with pytest.raises(ValueError, match="naive"):
        due_at(datetime(2026, 11, 23, 9, 0), "24h", ENGLAND)


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown policy"):
        due_at(utc("2026-11-23T09:00"), "48h", ENGLAND)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-20T16:00:00Z", utc("2026-11-20T16:00")),
        ("2026-11-20T16:00z", utc("2026-11-20T16:00")),
        ("2026-06-19T16:00:00+01:00", utc("2026-06-19T15:00")),
        ("  2026-06-19T16:00:00.250-04:00 ", utc("2026-06-19T20:00:00.250")),
    ],
)
def test_parse_received(text, expected):
    assert parse_received(text) == expected


@pytest.mark.parametrize("text", ["2026-11-20T16:00:00", "2026-11-20", "", "tomorrow", "2026-13-01T00:00Z"])
def test_parse_received_refuses(text):
    with pytest.raises(ValueError):
        parse_received(text)


def test_bulk_lines_in_order_and_a_bad_line_is_named():
    lines = ["2026-11-21T10:00Z", "2026-11-23T09:00:00+00:00"]
    assert deadlines_for_lines(lines, "24h", ENGLAND) == ["2026-11-23T17:00:00+00:00", "2026-11-24T09:00:00+00:00"]
    with pytest.raises(ValueError, match="line 2: .*no UTC offset"):
        deadlines_for_lines(["2026-11-21T10:00Z", "2026-11-21T10:00"], "24h", ENGLAND)
    with pytest.raises(ValueError, match="line 2: empty"):
        deadlines_for_lines(["2026-11-21T10:00Z", " ", "2026-11-21T10:00Z"], "24h", ENGLAND)
    assert deadlines_for_lines(["\ufeff2026-11-21T10:00Z", "", "  "], "24h", ENGLAND) == ["2026-11-23T17:00:00+00:00"]


# -- properties over 2020-2030 ------------------------------------------------------------------

ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "Asia/Jerusalem", "Australia/Sydney"]
CALENDARS = [
    ENGLAND,
    HALF_TERM,
    WorkingCalendar(region="GB-SCT", closures=parse_closures(["2027-12-20/2028-01-07", "2025-02-14"])),
    WorkingCalendar(region="GB-WLS", close_of_business=time(15, 45)),
    *(WorkingCalendar(tz=ZoneInfo(zone), region="none", close_of_business=time(17, 30)) for zone in ZONES[1:]),
]
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31, 23, 59, 59), timezones=st.just(timezone.utc)
)
calendars = st.sampled_from(CALENDARS)


def working_days_between(calendar: WorkingCalendar, first: date, last: date) -> int:
    """Working days strictly between two dates."""
    count, day = 0, first + timedelta(days=1)
    while day < last:
        count += calendar.is_working_day(day)
        day += timedelta(days=1)
    return count


def at_close_of_business_on_a_working_day(calendar: WorkingCalendar, due: datetime) -> bool:
    local = due.astimezone(calendar.tz)
    return local.timetz().replace(tzinfo=None) == calendar.close_of_business and calendar.is_working_day(local.date())


@settings(max_examples=600, deadline=None)
@given(instants, calendars)
def test_2wd_is_close_of_business_on_the_second_working_day_after(received, calendar):
    due = due_at(received, "2wd", calendar)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    assert at_close_of_business_on_a_working_day(calendar, due)
    receipt_day, due_day = calendar.local_date(received), calendar.local_date(due)
    assert due_day > receipt_day
    assert working_days_between(calendar, receipt_day, due_day) == 1


@settings(max_examples=600, deadline=None)
@given(instants, calendars)
def test_24h_is_elapsed_time_on_a_working_day_else_next_close_of_business(received, calendar):
    due = due_at(received, "24h", calendar)
    receipt_day = calendar.local_date(received)
    if calendar.is_working_day(receipt_day):
        assert (due - received).total_seconds() == 86_400
    else:
        assert at_close_of_business_on_a_working_day(calendar, due)
        due_day = calendar.local_date(due)
        assert due_day > receipt_day
        assert working_days_between(calendar, receipt_day, due_day) == 0


@settings(max_examples=200, deadline=None)
@given(instants, calendars, st.sampled_from(["24h", "2wd"]))
def test_the_deadline_does_not_depend_on_how_the_receipt_is_written(received, calendar, policy):
    written_locally = received.astimezone(calendar.tz)
    assert due_at(written_locally, policy, calendar) == due_at(received, policy, calendar)


@settings(max_examples=200, deadline=None)
@given(instants, calendars, st.sampled_from(["24h", "2wd"]))
def test_a_later_receipt_is_never_due_earlier(received, calendar, policy):
    later = received + timedelta(minutes=37)
    assert due_at(later, policy, calendar) >= due_at(received, policy, calendar)


@pytest.mark.parametrize("year", range(2020, 2031))
def test_clock_changes_both_ways_every_year(year):
    """Saturday before each change -> the next working day, 17:00 local, with that day's offset."""
    for month in (3, 10):
        last_sunday = max(
            date(year, month, d) for d in range(25, 32) if date(year, month, d).weekday() == 6
        )
        saturday = last_sunday - timedelta(days=1)
        received = datetime.combine(saturday, time(12), tzinfo=timezone.utc)
        due = due_at(received, "24h", ENGLAND)
        local = due.astimezone(LONDON)
        # in 2024 and 2027 the spring change fell on Easter Sunday: Easter Monday follows
        easter_monday = month == 3 and year in (2024, 2027)
        assert local.date() == last_sunday + timedelta(days=2 if easter_monday else 1)
        assert (local.hour, local.minute) == (17, 0)
        assert local.utcoffset() == (timedelta(hours=1) if month == 3 else timedelta(0))
