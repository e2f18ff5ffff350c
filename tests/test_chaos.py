"""The daemon, SIGKILLed at random moments under a steady stream of comments, loses and doubles nothing.

``monitor run`` runs as a subprocess against fakes served by this process: a Facebook Page (an
official source: every comment opens an acknowledgement case and is alerted), a news feed, the fake
Slack Web API and a real SMTP server (aiosmtpd). While a thread posts new comments (some abusive,
some answered by the school), the daemon is killed with SIGKILL after a random time and started
again, ``CHAOS_KILLS`` times (50 by default). A last run drains everything, then at the end:

- every comment and feed entry is stored exactly once, every case opened exactly once;
- every outbox row was delivered; at the fake Slack every alert arrived exactly once (the message
  metadata carries the idempotency key and the dispatcher looks it up after a crash);
- by email every alert arrived at least once. SMTP cannot be asked whether a message arrived, so a
  kill between the server's reply to DATA and the recording of the receipt sends it again: such
  duplicates are counted (and carry the same Message-ID), not hidden.

The figures are printed (run with ``-s``) and, with ``CHAOS_REPORT=path``, written as JSON.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.demo.fakes.facebook import FakeFacebook
from monitor.demo.fakes.rss import FakeFeed
from monitor.demo.fakes.slack import CHANNEL, FakeSlack
from tests.smtp_server import Recorder, start_smtp

KILLS = int(os.environ.get("CHAOS_KILLS", "50"))
SEED = int(os.environ.get("CHAOS_SEED", "20261122"))
#: a run lives this long before the kill (seconds): start-up is ~1.5 s, the outbox starts 2 s later
LIFETIME = (0.8, 6.0)
ABUSIVE = "You are a useless idiot and I will hurt you"


def write_config(tmp_path: Path, facebook: FakeFacebook, feed: FakeFeed, slack: FakeSlack, smtp_port: int) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f"""
[school]
name = "Ravens Wood School"
[storage]
path = "{tmp_path / 'monitor.db'}"
[[sources]]
name = "facebook-page"
type = "facebook"
official = true
interval = "1s"
timeout = "5s"
base_url = "{facebook.source_config('x')['base_url']}"
page_id = "{facebook.page_id}"
token = "{facebook.token}"
tagged = false
[[sources]]
name = "news"
type = "rss"
interval = "1s"
timeout = "5s"
url = "{feed.url}/feed.xml"
[notify.slack]
token = "xoxb-fake-bot-token"
channel = "{CHANNEL}"
base_url = "{slack.base_url}"
timeout = "5s"
[notify.email]
host = "127.0.0.1"
port = {smtp_port}
starttls = false
sender = "monitor@school.example"
moderators = ["moderator@school.example"]
timeout = "5s"
[notify.routing]
batch_window = "2s"
quiet_hours = ""
kinds = {{ new_comments = ["slack", "email"] }}
""", encoding="utf-8")
    path.chmod(0o600)
    return path


class Stream(threading.Thread):
    """Posts a comment every ``every`` seconds (every 7th abusive, every 5th answered by the school)."""

    def __init__(self, facebook: FakeFacebook, feed: FakeFeed, post_id: str, every: float = 0.3):
        super().__init__(daemon=True, name="comment-stream")
        self.facebook, self.feed, self.post_id, self.every = facebook, feed, post_id, every
        self.comments: list[str] = []
        self.replies: list[str] = []
        self.entries: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stop.wait(self.every):
            number += 1
            now = datetime.now(timezone.utc)
            text = ABUSIVE if number % 7 == 0 else f"Comment {number}: when is the parents' evening?"
            comment = self.facebook.add_comment(text, reply_to=self.post_id, at=now)
            self.comments.append(comment)
            if number % 5 == 0:
                self.replies.append(self.facebook.add_school_reply(comment, f"Thank you ({number})", at=now))
            if number % 4 == 0:
                self.entries.append(self.feed.add_comment(f"Ravens Wood news {number}", at=now))


def monitor_run(config: Path, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
                            stdout=subprocess.DEVNULL, stderr=log)


def snapshot(db_path: Path) -> dict[str, int]:
    """What the database holds so far; nothing while the daemon has not yet created it (a loaded machine)."""
    if not db_path.exists():
        return {}
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return {
            "items": db.execute("SELECT count(*) FROM items").fetchone()[0],
            "unsent": db.execute(
                "SELECT count(*) FROM alerts WHERE state IN ('pending', 'sending', 'waiting')").fetchone()[0],
        }
    finally:
        db.close()


def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(tmp_path):
    rng = random.Random(SEED)
    recorder = Recorder()
    smtp = start_smtp(recorder)
    log_path = tmp_path / "daemon.log"
    figures: dict[str, object] = {"kills": 0, "seed": SEED}
    with FakeFacebook() as facebook, FakeFeed() as feed, FakeSlack() as slack, open(log_path, "ab") as log:
        feed.limit = 1000
        post_id = facebook.add_post("Welcome back after half term", at=datetime.now(timezone.utc) - timedelta(hours=1))
        config = write_config(tmp_path, facebook, feed, slack, smtp.port)
        stream = Stream(facebook, feed, post_id)
        stream.start()
        started = time.monotonic()
        try:
            for _ in range(KILLS):
                process = monitor_run(config, log)
                time.sleep(rng.uniform(*LIFETIME))
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                figures["kills"] += 1
        finally:
            stream.stop.set()
            stream.join()
        figures["kill_phase_seconds"] = round(time.monotonic() - started, 1)

        # a last run, left alone until everything posted is stored and every alert delivered
        expected = len(stream.comments) + len(stream.replies) + len(stream.entries) + 1  # + the post
        process = monitor_run(config, log)
        deadline = time.monotonic() + 120
        state = {}
        while time.monotonic() < deadline:
            time.sleep(1.0)
            state = snapshot(tmp_path / "monitor.db")
            if state.get("items", 0) >= expected and state.get("unsent") == 0:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert state.get("items", 0) >= expected and state.get("unsent") == 0, (state, expected)
        slack_messages = list(slack.messages)
    smtp.stop()

    db = sqlite3.connect(tmp_path / "monitor.db")
    db.row_factory = sqlite3.Row
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # every comment, reply and feed entry stored exactly once
    stored = Counter((r["source"], r["native_id"]) for r in db.execute("SELECT source, native_id FROM items"))
    assert max(stored.values()) == 1
    for comment in stream.comments + stream.replies + [post_id]:
        assert ("facebook-page", comment) in stored, comment
    for entry in stream.entries:
        assert ("news", entry) in stored, entry
    assert len(stored) == expected

    # every comment by the public opened exactly one case; the answered ones were closed by the reply
    cases = {r["native_id"]: r for r in db.execute(
        "SELECT items.native_id, cases.state, cases.closed_how FROM cases JOIN items ON items.id = cases.item_id")}
    assert set(cases) == set(stream.comments)
    answered = {stream.comments[n] for n in range(4, len(stream.comments), 5)}
    assert all(cases[c]["state"] != "open" for c in answered)

    # every alert delivered: Slack exactly once, email at least once with duplicates counted; routine
    # ones each in exactly one batch that was sent (or dropped, every case it named being closed)
    rows = [dict(r) for r in db.execute("SELECT id, key, channel, state, attempts, kind, batch_id FROM alerts")]
    assert rows and {r["state"] for r in rows} <= {"sent", "batched", "skipped"}
    by_id = {r["id"]: r for r in rows}
    batched = [r for r in rows if r["state"] == "batched"]
    assert batched and all(by_id[r["batch_id"]]["state"] == "sent" for r in batched)
    assert all(by_id[r["batch_id"]]["channel"] == r["channel"] for r in batched)
    assert {r["kind"] for r in rows if r["state"] != "sent"} <= {"new_comments", "reminder", "source_recovered"}
    flagged = [r for r in rows if r["kind"] == "flagged"]
    assert flagged, "the abusive comments should have been alerted"
    slack_keys = Counter((m.metadata or {}).get("event_payload", {}).get("key") for m in slack_messages)
    outbox_slack = {r["key"] for r in rows if r["channel"] == "slack" and r["state"] == "sent"}
    assert set(slack_keys) == outbox_slack
    assert max(slack_keys.values()) == 1, [k for k, n in slack_keys.items() if n > 1]

    mail_keys = Counter(m["X-Monitor-Key"].strip() for m in recorder.messages)  # a long header is folded
    outbox_email = {r["key"] for r in rows if r["channel"] == "email" and r["state"] == "sent"}
    assert set(mail_keys) == outbox_email
    for key, count in mail_keys.items():
        if count > 1:  # a resend after a kill in doubt: the same Message-ID, so clients can tell
            assert len({m["Message-ID"] for m in recorder.messages if m["X-Monitor-Key"].strip() == key}) == 1

    figures.update({
        "comments": len(stream.comments), "school_replies": len(stream.replies), "feed_entries": len(stream.entries),
        "items_stored": len(stored), "cases": len(cases), "outbox_rows": len(rows),
        "routine_rows_batched": len(batched), "batches": len({r["batch_id"] for r in batched}),
        "slack_messages": sum(slack_keys.values()), "slack_duplicates": sum(n - 1 for n in slack_keys.values()),
        "emails": sum(mail_keys.values()), "email_duplicates": sum(n - 1 for n in mail_keys.values()),
        "resent_rows": sum(1 for r in rows if r["attempts"] > 1),
        "in_doubt_checks_logged": log_path.read_text(errors="replace").count("were being sent when the monitor stopped"),
    })
    print("\nchaos figures:", json.dumps(figures))
    if os.environ.get("CHAOS_REPORT"):
        Path(os.environ["CHAOS_REPORT"]).write_text(json.dumps(figures, indent=2), encoding="utf-8")
