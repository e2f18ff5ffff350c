"""Routing by kind and urgency, batches of routine alerts, and quiet hours (real Slack and SMTP fakes)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.app.status import collect_status, format_status
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.notify.email import EmailNotifier
from monitor.notify.outbox import Alert, Dispatcher, enqueue, waiting_batches
from monitor.notify.routing import moderator_channels, release_time
from monitor.notify.slack import SlackNotifier
from monitor.store import Store, to_db
from tests.conftest import make_config
from tests.smtp_server import Recorder, start_smtp

LONDON = ZoneInfo("Europe/London")
MODERATOR = "mod@school.example"
SLACK = {"token": BOT_TOKEN, "channel": CHANNEL, "timeout": "2s"}
EMAIL = {"host": "127.0.0.1", "port": 25, "starttls": False, "sender": "monitor@school.example",
         "moderators": [MODERATOR], "escalate_to": ["head@school.example"], "timeout": "5s"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def config_with(tmp_path, *, slack_url=None, smtp_port=None, routing=None, sla=None):
    notify = {}
    if slack_url:
        notify["slack"] = {**SLACK, "base_url": slack_url}
    if smtp_port:
        notify["email"] = {**EMAIL, "port": smtp_port}
    if routing is not None:
        notify["routing"] = routing
    return make_config(tmp_path, notify=notify, sla=sla or {"remind_before": "4h"})


def comment(store, n: int, *, due: datetime, received: datetime | None = None) -> Alert:
    """A new comment with an open case (rows in items and cases, as a poll would leave them)."""
    received = received or due - timedelta(hours=24)
    item_id = store.execute(
        "INSERT INTO items (source, native_id, kind, text, created_at, first_seen, last_seen) "
        "VALUES ('page', ?, 'comment', ?, ?, ?, ?)",
        (f"c{n}", f"question {n}", to_db(received), to_db(received), to_db(received)),
    ).lastrowid
    case_id = store.execute(
        "INSERT INTO cases (item_id, source, received_at, due_at, policy, state, opened_at) "
        "VALUES (?, 'page', ?, ?, '24h', 'open', ?)", (item_id, to_db(received), to_db(due), to_db(received)),
    ).lastrowid
    item = {"item_id": item_id, "case_id": case_id, "source": "page", "kind": "comment", "author": f"Parent {n}",
            "text": f"question {n}", "received_at": to_db(received), "due_at": to_db(due)}
    return Alert(key=f"new_comments:page:{case_id}-{case_id}", kind="new_comments", payload={"source": "page", "items": [item]})


def dispatcher(store, config, clock) -> Dispatcher:
    notifiers = {}
    if config.notify.slack:
        notifiers["slack"] = SlackNotifier(config.notify.slack, tz=config.school.tz)
    if config.notify.email:
        notifiers["email"] = EmailNotifier(config.notify.email, tz=config.school.tz, school="Ravens Wood", clock=clock)
    return Dispatcher(store, notifiers, clock=clock, rng=random.Random(3))


def listed(message) -> list[str]:
    """The comments a posted Slack message lists, in order (from its Acknowledge buttons)."""
    return [json.loads(e["value"])["case"] for b in message.blocks if b["type"] == "actions"
            for e in b["elements"] if e["action_id"] == "acknowledge"]


# -- the routing table ------------------------------------------------------------------------------


def test_without_a_routing_section_chat_gets_the_moderators_work_and_email_the_urgent_news(tmp_path):
    config = config_with(tmp_path, slack_url="http://127.0.0.1:9/api/", smtp_port=2525)
    assert moderator_channels(config, "flagged") == ("slack", "email")
    assert moderator_channels(config, "source_auth") == ("slack", "email")
    assert moderator_channels(config, "breach") == ("slack",)
    assert moderator_channels(config, "new_comments") == ("slack",)
    assert moderator_channels(config, "escalation") == ("email",)
    email_only = config_with(tmp_path, smtp_port=2525)
    assert all(moderator_channels(email_only, kind) == ("email",) for kind in ("breach", "new_comments", "flagged"))


def test_an_urgent_kind_routed_nowhere_configured_still_reaches_every_channel(tmp_path):
    config = config_with(tmp_path, slack_url="http://127.0.0.1:9/api/",
                         routing={"kinds": {"flagged": ["teams"], "new_comments": ["teams"]}})
    assert moderator_channels(config, "flagged") == ("slack",)  # never lost
    assert moderator_channels(config, "new_comments") == ()  # routine: as the school asked


def test_check_config_shows_the_effective_routing_table(tmp_path):
    from monitor.app.checks import check_configuration

    config = config_with(tmp_path, slack_url="http://127.0.0.1:9/api/", smtp_port=2525,
                         routing={"batch_window": "30m", "kinds": {"reminder": ["slack", "email"]}})
    _, notes = check_configuration(config)
    table = {line.split()[0]: line for line in notes if line.startswith("  ") and not line.strip().startswith("(")}
    assert "at once" in table["flagged"] and "slack C0MODERATE, email mod@school.example" in table["flagged"]
    assert "batched (30m)" in table["reminder"] and "quiet hours on email" in table["reminder"]
    assert table["escalation"].endswith("email mod@school.example, email head@school.example")
    assert table["new_comments"].endswith("-> slack C0MODERATE")


def test_a_bad_routing_section_is_refused_naming_the_key(tmp_path):
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="notify.routing.quiet_hours"):
        config_with(tmp_path, routing={"quiet_hours": "7pm till 7"})
    with pytest.raises(ConfigError, match="unknown alert kind 'new_comment'"):
        config_with(tmp_path, routing={"kinds": {"new_comment": ["slack"]}})
    with pytest.raises(ConfigError, match="notify.routing.kinds"):
        config_with(tmp_path, routing={"kinds": {"breach": ["pager"]}})


# -- batches ------------------------------------------------------------------------------------------


def test_routine_alerts_of_a_window_go_as_one_message_oldest_deadline_first_with_a_button_each(tmp_path, store, clock):
    with FakeSlack(clock=clock) as slack:
        config = config_with(tmp_path, slack_url=slack.base_url, routing={"batch_window": "30m"})
        run = dispatcher(store, config, clock)
        late_due, early_due = clock() + timedelta(hours=23), clock() + timedelta(hours=20)
        first = comment(store, 1, due=late_due)
        enqueue(store, config, first)
        run.run()
        assert slack.messages == []  # gathered, not sent
        clock.advance(timedelta(minutes=10))
        enqueue(store, config, comment(store, 2, due=early_due))
        clock.advance(timedelta(minutes=19))
        run.run()
        assert slack.messages == []
        clock.advance(timedelta(minutes=1))  # 30 minutes after the first
        run.run()
        [message] = slack.messages
        assert listed(message) == [2, 1]  # the oldest deadline first
        assert "2 comments to acknowledge on page" in message.text
        run.run()
        clock.advance(timedelta(hours=1))
        run.run()
        assert len(slack.messages) == 1
    rows = store.query("SELECT state, batch_id, kind FROM alerts ORDER BY id")
    assert [r["state"] for r in rows] == ["batched", "batched", "sent"] and rows[0]["batch_id"] == 3


def test_an_acknowledge_button_in_a_batch_closes_its_own_case(tmp_path, store, clock):
    from monitor.demo.fakes.slack import APP_TOKEN, block_actions
    from monitor.actions.slack import SlackActions

    with FakeSlack(clock=clock) as slack:
        config = make_config(tmp_path, notify={"slack": {**SLACK, "base_url": slack.base_url, "app_token": APP_TOKEN,
                                                         "moderators": ["U0MODERATOR"]}})
        for n in (1, 2, 3):
            enqueue(store, config, comment(store, n, due=clock() + timedelta(hours=20 + n)))
        clock.advance(timedelta(hours=2))
        dispatcher(store, config, clock).run()
        [message] = slack.messages
        actions = SlackActions(config, store, clock=clock)
        actions.handle(block_actions(message, "acknowledge", block_id=f"actions:{2}"))
    states = {r["id"]: r["state"] for r in store.query("SELECT id, state FROM cases")}
    assert states == {1: "open", 2: "acknowledged", 3: "open"}


def test_a_batch_survives_a_restart_nothing_lost_nothing_doubled(tmp_path, clock):
    with FakeSlack(clock=clock) as slack:
        config = config_with(tmp_path, slack_url=slack.base_url, routing={"batch_window": "30m"})
        store = Store(tmp_path / "monitor.db", clock=clock)
        written = [comment(store, n, due=clock() + timedelta(hours=20)) for n in range(1, 4)]
        for alert in written:
            enqueue(store, config, alert)
        dispatcher(store, config, clock).run()
        store.close()  # the daemon stops while they wait
        clock.advance(timedelta(hours=1))
        store = Store(tmp_path / "monitor.db", clock=clock)
        assert enqueue(store, config, written[0]) == 0  # a second poll of the same comment adds nothing
        enqueue(store, config, comment(store, 4, due=clock() + timedelta(hours=20)))
        dispatcher(store, config, clock).run()
        store.close()
        store = Store(tmp_path / "monitor.db", clock=clock)  # and again, at once
        dispatcher(store, config, clock).run()
        clock.advance(timedelta(hours=1))
        dispatcher(store, config, clock).run()
        assert [listed(m) for m in slack.messages] == [[1, 2, 3, 4]]
        store.close()


def test_a_batch_in_doubt_after_a_crash_is_looked_up_not_posted_again(tmp_path, store, clock):
    with FakeSlack(clock=clock) as slack:
        config = config_with(tmp_path, slack_url=slack.base_url, routing={"batch_window": "30m"})
        for n in (1, 2):
            enqueue(store, config, comment(store, n, due=clock() + timedelta(hours=20)))
        clock.advance(timedelta(hours=1))
        run = dispatcher(store, config, clock)
        run.run()
        assert len(slack.messages) == 1
        # as if the process died after Slack answered and before the receipt was recorded
        store.execute("UPDATE alerts SET state = 'sending', receipt = NULL WHERE kind = 'batch'")
        dispatcher(store, config, clock).run()
        assert len(slack.messages) == 1
        assert store.query("SELECT state FROM alerts WHERE kind = 'batch'")[0]["state"] == "sent"


def test_comments_acknowledged_while_they_waited_are_left_out(tmp_path, store, clock):
    from monitor.sla.cases import acknowledge

    with FakeSlack(clock=clock) as slack:
        config = config_with(tmp_path, slack_url=slack.base_url)
        for n in (1, 2):
            enqueue(store, config, comment(store, n, due=clock() + timedelta(hours=20)))
        acknowledge(store, 1, by="the office", how="platform_reply")
        clock.advance(timedelta(hours=2))
        dispatcher(store, config, clock).run()
        assert [listed(m) for m in slack.messages] == [[2]]
        acknowledge(store, 2, by="the office", how="cli")
        enqueue(store, config, comment(store, 3, due=clock() + timedelta(hours=20)))
        acknowledge(store, 3, by="the office", how="cli")
        clock.advance(timedelta(hours=2))
        dispatcher(store, config, clock).run()
        assert len(slack.messages) == 1  # nothing left to tell: no message at all
    assert store.query("SELECT state FROM alerts ORDER BY id DESC LIMIT 1")[0]["state"] == "skipped"


def test_an_urgent_message_carries_waiting_routine_news_but_a_threat_stands_alone(tmp_path, store, clock):
    with FakeSlack(clock=clock) as slack:
        config = config_with(tmp_path, slack_url=slack.base_url)
        run = dispatcher(store, config, clock)
        enqueue(store, config, comment(store, 1, due=clock() + timedelta(hours=20)))
        threat = {"item_id": 90, "source": "page", "text": "I will stab you", "flagged": True, "labels": {"threat": 1.0}}
        enqueue(store, config, Alert(key="flagged:item:90", kind="flagged", payload={"source": "page", "item": threat}))
        run.run()
        [alone] = slack.messages
        assert alone.text.startswith("Threat of violence") and listed(alone) == []
        insult = {"item_id": 91, "source": "page", "text": "you idiot", "flagged": True, "labels": {"offensive": 0.9}}
        enqueue(store, config, Alert(key="flagged:item:91", kind="flagged", payload={"source": "page", "item": insult}))
        run.run()
        carrier = slack.messages[1]
        assert carrier.text.startswith("Possibly abusive") and listed(carrier) == [1]
        assert any("Also waiting" in str(b) for b in carrier.blocks)
        clock.advance(timedelta(hours=3))
        run.run()
        assert len(slack.messages) == 2  # the comment went along once, and only then


def test_status_shows_what_waits_in_a_batch_and_in_quiet_hours(tmp_path, store, clock):
    config = config_with(tmp_path, slack_url="http://127.0.0.1:9/api/", smtp_port=2525,
                         routing={"batch_window": "30m", "quiet_channels": ["email"],
                                  "kinds": {"new_comments": ["slack", "email"]}})
    clock.set(utc("2026-11-16T18:45"))  # 18:45 in London: the email waits for the morning
    enqueue(store, config, comment(store, 1, due=utc("2026-11-17T18:45")))
    [email_batch, slack_batch] = waiting_batches(store, config)
    assert (slack_batch["channel"], slack_batch["quiet_hours"]) == ("slack", False)
    assert (email_batch["channel"], email_batch["quiet_hours"]) == ("email", True)
    text = format_status(collect_status(config, store, clock), config.school.tz)
    assert "1 routine alert to slack C0MODERATE wait in a batch until Mon 16 Nov 2026 19:15 GMT" in text
    assert "1 routine alert to email mod@school.example wait in quiet hours until Tue 17 Nov 2026 07:00 GMT" in text


# -- quiet hours ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "released"), [
    ("2026-11-16T18:30", "2026-11-17T07:00"),  # the window ends at 19:00: the morning
    ("2026-11-16T23:30", "2026-11-17T07:00"),  # across midnight
    ("2026-11-17T01:00", "2026-11-17T07:00"),  # after midnight: the same morning
    ("2026-11-17T06:30", "2026-11-17T07:00"),
    ("2026-11-17T06:59", "2026-11-17T07:29"),  # the window ends after the quiet hours
    ("2026-11-17T12:00", "2026-11-17T12:30"),
    # clock changes in the night (Europe/London): 07:00 on the morning's own offset
    ("2027-03-27T22:00", "2027-03-28T06:00"),  # spring forward: 07:00 BST is 06:00 UTC
    ("2026-10-24T22:00", "2026-10-25T07:00"),  # fall back: 07:00 GMT
    ("2026-10-25T00:30", "2026-10-25T07:00"),  # written in the repeated hour (01:30 BST)
])
def test_quiet_hours_hold_routine_email_until_the_morning_in_school_time(tmp_path, written, released):
    config = config_with(tmp_path, smtp_port=2525, routing={"batch_window": "30m", "quiet_hours": "19:00-07:00"})
    assert release_time(config, "email", utc(written), []) == utc(released)
    assert release_time(config, "slack", utc(written), []) == utc(written) + timedelta(minutes=30)


def test_quiet_hours_never_hold_a_comment_past_its_reminder_time(tmp_path):
    config = config_with(tmp_path, smtp_port=2525, routing={"batch_window": "30m"}, sla={"remind_before": "4h"})
    written = utc("2026-11-16T20:00")
    # received 20:00 Monday, due 09:00 Tuesday (a 2-working-day policy would be later): reminder 05:00
    assert release_time(config, "email", written, [utc("2026-11-17T05:00")]) == utc("2026-11-17T05:00")
    # a reminder (its time is now) waits only the batch window, whatever the hour
    assert release_time(config, "email", written, [written]) == written + timedelta(minutes=30)


def test_urgent_alerts_go_at_once_in_quiet_hours(tmp_path, store, clock):
    recorder = Recorder()
    smtp = start_smtp(recorder)
    try:
        config = config_with(tmp_path, smtp_port=smtp.port)
        clock.set(utc("2026-11-16T23:00"))
        item = {"item_id": 9, "source": "page", "text": "ring me on 07700 900123", "flagged": True,
                "labels": {"personal_data": 1.0}}
        enqueue(store, config, Alert(key="flagged:item:9", kind="flagged", payload={"source": "page", "item": item}))
        enqueue(store, config, comment(store, 1, due=utc("2026-11-17T23:00")))
        # the flagged email leaves at once and would carry the waiting comment: quiet hours hold routine
        # news only until an urgent message goes anyway
        assert dispatcher(store, config, clock).run().sent == 1
    finally:
        smtp.stop()
    [email] = recorder.messages
    assert "Personal data posted" in email["Subject"]


def test_a_morning_email_gathers_the_night_across_midnight_and_a_clock_change(tmp_path, clock):
    """Routine email from Saturday evening to Sunday morning, across the spring clock change: one
    message at 07:00 BST (06:00 UTC), none in the night, nothing lost or doubled across a restart."""
    recorder = Recorder()
    smtp = start_smtp(recorder)
    try:
        config = config_with(tmp_path, smtp_port=smtp.port, routing={"batch_window": "30m"})
        clock.set(utc("2027-03-27T19:30"))
        store = Store(tmp_path / "monitor.db", clock=clock)
        n = 0
        while clock() < utc("2027-03-28T06:30"):
            if clock().minute == 30 and clock().hour % 3 == 1:  # a comment every 3 hours in the night
                n += 1
                enqueue(store, config, comment(store, n, due=clock() + timedelta(days=2)))
            dispatcher(store, config, clock).run()
            if clock() == utc("2027-03-28T01:00"):  # the clock change; the monitor restarts
                store.close()
                store = Store(tmp_path / "monitor.db", clock=clock)
            assert recorder.messages == [] or clock() >= utc("2027-03-28T06:00")
            clock.advance(timedelta(minutes=5))
        store.close()
    finally:
        smtp.stop()
    [morning] = recorder.messages
    assert n == 4 and f"{n} comments to acknowledge" in morning["Subject"]
    body = morning.get_body(("plain",)).get_content()
    assert all(f"question {k}" in body for k in range(1, n + 1))


# -- a dispatcher killed with SIGKILL while batches form ----------------------------------------------

DISPATCHER = """
import sys, time
from monitor.config import load_config
from monitor.notify.outbox import Dispatcher, build_notifiers
from monitor.store import Store
config = load_config(sys.argv[1])
store = Store(config.database_path)
dispatcher = Dispatcher(store, build_notifiers(config))
while True:
    dispatcher.run()
    time.sleep(0.02)
