"""The store: WAL, uniqueness, first-seen kept, transactions, forward migrations."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from connectors.base import Item
from monitor import store as store_module
from monitor.errors import StoreError
from monitor.store import SCHEMA_VERSION, Store, migrate


def item(native_id: str, text: str = "hello", **extra) -> Item:
    return Item(source="news", native_id=native_id, kind="mention", text=text,
                created_at=datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc), **extra)


def test_wal_mode_and_schema_version(store):
    assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = set(store.db.table_names())
    assert {"items", "source_state", "cases", "alerts", "verdicts", "audit_log", "source_outages"} <= tables


def test_upsert_is_unique_and_keeps_first_seen(store, clock):
    first = store.upsert_items([item("a"), item("b"), item("a")])
    assert [s.new for s in first] == [True, True]
    seen_at = store.query("SELECT first_seen FROM items WHERE native_id = 'a'")[0]["first_seen"]
    clock.advance(timedelta(hours=1))
    again = store.upsert_items([item("a", engagement=7), item("c")])
    assert [(s.item.native_id, s.new) for s in again] == [("a", False), ("c", True)]
    assert again[0].id == first[0].id
    row = store.query("SELECT * FROM items WHERE native_id = 'a'")[0]
    assert row["first_seen"] == seen_at and row["last_seen"] > seen_at and row["engagement"] == 7
    assert store.count_items() == 3


def test_same_native_id_in_two_sources_is_two_items(store):
    other = Item(source="other", native_id="a", kind="mention", text="x",
                 created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    store.upsert_items([item("a"), other])
    assert store.count_items() == 2


def test_a_failed_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.upsert_items([item("a")])
            store.record_success("news", {"since": "a"}, 1)
            raise RuntimeError("crash")
    assert store.count_items() == 0
    assert store.source_state("news").cursor is None


def test_strange_text_is_stored(store):
    hostile = "Robert'); DROP TABLE items;-- \u202e\u200b\x00 \ud800 " + "é" * 10_000
    store.upsert_items([item("weird", text=hostile)])
    text = store.query("SELECT text FROM items")[0]["text"]
    assert text.startswith("Robert'); DROP TABLE items;--")
    assert "\ufffd" in text  # the lone surrogate, replaced
    assert store.count_items() == 1


def test_failures_are_counted_and_outages_recorded(store, clock):
    store.record_failure("news", "transient", "HTTP 500", None)
    clock.advance(timedelta(minutes=5))
    state = store.record_failure("news", "auth", "token expired", None)
    assert state.consecutive_failures == 2 and state.last_error_kind == "auth"
    assert state.failing_since == datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
    clock.advance(timedelta(minutes=5))
    store.record_success("news", None, 0)
    assert store.source_state("news").consecutive_failures == 0
    outages = store.query("SELECT * FROM source_outages")
    assert len(outages) == 1 and outages[0]["ended_at"] is not None and outages[0]["kind"] == "auth"


def test_an_old_database_is_migrated_forward(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    migrate(db, target=1)
    conn.execute(
        "INSERT INTO items (source, native_id, kind, text, created_at, first_seen, last_seen) "
        "VALUES ('news', 'kept', 'mention', 'from version 1', '2026-01-01T00:00:00+00:00', "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    conn.close()
    store = Store(path)
    assert store.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.query("SELECT text FROM items WHERE native_id = 'kept'")[0]["text"] == "from version 1"
    store.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this monitor knows"):
        Store(path)


def test_a_failing_migration_is_rolled_back(tmp_path, monkeypatch):
    def broken(db):
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    db = sqlite_utils.Database(conn)
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, target=len(store_module.MIGRATIONS))
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "half_done" not in db.table_names()


def test_naive_item_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Item(source="s", native_id="1", kind="comment", text="x", created_at=datetime(2026, 1, 1))
