"""The store: one SQLite file (WAL mode), opened through sqlite-utils.

Tables (see :data:`MIGRATIONS` for the columns):

- ``items``: every comment, reply, post and mention, unique on (source, native_id);
- ``source_state``: per source, the cursor and its health (last success, last error, failures);
- ``verdicts``: the classifier's verdict for an item, with the model's name and version;
- ``cases``: acknowledgement cases and how each was closed;
- ``alerts``: the outbox; every alert has a unique idempotency key;
- ``source_outages``: each period in which a source failed (open while it still fails);
- ``audit_log``: what people did (acknowledged, escalated, marked "not abusive");
- ``feedback``: items a moderator marked "not abusive", kept (with their text) for retraining;
- ``meta``: facts about the database itself, e.g. ``simulated_time`` in a database that
  ``monitor demo`` filled on its simulated clock (see :meth:`Store.simulated_time`).

The schema version is SQLite's ``user_version``; :data:`MIGRATIONS` are applied in order at
start, each in its own transaction, so an older database is brought forward and never back.

All writes of one poll happen inside :meth:`Store.transaction`, which holds the store's lock:
one writer at a time, from any thread. sqlite-utils' own write helpers commit by themselves, so
inside a transaction this module writes with plain SQL.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlite_utils

from connectors.base import Item
from monitor.clock import Clock, require_aware, system_clock
from monitor.errors import StoreDenied, StoreError

logger = logging.getLogger(__name__)

#: outage kinds in which the source saw nothing until a person acted: credentials refused (``auth``),
#: or the account itself blocked (``action``: credits used up, a spending cap reached)
BLIND_KINDS = ("auth", "action")


def to_db(value: datetime | None) -> str | None:
    """An aware datetime as sortable UTC text: ``2026-11-22T09:30:00.000000+00:00``."""
    if value is None:
        return None
    return require_aware(value).isoformat(timespec="microseconds")


def from_db(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _v1_core(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            url TEXT,
            author_id TEXT,
            author_name TEXT,
            author_handle TEXT,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            parent_id TEXT,
            thread_id TEXT,
            by_school INTEGER NOT NULL DEFAULT 0,
            engagement INTEGER,
            raw TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            UNIQUE (source, native_id)
        )"""
    )
    db.execute("CREATE INDEX items_created ON items (created_at)")
    db.execute("CREATE INDEX items_thread ON items (source, thread_id)")
    db.execute("CREATE INDEX items_parent ON items (source, parent_id)")
    db.execute(
        """CREATE TABLE source_state (
            source TEXT PRIMARY KEY,
            cursor TEXT,
            last_poll_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            last_error_kind TEXT,
            last_error_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            backoff_until TEXT,
            items_total INTEGER NOT NULL DEFAULT 0,
            extra TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE verdicts (
            item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
            score REAL NOT NULL,
            flagged INTEGER NOT NULL,
            labels TEXT NOT NULL,
            reasons TEXT NOT NULL,
            model TEXT NOT NULL,
            model_version TEXT NOT NULL,
            classified_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL UNIQUE REFERENCES items (id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            received_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            policy TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open',
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            closed_by TEXT,
            closed_how TEXT,
            note TEXT
        )"""
    )
    db.execute("CREATE INDEX cases_state_due ON cases (state, due_at)")
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            recipient TEXT,
            source TEXT,
            item_id INTEGER,
            case_id INTEGER,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            sent_at TEXT,
            receipt TEXT,
            last_error TEXT
        )"""
    )
    db.execute("CREATE INDEX alerts_pending ON alerts (state, channel, id)")
    db.execute(
        """CREATE TABLE source_outages (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            last_error TEXT
        )"""
    )
    db.execute("CREATE INDEX source_outages_source ON source_outages (source, started_at)")
    db.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            case_id INTEGER,
            item_id INTEGER,
            detail TEXT
        )"""
    )


