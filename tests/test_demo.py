"""`monitor demo`: the sample week through the real pipeline, contained in its folder."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from monitor.demo.run import DemoError, prepare_folder, run_demo
from monitor.demo.data import SERIOUS, demo_posts, week_start_utc
from monitor.demo.view import QuietView


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """One run of `monitor demo --fast` in a subprocess with its own HOME, TMPDIR and working folder."""
    root = tmp_path_factory.mktemp("demo")
    for name in ("home", "tmp", "work"):
        (root / name).mkdir()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("XDG_", "MPLCONFIGDIR", "HF_", "MONITOR_"))
    }
    env.update(HOME=str(root / "home"), TMPDIR=str(root / "tmp"), PYTHONDONTWRITEBYTECODE="1", COLUMNS="100")
    previous = os.umask(0o022)  # the usual umask, which would make every new file readable by all
    try:
        done = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "demo", "--fast"], cwd=root / "work", env=env,
            capture_output=True, text=True, timeout=600,
        )
    finally:
        os.umask(previous)
    folder = root / "work" / "demo-output"
    summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else None
    return root, folder, done, summary


def test_demo_finishes_with_the_summary_and_the_digest(demo_run):
    _root, folder, done, summary = demo_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "The week in numbers" in done.stdout
    assert f"weekly digest: {folder / 'digests'}" in done.stdout.replace("\n", "")
    assert summary is not None and summary["problems"] == []
    digest = Path(summary["digest"])
    assert digest.parent.parent == folder and digest.is_file()
    assert "Ravens Wood School" in digest.read_text()


def test_nothing_is_written_outside_the_demo_folder(demo_run):
    root, folder, _done, _summary = demo_run
    outside = [
        path for path in root.rglob("*")
        if not path.is_relative_to(folder) and path.is_file()
    ]
    assert outside == []
    assert (folder / "monitor.db").is_file() and (folder / ".cache").is_dir()


def test_everything_the_demo_writes_is_private(demo_run):
    _root, folder, done, _summary = demo_run
    assert done.returncode == 0
    modes = {path.relative_to(folder): stat.S_IMODE(path.stat().st_mode) for path in [folder, *folder.rglob("*")]}
    assert {Path("monitor.db"), Path("summary.json"), Path("digests"), Path("mail")} <= set(modes)
    shared = {str(path): f"{mode:o}" for path, mode in modes.items() if mode & 0o077}
    assert shared == {}, "readable by other accounts"


def test_every_seeded_post_was_collected(demo_run):
    _root, folder, _done, summary = demo_run
    posts = demo_posts()
    assert summary["seeded"] == len(posts) == summary["delivered"]
    assert summary["seeded_by_tag"] == dict(Counter(p.tag for p in posts))
    db = sqlite3.connect(folder / "monitor.db")
    texts = [row[0] for row in db.execute("SELECT text FROM items")]
    missing = [p.text for p in posts if not any(p.text.splitlines()[0] in text for text in texts)]
    outages = db.execute("SELECT * FROM source_outages").fetchall()
    assert missing == [], f"outages: {outages}; problems: {summary['problems']}"
    assert summary["items"] == len(texts) >= len(posts)
    by_school = db.execute("SELECT count(*) FROM items WHERE by_school = 1").fetchone()[0]
    assert summary["by_school"] == by_school >= sum(1 for p in posts if p.tag == "school")


def test_summary_numbers_match_the_database(demo_run):
    _root, folder, _done, summary = demo_run
    db = sqlite3.connect(folder / "monitor.db")
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    assert summary["flagged"] == one("SELECT count(*) FROM verdicts WHERE flagged = 1")
    assert summary["cases"] == one("SELECT count(*) FROM cases") > 0
    assert summary["met"] + summary["breached"] + summary["removed"] + summary["open"] == summary["cases"]
    assert summary["met"] == one("SELECT count(*) FROM cases WHERE state = 'acknowledged' AND closed_at <= due_at")
    # the comment the moderator deleted on Facebook was closed as removed, and raised no reminder or breach;
    # the one she hid from Slack was closed as removed by her
    removed = db.execute("SELECT cases.id, items.text, cases.closed_how FROM cases JOIN items ON items.id = cases.item_id "
                         "WHERE cases.state = 'removed' ORDER BY items.created_at").fetchall()
    assert summary["removed"] == len(removed) == 2
    assert "Absolute joke" in removed[0][1] and "Clueless head" in removed[1][1]
    keys = [row[0] for row in db.execute("SELECT key FROM alerts")]
    assert not [k for k in keys if k.startswith((f"reminder:case:{removed[1][0]}|", f"breach:case:{removed[1][0]}|"))]
    # only comments on the official accounts, not by the school, open cases
    official = [s for s, counts in summary["sources"].items()]
    assert official and summary["cases"] <= one("SELECT count(*) FROM items WHERE by_school = 0")
    assert sum(counts["items"] for counts in summary["sources"].values()) == summary["items"]
    # the safeguarding rules never miss the threat and the phone numbers
    serious = [p.text for p in demo_posts() if p.tag in ("threat", "personal")]
    flagged = [row[0] for row in db.execute("SELECT i.text FROM items i JOIN verdicts v ON v.item_id = i.id WHERE v.flagged = 1")]
    assert all(any(text in f for f in flagged) for text in serious)
    assert summary["serious_seeded"] == sum(1 for p in demo_posts() if p.tag in SERIOUS)
    assert len(serious) <= summary["serious_flagged"] <= summary["serious_seeded"]
    # the moderator's clicks went through the Slack button handler and were audit-logged
    assert summary["moderator"].get("acknowledge", 0) + summary["moderator"].get("reply", 0) == one(
        "SELECT count(*) FROM cases WHERE closed_how = 'slack'") > 1
    # every click reached the monitor as Slack sends it, through the Socket Mode websocket (Reply: the
    # click and the dialog's submission), Acknowledge, Escalate and Not abusive as much as Hide and Reply
    clicks = summary["moderator"]
    assert clicks.get("acknowledge", 0) > 1 and clicks.get("escalate", 0) == 1
    assert summary["socket_mode_events"] == sum(clicks.values()) + clicks.get("reply", 0)


def test_the_moderator_replied_and_hid_from_slack(demo_run):
    """Through the fake Slack's Socket Mode websocket: the Reply dialog submitted, a Hide clicked."""
    _root, folder, done, summary = demo_run
    hide, reply = summary["slack_writes"]
    assert reply == {"action": "reply", "source": "facebook-demo", "author": "Kerry Ashworth", "on_platform": True,
                     "case": "acknowledged", "met": True}
    assert hide == {"action": "hide", "source": "facebook-demo", "author": "Mark Dennison", "on_platform": True,
                    "case": "removed", "met": False}
    assert summary["moderator"]["reply"] == summary["moderator"]["hide"] == 1
    db = sqlite3.connect(folder / "monitor.db")
    rows = db.execute("SELECT action, state, how, by_id, text FROM platform_actions ORDER BY id").fetchall()
    assert [(a, s, h, b) for a, s, h, b, _ in rows] == [("hide", "done", "slack", "U0MODERATOR"),
                                                        ("reply", "done", "slack", "U0MODERATOR")]
    assert rows[1][4].startswith("Hello Kerry, thank you for raising this.")
    # the school's reply is on the platform, so the next poll collected it as the school's own comment
    assert db.execute("SELECT count(*) FROM items WHERE by_school = 1 AND text LIKE 'Hello Kerry%'").fetchone()[0] == 1
    audited = db.execute("SELECT action, actor FROM audit_log WHERE action IN ('reply', 'hide')").fetchall()
    assert sorted(audited) == [("hide", "Jane Smith"), ("reply", "Jane Smith")]
    shown = " ".join(done.stdout.split())
    assert "replied to Kerry Ashworth's comment on facebook-demo from Slack: the reply is on the platform, case met" in shown
    assert "hid Mark Dennison's comment on facebook-demo from Slack: it is hidden on the platform, case removed" in shown


