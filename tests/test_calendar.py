"""The working-day calendar: weekends, regional holidays, closures, the school's zone, term dates."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ConfigError
from monitor.sla.calendar import WorkingCalendar, check_region, closures_from_ics, parse_closures
from tests.conftest import make_config

ENGLAND = WorkingCalendar()


@pytest.mark.parametrize(
    "day, working",
    [
        (date(2026, 11, 23), True),  # Monday
        (date(2026, 11, 27), True),  # Friday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 12, 24), True),  # Christmas Eve is not a bank holiday
        (date(2026, 12, 25), False),
        (date(2026, 12, 28), False),  # Boxing Day (a Saturday) observed on Monday
        (date(2027, 1, 1), False),
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 5, 4), False),  # Early May bank holiday
        (date(2026, 5, 25), False),  # Spring bank holiday
        (date(2026, 8, 31), False),  # Summer bank holiday
        (date(2027, 12, 27), False),  # substitute for Christmas Day (a Saturday)
        (date(2027, 12, 28), False),  # substitute for Boxing Day (a Sunday)
        (date(2027, 12, 29), True),
        (date(2023, 5, 8), False),  # the coronation
    ],
)
def test_england(day, working):
    assert ENGLAND.is_working_day(day) is working


def test_regions_differ():
    scotland, wales, ni = (WorkingCalendar(region=r) for r in ("GB-SCT", "GB-WLS", "GB-NIR"))
    assert not scotland.is_working_day(date(2027, 1, 4))  # 2 January observed
    assert ENGLAND.is_working_day(date(2027, 1, 4))
    assert scotland.is_working_day(date(2026, 4, 6))  # no Easter Monday in Scotland
    assert not scotland.is_working_day(date(2026, 8, 3)) and ENGLAND.is_working_day(date(2026, 8, 3))
    assert not ni.is_working_day(date(2026, 3, 17)) and wales.is_working_day(date(2026, 3, 17))
    assert not ni.is_working_day(date(2026, 7, 13))  # the Twelfth (a Sunday) observed on Monday
    assert not wales.is_working_day(date(2026, 4, 6))


def test_a_country_code_and_none():
    ireland = WorkingCalendar(region="ie")
    assert ireland.region == "IE"
    assert not ireland.is_working_day(date(2026, 3, 17))
    assert not ireland.is_working_day(date(2026, 2, 2))  # St Brigid's Day (first Monday of February)
    nothing = WorkingCalendar(region="none")
    assert nothing.is_working_day(date(2026, 12, 25))  # a Friday, and no holidays at all
    assert not nothing.is_working_day(date(2026, 12, 26))


@pytest.mark.parametrize("region, message", [("GB-XYZ", "no subdivision 'XYZ'"), ("Narnia", "not a holiday region")])
def test_unknown_regions_are_refused_with_the_fix(region, message):
    with pytest.raises(ValueError, match=message):
        check_region(region)


def test_closures_single_days_and_ranges_across_a_weekend():
    calendar = WorkingCalendar(closures=parse_closures(["2026-10-23/2026-10-27", "2026-11-02"]))
    closed = [date(2026, 10, d) for d in (23, 26, 27)] + [date(2026, 11, 2)]
    assert not any(calendar.is_working_day(d) for d in closed)
    assert calendar.is_working_day(date(2026, 10, 22)) and calendar.is_working_day(date(2026, 10, 28))
    assert calendar.next_working_day(date(2026, 10, 22)) == date(2026, 10, 28)


@pytest.mark.parametrize("value", ["2026-13-01", "2026-12-21/2026-12-01", "a/b/c", "2026-01-01/2026-01-02/2026-01-03"])
def test_bad_closures_are_refused(value):
    with pytest.raises(ValueError, match="YYYY-MM-DD|range"):
        parse_closures([value])


def test_the_day_is_judged_in_the_school_zone():
    sunday_night_utc = datetime(2026, 6, 14, 23, 30, tzinfo=timezone.utc)  # Monday 00:30 in London
    assert ENGLAND.local_date(sunday_night_utc) == date(2026, 6, 15)
    new_york = WorkingCalendar(tz=ZoneInfo("America/New_York"), region="US")
    assert new_york.local_date(sunday_night_utc) == date(2026, 6, 14)
    with pytest.raises(ValueError, match="naive"):
        ENGLAND.local_date(datetime(2026, 6, 14, 23, 30))


def test_close_of_business_in_utc_follows_the_season():
    assert ENGLAND.close_of_business_on(date(2026, 6, 15)) == datetime(2026, 6, 15, 16, tzinfo=timezone.utc)
    assert ENGLAND.close_of_business_on(date(2026, 11, 23)) == datetime(2026, 11, 23, 17, tzinfo=timezone.utc)


def test_a_calendar_with_no_working_day_is_reported():
    shut = WorkingCalendar(closures=parse_closures(["2026-01-01/2031-01-01"]))
    with pytest.raises(ValueError, match="no working day"):
        shut.next_working_day(date(2026, 6, 1))


def test_from_config():
    config = make_config(
        school={"timezone": "Europe/Dublin"},
        sla={"holidays": "IE", "close_of_business": "16:30", "closures": ["2026-10-26/2026-10-30"]},
    )
    calendar = WorkingCalendar.from_config(config)
    assert calendar.tz == ZoneInfo("Europe/Dublin") and calendar.region == "IE"
    assert calendar.close_of_business == time(16, 30)
    assert not calendar.is_working_day(date(2026, 10, 28))


def test_from_config_names_the_bad_key():
    with pytest.raises(ConfigError, match="sla.holidays"):
        WorkingCalendar.from_config(make_config(sla={"holidays": "GB-XX"}))


TERM_DATES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Ravens Wood School//Term dates//EN
BEGIN:VEVENT
UID:1@ravenswood
DTSTART;VALUE=DATE:20261026
DTEND;VALUE=DATE:20261031
SUMMARY:Autumn half term
END:VEVENT
BEGIN:VEVENT
UID:2@ravenswood
DTSTART;VALUE=DATE:20261102
DTEND;VALUE=DATE:20261103
SUMMARY:INSET day - school closed to pupils
END:VEVENT
BEGIN:VEVENT
UID:3@ravenswood
DTSTART;VALUE=DATE:20261103
SUMMARY:Autumn term starts
END:VEVENT
BEGIN:VEVENT
UID:4@ravenswood
DTSTART:20261110T180000Z
DTEND:20261110T200000Z
SUMMARY:Parents' evening (closed car park)
END:VEVENT
END:VCALENDAR
"""


