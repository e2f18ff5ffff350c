"""The outbox dispatcher with real notifiers: the fake Slack Web API and aiosmtpd, on loopback."""

from __future__ import annotations

import json
import logging
import random
from datetime import timedelta

import pytest

from monitor.app.status import collect_status
from monitor.demo.fakes.server import Response
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.notify.email import EmailNotifier, message_id
from monitor.notify.outbox import Alert, Dispatcher, enqueue, to_message
from monitor.notify.slack import SlackNotifier
from tests.conftest import make_config
from tests.smtp_server import Recorder, free_port, start_smtp

MODERATOR = "mod@school.example"


@pytest.fixture
def fake(clock):
    with FakeSlack(clock=clock) as server:
        yield server


def slack_config(tmp_path, base_url: str, **extra):
    return make_config(tmp_path, notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": base_url,
                                                   "timeout": "2s"}, **extra})


def email_config(tmp_path, port: int):
    return make_config(tmp_path, notify={"email": {"host": "127.0.0.1", "port": port, "starttls": False,
                                                   "sender": "monitor@school.example", "moderators": [MODERATOR],
                                                   "timeout": "5s"}})


def dispatcher_for(store, config, clock, **kwargs) -> Dispatcher:
    notifiers = {}
    if config.notify.slack:
        notifiers["slack"] = SlackNotifier(config.notify.slack, tz=config.school.tz)
    if config.notify.email:
        notifiers["email"] = EmailNotifier(config.notify.email, tz=config.school.tz, school="Ravens Wood", clock=clock)
    return Dispatcher(store, notifiers, clock=clock, rng=random.Random(5), **kwargs)


def queue(store, config, count: int, start: int = 0) -> list[str]:
    keys = []
    for n in range(start, start + count):
        alert = Alert(key=f"flagged:item:{n}", kind="flagged", item_id=n,
                      payload={"item": {"item_id": n, "text": f"comment number {n}", "source": "facebook-page"}})
        enqueue(store, config, alert)
        keys.append(alert.key)
    return keys


def posted_keys(fake) -> list[str]:
    return [m.metadata["event_payload"]["key"].split("|")[0] for m in fake.messages]


def states(store) -> dict[str, int]:
    return {row["state"]: row["n"] for row in store.query("SELECT state, count(*) AS n FROM alerts GROUP BY state")}


def run_for(dispatcher, clock, minutes: int, step: int = 60) -> None:
    for _ in range(minutes * 60 // step):
        clock.advance(step)
        dispatcher.run()


def test_slack_down_for_an_hour_then_all_fifty_arrive_once_in_order(tmp_path, store, clock, fake):
    dead = f"http://127.0.0.1:{free_port()}/api/"
    config = slack_config(tmp_path, dead)
    keys = queue(store, config, 50)
    dispatcher = dispatcher_for(store, config, clock)
    run_for(dispatcher, clock, 30)  # connections refused
    dispatcher.notifiers["slack"].client.base_url = fake.base_url
    fake.script(Response(500, "Internal Server Error"), path="chat.postMessage", times=10_000)
    run_for(dispatcher, clock, 30)  # 500s
    attempts = store.query("SELECT attempts FROM alerts ORDER BY id LIMIT 1")[0]["attempts"]
    assert fake.messages == [] and 5 <= attempts <= 40  # backing off, not hammering
    assert store.query("SELECT count(*) AS n FROM alerts WHERE attempts > 0")[0]["n"] == 1  # the rest wait in order
    fake.clear_script()
    run_for(dispatcher, clock, 11)  # the back-off is capped at ten minutes
    assert posted_keys(fake) == keys
    assert states(store) == {"sent": 50}
    receipts = [json.loads(r["receipt"]) for r in store.query("SELECT receipt FROM alerts ORDER BY id")]
    assert [r["ts"] for r in receipts] == [m.ts for m in fake.messages]


def test_smtp_down_for_an_hour_then_all_fifty_arrive_once_in_order(tmp_path, store, clock):
    port = free_port()
    config = email_config(tmp_path, port)
    keys = queue(store, config, 50)
    dispatcher = dispatcher_for(store, config, clock)
    run_for(dispatcher, clock, 30)  # connections refused
    recorder = Recorder()
    recorder.reply = "421 4.3.2 service not available"
    controller = start_smtp(recorder, port=port)
    try:
        run_for(dispatcher, clock, 30)  # temporary refusals
        assert recorder.messages == []
        recorder.reply = None
        run_for(dispatcher, clock, 11)
    finally:
        controller.stop()
    assert [m["X-Monitor-Key"].split("|")[0] for m in recorder.messages] == keys
    assert [m["Message-ID"] for m in recorder.messages] == [message_id(f"{k}|email|{MODERATOR}", "monitor@school.example") for k in keys]
    assert states(store) == {"sent": 50}


def test_retry_after_is_honoured(tmp_path, store, clock, fake):
    config = slack_config(tmp_path, fake.base_url)
    queue(store, config, 2)
    fake.script(Response(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "120"}))
    dispatcher = dispatcher_for(store, config, clock)
    assert dispatcher.run().sent == 0
    clock.advance(119)
    dispatcher.run()
    assert fake.messages == []
    clock.advance(15)  # 120 s plus at most 10 % jitter
    assert dispatcher.run().sent == 2


