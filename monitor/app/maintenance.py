"""Keeping the database: consistent backups while the daemon runs, and the retention purge.

:func:`backup_database` uses SQLite's online backup API (``sqlite3.Connection.backup``) over its
own connection: it copies one consistent snapshot even while the daemon is writing (in WAL mode
readers never block the writer), into a temporary file that is renamed into place only once
complete and checked, so a backup file is either whole or absent.

:func:`purge` enforces ``storage.retention_days`` (data protection): items created before the
cut-off go, with their verdicts and cases (``ON DELETE CASCADE``), as do alerts sent before it
and source outages that ended before it, and moderators' feedback (which copies the comment's text)
given before it. Alerts still waiting to be delivered are never purged.
It deletes in batches, each in its own short transaction, so a first purge of a large database
does not hold the writer lock for long, and records what it removed in the audit log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from monitor.clock import require_aware
from monitor.config import Config
from monitor.errors import StoreError
from monitor.store import Store, create_private, inspect_database, to_db

logger = logging.getLogger(__name__)

#: Items deleted per transaction by :func:`purge`.
PURGE_BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class BackupResult:
    path: Path
    size: int
    items: int
    schema_version: int


@dataclass(frozen=True, kw_only=True)
class PurgeResult:
    cutoff: datetime
    items: int = 0
    verdicts: int = 0
    cases: int = 0
    alerts: int = 0
    outages: int = 0
    feedback: int = 0
    dry_run: bool = False

    @property
    def total(self) -> int:
        return self.items + self.verdicts + self.cases + self.alerts + self.outages + self.feedback


def backup_target(dest: str | os.PathLike, now: datetime) -> Path:
    """The file a backup goes to: ``dest`` itself, or a time-stamped name inside a folder."""
    path = Path(dest).expanduser()
    if path.is_dir():
        stamp = require_aware(now).strftime("%Y%m%dT%H%M%SZ")
        path = path / f"monitor-{stamp}.db"
    return path


def backup_database(
    database: str | os.PathLike, dest: str | os.PathLike, *, now: datetime, overwrite: bool = False
) -> BackupResult:
    """Copy the live database at ``database`` to ``dest`` (a file, or a folder to put one in)."""
    source_path = Path(database)
    if inspect_database(source_path) is None:
        raise StoreError(f"no database at {source_path}: nothing to back up (check storage.path)")
    target = backup_target(dest, now)
    if target.resolve() == source_path.resolve():
        raise StoreError(f"{target} is the database itself: give another path for the backup")
    if target.exists() and not overwrite:
        raise StoreError(f"{target} already exists: give another path, or --force to replace it")
    if not target.parent.is_dir():
        raise StoreError(f"cannot write {target}: folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    try:
        _copy(source_path, partial)
        items, version = _check_copy(partial)
        os.replace(partial, target)
    except sqlite3.DatabaseError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source_path} failed: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot write backup {target}: {exc.strerror or exc}") from exc
    size = target.stat().st_size
    logger.info("backed up %s to %s (%d bytes, %d items)", source_path, target, size, items)
    return BackupResult(path=target, size=size, items=items, schema_version=version)


def _copy(source_path: Path, partial: Path) -> None:
    partial.unlink(missing_ok=True)
    create_private(partial)  # mode 0600 whatever the umask: a backup holds what the database holds
    source = sqlite3.connect(str(source_path), timeout=30)
    try:
        source.execute("PRAGMA busy_timeout = 30000")
        target = sqlite3.connect(str(partial))
        try:
            # one step (pages=-1): a single read snapshot, so writers going on cannot restart it
            source.backup(target, pages=-1)
            # the copy is a single self-contained file, not a WAL database
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
    finally:
        source.close()


def _check_copy(path: Path) -> tuple[int, int]:
    """(items, schema version) of a finished copy; StoreError if it is not sound."""
    conn = sqlite3.connect(str(path))
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise StoreError(f"the backup copy failed its integrity check: {result}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_items = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'").fetchone()
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0] if has_items else 0
        return items, version
    finally:
        conn.close()


def retention_cutoff(config: Config, now: datetime) -> datetime:
    return require_aware(now, "now") - timedelta(days=config.storage.retention_days)


def purge(store: Store, config: Config, *, now: datetime | None = None, dry_run: bool = False) -> PurgeResult:
    """Delete what is older than ``storage.retention_days``; return the counts (audit-logged)."""
    now = store.now() if now is None else require_aware(now, "now")
    cutoff = retention_cutoff(config, now)
    if dry_run:
        return _count_purgeable(store, cutoff)
    totals = {"items": 0, "verdicts": 0, "cases": 0}
    while True:
        with store.transaction():
            batch = _purge_items(store, to_db(cutoff))
        for key, count in batch.items():
            totals[key] += count
        if batch["items"] < PURGE_BATCH:
            break
    with store.transaction():
        alerts = store.execute(
            "DELETE FROM alerts WHERE sent_at IS NOT NULL AND sent_at < ?", (to_db(cutoff),)
        ).rowcount
        outages = store.execute(
            "DELETE FROM source_outages WHERE ended_at IS NOT NULL AND ended_at < ?", (to_db(cutoff),)
        ).rowcount
        feedback = store.execute("DELETE FROM feedback WHERE at < ?", (to_db(cutoff),)).rowcount
        result = PurgeResult(cutoff=cutoff, alerts=alerts, outages=outages, feedback=feedback, **totals)
        store.audit(
            "monitor", "purge",
            detail={
                "retention_days": config.storage.retention_days, "cutoff": to_db(cutoff),
                "items": result.items, "verdicts": result.verdicts, "cases": result.cases,
                "alerts": result.alerts, "outages": result.outages, "feedback": result.feedback,
            },
        )
    logger.info(
        "purged data older than %s: %d items, %d verdicts, %d cases, %d alerts, %d outages, %d feedback",
        cutoff.date().isoformat(), result.items, result.verdicts, result.cases, result.alerts, result.outages,
        result.feedback,
    )
    return result


def _purge_items(store: Store, cutoff: str) -> dict[str, int]:
    """One batch of old items with their verdicts and cases (inside the caller's transaction)."""
    ids = [
        row[0]
        for row in store.execute(
            "SELECT id FROM items WHERE created_at < ? ORDER BY id LIMIT ?", (cutoff, PURGE_BATCH)
        )
    ]
    if not ids:
        return {"items": 0, "verdicts": 0, "cases": 0}
    marks = ",".join("?" * len(ids))
    verdicts = store.execute(f"SELECT count(*) FROM verdicts WHERE item_id IN ({marks})", ids).fetchone()[0]
    cases = store.execute(f"SELECT count(*) FROM cases WHERE item_id IN ({marks})", ids).fetchone()[0]
    # verdicts and cases follow by ON DELETE CASCADE; deleted explicitly too, in case a
    # connection was opened without foreign keys
    store.execute(f"DELETE FROM verdicts WHERE item_id IN ({marks})", ids)
    store.execute(f"DELETE FROM cases WHERE item_id IN ({marks})", ids)
    items = store.execute(f"DELETE FROM items WHERE id IN ({marks})", ids).rowcount
    return {"items": items, "verdicts": verdicts, "cases": cases}


def _count_purgeable(store: Store, cutoff: datetime) -> PurgeResult:
    at = to_db(cutoff)

    def count(sql: str) -> int:
        return store.execute(sql, (at,)).fetchone()[0]

    return PurgeResult(
        cutoff=cutoff,
        items=count("SELECT count(*) FROM items WHERE created_at < ?"),
        verdicts=count("SELECT count(*) FROM verdicts JOIN items ON items.id = verdicts.item_id WHERE items.created_at < ?"),
        cases=count("SELECT count(*) FROM cases JOIN items ON items.id = cases.item_id WHERE items.created_at < ?"),
        alerts=count("SELECT count(*) FROM alerts WHERE sent_at IS NOT NULL AND sent_at < ?"),
        outages=count("SELECT count(*) FROM source_outages WHERE ended_at IS NOT NULL AND ended_at < ?"),
        feedback=count("SELECT count(*) FROM feedback WHERE at < ?"),
        dry_run=True,
    )
