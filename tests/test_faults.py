"""Outages and faults: the monitor keeps running, says what is wrong, and recovers with nothing lost.

- Slack and SMTP down for days (simulated with a ManualClock): alerts wait in the outbox with
  capped back-off, one warning per outage, then all arrive, in order, once each.
- A platform answering 429, 5xx, hanging past the timeout, cutting its body short (a Content-Length
  that lies, a body cut mid-JSON), or sending garbage: each poll fails alone, is recorded with its
  kind, and the next good poll stores everything that was missed.
- The database's disk full (SQLite's ``max_page_count`` makes the file size-limited): polls and
  the dispatcher fail without stopping anything, the cursor does not move, and once space returns
  everything is stored and delivered.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest

from classifiers.base import NullClassifier
from monitor.app.assembly import build_hooks
from monitor.app.daemon import JobSpec, _guarded
from monitor.app.status import collect_status
from monitor.clock import ManualClock
from monitor.demo.fakes.facebook import FakeFacebook
from monitor.demo.fakes.rss import FakeFeed
from monitor.demo.fakes.server import Response
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.notify.outbox import Alert, Dispatcher, build_notifiers, enqueue
from monitor.pipeline import Pipeline
from monitor.store import Store
from tests.conftest import make_config
from tests.smtp_server import Recorder, free_port, start_smtp

START = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


# -- Slack and SMTP down for days -----------------------------------------------------------------


def notify_config(tmp_path, slack_url: str, smtp_port: int, **extra):
    return make_config(
        tmp_path,
        notify={
            "slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack_url, "timeout": "2s"},
            "email": {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "sender": "monitor@school.example",
                      "moderators": ["moderator@school.example"], "timeout": "2s"},
        },
        **extra,
    )


def queue(store, config, keys: list[str]) -> None:
    for key in keys:
        enqueue(store, config, Alert(key=key, kind="flagged", payload={"item": {"text": key, "source": "news"}}))


def test_slack_and_smtp_down_for_three_days_then_everything_arrives_once_in_order(tmp_path, caplog):
    clock = ManualClock(START)
    store = Store(tmp_path / "monitor.db", clock=clock)
    recorder = Recorder()
    smtp_port = free_port()  # nothing listens: connection refused, as when the mail server is down
    with FakeSlack(clock=clock) as slack:
        config = notify_config(tmp_path, slack.base_url, smtp_port)
        dispatcher = Dispatcher(store, build_notifiers(config, clock), clock=clock, rng=random.Random(1))
        slack.script(Response(503, b"upstream unavailable"), path="chat.postMessage", times=10**6)
        caplog.set_level(logging.INFO, logger="monitor.notify.outbox")
        keys = []
        attempts_before = 0
        for hour in range(72):  # alerts keep coming while both channels are down
            keys.append(f"flagged:item:{hour}")
            queue(store, config, keys[-1:])
            for _ in range(6):  # the dispatcher's job runs often; simulated here every 10 minutes
                clock.advance(timedelta(minutes=10))
                dispatcher.run()
            attempts_before = max(attempts_before, store.query("SELECT max(attempts) AS n FROM alerts")[0]["n"])
        status = collect_status(config, store, clock)
        assert status["outbox"]["pending"] == 2 * 72 and status["outbox"]["sent"] == 0
        assert slack.messages == [] and recorder.messages == []
        # back-off is capped (10 minutes) and only the head of each channel is tried: bounded attempts
        assert attempts_before <= 72 * 6 + 1
        warnings = [r for r in caplog.records if "is not delivering" in r.getMessage()]
        assert len(warnings) == 2  # one per channel for the whole outage, not one per attempt

        slack.clear_script()
        controller = start_smtp(recorder, port=smtp_port)
        try:
            for _ in range(5):
                clock.advance(timedelta(minutes=11))
                dispatcher.run()
        finally:
            controller.stop()
        posted = [m.metadata["event_payload"]["key"] for m in slack.messages]
    assert posted == [f"{k}|slack|{CHANNEL}" for k in keys]
    mailed = [m["X-Monitor-Key"].strip() for m in recorder.messages]
    assert mailed == [f"{k}|email|moderator@school.example" for k in keys]
    assert {r["state"] for r in store.query("SELECT state FROM alerts")} == {"sent"}
    assert any("delivers again" in r.getMessage() for r in caplog.records)
    store.close()


def test_smtp_refusing_with_4xx_for_a_day_then_accepting(tmp_path):
    clock = ManualClock(START)
    store = Store(tmp_path / "monitor.db", clock=clock)
    recorder = Recorder()
    recorder.reply = "451 4.3.0 mailbox temporarily unavailable"
    controller = start_smtp(recorder)
    try:
        config = make_config(tmp_path, notify={"email": {
            "host": "127.0.0.1", "port": controller.port, "starttls": False, "sender": "m@school.example",
            "moderators": ["a@school.example"], "timeout": "2s"}})
        dispatcher = Dispatcher(store, build_notifiers(config, clock), clock=clock, rng=random.Random(2))
        queue(store, config, ["one", "two", "three"])
        for _ in range(24 * 6):
            clock.advance(timedelta(minutes=10))
            dispatcher.run()
        assert recorder.messages == []
        [head] = store.query("SELECT attempts, last_error FROM alerts WHERE key = 'one|email|a@school.example'")
        assert "451" in head["last_error"] and head["attempts"] >= 24 * 6 // 2
        recorder.reply = None
        for _ in range(3):
            clock.advance(timedelta(minutes=11))
            dispatcher.run()
    finally:
        controller.stop()
    assert [m["X-Monitor-Key"].strip().split("|")[0] for m in recorder.messages] == ["one", "two", "three"]
    store.close()


# -- a platform misbehaving -----------------------------------------------------------------------


class LyingServer:
    """A raw HTTP server whose answers promise more bytes than they send, then hang up."""

    def __init__(self, body: bytes, promised: int):
        self.body, self.promised = body, promised
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {self.promised}\r\nConnection: close\r\n\r\n").encode()
                conn.sendall(head + self.body)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def clock():
    return ManualClock(datetime.now(timezone.utc).replace(microsecond=0))


def platform_pipeline(tmp_path, clock, facebook: FakeFacebook, **source):
    raw = {**facebook.source_config("facebook-page"), "official": True, "timeout": "1s", "tagged": False, **source}
    config = make_config(tmp_path, sources=[raw])
    store = Store(tmp_path / "monitor.db", clock=clock)
    pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                        hooks=build_hooks(config, clock))
    return pipeline, store


FAULTS = [
    ("429 with Retry-After", Response(429, {"error": {"message": "slow down"}}, {"Retry-After": "120"}), "rate_limited"),
    ("Graph rate limit code", None, "rate_limited"),
    ("500", Response(500, {"error": {"message": "boom", "code": 1}}), "transient"),
    ("502 html", Response(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}), "transient"),
    ("503 empty", Response(503, b""), "transient"),
    ("timeout", Response(200, {"data": []}, delay=3.0), "transient"),
    ("cut mid-JSON", Response(200, b'{"data": [{"id": "1_2", "message": "hel', {"Content-Type": "application/json"}), "transient"),
    ("not JSON", Response(200, b"\x00\xff garbage \x1b[2J", {"Content-Type": "application/json"}), "transient"),
    ("wrong shape", Response(200, [1, 2, 3]), "transient"),
    ("null", Response(200, b"null", {"Content-Type": "application/json"}), "transient"),
]


@pytest.mark.parametrize("name,response,kind", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_platform_fault_fails_the_poll_alone_and_loses_nothing(tmp_path, clock, name, response, kind):
    with FakeFacebook() as facebook, FakeFeed() as feed:
        post = facebook.add_post("School news", at=clock() - timedelta(hours=2))
        before = [facebook.add_comment(f"before {n}", reply_to=post, at=clock() - timedelta(minutes=90 - n)) for n in range(3)]
        feed.add_comment("A story", at=clock() - timedelta(hours=1))
        raw = {**facebook.source_config("facebook-page"), "official": True, "timeout": "1s", "tagged": False}
        config = make_config(tmp_path, sources=[raw, {**feed.source_config("news"), "timeout": "1s"}])
        store = Store(tmp_path / "monitor.db", clock=clock)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                            hooks=build_hooks(config, clock))
        assert pipeline.poll("facebook-page").ok
        during = [facebook.add_comment(f"during {n}", reply_to=post, at=clock() - timedelta(minutes=30 - n)) for n in range(3)]
        if response is None:
            facebook.rate_limit(minutes=12, times=10)
        else:
            facebook.script(response, path="/(feed|comments)$", times=10)
        failed = pipeline.poll("facebook-page")
        other = pipeline.poll("news")
        assert not failed.ok and failed.error_kind == kind, failed
        assert other.ok and other.new == 1  # another source goes on
        state = store.source_state("facebook-page")
        assert state.consecutive_failures == 1 and state.last_error_kind == kind and state.backoff_until > clock()
        skipped = pipeline.poll("facebook-page", respect_backoff=True)
        assert skipped.skipped  # in back-off: not hammered
        facebook.clear_script()
        clock.advance(timedelta(minutes=30))
        recovered = pipeline.poll("facebook-page", respect_backoff=True)
        assert recovered.ok and recovered.new == 3, recovered
        stored = {r["native_id"] for r in store.query("SELECT native_id FROM items WHERE source = 'facebook-page'")}
        assert set(before + during) <= stored
        assert store.query("SELECT count(*) AS n FROM source_outages WHERE ended_at IS NULL")[0]["n"] == 0
        assert store.source_state("facebook-page").consecutive_failures == 0
        store.close()


def test_a_content_length_that_lies_is_a_transient_failure(tmp_path, clock):
    body = json.dumps({"data": [{"id": "1_2", "message": "hello", "created_time": "2026-11-16T09:00:00+0000"}]}).encode()
    liar = LyingServer(body[: len(body) // 2], promised=len(body) * 3)
    try:
        config = make_config(tmp_path, sources=[
            {"name": "fb", "type": "facebook", "base_url": f"{liar.url}/v21.0", "page_id": "1", "token": "t", "timeout": "2s"},
            {"name": "feed", "type": "rss", "url": f"{liar.url}/feed.xml", "timeout": "2s"},
        ])
        store = Store(tmp_path / "monitor.db", clock=clock)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock)
        for name in ("fb", "feed"):
            result = pipeline.poll(name)
            assert result.error_kind == "transient", result
            assert store.source_state(name).cursor is None
        store.close()
    finally:
        liar.close()


def test_a_source_down_for_hours_alerts_once_then_once_more_on_recovery(tmp_path, clock):
    with FakeFacebook() as facebook, FakeSlack(clock=clock) as slack:
        raw = {**facebook.source_config("facebook-page"), "official": True, "timeout": "1s", "tagged": False}
        config = make_config(tmp_path, sources=[raw], notify={
            "slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url}, "source_down_after": "1h"})
        store = Store(tmp_path / "monitor.db", clock=clock)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                            hooks=build_hooks(config, clock))
        assert pipeline.poll("facebook-page").ok
        facebook.script(Response(503, b""), times=10**6)
        for _ in range(36):  # three hours of polls every five minutes
            clock.advance(timedelta(minutes=5))
            pipeline.poll("facebook-page")
        kinds = [r["kind"] for r in store.query("SELECT kind FROM alerts ORDER BY id")]
        assert kinds.count("source_down") == 1
        facebook.clear_script()
        clock.advance(timedelta(hours=1))
        assert pipeline.poll("facebook-page").ok
        kinds = [r["kind"] for r in store.query("SELECT kind FROM alerts ORDER BY id")]
        assert kinds.count("source_down") == 1 and kinds[-1] != "source_down"
        assert len(kinds) == 2  # the outage, then its end
        store.close()


# -- the disk full --------------------------------------------------------------------------------


def limit_pages(store: Store, spare: int) -> None:
    """Make the database file size-limited: ``spare`` more pages than it uses now."""
    pages = store.execute("PRAGMA page_count").fetchone()[0]
    store.execute(f"PRAGMA max_page_count = {pages + spare}")


def test_disk_full_fails_polls_and_dispatch_without_stopping_then_recovers_with_nothing_lost(tmp_path, clock, caplog):
    with FakeFacebook() as facebook, FakeSlack(clock=clock) as slack:
        raw = {**facebook.source_config("facebook-page"), "official": True, "timeout": "2s", "tagged": False}
        config = make_config(tmp_path, sources=[raw], notify={
            "slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url}})
        store = Store(tmp_path / "monitor.db", clock=clock)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                            hooks=build_hooks(config, clock))
        dispatcher = Dispatcher(store, build_notifiers(config, clock), clock=clock)
        post = facebook.add_post("School news", at=clock() - timedelta(hours=3))
        assert pipeline.poll("facebook-page").ok
        dispatcher.run()
        delivered_before = len(slack.messages)
        comments = [facebook.add_comment(f"comment {n} " + "x" * 3000, reply_to=post,
                                         at=clock() - timedelta(minutes=120 - n)) for n in range(60)]
        limit_pages(store, spare=2)
        caplog.set_level(logging.WARNING)
        polls = [_guarded(JobSpec(id="poll:facebook-page", func=lambda: pipeline.poll("facebook-page"), trigger=None))
                 for _ in range(3)]
        for job in polls:
            job()  # as the daemon runs it: never raises
        result = pipeline.poll("facebook-page")
        assert not result.ok and result.error_kind == "store" and "disk is full" in result.error, result
        assert store.count_items("facebook-page") == 1
        assert "could not record its failure" in caplog.text or "database or disk is full" in caplog.text
        _guarded(JobSpec(id="outbox", func=dispatcher.run, trigger=None))()

        store.execute("PRAGMA max_page_count = 1073741823")  # space returns
        clock.advance(timedelta(minutes=10))
        recovered = pipeline.poll("facebook-page")
        assert recovered.ok and recovered.new == 60, recovered
        stored = {r["native_id"] for r in store.query("SELECT native_id FROM items")}
        assert set(comments) <= stored
        assert store.query("SELECT count(*) AS n FROM cases")[0]["n"] == 60
        clock.advance(config.notify.routing.batch_window)  # the new comments' batch is due
        dispatcher.run()
        keys = [m.metadata["event_payload"]["key"] for m in slack.messages[delivered_before:]]
        assert len(keys) == len(set(keys)) and keys
        assert {r["state"] for r in store.query("SELECT state FROM alerts")} <= {"sent", "batched"}
        assert not store.query("SELECT 1 FROM alerts WHERE state = 'batched' AND batch_id IS NULL")
        store.close()