def test_backoff_is_exponential_capped_and_jittered(store, clock):
    dispatcher = Dispatcher(store, {}, clock=clock, rng=random.Random(1))
    first = [dispatcher.backoff(1) for _ in range(20)]
    assert all(timedelta(seconds=5) <= d <= timedelta(seconds=10) for d in first) and len(set(first)) > 1
    assert all(timedelta(seconds=40) <= dispatcher.backoff(4) <= timedelta(seconds=80) for _ in range(20))
    assert all(dispatcher.backoff(60) <= timedelta(minutes=10) for _ in range(20))


def test_a_failing_row_holds_back_later_rows_of_its_channel_only(tmp_path, store, clock, fake):
    recorder = Recorder()
    controller = start_smtp(recorder)
    try:
        config = make_config(tmp_path, notify={
            "slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": fake.base_url},
            "email": {"host": "127.0.0.1", "port": controller.port, "starttls": False,
                      "sender": "monitor@school.example", "moderators": [MODERATOR]}})
        keys = queue(store, config, 3)
        fake.script(Response(503, "busy"), path="chat.postMessage")
        dispatcher = dispatcher_for(store, config, clock)
        dispatcher.run()
        assert fake.messages == [] and len(recorder.messages) == 3
        clock.advance(60)
        dispatcher.run()
        assert posted_keys(fake) == keys
    finally:
        controller.stop()


def test_an_unknown_channel_fails_that_row_only_and_shows_in_status(tmp_path, store, clock, fake, caplog):
    config = make_config(tmp_path, sources=[{"name": "pe-news", "type": "rss", "url": "http://x/feed", "leads": ["C0GONE99"]}],
                         notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": fake.base_url}})
    enqueue(store, config, Alert(key="flagged:item:1", kind="flagged", source="pe-news", payload={"title": "first"}))
    enqueue(store, config, Alert(key="flagged:item:2", kind="flagged", payload={"title": "second"}))
    dispatcher = dispatcher_for(store, config, clock)
    with caplog.at_level(logging.ERROR, logger="monitor.notify.outbox"):
        report = dispatcher.run()
        clock.advance(3600)
        dispatcher.run()
    assert (report.sent, report.failed) == (2, 1)
    assert [m.text for m in fake.messages] == ["first", "second"]
    failures = collect_status(config, store, clock)["outbox"]["recent_failures"]
    assert failures == [{"channel": "slack", "recipient": "C0GONE99", "kind": "flagged",
                         "last_error": failures[0]["last_error"]}]
    assert "channel_not_found" in failures[0]["last_error"]
    assert len([r for r in caplog.records if "C0GONE99" in r.getMessage()]) == 1  # logged once


def test_a_revoked_token_holds_the_channel_until_restart(tmp_path, store, clock, fake, caplog):
    config = slack_config(tmp_path, fake.base_url)
    keys = queue(store, config, 3)
    fake.revoke_token()
    dispatcher = dispatcher_for(store, config, clock)
    with caplog.at_level(logging.ERROR, logger="monitor.notify.outbox"):
        for _ in range(5):
            dispatcher.run()
            clock.advance(600)
    assert len(fake.requests) == 1  # held: no more calls with a token Slack refused
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][0].count("invalid_auth") == 1
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert states(store) == {"failed": 1, "pending": 2}
    assert "invalid_auth" in collect_status(config, store, clock)["outbox"]["recent_failures"][0]["last_error"]
    fake.tokens.add(BOT_TOKEN)  # the token is fixed, the monitor restarted
    dispatcher_for(store, config, clock).run()
    assert posted_keys(fake) == keys and states(store) == {"sent": 3}


