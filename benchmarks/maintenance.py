"""How long a backup and the retention purge take on a large database, and what they do to writers.

Seeds a real SQLite store with ``--items`` items over two years (a verdict each, a case for a
third, one sent alert for every tenth), then prints:

- the time of ``monitor backup`` alone, and while another connection keeps writing polls of
  20 items (how many such transactions the writer committed meanwhile, and its longest wait);
- the time of the purge of everything older than 400 days, in batches.

    .venv/bin/python benchmarks/maintenance.py [--items 200000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.app.maintenance import backup_database, purge  # noqa: E402
from monitor.config import parse_config  # noqa: E402
from monitor.store import Store, to_db  # noqa: E402

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def seed(store: Store, count: int) -> None:
    span = timedelta(days=730).total_seconds()
    with store.transaction():
        for n in range(count):
            at = to_db(NOW - timedelta(seconds=span * n / count))
            item_id = store.execute(
                """INSERT INTO items (source, native_id, kind, text, created_at, first_seen, last_seen, raw)
                   VALUES ('page', ?, 'comment', ?, ?, ?, ?, '{}')""",
                (f"c{n}", f"comment number {n} about the school's week " * 3, at, at, at),
            ).lastrowid
            store.execute(
                """INSERT INTO verdicts (item_id, score, flagged, labels, reasons, model, model_version, classified_at)
                   VALUES (?, 0.1, 0, '{}', '[]', 'bench', '1', ?)""", (item_id, at),
            )
            if n % 3 == 0:
                store.execute(
                    """INSERT INTO cases (item_id, source, received_at, due_at, policy, opened_at, state, closed_at)
                       VALUES (?, 'page', ?, ?, '24h', ?, 'acknowledged', ?)""", (item_id, at, at, at, at),
                )
            if n % 10 == 0:
                store.execute(
                    """INSERT INTO alerts (key, kind, channel, payload, created_at, state, sent_at)
                       VALUES (?, 'new_comments', 'slack', '{}', ?, 'sent', ?)""", (f"k{n}", at, at),
                )


def write_polls(path: Path, stop: threading.Event, stats: dict[str, float]) -> None:
    writer = Store(path)
    number = 0
    try:
        while not stop.is_set():
            started = time.perf_counter()
            with writer.transaction():
                for _ in range(20):
                    number += 1
                    at = to_db(NOW)
                    writer.execute(
                        """INSERT INTO items (source, native_id, kind, text, created_at, first_seen, last_seen)
                           VALUES ('live', ?, 'comment', 'new', ?, ?, ?)""", (f"live{number}", at, at, at),
                    )
            stats["commits"] += 1
            stats["longest"] = max(stats["longest"], time.perf_counter() - started)
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monitor.db"
        store = Store(path, clock=lambda: NOW)
        started = time.perf_counter()
        seed(store, args.items)
        print(f"seeded {args.items} items in {time.perf_counter() - started:.1f} s; "
              f"database {path.stat().st_size / 1e6:.0f} MB")

        started = time.perf_counter()
        result = backup_database(path, Path(folder) / "quiet.db", now=NOW)
        print(f"backup, nobody writing: {time.perf_counter() - started:.2f} s ({result.size / 1e6:.0f} MB)")

        stop, stats = threading.Event(), {"commits": 0, "longest": 0.0}
        writer = threading.Thread(target=write_polls, args=(path, stop, stats))
        writer.start()
        time.sleep(0.2)
        started = time.perf_counter()
        result = backup_database(path, Path(folder) / "busy.db", now=NOW)
        elapsed = time.perf_counter() - started
        stop.set()
        writer.join()
        print(f"backup while a poller writes: {elapsed:.2f} s; the poller committed {stats['commits']} "
              f"transactions meanwhile, longest {stats['longest'] * 1000:.0f} ms; copy has {result.items} items")

        config = parse_config({"storage": {"path": str(path), "retention_days": 400}})
        started = time.perf_counter()
        purged = purge(store, config, now=NOW)
        print(f"purge (400 days): {time.perf_counter() - started:.2f} s for {purged.items} items, "
              f"{purged.cases} cases, {purged.alerts} alerts")
        store.close()


if __name__ == "__main__":
    main()
