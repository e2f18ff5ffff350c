"""``monitor sla due``: one deadline, bulk deadlines on stdin, defaults without a configuration."""

from __future__ import annotations

import functools
import io
import os
import random
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import main


@pytest.fixture(autouse=True)
def no_configuration(tmp_path, monkeypatch):
    """Run where no ./monitor.toml exists and $MONITOR_CONFIG is unset: the defaults apply."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_one_deadline_with_the_defaults(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "sla", "due", "--received", "2026-11-21T10:00:00Z")
    assert (code, out) == (0, "2026-11-23T17:00:00+00:00\n")  # Saturday -> Monday 17:00 GMT


def test_the_deadline_is_printed_with_the_summer_offset(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "sla", "due", "--received", "2026-06-19T23:30:00Z")
    assert (code, out) == (0, "2026-06-22T17:00:00+01:00\n")  # Saturday 00:30 BST -> Monday 17:00 BST


def test_policy_option(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "sla", "due", "--received", "2026-11-23T09:00+00:00", "--policy", "2wd")
    assert (code, out) == (0, "2026-11-25T17:00:00+00:00\n")


def test_a_time_without_offset_is_refused_with_a_clear_message(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "sla", "due", "--received", "2026-11-21T10:00")
    assert code == 2 and out == ""
    assert "--received" in err and "no UTC offset" in err


def test_the_help_says_how_a_time_without_offset_is_read(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "sla", "due", "--help")
    assert code == 0 and "without an offset is refused" in " ".join(out.split())


def test_bulk_on_stdin_one_deadline_per_line_in_order(capsys, monkeypatch):
    stdin = "2026-11-23T09:00:00Z\n2026-11-21T10:00:00Z\n2026-12-25T10:00:00+00:00\n2026-06-14T23:30:00Z\n"
    code, out, _ = run(capsys, monkeypatch, "sla", "due", stdin=stdin)
    assert code == 0
    assert out.splitlines() == [
        "2026-11-24T09:00:00+00:00",
        "2026-11-23T17:00:00+00:00",
        "2026-12-29T17:00:00+00:00",
        "2026-06-16T00:30:00+01:00",
    ]


def test_bulk_bad_line_is_an_error_naming_the_line_and_prints_nothing(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "sla", "due", stdin="2026-11-23T09:00:00Z\nnot a time\n")
    assert code == 1 and out == ""
    assert "line 2" in err and "not a time" in err


def test_the_configured_calendar_and_policy_are_used(tmp_path, capsys, monkeypatch):
    config = tmp_path / "school.toml"
    config.write_text(
        '[school]\ntimezone = "Europe/London"\n'
        '[sla]\npolicy = "2wd"\nclose_of_business = "16:00"\nholidays = "GB-SCT"\n'
        'closures = ["2026-11-24/2026-11-25"]\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, monkeypatch, "--config", str(config), "sla", "due", "--received", "2026-11-23T09:00Z")
    # Monday: the 24th and 25th are closed, so Thursday is first, Friday second, at 16:00
    assert (code, out) == (0, "2026-11-27T16:00:00+00:00\n")


def test_a_bad_holiday_region_names_the_key(tmp_path, capsys, monkeypatch):
    config = tmp_path / "school.toml"
    config.write_text('[sla]\nholidays = "GB-XYZ"\n', encoding="utf-8")
    code, _, err = run(capsys, monkeypatch, "--config", str(config), "sla", "due", "--received", "2026-11-23T09:00Z")
    assert code == 1 and "sla.holidays" in err and "GB-ENG" in err


def test_the_installed_command_reads_stdin(tmp_path):
    """The real console entry point, in a fresh process, with no configuration anywhere."""
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "sla", "due", "--policy", "24h"],
        input="2027-12-24T18:00:00Z\n2027-12-26T12:00:00Z\n",
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2027-12-25T18:00:00+00:00", "2027-12-29T17:00:00+00:00"]


# -- an independent reading of the rules, compared on thousands of instants ---------------------

LONDON = ZoneInfo("Europe/London")


@functools.lru_cache(maxsize=1)
def bank_holidays() -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=range(2019, 2033)))


def oracle(received: datetime) -> datetime:
    """DESIGN.md's 24h rule written again from scratch, stepping through local calendar days."""
    london = LONDON

    def working(day: date) -> bool:
        return day.isoweekday() <= 5 and day not in bank_holidays()

    day = received.astimezone(london).date()
    if working(day):
        return received + timedelta(seconds=86_400)
    day += timedelta(days=1)
    while not working(day):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=london)


def test_bulk_agrees_with_an_independent_reading_of_the_rules(tmp_path):
    rng = random.Random(20261122)
    start, span = datetime(2020, 1, 1, tzinfo=timezone.utc), 11 * 365 * 86_400
    instants = [start + timedelta(seconds=rng.randrange(span)) for _ in range(3000)]
    # and the edges: both sides of midnight in the school's zone around weekends and holidays
    for day in ("2026-03-27", "2026-03-29", "2026-10-23", "2026-10-25", "2026-12-24", "2027-12-24", "2026-04-02"):
        local = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("Europe/London"))
        for hours in range(0, 96):
            instants.append((local + timedelta(hours=hours, minutes=-1)).astimezone(timezone.utc))
    lines = "".join(f"{i.isoformat()}\n" for i in instants)
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "sla", "due"], input=lines, capture_output=True, text=True,
        cwd=tmp_path, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert len(printed) == len(instants)
    for received, line in zip(instants, printed):
        due = datetime.fromisoformat(line)
        assert due == oracle(received), f"received {received.isoformat()}"
        assert due.utcoffset() == due.astimezone(ZoneInfo("Europe/London")).utcoffset()