def test_term_dates_from_an_ics_file(tmp_path):
    path = tmp_path / "terms.ics"
    path.write_text(TERM_DATES, encoding="utf-8")
    closures = closures_from_ics(path)
    assert closures == ((date(2026, 10, 26), date(2026, 10, 30)), (date(2026, 11, 2), date(2026, 11, 2)))
    calendar = WorkingCalendar(closures=closures)
    assert calendar.next_working_day(date(2026, 10, 23)) == date(2026, 11, 3)
    assert calendar.is_working_day(date(2026, 11, 10))  # a timed event closes nothing


def test_a_bad_ics_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        closures_from_ics(tmp_path / "missing.ics")
    bad = tmp_path / "bad.ics"
    bad.write_text("this is not a calendar", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an iCalendar file"):
        closures_from_ics(bad)


def test_term_calendar_in_the_configuration_is_relative_to_the_file(tmp_path):
    (tmp_path / "terms.ics").write_text(TERM_DATES, encoding="utf-8")
    config = make_config(sla={"term_calendar": "terms.ics", "closures": ["2026-12-21/2027-01-01"]})
    config = config.model_copy(update={"path": tmp_path / "monitor.toml"})
    calendar = WorkingCalendar.from_config(config)
    assert not calendar.is_working_day(date(2026, 10, 27))  # half term, from the .ics
    assert not calendar.is_working_day(date(2026, 12, 22))  # the configured closure still counts


def test_a_bad_region_fails_when_the_configuration_is_read(tmp_path):
    from monitor.config import load_config

    path = tmp_path / "monitor.toml"
    path.write_text('[sla]\nholidays = "GB-XYZ"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sla.holidays: .*no subdivision 'XYZ'.*line 2"):
        load_config(path)