def _v2_alerts_feedback(db: sqlite_utils.Database) -> None:
    """Why an alert failed (one message, or the whole channel); moderators' feedback on verdicts."""
    db.execute("ALTER TABLE alerts ADD COLUMN failure TEXT")
    db.execute(
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            item_id INTEGER,
            source TEXT,
            label TEXT NOT NULL,
            text TEXT NOT NULL,
            score REAL,
            labels TEXT,
            model TEXT,
            model_version TEXT,
            by TEXT NOT NULL,
            by_id TEXT,
            how TEXT NOT NULL,
            at TEXT NOT NULL,
            UNIQUE (item_id, label)
        )"""
    )


def _v3_case_notices(db: sqlite_utils.Database) -> None:
    """When the SLA clock wrote each case's reminder, breach notice and escalation (each once)."""
    for column in ("reminded_at", "breach_noticed_at", "escalated_at"):
        db.execute(f"ALTER TABLE cases ADD COLUMN {column} TEXT")


def _v4_digest_indexes(db: sqlite_utils.Database) -> None:
    """The weekly digest reads a week of items and the cases received in it from indexes alone."""
    db.execute("CREATE INDEX items_digest ON items (created_at, by_school, kind, source, engagement)")
    db.execute("CREATE INDEX cases_received ON cases (received_at)")


def _v5_alert_batches(db: sqlite_utils.Database) -> None:
    """Routine alerts wait (state ``waiting``) until ``release_at``, then join one message (``batch_id``)."""
    db.execute("ALTER TABLE alerts ADD COLUMN release_at TEXT")
    db.execute("ALTER TABLE alerts ADD COLUMN batch_id INTEGER")
    db.execute("CREATE INDEX alerts_waiting ON alerts (channel, state, recipient, release_at)")


def _v6_platform_actions(db: sqlite_utils.Database) -> None:
    """Writes on the platforms (reply, hide, delete), one row per action, committed before the call."""
    db.execute(
        """CREATE TABLE platform_actions (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            action TEXT NOT NULL,
            source TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            case_id INTEGER,
            text TEXT,
            by TEXT NOT NULL,
            by_id TEXT,
            how TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            tried_at TEXT,
            done_at TEXT,
            receipt TEXT,
            last_error TEXT
        )"""
    )
    db.execute("CREATE INDEX platform_actions_state ON platform_actions (state, id)")


def _v7_meta(db: sqlite_utils.Database) -> None:
    """Facts about the database itself, one value per key."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


#: Forward migrations: MIGRATIONS[n] brings a database from version n to n + 1. Append only.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1_core, _v2_alerts_feedback, _v3_case_notices, _v4_digest_indexes, _v5_alert_batches,
    _v6_platform_actions, _v7_meta,
]
SCHEMA_VERSION = len(MIGRATIONS)


def refuse_foreign(db: sqlite_utils.Database) -> None:
    """StoreError for a SQLite file of something else (tables, no schema version): nothing of the
    monitor's, not even its journal mode, is written into it."""
    if db.execute("PRAGMA user_version").fetchone()[0]:
        return
    foreign = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    if foreign:
        raise StoreError(
            f"this file is not a monitor database (a SQLite database of something else, with the tables "
            f"{', '.join(foreign[:5])}{'...' if len(foreign) > 5 else ''}); check storage.path"
        )


def refuse_newer(version: int) -> None:
    """StoreError for a database written by a newer monitor (a schema this one does not know)."""
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the database is at schema version {version}, newer than this monitor knows "
            f"({SCHEMA_VERSION}): upgrade the monitor, or restore a backup"
        )