def test_what_the_moderator_and_principal_received(demo_run):
    _root, folder, _done, summary = demo_run
    emails = sorted((folder / "mail").glob("*.eml"))
    assert len(emails) == summary["emails"] > 0
    messages = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in emails]
    assert all(m["Subject"] and m["To"] for m in messages)
    digests = [m for m in messages if "principal@" in m["To"]]
    assert len(digests) == 1 and "digest" in digests[0]["Subject"].lower()
    slack = [json.loads(line) for line in (folder / "slack.jsonl").read_text().splitlines()]
    assert len(slack) == summary["slack_messages"] > 0
    assert any("threat" in json.dumps(m).lower() for m in slack)


def test_the_expired_token_was_an_outage_that_ended(demo_run):
    _root, folder, _done, _summary = demo_run
    db = sqlite3.connect(folder / "monitor.db")
    outages = db.execute("SELECT source, kind, ended_at IS NOT NULL FROM source_outages").fetchall()
    states = db.execute("SELECT source, last_error FROM source_state WHERE last_error IS NOT NULL").fetchall()
    assert outages == [("instagram-demo", "auth", 1)], states
    slack = (folder / "slack.jsonl").read_text()
    assert "instagram-demo is monitored again" in slack


class BrokenView(QuietView):
    def slack(self, posted, now):
        raise RuntimeError("the terminal went away")