def test_a_crash_between_send_and_record_does_not_send_twice_on_slack(tmp_path, store, clock, fake):
    config = slack_config(tmp_path, fake.base_url)
    keys = queue(store, config, 3)
    notifier = SlackNotifier(config.notify.slack, tz=config.school.tz)
    rows = store.query("SELECT * FROM alerts ORDER BY id")
    # row 1: sent and then the process died before recording it; row 2: marked, never sent
    delivered = notifier.send(to_message(rows[0]))
    store.execute("UPDATE alerts SET state = 'sending', attempts = 1 WHERE id IN (?, ?)", (rows[0]["id"], rows[1]["id"]))
    clock.advance(30)
    report = dispatcher_for(store, config, clock).run()  # the restarted monitor
    assert (report.reconciled, report.sent) == (1, 2)
    assert posted_keys(fake) == keys  # each once, in order
    first = store.query("SELECT * FROM alerts WHERE id = ?", (rows[0]["id"],))[0]
    assert first["state"] == "sent" and json.loads(first["receipt"])["ts"] == delivered.id


def test_an_in_doubt_email_is_sent_again_with_the_same_message_id(tmp_path, store, clock):
    recorder = Recorder()
    controller = start_smtp(recorder)
    try:
        config = email_config(tmp_path, controller.port)
        queue(store, config, 1)
        row = store.query("SELECT * FROM alerts")[0]
        notifier = EmailNotifier(config.notify.email, tz=config.school.tz, school="x", clock=clock)
        notifier.send(to_message(row))
        store.execute("UPDATE alerts SET state = 'sending', attempts = 1")
        assert dispatcher_for(store, config, clock).run().sent == 1
    finally:
        controller.stop()
    assert len(recorder.messages) == 2  # at least once: the duplicate is recognisable
    assert recorder.messages[0]["Message-ID"] == recorder.messages[1]["Message-ID"]


def test_an_unreadable_row_fails_alone(tmp_path, store, clock, fake):
    config = slack_config(tmp_path, fake.base_url)
    keys = queue(store, config, 2)
    store.execute("UPDATE alerts SET payload = 'not json' WHERE id = (SELECT min(id) FROM alerts)")
    report = dispatcher_for(store, config, clock).run()
    assert (report.sent, report.failed) == (1, 1) and posted_keys(fake) == keys[1:]


def test_enqueue_twice_sends_once(tmp_path, store, clock, fake):
    config = slack_config(tmp_path, fake.base_url)
    queue(store, config, 1)
    dispatcher = dispatcher_for(store, config, clock)
    dispatcher.run()
    queue(store, config, 1)
    dispatcher.run()
    assert len(fake.messages) == 1


def test_an_in_doubt_row_is_never_sent_blind_while_slack_cannot_be_checked(tmp_path, store, clock, fake):
    config = slack_config(tmp_path, fake.base_url)
    keys = queue(store, config, 2)
    row = store.query("SELECT * FROM alerts ORDER BY id")[0]
    SlackNotifier(config.notify.slack, tz=config.school.tz).send(to_message(row))
    store.execute("UPDATE alerts SET state = 'sending', attempts = 1 WHERE id = ?", (row["id"],))
    fake.script(Response(500, "down"), path="conversations.history", times=3)
    dispatcher = dispatcher_for(store, config, clock)
    for _ in range(3):
        dispatcher.run()
        assert store.query("SELECT state FROM alerts WHERE id = ?", (row["id"],))[0]["state"] == "sending"
        clock.advance(600)
    report = dispatcher.run()
    assert (report.reconciled, report.sent) == (1, 1)
    assert posted_keys(fake) == keys