def migrate(db: sqlite_utils.Database, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations the database lacks, each in its own transaction; return the version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    refuse_newer(version)
    for number in range(version, target):
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version = {number + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        logger.info("database migrated to schema version %d", number + 1)
    return max(version, target)


@dataclass(frozen=True, kw_only=True)
class StoredItem:
    """An item as stored: its row id, and whether this poll saw it for the first time."""

    id: int
    item: Item
    new: bool


@dataclass(frozen=True, kw_only=True)
class SourceState:
    source: str
    cursor: Any = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    backoff_until: datetime | None = None
    items_total: int = 0
    extra: dict[str, Any] | None = None


class Store:
    """The monitor's database. Thread-safe: every access holds one lock."""

    #: True for the empty stand-in of a database not created yet (see ``monitor.app.assembly.open_store``)
    absent = False

    def __init__(self, path: str | Path, *, clock: Clock = system_clock):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        if str(path) != ":memory:":
            exists = database_exists(self.path)
            try:
                create_private_folder(self.path.parent)
                if not exists:
                    create_private(self.path)
            except OSError as exc:
                raise cannot_open(self.path, exc) from exc
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
            self.db = sqlite_utils.Database(conn)
            refuse_foreign(self.db)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            migrate(self.db)
        except (sqlite3.DatabaseError, StoreError) as exc:
            raise cannot_open(self.path, exc) from exc

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """One atomic unit of work. Nested calls join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException as exc:
                self._depth = 0
                self._rollback()
                if _disk_full(exc):
                    raise StoreError(f"cannot write to the database {self.path}: {exc} (free some disk space)") from exc
                raise
            self._depth = 0
            try:
                self.db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                if _disk_full(exc):
                    raise StoreError(f"cannot write to the database {self.path}: {exc} (free some disk space)") from exc
                raise

    def _rollback(self) -> None:
        # SQLite rolls back by itself after some errors (a full disk): ROLLBACK would then fail
        # and hide the error that matters
        if self.db.conn.in_transaction:
            self.db.execute("ROLLBACK")

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params))

    def now(self) -> datetime:
        return self.clock()

    def record_simulated_time(self, when: datetime) -> None:
        """Mark this database as filled on a simulated clock (``monitor demo``), now at ``when``."""
        with self._lock:
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('simulated_time', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (to_db(when),),
            )

    def set_meta(self, key: str, value: str | None) -> None:
        """Keep (or, with None, forget) a fact about this database's monitor in ``meta``."""
        with self._lock:
            if value is None:
                self.db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def simulated_time(self) -> datetime | None:
        """The simulated clock's last time, for a database ``monitor demo`` filled; None for a real one.

        What the database says (a case overdue, a source backing off) holds at that time, not today.
        """
        row = self.execute("SELECT value FROM meta WHERE key = 'simulated_time'").fetchone()
        return from_db(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            try:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.DatabaseError:
                pass
            self.db.conn.close()

    # -- items ------------------------------------------------------------------------------

    def existing_ids(self, source: str, native_ids: Iterable[str]) -> set[str]:
        """The subset of ``native_ids`` already stored for ``source``."""
        ids = list(dict.fromkeys(_clean_text(i) for i in native_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.execute(
                f"SELECT native_id FROM items WHERE source = ? AND native_id IN ({marks})",
                [source, *chunk],
            )
            found.update(row[0] for row in rows)
        return found

    def upsert_items(self, items: Iterable[Item]) -> list[StoredItem]:
        """Store items; an item seen before keeps its first-seen time and its row id.

        Returns one StoredItem per distinct (source, native_id), in the order given.
        """
        now = to_db(self.now())
        stored: dict[tuple[str, str], StoredItem] = {}
        with self.transaction():
            for item in items:
                key = (item.source, item.native_id)
                if key in stored:
                    continue
                row = self.execute(
                    "SELECT id FROM items WHERE source = ? AND native_id = ?",
                    (item.source, _clean_text(item.native_id)),
                ).fetchone()
                if row:
                    self.execute(
                        "UPDATE items SET last_seen = ?, engagement = COALESCE(?, engagement) WHERE id = ?",
                        (now, item.engagement, row[0]),
                    )
                    stored[key] = StoredItem(id=row[0], item=item, new=False)
                    continue
                cursor = self.execute(
                    """INSERT INTO items (source, native_id, kind, url, author_id, author_name,
                        author_handle, text, created_at, parent_id, thread_id, by_school, engagement,
                        raw, first_seen, last_seen)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        item.source, _clean_text(item.native_id), item.kind, _clean_text(item.url),
                        _clean_text(item.author_id), _clean_text(item.author_name),
                        _clean_text(item.author_handle), _clean_text(item.text), to_db(item.created_at),
                        _clean_text(item.parent_id), _clean_text(item.thread_id), int(item.by_school),
                        item.engagement, json.dumps(item.raw, default=str), now, now,
                    ),
                )
                stored[key] = StoredItem(id=cursor.lastrowid, item=item, new=True)
        return list(stored.values())

    def count_items(self, source: str | None = None) -> int:
        if source is None:
            return self.execute("SELECT count(*) FROM items").fetchone()[0]
        return self.execute("SELECT count(*) FROM items WHERE source = ?", (source,)).fetchone()[0]

    # -- verdicts ---------------------------------------------------------------------------

    def save_verdict(self, item_id: int, verdict) -> None:
        self.execute(
            """INSERT OR REPLACE INTO verdicts
               (item_id, score, flagged, labels, reasons, model, model_version, classified_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                item_id, float(verdict.score), int(verdict.flagged), json.dumps(dict(verdict.labels)),
                json.dumps(list(verdict.reasons), ensure_ascii=False), verdict.model,
                verdict.model_version, to_db(self.now()),
            ),
        )

    # -- source state -----------------------------------------------------------------------

    def source_state(self, source: str) -> SourceState:
        rows = self.query("SELECT * FROM source_state WHERE source = ?", (source,))
        if not rows:
            return SourceState(source=source)
        row = rows[0]
        return SourceState(
            source=source,
            cursor=json.loads(row["cursor"]) if row["cursor"] is not None else None,
            last_poll_at=from_db(row["last_poll_at"]),
            last_success_at=from_db(row["last_success_at"]),
            last_error=row["last_error"],
            last_error_kind=row["last_error_kind"],
            last_error_at=from_db(row["last_error_at"]),
            consecutive_failures=row["consecutive_failures"],
            failing_since=from_db(row["failing_since"]),
            backoff_until=from_db(row["backoff_until"]),
            items_total=row["items_total"],
            extra=json.loads(row["extra"]) if row["extra"] else None,
        )

    def _ensure_state(self, source: str) -> None:
        self.execute("INSERT OR IGNORE INTO source_state (source) VALUES (?)", (source,))

    def record_success(self, source: str, cursor: Any, new_items: int, extra: dict | None = None) -> None:
        """The poll worked: advance the cursor, clear the failure streak (same transaction as the items)."""
        now = to_db(self.now())
        with self.transaction():
            self._ensure_state(source)
            self.execute(
                """UPDATE source_state SET cursor = ?, last_poll_at = ?, last_success_at = ?,
                    consecutive_failures = 0, failing_since = NULL, backoff_until = NULL,
                    items_total = items_total + ?, extra = COALESCE(?, extra)
                   WHERE source = ?""",
                (
                    json.dumps(cursor), now, now, new_items,
                    json.dumps(extra) if extra else None, source,
                ),
            )
            self.execute(
                "UPDATE source_outages SET ended_at = ? WHERE source = ? AND ended_at IS NULL", (now, source)
            )

    def record_failure(
        self, source: str, kind: str, message: str, backoff_until: datetime | None,
        extra: dict | None = None,
    ) -> SourceState:
        """The poll failed: keep the cursor, count the failure, remember when it began."""
        now = to_db(self.now())
        with self.transaction():
            self._ensure_state(source)
            self.execute(
                """UPDATE source_state SET last_poll_at = ?, last_error = ?, last_error_kind = ?,
                    last_error_at = ?, consecutive_failures = consecutive_failures + 1,
                    failing_since = COALESCE(failing_since, ?), backoff_until = ?,
                    extra = COALESCE(?, extra)
                   WHERE source = ?""",
                (
                    now, message, kind, now, now, to_db(backoff_until),
                    json.dumps(extra) if extra else None, source,
                ),
            )
            updated = self.execute(
                "UPDATE source_outages SET last_error = ?, kind = ? WHERE source = ? AND ended_at IS NULL",
                (message, kind, source),
            )
            if updated.rowcount == 0:
                self.execute(
                    "INSERT INTO source_outages (source, kind, started_at, last_error) VALUES (?, ?, ?, ?)",
                    (source, kind, now, message),
                )
            return self.source_state(source)

    # -- audit ------------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, *, case_id: int | None = None, item_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.execute(
            "INSERT INTO audit_log (at, actor, action, case_id, item_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (
                to_db(self.now()), actor, action, case_id, item_id,
                json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
            ),
        )


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


def create_private(path: Path) -> None:
    """Create an empty database file readable by its owner only (SQLite gives the -wal and -shm
    files the same mode). An existing file is left as it is: ``monitor check-config`` warns."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def create_private_folder(path: Path) -> None:
    """Create the folder ``path`` and its missing parents readable by their owner only (0700, as the
    files in them are 0600), whatever the umask. A folder that exists is left as it is: the deploy
    guide makes /var/lib/school-monitor 0750 for the service's group itself."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process
            continue
        folder.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened: this says it whole


#: the first 16 bytes of every SQLite 3 database file (https://www.sqlite.org/fileformat.html)
SQLITE_HEADER = b"SQLite format 3\x00"


def database_exists(path: Path) -> bool:
    """Whether the database file at ``path`` exists; StoreError (naming the path, the cause and what
    to do) when it cannot be the monitor's database: a folder, under a file, unreadable, not SQLite."""
    try:
        if path.is_dir():
            raise StoreError(f"cannot open the database {path}: it is a folder; storage.path names the "
                             'database file itself, e.g. "/var/lib/school-monitor/monitor.db"')
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise StoreError(f"cannot open the database {path}: {parent} is a file, not a folder; "
                                     "check storage.path")
                break
        if not path.exists():
            return False
        with open(path, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise cannot_open(path, exc) from exc
    if header and header != SQLITE_HEADER:
        raise StoreError(f"cannot open the database {path}: this file is not a monitor database (not SQLite "
                         "at all); check storage.path, or restore a backup (deploy/README.md)")
    return True


def inspect_database(path: Path) -> int | None:
    """The schema version of the database at ``path`` (None if there is none yet), read without
    writing anything; StoreError (as :class:`Store` would raise it) if the monitor could not use it."""
    if not database_exists(path):
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            refuse_foreign(sqlite_utils.Database(conn))
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            refuse_newer(version)
        finally:
            conn.close()
    except (sqlite3.DatabaseError, StoreError) as exc:
        raise cannot_open(path, exc) from exc
    return version


def cannot_open(path: Path, exc: BaseException) -> StoreError:
    """The one-line error for a database that SQLite or the system would not open, with the fix."""
    if isinstance(exc, StoreError):
        return StoreError(f"cannot open the database {path}: {exc}")
    if isinstance(exc, PermissionError):
        return _denied(path)
    if isinstance(exc, OSError):
        return StoreError(f"cannot open the database {path}: {exc.strerror or exc}; check storage.path")
    text = str(exc)
    if "not a database" in text:
        return StoreError(f"cannot open the database {path}: this file is not a monitor database ({text}); "
                          "check storage.path, or restore a backup (deploy/README.md)")
    if "malformed" in text or "corrupt" in text:
        return StoreError(f"cannot open the database {path}: the file is damaged ({text}); restore a backup "
                          "(deploy/README.md)")
    if not _may_write(path):
        return _denied(path)
    return StoreError(f"cannot open the database {path}: {text}; check storage.path and the disk")


def _denied(path: Path) -> StoreDenied:
    return StoreDenied(f"cannot open the database {path}: permission denied{_owner(path)}; run monitor as the "
                       "service user (on a server: sudo school-monitor COMMAND, deploy/README.md)")


def _may_write(path: Path) -> bool:
    """Whether this user may write the database and create its -wal and -shm files beside it."""
    return os.access(path.parent, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.R_OK | os.W_OK))


def _owner(path: Path) -> str:
    """" (it belongs to NAME)" for the file, or the nearest folder above it, that this user can see."""
    import pwd

    for candidate in (path, *path.parents):
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        if uid == os.geteuid():
            return ""
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return f" ({candidate} belongs to {name})"
    return ""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_text(text: str | None) -> str | None:
    """Text that SQLite can store: lone surrogates (from bad JSON escapes) become U+FFFD."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