def test_a_failing_part_is_reported_and_the_demo_finishes(tmp_path: Path):
    summary = run_demo(tmp_path / "out", fast=True, view=BrokenView(), days=1)
    parts = {p.part: p.message for p in summary.problems}
    assert parts == {"terminal display": "RuntimeError: the terminal went away"}
    assert summary.items > 0 and summary.slack_messages > 0
    assert summary.digest is None  # a one-day run ends before the digest is due
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["problems"] == [{"part": "terminal display", "message": "RuntimeError: the terminal went away"}]


def test_the_demo_folder_is_its_own(tmp_path: Path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DemoError, match="not empty"):
        prepare_folder(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DemoError, match="is a file"):
        prepare_folder(tmp_path / "file")
    ours = prepare_folder(tmp_path / "demo")
    (ours / "mail").mkdir()
    (ours / "mail" / "0001.eml").write_text("old")
    (ours / "mine.txt").write_text("a file of the user's")
    prepare_folder(ours)
    assert not (ours / "mail").exists() and (ours / "mine.txt").exists()


def test_posts_of_a_platform_without_a_fake_go_to_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from monitor.demo import fakes

    monkeypatch.setattr(fakes, "PLATFORMS", {k: v for k, v in fakes.PLATFORMS.items() if k in ("rss", "facebook")})
    summary = run_demo(tmp_path / "out", fast=True, days=1)
    assert summary.problems == ()
    first_day = [p for p in demo_posts() if p.at < week_start_utc() + timedelta(days=1)]
    assert summary.delivered == len(first_day) > 10
    assert set(summary.sources) == {"rss-demo", "facebook-demo"}


def test_what_the_demo_writes_is_readable_by_its_owner_only(demo_run):
    """The emails, Slack transcript, log, digest and database hold names and comments."""
    _root, folder, done, _summary = demo_run
    assert done.returncode == 0, done.stderr[-3000:]
    shared = sorted(
        f"{oct(path.stat().st_mode & 0o777)} {path.relative_to(folder)}"
        for path in [folder, *folder.rglob("*")] if path.stat().st_mode & 0o077
    )
    assert shared == []


def monitor_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120)


def test_status_and_cases_after_a_demo_agree_with_its_summary(tmp_path: Path):
    """The demo's week is in the past: its database is judged at the demo's own clock, and says so."""
    summary = run_demo(tmp_path / "out", fast=True, days=2)  # it stops on Wednesday, 10:00
    assert summary.open > 0  # Tuesday afternoon's comments, not yet due
    config = str(tmp_path / "out" / "monitor.toml")
    with sqlite3.connect(tmp_path / "out" / "monitor.db") as db:
        late = db.execute("SELECT count(*) FROM cases WHERE closed_at > due_at").fetchone()[0]
    done = monitor_cli("--config", config, "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["cases"]["open"] - status["cases"]["overdue"] == summary.open
    assert status["cases"]["overdue"] == summary.breached - late
    end = week_start_utc() + timedelta(days=2, hours=10)
    assert status["simulated_time"] == status["checked_at"] == end.isoformat()
    text = monitor_cli("--config", config, "status").stdout
    assert "judged at the demo's simulated time, Wed 18 Nov 2026 10:00 GMT, not at today's date" in text
    assert f"{status['cases']['open']} open, {status['cases']['overdue']} overdue." in text
    listed = monitor_cli("--config", config, "cases", "--open")
    assert listed.stdout.startswith("A `monitor demo` database, judged at the demo's simulated time")
    assert listed.stdout.count("open (breached)") == status["cases"]["overdue"]
    as_json = monitor_cli("--config", config, "cases", "--open", "--json")
    assert len(json.loads(as_json.stdout)) == status["cases"]["open"] and "simulated time" in as_json.stderr


def test_status_after_the_whole_demo_week_is_judged_at_its_end(demo_run):
    _root, folder, done, summary = demo_run
    assert done.returncode == 0, done.stderr[-3000:]
    shown = monitor_cli("--config", str(folder / "monitor.toml"), "status", "--json")
    status = json.loads(shown.stdout)
    assert status["simulated_time"] == (week_start_utc() + timedelta(days=7, hours=10)).isoformat()
    assert status["cases"]["open"] - status["cases"]["overdue"] == summary["open"]
