"""The weekly digest over a seeded week whose answers are known (week 2026-W47, Europe/London, GMT).

Mentions this week (12): facebook-page 7, x-search 3, local-news 2; last week 4 (facebook-page 3,
local-news 1). Per day Mon..Sun: 2 2 2 2 1 1 2 mentions; flagged on Tue, Wed and Sat.
Cases received this week (7): on time 3 (1 h, 12 h, 2 h), late 1 (28 h), overdue 1, pending 2:
on-time share 3/5 = 60 %, median of 1 h 2 h 12 h 28 h = 7 h, p90 (nearest rank 4 of 4) = 28 h.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html import escape as html_escape, unescape as html_unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from connectors.base import Item
from monitor.clock import ManualClock
from monitor.digest import render, send, week
from monitor.store import Store, to_db
from tests.conftest import make_config

UTC = timezone.utc
WEEK = "2026-W47"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday after the week, before the 17:00 deadlines
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
LONG_URL = "https://news.example.org/" + "a" * 300 + "?q=" + "Ravens-Wood-School" * 20
LONG_WORD = "Supercalifragilistic" * 15


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def config_for(tmp_path: Path, **extra):
    sections = dict(
        school={"name": "Ravens Wood School", "timezone": "Europe/London"},
        sources=[
            {"name": name, "type": "rss", "url": f"https://example.org/{name}.xml"}
            for name in ("facebook-page", "local-news", "x-search", "school-blog")
        ],
        notify={"email": {"host": "127.0.0.1", "sender": "monitor@example.org", "moderators": ["mod@example.org"]}},
        digest={"recipients": ["principal@example.org", "deputy@example.org"], "weekday": "mon", "time": "07:30"},
    )
    sections.update(extra)
    return make_config(tmp_path, **sections)


def item(source, native_id, when, *, kind="comment", text=None, engagement=None, by_school=False, url=None, author=None):
    return Item(
        source=source, native_id=native_id, kind=kind, text=text or f"text of {native_id}", created_at=when,
        url=url or f"https://example.org/{source}/{native_id}", engagement=engagement, by_school=by_school,
        author_name=author,
    )


def seed(store: Store) -> dict[str, int]:
    """The seeded week; returns item row ids by native id."""
    items = [
        # this week: facebook-page, the school's official page
        item("facebook-page", "fb1", at(16, 9)),
        item("facebook-page", "fb2", at(16, 20)),
        item("facebook-page", "fb3", at(17, 10), engagement=40, text="You are all useless idiots"),
        item("facebook-page", "fb4", at(18, 12)),
        item("facebook-page", "fb7", at(19, 9)),
        item("facebook-page", "fb5", at(21, 11), text="Nasty   comment\nover two lines"),
        item("facebook-page", "fb6", at(22, 23, 30)),
        item("facebook-page", "fbR", at(17, 11), kind="reply", by_school=True),  # the school's reply
        item("facebook-page", "fbP", at(16, 8), kind="post", by_school=True),  # the school's post
        # this week: news mentions
        item("local-news", "n1", at(19, 7), kind="mention"),
        item("local-news", "n2", at(20, 15), kind="mention", text=f"A very long word {LONG_WORD}", url=LONG_URL,
             engagement=5),
        item("local-news", "nP", at(20, 16), kind="post"),  # a post is not a mention
        # this week: searches
        item("x-search", "x1", at(17, 13), kind="mention", engagement=120),
        item("x-search", "x2", at(18, 9), kind="mention", text=HOSTILE, url="javascript:alert(1)",
             author="<img src=x onerror=alert(1)>"),
        item("x-search", "x3", at(22, 10), kind="mention", engagement=0),
        # next week (Monday 00:00 is outside)
        item("x-search", "xN", at(23, 0), kind="mention", engagement=999),
        # last week
        item("facebook-page", "fbA", at(10, 10)),
        item("facebook-page", "fbB", at(12, 10)),
        item("facebook-page", "fbL", at(15, 23, 59, 59)),
        item("local-news", "nA", at(11, 10), kind="mention"),
        # the week before last
        item("local-news", "nOld", at(8, 10), kind="mention"),
    ]
    ids = {s.item.native_id: s.id for s in store.upsert_items(items)}
    flagged = {"fb3": 0.91, "fb5": 0.80, "x2": 0.66, "fbB": 0.7, "fbR": 0.95, "xN": 0.9}
    with store.transaction():
        for native_id, row_id in ids.items():
            score = flagged.get(native_id, 0.05)
            store.execute(
                "INSERT INTO verdicts (item_id, score, flagged, labels, reasons, model, model_version, classified_at)"
                " VALUES (?, ?, ?, ?, '[]', 'test', '1', ?)",
                (row_id, score, int(score >= 0.5), json.dumps({"insult": score, "threat": 0.01}), to_db(NOW)),
            )
        cases = {
            # native id: (due, closed_at, closed_by, closed_how)
            "fb1": (at(17, 9), at(16, 10), "Ms Patel", "slack"),
            "fb2": (at(17, 20), at(17, 8), "facebook-page", "reply"),
            "fb3": (at(18, 10), at(18, 14), "Mr Jones", "cli"),
            "fb4": (at(19, 12), None, None, None),
            "fb7": (at(20, 9), at(19, 11), "Ms Patel", "slack"),
            "fb5": (at(23, 17), None, None, None),
            "fb6": (at(23, 17), None, None, None),
            "fbL": (at(16, 17), at(16, 9, 30), "Ms Patel", "slack"),  # received last week
        }
        received = {i.native_id: i.created_at for i in items}
        for native_id, (due, closed, by, how) in cases.items():
            store.execute(
                "INSERT INTO cases (item_id, source, received_at, due_at, policy, state, opened_at, closed_at,"
                " closed_by, closed_how) VALUES (?, 'facebook-page', ?, ?, '24h', ?, ?, ?, ?, ?)",
                (
                    ids[native_id], to_db(received[native_id]), to_db(due), "closed" if closed else "open",
                    to_db(received[native_id]), to_db(closed), by, how,
                ),
            )
        case_of = {row[1]: row[0] for row in store.execute("SELECT id, item_id FROM cases")}
        store.execute(
            "INSERT INTO audit_log (at, actor, action, case_id, item_id) VALUES (?, 'Ms Patel', 'escalated', ?, NULL)",
            (to_db(at(17, 12)), case_of[ids["fb3"]]),
        )
        store.execute(
            "INSERT INTO audit_log (at, actor, action, case_id, item_id) VALUES (?, 'Mr Jones', 'marked_not_abusive', NULL, ?)",
            (to_db(at(18, 10)), ids["x2"]),
        )
        outages = [
            ("x-search", "auth", at(18, 6), at(19, 6), "token expired"),
            ("local-news", "transient", at(15, 22), at(16, 2), "HTTP 503"),
            ("facebook-page", "transient", at(14, 1), at(15, 1), "before the week"),
            ("school-blog", "transient", at(23, 1), None, "after the week"),
        ]
        for source, kind, started, ended, error in outages:
            store.execute(
                "INSERT INTO source_outages (source, kind, started_at, ended_at, last_error) VALUES (?, ?, ?, ?, ?)",
                (source, kind, to_db(started), to_db(ended), error),
            )
    return ids


@pytest.fixture
def seeded(tmp_path):
    clock = ManualClock(NOW)
    config = config_for(tmp_path)
    store = Store(config.database_path, clock=clock)
    seed(store)
    yield store, config, clock
    store.close()


@pytest.fixture
def digest(seeded):
    store, config, _ = seeded
    return week.build_digest(store, config, WEEK, now=NOW)


# -- the numbers --------------------------------------------------------------------------------


def test_mentions_this_week_against_last_by_source(digest):
    assert (digest.start, digest.end) == (at(16, 0), at(23, 0))
    assert digest.previous == "2026-W46"
    assert digest.mentions == 12
    assert digest.mentions_last_week == 4
    assert [(s.source, s.this_week, s.last_week) for s in digest.by_source] == [
        ("facebook-page", 7, 3),
        ("x-search", 3, 0),
        ("local-news", 2, 1),
    ]


def test_mentions_and_flagged_by_day(digest):
    assert [d.day.isoformat() for d in digest.by_day] == [f"2026-11-{n}" for n in range(16, 23)]
    assert [d.mentions for d in digest.by_day] == [2, 2, 2, 2, 1, 1, 2]
    assert [d.flagged for d in digest.by_day] == [0, 1, 1, 0, 0, 1, 0]
    assert (digest.flagged_total, digest.flagged_last_week) == (3, 1)


def test_top_mentions_by_engagement_then_recency(digest):
    top = [(m.source, m.engagement) for m in digest.top]
    assert top == [("x-search", 120), ("facebook-page", 40), ("local-news", 5), ("x-search", 0), ("facebook-page", None)]
    assert digest.top[1].excerpt == "You are all useless idiots"
    assert digest.top[2].excerpt == "A very long word " + LONG_WORD[: week.EXCERPT_LENGTH - 17] + "…"
    assert digest.top[4].excerpt == "text of fb6"  # no engagement figure: the most recent first
    assert digest.top[0].url == "https://example.org/x-search/x1"


def test_acknowledgement_performance(digest):
    ack = digest.ack
    assert (ack.received, ack.on_time, ack.late, ack.overdue, ack.pending) == (7, 3, 1, 1, 2)
    assert ack.on_time_share == pytest.approx(0.6)
    assert ack.median == timedelta(hours=7)
    assert ack.p90 == timedelta(hours=28)
    assert [(b.excerpt, b.closed_at, b.late_by) for b in ack.breaches] == [
        ("You are all useless idiots", at(18, 14), timedelta(hours=4)),
        ("text of fb4", None, NOW - at(19, 12)),
    ]
    assert ack.breaches[1].url == "https://example.org/facebook-page/fb4"


def test_long_lists_are_cut_but_counted(seeded, monkeypatch):
    store, config, _ = seeded
    monkeypatch.setattr(week, "BREACHES_LISTED", 1)
    monkeypatch.setattr(week, "FLAGGED_LISTED", 2)
    digest = week.build_digest(store, config, WEEK, now=NOW)
    assert len(digest.ack.breaches) == 1 and digest.ack.breached == 2
    assert len(digest.flagged) == 2 and digest.flagged_total == 3
    text = render.render_text(digest)
    assert "- and 1 more breaches" in text and "- and 1 more\n" in text
    assert "and 1 more: <code>monitor cases</code>" in render.render_html(digest)


def test_pending_case_becomes_overdue_when_built_later(seeded):
    store, config, _ = seeded
    later = week.build_digest(store, config, WEEK, now=at(24, 9))
    assert (later.ack.overdue, later.ack.pending) == (3, 0)
    assert later.ack.on_time_share == pytest.approx(3 / 7)


def test_flagged_items_and_what_became_of_them(digest):
    listed = {f.mention.excerpt: f for f in digest.flagged}
    assert [f.score for f in digest.flagged] == [0.91, 0.80, 0.66]
    fb3 = listed["You are all useless idiots"]
    assert fb3.labels == ("insult",)
    assert fb3.outcome == "acknowledged by Mr Jones (cli) on Wed 18 Nov 14:00"
    assert [e.text for e in fb3.events] == ["escalated by Ms Patel on Tue 17 Nov 12:00"]
    assert listed["Nasty comment over two lines"].outcome == "not yet acknowledged (due Mon 23 Nov 17:00)"
    x2 = listed[HOSTILE]
    assert x2.mention.url is None  # a javascript: URL is never a link
    assert x2.outcome == "no acknowledgement case (not on an official account)"
    assert [e.text for e in x2.events] == ["marked not abusive by Mr Jones on Wed 18 Nov 10:00"]


def test_source_health_names_blind_periods(digest):
    found = [(o.source, o.kind, o.blind, o.from_, o.until, o.duration) for o in digest.outages]
    assert found == [
        ("local-news", "transient", False, at(16, 0), at(16, 2), timedelta(hours=2)),
        ("x-search", "auth", True, at(18, 6), at(19, 6), timedelta(hours=24)),
    ]
    assert digest.healthy_sources == ("facebook-page", "school-blog")


def test_rendered_text_carries_the_figures(digest):
    text = render.render_text(digest)
    assert "12 mentions (+8 (+200%) on last week's 4), 3 flagged" in text
    assert "- facebook-page: 7 / 3" in text
    assert "- Acknowledged on time: 3 of 5 (60%)" in text
    assert "- Median time to acknowledge: 7 h 00 min; 90th percentile: 1 d 4 h" in text
    assert "BREACH facebook-page, received Tue 17 Nov 10:00, due Wed 18 Nov 10:00, acknowledged 4 h 00 min late" in text
    assert "- x-search: BLIND (credentials refused) from Wed 18 Nov 06:00 to Thu 19 Nov 06:00 (1 d 0 h this week)" in text
    assert "Blind for a time: x-search." in text


def test_html_escapes_hostile_text_and_links_only_http(digest):
    html = render.render_html(digest)
    assert "<script>" not in html and "<b>bold</b>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://example.org/facebook-page/fb4"' in html
    assert 'src="cid:digest-chart"' in html
    assert re.search(r"<strong>60%</strong> on time", html)


def test_excerpt_is_one_line_and_cut_at_a_word():
    text = "word " * 60 + "\n\tend"
    cut = week.excerpt(text, 50)
    assert "\n" not in cut and cut.endswith("…") and len(cut) <= 51
    assert cut == ("word " * 10).strip() + "…"
    assert week.excerpt(LONG_WORD, 20) == LONG_WORD[:20] + "…"


def test_chart_is_a_png(digest):
    png = render.render_chart(digest)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert render.standalone_html(digest, png).count("data:image/png;base64,") == 1


# -- weeks and time zones -----------------------------------------------------------------------


def test_week_in_summer_time_starts_at_local_midnight(tmp_path):
    config = config_for(tmp_path)
    store = Store(config.database_path, clock=ManualClock(NOW))
    try:
        store.upsert_items([
            item("x-search", "before", datetime(2026, 7, 5, 22, 59, tzinfo=UTC), kind="mention"),  # Sun 23:59 BST
            item("x-search", "first", datetime(2026, 7, 5, 23, 0, tzinfo=UTC), kind="mention"),  # Mon 00:00 BST
            item("x-search", "last", datetime(2026, 7, 12, 22, 59, tzinfo=UTC), kind="mention"),  # Sun 23:59 BST
            item("x-search", "after", datetime(2026, 7, 12, 23, 0, tzinfo=UTC), kind="mention"),  # next Monday
        ])
        digest = week.build_digest(store, config, "2026-W28", now=NOW)
    finally:
        store.close()
    assert digest.mentions == 2 and digest.mentions_last_week == 1
    assert [d.mentions for d in digest.by_day] == [1, 0, 0, 0, 0, 0, 1]


def test_week_with_a_clock_change_lasts_169_hours():
    start, end = week.week_bounds("2026-W43", ZoneInfo("Europe/London"))  # clocks go back Sun 25 Oct
    assert end - start == timedelta(hours=169)


@pytest.mark.parametrize("bad", ["2026-47", "2027-W53", "2026-W00", "26-W01", "", "2026-W1"])
def test_malformed_week_is_refused(bad):
    with pytest.raises(week.DigestError, match="not an ISO week"):
        week.parse_week(bad)


def test_default_week_is_the_last_complete_one_in_school_time():
    london = ZoneInfo("Europe/London")
    assert week.last_complete_week(at(23, 0), london) == "2026-W47"
    assert week.last_complete_week(at(22, 23, 59), london) == "2026-W46"
    auckland = ZoneInfo("Pacific/Auckland")  # already Monday 23 Nov there
    assert week.last_complete_week(at(22, 12), auckland) == "2026-W47"


def test_due_week_follows_the_configured_weekday_and_time(tmp_path):
    monday = config_for(tmp_path)
    assert send.due_week(monday, at(23, 7, 29)) == "2026-W46"
    assert send.due_week(monday, at(23, 7, 30)) == "2026-W47"
    friday = config_for(tmp_path, digest={"recipients": ["p@example.org"], "weekday": "fri", "time": "16:00"})
    assert send.due_week(friday, at(27, 15, 59)) == "2026-W46"
    assert send.due_week(friday, at(27, 16, 0)) == "2026-W47"


# -- sending once, archive ----------------------------------------------------------------------


def digest_rows(store: Store) -> list[dict]:
    return store.query("SELECT key, kind, channel, recipient, payload FROM alerts WHERE kind = 'digest' ORDER BY key")


def test_send_queues_one_email_per_recipient_with_inline_chart(seeded):
    store, config, _ = seeded
    result = send.send_digest(store, config, WEEK, now=NOW)
    assert result.queued == 2
    rows = digest_rows(store)
    assert [(r["key"], r["channel"], r["recipient"]) for r in rows] == [
        ("digest:2026-W47|email|deputy@example.org", "email", "deputy@example.org"),
        ("digest:2026-W47|email|principal@example.org", "email", "principal@example.org"),
    ]
    payload = json.loads(rows[0]["payload"])
    assert payload["subject"] == "Ravens Wood School: social media digest, week 2026-W47"
    assert "12 mentions" in payload["text"]
    assert 'src="cid:digest-chart"' in payload["html"]
    assert base64.b64decode(payload["images"]["digest-chart"])[:4] == b"\x89PNG"
    assert result.archive == config.database_path.parent / "digests" / "2026-W47.html"
    archived = result.archive.read_text(encoding="utf-8")
    assert result.archive.stat().st_mode & 0o777 == 0o600  # names and comments, like the database
    assert "data:image/png;base64," in archived and "12</strong> mentions" in archived
    assert send.send_digest(store, config, WEEK, now=NOW).queued == 0
    assert len(digest_rows(store)) == 2


def test_queued_digest_arrives_by_smtp_with_the_chart_inline(seeded):
    from monitor.config import EmailSettings
    from monitor.notify.base import Message
    from monitor.notify.email import EmailNotifier
    from tests.smtp_server import Recorder, start_smtp

    store, config, clock = seeded
    send.send_digest(store, config, WEEK, now=NOW)
    row = store.query("SELECT * FROM alerts WHERE key = 'digest:2026-W47|email|principal@example.org'")[0]
    recorder = Recorder()
    controller = start_smtp(recorder)
    try:
        settings = EmailSettings(host="127.0.0.1", port=controller.port, starttls=False, sender="monitor@example.org", timeout="5s")
        notifier = EmailNotifier(settings, tz=config.school.tz, school=config.school.name, clock=clock)
        notifier.send(Message(
            key=row["key"], kind=row["kind"], channel=row["channel"], recipient=row["recipient"],
            payload=json.loads(row["payload"]), created_at=NOW,
        ))
    finally:
        controller.stop()
    [sent] = recorder.messages
    assert sent["Subject"] == "Ravens Wood School: social media digest, week 2026-W47"
    assert "12 mentions (+8 (+200%)" in sent.get_body(("plain",)).get_content()
    assert 'src="cid:digest-chart"' in sent.get_body(("html",)).get_content()
    [image] = [part for part in sent.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<digest-chart>" and image.get_content()[:4] == b"\x89PNG"


def test_send_without_recipients_is_a_clear_error(tmp_path):
    config = config_for(tmp_path, digest={"recipients": []})
    store = Store(config.database_path, clock=ManualClock(NOW))
    try:
        with pytest.raises(week.DigestError, match=r"\[digest\] recipients"):
            send.send_digest(store, config, WEEK)
        assert send.send_due_digest(store, config, now=NOW) is None
    finally:
        store.close()


def digest_job(config, store, clock):
    from classifiers.base import NullClassifier
    from monitor.app.assembly import build_pipeline
    from monitor.app.daemon import build_jobs

    pipeline = build_pipeline(config, store, clock=clock, classifier=NullClassifier())
    jobs = {job.id: job for job in build_jobs(config, store, pipeline, clock)}
    return jobs["digest"]


def test_weekly_job_sends_once_even_across_a_restart(tmp_path):
    config = config_for(tmp_path)
    clock = ManualClock(at(23, 7, 29))
    store = Store(config.database_path, clock=clock)
    seed(store)
    job = digest_job(config, store, clock)
    job.func()  # before the moment: last week's digest (W46) was missed, so it is caught up
    assert {r["key"].split("|")[0] for r in digest_rows(store)} == {"digest:2026-W46"}
    clock.set(at(23, 7, 30))
    job.func()
    job.func()
    assert sorted(r["key"].split("|")[0] for r in digest_rows(store)).count("digest:2026-W47") == 2
    store.close()

    # a restart later in the week: a new store and a new job find the week already queued
    clock.set(at(25, 9))
    store = Store(config.database_path, clock=clock)
    try:
        digest_job(config, store, clock).func()
        keys = [r["key"] for r in digest_rows(store)]
        assert len(keys) == 4 and len(set(keys)) == 4
    finally:
        store.close()


def test_server_off_at_the_moment_sends_at_start(tmp_path):
    config = config_for(tmp_path)
    clock = ManualClock(at(24, 10))  # Tuesday: Monday 07:30 passed while the server was off
    store = Store(config.database_path, clock=clock)
    try:
        store.execute(
            "INSERT INTO alerts (key, kind, channel, recipient, payload, created_at) VALUES (?, 'digest', 'email', 'p', '{}', ?)",
            ("digest:2026-W46|email|principal@example.org", to_db(at(16, 7, 30))),
        )
        result = send.send_due_digest(store, config)
        assert result is not None and result.week == "2026-W47" and result.queued == 2
        assert send.send_due_digest(store, config) is None
    finally:
        store.close()


# -- command line -------------------------------------------------------------------------------


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        """
[school]
name = "Ravens Wood School"
timezone = "Europe/London"

