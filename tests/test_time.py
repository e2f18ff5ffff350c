"""Time: the host clock jumping, clock changes (DST), and restarts across scheduled jobs.

The SLA clock (reminders, breach notices, escalations) and the weekly digest are driven by the
time they are given, and each of their alerts has an idempotency key in the outbox (and, for the
SLA, a column on the case recording that it was written). So however the clock moves and however
often the monitor restarts, each is written once, and none is lost.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from classifiers.base import NullClassifier
from monitor.app.assembly import build_hooks
from monitor.clock import ManualClock
from monitor.demo.fakes.facebook import FakeFacebook
from monitor.digest.send import send_due_digest
from monitor.digest.week import week_monday
from monitor.pipeline import Pipeline
from monitor.sla.clock import tick
from monitor.store import Store
from tests.conftest import make_config

LONDON = ZoneInfo("Europe/London")
EMAIL = {"host": "127.0.0.1", "port": 2525, "starttls": False, "sender": "monitor@school.example",
         "moderators": ["moderator@school.example"], "escalate_to": ["head@school.example"]}


def notices(store: Store) -> Counter:
    """(kind, case) -> number of outbox rows."""
    return Counter((r["kind"], r["case_id"]) for r in store.query("SELECT kind, case_id FROM alerts WHERE case_id IS NOT NULL"))


def test_sla_notices_once_whatever_the_clock_does_and_across_restarts(tmp_path):
    # Monday 16 November 2026, 09:00 in London (GMT): comments posted at 08:00 are due Tuesday 08:00
    clock = ManualClock(datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc))
    with FakeFacebook() as facebook:
        raw = {**facebook.source_config("facebook-page"), "official": True, "tagged": False}
        config = make_config(tmp_path, sources=[raw], notify={"email": EMAIL},
                             sla={"policy": "24h", "remind_before": "4h", "escalate_after": "4h"})
        post = facebook.add_post("News", at=clock() - timedelta(hours=3))
        for n in range(3):
            facebook.add_comment(f"question {n}", reply_to=post, at=clock() - timedelta(minutes=60 - n))
        store = Store(tmp_path / "monitor.db", clock=clock)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                            hooks=build_hooks(config, clock))
        assert pipeline.poll("facebook-page").new == 4
        case_ids = [r["id"] for r in store.query("SELECT id FROM cases ORDER BY id")]
        assert len(case_ids) == 3

        assert sum(tick(store, config, clock()).values()) == 0
        clock.advance(timedelta(days=1, hours=1))  # the host clock jumps forward a day: Tuesday 10:00
        written = tick(store, config, clock())
        assert written == {"reminder": 0, "breach": 3, "escalation": 0}  # no reminder after the deadline
        assert sum(tick(store, config, clock()).values()) == 0  # the next minute's tick: nothing again

        clock.advance(timedelta(hours=-1))  # and back an hour (an NTP correction)
        assert sum(tick(store, config, clock()).values()) == 0

        # the monitor is off from 10:00 to 14:00, across the escalation (due 08:00 + 4h); it restarts
        store.close()
        clock.advance(timedelta(hours=5))
        store = Store(tmp_path / "monitor.db", clock=clock)
        assert tick(store, config, clock())["escalation"] == 3
        store.close()
        store = Store(tmp_path / "monitor.db", clock=clock)  # and restarts again at once
        assert sum(tick(store, config, clock()).values()) == 0

        counts = notices(store)
        for case_id in case_ids:
            assert counts[("reminder", case_id)] == 0  # its time passed while the clock jumped
            assert counts[("breach", case_id)] == 1
            assert counts[("escalation", case_id)] == 2  # the moderator and the head
        keys = [r["key"] for r in store.query("SELECT key FROM alerts")]
        assert len(keys) == len(set(keys))
        store.close()


def run_digest_ticks(tmp_path, start: datetime, end: datetime, *, seed: int) -> list[tuple[str, datetime]]:
    """The digest job every 10 minutes from ``start`` to ``end``, with random restarts and clock jumps.

    Returns (week, queued at) per digest queued, in order.
    """
    rng = random.Random(seed)
    clock = ManualClock(start)
    config = make_config(tmp_path, notify={"email": EMAIL}, digest={"recipients": ["head@school.example"],
                                                                    "weekday": "mon", "time": "07:30"})
    store = Store(tmp_path / "monitor.db", clock=clock)
    queued: list[tuple[str, datetime]] = []
    while clock() < end:
        published = send_due_digest(store, config, now=clock())
        if published is not None:
            queued.append((published.week, clock()))
        roll = rng.random()
        if roll < 0.02:  # a restart: a new process opens the database again
            store.close()
            store = Store(tmp_path / "monitor.db", clock=clock)
        elif roll < 0.03:
            clock.advance(timedelta(hours=-1))  # the host clock steps back an hour
        elif roll < 0.035:
            clock.advance(timedelta(hours=rng.choice([2, 6, 30])))  # the server was suspended, or off
        clock.advance(timedelta(minutes=10))
    rows = store.query("SELECT key FROM alerts WHERE kind = 'digest'")
    store.close()
    assert len(rows) == len({r["key"] for r in rows}) == len(queued)
    return queued


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weekly_digest_once_per_week_across_the_autumn_clock_change(tmp_path, seed):
    # clocks go back at 02:00 BST on Sunday 25 October 2026: Monday 07:30 is then 07:30 UTC
    queued = run_digest_ticks(tmp_path, datetime(2026, 10, 23, 12, tzinfo=timezone.utc),
                              datetime(2026, 11, 10, 12, tzinfo=timezone.utc), seed=seed)
    weeks = [week for week, _ in queued]
    assert weeks == ["2026-W42", "2026-W43", "2026-W44", "2026-W45"]
    for week, at in queued[1:]:
        # never before Monday 07:30 in London after the week ended, whatever the offset that day
        scheduled = datetime.combine(week_monday(week) + timedelta(days=7), time(7, 30), tzinfo=LONDON)
        assert at >= scheduled, (week, at)


def test_weekly_digest_on_time_across_the_spring_clock_change(tmp_path):
    # clocks go forward at 01:00 GMT on Sunday 28 March 2027: Monday 07:30 BST is 06:30 UTC
    queued = run_digest_ticks(tmp_path, datetime(2027, 3, 26, 12, tzinfo=timezone.utc),
                              datetime(2027, 3, 30, 12, tzinfo=timezone.utc), seed=99)
    assert [week for week, _ in queued] == ["2027-W11", "2027-W12"]
    _, at = queued[1]
    assert datetime(2027, 3, 29, 6, 30, tzinfo=timezone.utc) <= at < datetime(2027, 3, 29, 6, 40, tzinfo=timezone.utc)


def test_autumn_monday_digest_waits_for_local_0730_not_utc(tmp_path):
    queued = run_digest_ticks(tmp_path, datetime(2026, 10, 25, 12, tzinfo=timezone.utc),
                              datetime(2026, 10, 26, 12, tzinfo=timezone.utc), seed=99)
    assert [week for week, _ in queued] == ["2026-W42", "2026-W43"]
    _, at = queued[1]
    assert datetime(2026, 10, 26, 7, 30, tzinfo=timezone.utc) <= at < datetime(2026, 10, 26, 7, 40, tzinfo=timezone.utc)


def test_a_server_off_over_the_digest_sends_the_missed_week_once_at_start(tmp_path):
    config = make_config(tmp_path, notify={"email": EMAIL}, digest={"recipients": ["head@school.example"]})
    clock = ManualClock(datetime(2026, 11, 13, 12, tzinfo=timezone.utc))  # Friday
    store = Store(tmp_path / "monitor.db", clock=clock)
    assert send_due_digest(store, config, now=clock()).week == "2026-W45"
    store.close()
    clock.set(datetime(2026, 11, 17, 15, tzinfo=timezone.utc))  # off from Friday to Tuesday afternoon
    for _ in range(3):  # three restarts in a row
        store = Store(tmp_path / "monitor.db", clock=clock)
        send_due_digest(store, config, now=clock())
        store.close()
        clock.advance(timedelta(minutes=1))
    store = Store(tmp_path / "monitor.db", clock=clock)
    weeks = [r["key"].split("|")[0] for r in store.query("SELECT key FROM alerts ORDER BY id")]
    store.close()
    assert weeks == ["digest:2026-W45", "digest:2026-W46"]


def test_alerts_queued_before_the_clock_steps_back_are_not_held_up(tmp_path):
    from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
    from monitor.notify.outbox import Alert, Dispatcher, build_notifiers, enqueue

    clock = ManualClock(datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc))
    with FakeSlack(clock=clock) as slack:
        config = make_config(tmp_path, notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url}})
        store = Store(tmp_path / "monitor.db", clock=clock)
        dispatcher = Dispatcher(store, build_notifiers(config, clock), clock=clock, rng=random.Random(3))
        enqueue(store, config, Alert(key="flagged:item:1", kind="flagged", payload={"item": {"text": "a threat"}}))
        clock.advance(timedelta(hours=-1))  # the host clock steps back before the dispatcher's next pass
        enqueue(store, config, Alert(key="flagged:item:2", kind="flagged", payload={"item": {"text": "another"}}))
        assert dispatcher.run().sent == 2
        assert [m.metadata["event_payload"]["key"] for m in slack.messages] == [
            f"flagged:item:1|slack|{CHANNEL}", f"flagged:item:2|slack|{CHANNEL}"]
        store.close()