"""


def test_batches_under_sigkill_lose_nothing_and_double_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(20261129)
    with FakeSlack() as slack:
        path = tmp_path / "monitor.toml"
        path.write_text(
            f'[storage]\npath = "{tmp_path / "monitor.db"}"\n'
            f'[notify.slack]\ntoken = "{BOT_TOKEN}"\nchannel = "{CHANNEL}"\nbase_url = "{slack.base_url}"\ntimeout = "5s"\n'
            '[notify.routing]\nbatch_window = "0.3s"\n', encoding="utf-8")
        config = make_config(tmp_path, notify={"slack": {**SLACK, "base_url": slack.base_url},
                                               "routing": {"batch_window": "0.3s"}})
        store = Store(tmp_path / "monitor.db")
        now = datetime.now(timezone.utc)
        written, kills = 0, 0
        for _ in range(12):
            child = subprocess.Popen([sys.executable, "-c", DISPATCHER, str(path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stop = time.monotonic() + rng.uniform(0.5, 2.5)
            while time.monotonic() < stop:
                written += 1
                with store.transaction():
                    enqueue(store, config, comment(store, written, due=now + timedelta(hours=20)))
                time.sleep(rng.uniform(0.01, 0.08))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            kills += 1
        # a last dispatcher, left alone until everything has gone
        child = subprocess.Popen([sys.executable, "-c", DISPATCHER, str(path)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and store.execute(
                    "SELECT count(*) FROM alerts WHERE state IN ('waiting', 'pending', 'sending')").fetchone()[0]:
                time.sleep(0.2)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        messages = list(slack.messages)
    states = {r["state"] for r in store.query("SELECT DISTINCT state FROM alerts")}
    store.close()
    assert kills == 12 and states == {"batched", "sent"}
    told = [case for message in messages for case in listed(message)]
    assert sorted(told) == list(range(1, written + 1))  # every comment once: none lost, none doubled
    assert len(messages) < written  # and gathered
    keys = [m.metadata["event_payload"]["key"] for m in messages]
    assert len(keys) == len(set(keys))


def test_poll_sends_what_it_found_and_says_what_waits_for_the_daemon(tmp_path):
    import subprocess
    import sys

    from monitor.demo.fakes.facebook import FakeFacebook

    now = datetime.now(timezone.utc)
    with FakeFacebook() as facebook, FakeSlack() as slack:
        post = facebook.add_post("Sports day", at=now - timedelta(hours=2))
        path = tmp_path / "monitor.toml"
        path.write_text(
            f'[storage]\npath = "{tmp_path / "monitor.db"}"\n'
            f'[[sources]]\nname = "page"\ntype = "facebook"\nofficial = true\ntagged = false\n'
            f'base_url = "{facebook.source_config("x")["base_url"]}"\npage_id = "{facebook.page_id}"\n'
            f'token = "{facebook.token}"\n'
            f'[notify.slack]\ntoken = "{BOT_TOKEN}"\nchannel = "{CHANNEL}"\nbase_url = "{slack.base_url}"\n',
            encoding="utf-8")
        path.chmod(0o600)
        command = [sys.executable, "-m", "monitor.cli", "--config", str(path), "poll"]
        assert subprocess.run(command, capture_output=True, text=True, timeout=300).returncode == 0
        facebook.add_comment("I will stab you at the gate", reply_to=post, at=now - timedelta(minutes=5))
        facebook.add_comment("what time is pick-up?", reply_to=post, at=now - timedelta(minutes=4))
        polled = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert polled.returncode == 0, polled.stderr
        [threat] = slack.messages  # sent by the poll itself, not left for the daemon
        assert threat.text.startswith("Threat of violence")
    assert "alerts: 1 sent" in polled.stdout
    assert "1 routine alerts wait in a batch that `monitor run` sends from" in polled.stdout


def test_a_button_on_news_carried_by_an_urgent_message_acts_on_its_case(tmp_path, store, clock):
    from monitor.demo.fakes.slack import APP_TOKEN, block_actions
    from monitor.actions.slack import SlackActions

    with FakeSlack(clock=clock) as slack:
        config = make_config(tmp_path, notify={"slack": {**SLACK, "base_url": slack.base_url, "app_token": APP_TOKEN,
                                                         "moderators": ["U0MODERATOR"]}})
        enqueue(store, config, comment(store, 1, due=clock() + timedelta(hours=20)))
        insult = {"item_id": 91, "source": "page", "text": "you idiot", "flagged": True, "labels": {"offensive": 0.9}}
        enqueue(store, config, Alert(key="flagged:item:91", kind="flagged", payload={"source": "page", "item": insult}))
        dispatcher(store, config, clock).run()
        [carrier] = slack.messages
        assert listed(carrier) == [1]
        SlackActions(config, store, clock=clock).handle(block_actions(carrier, "acknowledge", block_id="actions:1"))
    assert store.query("SELECT state FROM cases WHERE id = 1")[0]["state"] == "acknowledged"