[storage]
path = "data/monitor.db"

[[sources]]
name = "facebook-page"
type = "rss"
url = "https://example.org/feed.xml"

[notify.email]
host = "127.0.0.1"
sender = "monitor@example.org"

[digest]
recipients = ["principal@example.org"]
""",
        encoding="utf-8",
    )
    return path


def run_cli(*args: str):
    from monitor.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_writes_a_viewable_file_and_sends_once(tmp_path):
    config_path = write_config(tmp_path)
    store = Store(tmp_path / "data" / "monitor.db", clock=ManualClock(NOW))
    seed(store)
    store.close()
    out = tmp_path / "out" / "digest.html"

    result = run_cli("--config", str(config_path), "digest", "--week", WEEK, "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "<strong>12</strong> mentions" in html
    assert (tmp_path / "data" / "digests" / "2026-W47.html").exists()

    first = run_cli("--config", str(config_path), "digest", "--week", WEEK, "--send")
    second = run_cli("--config", str(config_path), "digest", "--week", WEEK, "--send")
    assert first.exit_code == 0 and "queued for 1 recipient" in first.output
    assert second.exit_code == 0 and "already queued" in second.output
    store = Store(tmp_path / "data" / "monitor.db")
    try:
        assert [r["key"] for r in digest_rows(store)] == ["digest:2026-W47|email|principal@example.org"]
    finally:
        store.close()


def test_cli_prints_the_text_without_options(tmp_path):
    config_path = write_config(tmp_path)
    result = run_cli("--config", str(config_path), "digest", "--week", "2026-W01")
    assert result.exit_code == 0
    assert "Week 2026-W01: Mon 29 Dec 2025 to Sun 04 Jan 2026" in result.output


def test_cli_refuses_a_malformed_week(tmp_path, capsys):
    from monitor.cli import main

    config_path = write_config(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config_path), "digest", "--week", "2026-47"])
    assert exit_info.value.code != 0
    assert "not an ISO week" in capsys.readouterr().err


# -- phone-sized rendering in a real browser ----------------------------------------------------

# Headless Chromium will not make a window narrower than 500 px, so each page is measured inside
# a 375 px iframe (srcdoc: same origin, so its script can report to the outer page).
MEASURE = """
<script>
(function () {
  var width = window.innerWidth, bad = [];
  var all = document.body.getElementsByTagName('*');
  for (var i = 0; i < all.length; i++) {
    var r = all[i].getBoundingClientRect();
    if (r.width > 0 && r.right > width + 0.5) bad.push(all[i].tagName + ':' + Math.round(r.right));
  }
  var out = parent.document.createElement('pre');
  out.id = 'measure-' + window.frameElement.id;
  out.textContent = JSON.stringify({inner: width, scroll: document.documentElement.scrollWidth, bad: bad});
  parent.document.body.appendChild(out);
})();
</script>
"""
CONTROL = '<html><body style="margin:0"><div style="width:600px">too wide</div></body></html>'


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed: apt-get install -y chromium (needed for the 375 px rendering test)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def measure_at_phone_width(browser: str, pages: dict[str, str], tmp_path: Path) -> dict[str, dict]:
    """Each page's width, scroll width and overflowing elements in a 375 px frame."""
    frames = "".join(
        f'<iframe id="{name}" style="width:375px;height:800px;border:0;display:block" '
        f'srcdoc="{html_escape(page.replace("</body>", MEASURE + "</body>"))}"></iframe>'
        for name, page in pages.items()
    )
    outer = tmp_path / "phone.html"
    outer.write_text(f"<!DOCTYPE html><html><body style='margin:0'>{frames}</body></html>", encoding="utf-8")
    completed = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-extensions", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=800,1800", "--dump-dom", outer.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    found = {}
    for name in pages:
        match = re.search(rf'<pre id="measure-{name}">(.*?)</pre>', completed.stdout)
        assert match, f"chromium printed no measurement of {name} (exit {completed.returncode}): {completed.stderr[-2000:]}"
        found[name] = json.loads(html_unescape(match.group(1)))
    return found


def test_html_fits_a_375px_phone_without_horizontal_overflow(digest, tmp_path):
    browser = chromium()
    html = render.standalone_html(digest)
    assert LONG_URL in html and LONG_WORD[:100] in html  # the hardest content is on the page
    result = measure_at_phone_width(browser, {"digest": html, "control": CONTROL}, tmp_path)
    assert result["control"]["bad"] == ["DIV:600"]  # the measurement does see an overflow
    assert result["digest"]["inner"] == 375, result
    assert result["digest"]["scroll"] <= 375, result
    assert result["digest"]["bad"] == [], result


def test_a_first_week_says_there_was_nothing_last_week():
    assert render.change_text(99, 0) == "none last week"
    assert render.change_text(12, 4) == "+8 (+200%)"
    assert render.change_text(4, 4) == "no change"
