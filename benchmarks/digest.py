"""How long the weekly digest takes over a busy week.

Seeds a real SQLite store with 50,000 items in week 2026-W47 and as many in the week before
(six sources, a third of them comments on the official page with acknowledgement cases, 5 %
flagged, engagement on most), then prints the time to build the digest, to render its parts, and
to publish it (archive and outbox). Target: building at most 3 s.

    .venv/bin/python benchmarks/digest.py [--items 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.clock import ManualClock  # noqa: E402
from monitor.config import parse_config  # noqa: E402
from monitor.digest import render, send, week  # noqa: E402
from monitor.store import Store, to_db  # noqa: E402

WEEK_START = datetime(2026, 11, 16, tzinfo=timezone.utc)  # Monday of 2026-W47 (GMT)
NOW = datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
SOURCES = ["facebook-page", "instagram", "x-search", "reddit", "local-news", "youtube"]


def seed(store: Store, per_week: int, rng: random.Random) -> None:
    items, verdicts, cases = [], [], []
    row_id = 0
    for week_start in (WEEK_START - timedelta(days=7), WEEK_START):
        for _ in range(per_week):
            row_id += 1
            created = week_start + timedelta(seconds=rng.randrange(7 * 86400))
            official = rng.random() < 0.33
            source = "facebook-page" if official else rng.choice(SOURCES[1:])
            kind = "comment" if official else rng.choice(["mention", "reply", "comment"])
            text = " ".join(rng.choice(["school", "great", "trip", "parents", "term", "news", "why"]) for _ in range(20))
            items.append((
                row_id, source, f"n{row_id}", kind, f"https://example.org/{source}/{row_id}", "a", "Author",
                "author", text, to_db(created), 0, rng.randrange(500) if rng.random() < 0.7 else None,
                to_db(created), to_db(created),
            ))
            flagged = rng.random() < 0.05
            verdicts.append((row_id, 0.9 if flagged else 0.1, int(flagged), json.dumps({"insult": 0.9 if flagged else 0.1}), to_db(created)))
            if official:
                due = created + timedelta(hours=24)
                roll = rng.random()
                closed = None if roll < 0.1 else created + timedelta(minutes=rng.randrange(60, 48 * 60))
                cases.append((row_id, source, to_db(created), to_db(due), to_db(created), to_db(closed), "Ms Patel" if closed else None))
    with store.transaction():
        store.db.conn.executemany(
            """INSERT INTO items (id, source, native_id, kind, url, author_id, author_name, author_handle, text,
                created_at, by_school, engagement, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            items,
        )
        store.db.conn.executemany(
            """INSERT INTO verdicts (item_id, score, flagged, labels, reasons, model, model_version, classified_at)
               VALUES (?, ?, ?, ?, '[]', 'bench', '1', ?)""",
            verdicts,
        )
        store.db.conn.executemany(
            """INSERT INTO cases (item_id, source, received_at, due_at, policy, opened_at, closed_at, closed_by)
               VALUES (?, ?, ?, ?, '24h', ?, ?, ?)""",
            cases,
        )
        store.execute(
            "INSERT INTO source_outages (source, kind, started_at, ended_at, last_error) VALUES (?, 'auth', ?, ?, 'expired')",
            ("instagram", to_db(WEEK_START + timedelta(days=2)), to_db(WEEK_START + timedelta(days=3))),
        )
        flagged_ids = [v[0] for v in verdicts if v[2]][:2000]
        store.db.conn.executemany(
            "INSERT INTO audit_log (at, actor, action, item_id) VALUES (?, 'Ms Patel', 'escalated', ?)",
            [(to_db(NOW), item_id) for item_id in flagged_ids],
        )


def timed(func, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="items per week (default 50000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each step; the median is printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = parse_config({
            "storage": {"path": str(Path(folder) / "monitor.db")},
            "notify": {"email": {"host": "127.0.0.1", "sender": "monitor@example.org"}},
            "digest": {"recipients": ["principal@example.org"]},
        })
        store = Store(config.database_path, clock=ManualClock(NOW))
        started = time.perf_counter()
        seed(store, args.items, random.Random(47))
        print(f"seeded {2 * args.items} items in {time.perf_counter() - started:.1f} s")
        build, digest = timed(lambda: week.build_digest(store, config, "2026-W47", now=NOW), args.runs)
        html, _ = timed(lambda: render.render_html(digest), args.runs)
        text, _ = timed(lambda: render.render_text(digest), args.runs)
        chart, _ = timed(lambda: render.render_chart(digest), args.runs)
        publish, _ = timed(lambda: send.send_digest(store, config, "2026-W47", now=NOW), 1)
        store.close()
    print(f"mentions this week: {digest.mentions}, flagged: {digest.flagged_total}, cases: {digest.ack.received}")
    print(f"build_digest:  {build:.3f} s (target <= 3 s)")
    print(f"render html:   {html:.3f} s")
    print(f"render text:   {text:.3f} s")
    print(f"render chart:  {chart:.3f} s")
    print(f"send (build, render, archive, outbox): {publish:.3f} s")


if __name__ == "__main__":
    main()
