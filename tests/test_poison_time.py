"""Timestamps no platform should send: a post dated 9999-12-31 or 0001-01-01, or antedated years by its
author, never stops a source, never breaks a deadline and never moves a checkpoint past now."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from classifiers.base import NullClassifier
from connectors.base import EARLIEST, FUTURE_SKEW, parse_timestamp, sane_time
from monitor.app.assembly import build_hooks
from monitor.demo.fakes.bluesky import FakeBluesky
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.pipeline import Pipeline
from monitor.sla.calendar import WorkingCalendar
from monitor.sla.cases import list_cases
from monitor.sla.clock import tick
from monitor.sla.deadlines import due_at
from monitor.store import Store
from tests.conftest import make_config

POISON = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-12:00", "0001-01-01T00:00:00+14:00"]


@pytest.fixture
def fake():
    with FakeBluesky(page_size=3) as fake:
        yield fake


def bluesky_pipeline(tmp_path, clock, fake, **sections):
    config = make_config(tmp_path, sources=[fake.source_config("bsky")], **sections)
    store = Store(tmp_path / "monitor.db", clock=clock)
    pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                        hooks=build_hooks(config, clock))
    return pipeline, store, config


def stored_texts(store) -> set[str]:
    return {row["text"] for row in store.query("SELECT text FROM items WHERE source = 'bsky'")}


def checkpoints(cursor) -> list[datetime]:
    return [parse_timestamp(stream["since"]) for stream in cursor.values() if stream.get("since")]


def test_poison_dates_from_bluesky_are_stored_and_do_not_blind_the_source(tmp_path, clock, fake):
    pipeline, store, _ = bluesky_pipeline(tmp_path, clock, fake)
    fake.add_comment("Before", at=clock() - timedelta(hours=1))
    assert pipeline.poll("bsky").ok
    clock.advance(timedelta(minutes=5))
    for n, claimed in enumerate(POISON):
        fake.add_comment(f"Poison {n}", at=clock() - timedelta(minutes=4 - n), claimed=claimed)
    fake.add_comment("Ravens Wood: I will hurt someone at the gate tomorrow", at=clock() - timedelta(seconds=30))
    result = pipeline.poll("bsky")
    assert result.ok, result
    assert {f"Poison {n}" for n in range(len(POISON))} | {"Ravens Wood: I will hurt someone at the gate tomorrow"} <= stored_texts(store)
    assert all(when <= clock() for when in checkpoints(store.source_state("bsky").cursor))
    for case in list_cases(store, now=clock()):
        assert EARLIEST <= case.received <= clock() + FUTURE_SKEW
        assert EARLIEST < case.due <= clock() + timedelta(days=5)  # computable, whatever the claim
    # the next posts are still found: the source is not blind
    clock.advance(timedelta(minutes=5))
    fake.add_comment("After", at=clock() - timedelta(minutes=1))
    assert pipeline.poll("bsky").ok
    assert "After" in stored_texts(store)
    store.close()


def test_an_antedated_comment_does_not_fire_reminder_breach_and_escalation_at_once(tmp_path, clock, fake):
    with FakeSlack() as slack:
        notify = {"slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url}}
        pipeline, store, config = bluesky_pipeline(tmp_path, clock, fake, notify=notify)
        assert pipeline.poll("bsky").ok
        clock.advance(timedelta(minutes=5))
        fake.add_comment("Dated 2020 by its author", at=clock() - timedelta(minutes=1), claimed="2020-01-01T00:00:00Z")
        assert pipeline.poll("bsky").ok
        [case] = list_cases(store, now=clock())
        assert case.received == datetime(2020, 1, 1, tzinfo=timezone.utc)  # what it claims, kept for the record
        # one "seen after its deadline" notice, and no reminder, breach and escalation in the same tick
        assert tick(store, config, clock()) == {"reminder": 0, "breach": 0, "escalation": 0}
        kinds = [row["kind"] for row in store.query("SELECT kind FROM alerts")]
        assert kinds.count("seen_late") == 1 and not {"reminder", "breach", "escalation"} & set(kinds), kinds
        store.close()


def test_a_comment_with_an_unreadable_date_is_skipped_by_id_and_the_rest_stored(tmp_path, clock, fake, caplog):
    pipeline, store, _ = bluesky_pipeline(tmp_path, clock, fake)
    bad = fake.add_comment("Unreadable date", at=clock() - timedelta(minutes=3), claimed="the day after tomorrow")
    fake.add_comment("Fine", at=clock() - timedelta(minutes=2))
    with caplog.at_level(logging.WARNING):
        assert pipeline.poll("bsky").ok
    assert "Fine" in stored_texts(store) and "Unreadable date" not in stored_texts(store)
    assert any(bad in record.getMessage() and "skipped" in record.getMessage() for record in caplog.records)
    store.close()


@pytest.mark.parametrize("policy", ["24h", "2wd"])
@pytest.mark.parametrize("received", [datetime.max.replace(tzinfo=timezone.utc), datetime.min.replace(tzinfo=timezone.utc)])
def test_deadline_arithmetic_at_the_calendars_ends_is_a_value_error(tmp_path, policy, received):
    calendar = WorkingCalendar.from_config(make_config(tmp_path))
    with pytest.raises(ValueError):
        due_at(received, policy, calendar)
    with pytest.raises(ValueError):
        calendar.next_working_day(date.max)


def test_the_sla_command_refuses_a_date_at_the_calendars_end_cleanly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "sla", "due", "--received", "9999-12-31T23:59:59Z"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    assert "9999-12-31" in done.stderr


def test_timestamps_are_held_inside_the_believable_window(clock):
    now = clock()
    assert sane_time(datetime(9999, 12, 31, tzinfo=timezone.utc), now) == now + FUTURE_SKEW
    assert sane_time(datetime(1, 1, 1, tzinfo=timezone.utc), now) == EARLIEST
    assert sane_time(now - timedelta(days=400), now) == now - timedelta(days=400)
    for number in (1e20, float("inf"), -1e20):
        with pytest.raises(ValueError):
            parse_timestamp(number)
