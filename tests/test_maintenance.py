"""Backups of a live database, and the retention purge."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from classifiers.base import Verdict
from connectors.base import Item
from monitor.app import maintenance
from monitor.app.maintenance import backup_database, purge
from monitor.cli import main
from monitor.errors import StoreError
from monitor.store import Store, to_db
from tests.conftest import make_config

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


def add_items(store: Store, source: str, start: int, count: int, created_at: datetime) -> list[int]:
    """``count`` items with a verdict each, in one transaction; their row ids."""
    items = [
        Item(source=source, native_id=f"{source}-{n}", kind="comment", text=f"comment {n}", created_at=created_at)
        for n in range(start, start + count)
    ]
    with store.transaction():
        stored = store.upsert_items(items)
        for s in stored:
            store.save_verdict(s.id, Verdict(score=0.1, flagged=False, model="test", model_version="1"))
    return [s.id for s in stored]


def open_case(store: Store, item_id: int, received: datetime) -> None:
    store.execute(
        "INSERT INTO cases (item_id, source, received_at, due_at, policy, opened_at) VALUES (?, 'page', ?, ?, '24h', ?)",
        (item_id, to_db(received), to_db(received + timedelta(hours=24)), to_db(received)),
    )


def add_alert(store: Store, key: str, created: datetime, sent: datetime | None) -> None:
    store.execute(
        """INSERT INTO alerts (key, kind, channel, recipient, payload, created_at, state, sent_at)
           VALUES (?, 'abuse', 'slack', 'C1', '{}', ?, ?, ?)""",
        (key, to_db(created), "sent" if sent else "pending", to_db(sent)),
    )


# -- backup ---------------------------------------------------------------------------------


def test_backup_while_a_writer_is_writing_is_a_consistent_snapshot(tmp_path: Path):
    db = tmp_path / "monitor.db"
    store = Store(db)
    add_items(store, "page", 0, 10, NOW)
    stop = threading.Event()
    batches = [1]

    def write() -> None:
        # another connection, as the daemon would be: every transaction adds exactly 10 items
        writer = Store(db)
        try:
            while not stop.is_set():
                add_items(writer, "page", batches[0] * 10, 10, NOW)
                batches[0] += 1
        finally:
            writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    counts = []
    try:
        for n in range(5):
            result = backup_database(db, tmp_path / f"copy-{n}.db", now=NOW)
            copy = sqlite3.connect(result.path)
            items = copy.execute("SELECT count(*) FROM items").fetchone()[0]
            verdicts = copy.execute("SELECT count(*) FROM verdicts").fetchone()[0]
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            copy.close()
            assert items == result.items == verdicts
            assert items % 10 == 0, "a backup caught a transaction half-way"
            counts.append(items)
    finally:
        stop.set()
        thread.join()
        store.close()
    assert counts == sorted(counts) and counts[0] >= 10
    assert batches[0] > 1, "the writer never wrote during the backups"
    assert not list(tmp_path.glob(".*partial")), "a temporary file was left behind"


def test_backup_into_a_folder_gets_a_timestamped_name(tmp_path: Path):
    store = Store(tmp_path / "monitor.db")
    add_items(store, "page", 0, 3, NOW)
    folder = tmp_path / "backups"
    folder.mkdir()
    result = backup_database(store.path, folder, now=NOW)
    store.close()
    assert result.path == folder / "monitor-20261116T090000Z.db"
    assert result.items == 3 and result.size == result.path.stat().st_size
    assert result.schema_version >= 1


def test_backup_refuses_to_overwrite_or_to_copy_nothing(tmp_path: Path):
    with pytest.raises(StoreError, match="no database"):
        backup_database(tmp_path / "absent.db", tmp_path / "copy.db", now=NOW)
    assert not (tmp_path / "absent.db").exists(), "the backup created the database it was asked to copy"
    store = Store(tmp_path / "monitor.db")
    add_items(store, "page", 0, 2, NOW)
    target = tmp_path / "copy.db"
    target.write_text("precious")
    with pytest.raises(StoreError, match="already exists"):
        backup_database(store.path, target, now=NOW)
    assert target.read_text() == "precious"
    assert backup_database(store.path, target, now=NOW, overwrite=True).items == 2
    with pytest.raises(StoreError, match="the database itself"):
        backup_database(store.path, store.path, now=NOW, overwrite=True)
    with pytest.raises(StoreError, match="does not exist"):
        backup_database(store.path, tmp_path / "no" / "such" / "copy.db", now=NOW)
    store.close()


def test_backup_command(tmp_path: Path, capsys: pytest.CaptureFixture):
    config = tmp_path / "monitor.toml"
    config.write_text('[storage]\npath = "data/monitor.db"\n')
    store = Store(tmp_path / "data" / "monitor.db")
    add_items(store, "page", 0, 4, NOW)
    store.close()
    main(["--config", str(config), "backup", str(tmp_path / "b.db")])
    assert "4 items" in capsys.readouterr().out
    assert sqlite3.connect(tmp_path / "b.db").execute("SELECT count(*) FROM items").fetchone()[0] == 4
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "backup", str(tmp_path / "b.db")])
    assert exit_info.value.code == 1
    assert "already exists" in capsys.readouterr().err


# -- purge ----------------------------------------------------------------------------------


@pytest.fixture
def seeded(tmp_path: Path):
    """30-day retention; old and recent items, verdicts, cases, alerts and outages."""
    config = make_config(tmp_path, storage={"path": str(tmp_path / "monitor.db"), "retention_days": 30})
    store = Store(config.database_path, clock=lambda: NOW)
    old = add_items(store, "page", 0, 7, NOW - timedelta(days=45))
    edge = add_items(store, "page", 100, 2, NOW - timedelta(days=30) + timedelta(minutes=1))
    recent = add_items(store, "page", 200, 5, NOW - timedelta(days=2))
    with store.transaction():
        for item_id in old[:4] + recent[:2]:
            open_case(store, item_id, NOW - timedelta(days=45))
        add_alert(store, "old-sent", NOW - timedelta(days=50), NOW - timedelta(days=50))
        add_alert(store, "old-pending", NOW - timedelta(days=50), None)
        add_alert(store, "recent-sent", NOW - timedelta(days=1), NOW - timedelta(days=1))
        store.execute(
            "INSERT INTO source_outages (source, kind, started_at, ended_at) VALUES ('page', 'auth', ?, ?)",
            (to_db(NOW - timedelta(days=60)), to_db(NOW - timedelta(days=59))),
        )
        store.execute(
            "INSERT INTO source_outages (source, kind, started_at) VALUES ('page', 'auth', ?)",
            (to_db(NOW - timedelta(days=60)),),
        )
        for days, text in ((45, "an old comment's text"), (3, "a recent comment's text")):
            store.execute(
                "INSERT INTO feedback (item_id, label, text, by, how, at) VALUES (NULL, 'not_abusive', ?, 'Jane', 'slack', ?)",
                (text, to_db(NOW - timedelta(days=days))),
            )
    yield config, store, {"old": old, "edge": edge, "recent": recent}
    store.close()


def test_purge_removes_old_keeps_recent_and_counts(seeded):
    config, store, ids = seeded
    result = purge(store, config)
    assert (result.items, result.verdicts, result.cases, result.alerts, result.outages, result.feedback) == (7, 7, 4, 1, 1, 1)
    assert result.cutoff == NOW - timedelta(days=30)
    remaining = {row["id"] for row in store.query("SELECT id FROM items")}
    assert remaining == set(ids["edge"] + ids["recent"])
    assert store.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 7
    assert {r["item_id"] for r in store.query("SELECT item_id FROM cases")} == set(ids["recent"][:2])
    assert {r["key"] for r in store.query("SELECT key FROM alerts")} == {"old-pending", "recent-sent"}
    assert store.execute("SELECT count(*) FROM source_outages WHERE ended_at IS NULL").fetchone()[0] == 1
    assert [r["text"] for r in store.query("SELECT text FROM feedback")] == ["a recent comment's text"]
    audit = store.query("SELECT * FROM audit_log WHERE action = 'purge'")
    assert len(audit) == 1 and audit[0]["actor"] == "monitor"
    detail = json.loads(audit[0]["detail"])
    assert detail["items"] == 7 and detail["cases"] == 4 and detail["retention_days"] == 30
    again = purge(store, config)
    assert again.total == 0


def test_purge_dry_run_counts_and_deletes_nothing(seeded):
    config, store, _ids = seeded
    before = store.count_items()
    preview = purge(store, config, dry_run=True)
    assert preview.dry_run and (preview.items, preview.verdicts, preview.cases, preview.alerts, preview.feedback) == (7, 7, 4, 1, 1)
    assert store.count_items() == before
    assert not store.query("SELECT * FROM audit_log")
    assert purge(store, config).total == preview.total


def test_purge_in_small_batches_deletes_everything_old(seeded, monkeypatch: pytest.MonkeyPatch):
    config, store, ids = seeded
    monkeypatch.setattr(maintenance, "PURGE_BATCH", 3)
    result = purge(store, config)
    assert result.items == 7 and result.cases == 4
    assert store.count_items() == len(ids["edge"]) + len(ids["recent"])


def test_purge_command(seeded, capsys: pytest.CaptureFixture, tmp_path: Path):
    config, store, _ids = seeded
    store.close()
    path = tmp_path / "monitor.toml"
    # every item is older than a 1-day retention
    path.write_text(f'[storage]\npath = "{config.database_path}"\nretention_days = 1\n')
    main(["--config", str(path), "purge", "--dry-run"])
    assert "would delete" in capsys.readouterr().out
    main(["--config", str(path), "purge"])
    out = capsys.readouterr().out
    assert "deleted" in out and "14 items" in out
    reopened = Store(config.database_path)
    assert reopened.count_items() == 0
    reopened.close()


def test_the_daemon_purges_daily_and_beats(tmp_path: Path):
    from apscheduler.triggers.cron import CronTrigger

    from monitor.app.daemon import build_jobs, supervise
    from monitor.pipeline import Pipeline

    config = make_config(tmp_path)
    store = Store(config.database_path)
    jobs = build_jobs(config, store, Pipeline(config=config, store=store))
    purge_jobs = [job for job in jobs if job.id == "purge"]
    assert len(purge_jobs) == 1 and isinstance(purge_jobs[0].trigger, CronTrigger)
    add_items(store, "page", 0, 2, datetime.now(timezone.utc) - timedelta(days=500))
    purge_jobs[0].func()
    assert store.count_items() == 0
    watchdog = supervise(jobs, running=lambda: True)
    assert jobs[-1].id == "heartbeat" and jobs[-1].func == watchdog.beat
    store.close()
