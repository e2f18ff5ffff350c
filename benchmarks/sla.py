"""How fast deadlines are computed, and how the SLA clock copes with many open cases (not a test).

    python benchmarks/sla.py [--instants 100000] [--cases 20000]

Prints: deadlines per second through the library (both policies, random instants 2020-2030);
the wall time of ``monitor sla due`` reading 10,000 timestamps on stdin (a fresh process, so it
includes start-up); and the time of one SLA clock tick over N open cases when nothing is due,
when every reminder is due at once, and the idle tick after that.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config import parse_config  # noqa: E402
from monitor.sla.calendar import WorkingCalendar  # noqa: E402
from monitor.sla.clock import tick  # noqa: E402
from monitor.sla.deadlines import due_at  # noqa: E402
from monitor.store import Store, to_db  # noqa: E402

START, END = datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2031, 1, 1, tzinfo=timezone.utc)


def random_instants(count: int, seed: int = 4) -> list[datetime]:
    rng = random.Random(seed)
    span = int((END - START).total_seconds())
    return [START + timedelta(seconds=rng.randrange(span)) for _ in range(count)]


def bench_library(count: int) -> None:
    calendar = WorkingCalendar()
    instants = random_instants(count)
    for policy in ("24h", "2wd"):
        started = time.perf_counter()
        for instant in instants:
            due_at(instant, policy, calendar)
        elapsed = time.perf_counter() - started
        print(f"due_at {policy}: {count / elapsed:,.0f} deadlines/s ({elapsed * 1e6 / count:.1f} µs each)")


def bench_cli(count: int = 10_000) -> None:
    lines = "\n".join(i.isoformat() for i in random_instants(count, seed=5)) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "sla", "due"], input=lines, capture_output=True, text=True,
            cwd=folder, check=True,
        )
        elapsed = time.perf_counter() - started
    assert len(result.stdout.splitlines()) == count
    print(f"monitor sla due, {count:,} lines on stdin: {elapsed:.2f} s including start-up")


def bench_tick(cases: int) -> None:
    config = parse_config({"notify": {"slack": {"token": "xoxb-bench", "channel": "C0123456789"}}})
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        now = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)
        with store.transaction():
            for n in range(cases):
                store.execute(
                    "INSERT INTO items (source, native_id, kind, text, created_at, first_seen, last_seen) "
                    "VALUES ('page', ?, 'comment', 'When is the trip?', ?, ?, ?)",
                    (str(n), to_db(now), to_db(now), to_db(now)),
                )
                store.execute(
                    "INSERT INTO cases (item_id, source, received_at, due_at, policy, opened_at) "
                    "VALUES (?, 'page', ?, ?, '24h', ?)",
                    (n + 1, to_db(now), to_db(now + timedelta(hours=24, seconds=n % 60)), to_db(now)),
                )
        for label, at in (("nothing due", now), ("all reminders due", now + timedelta(hours=21)),
                          ("idle after", now + timedelta(hours=21, minutes=1))):
            started = time.perf_counter()
            written = tick(store, config, at)
            elapsed = time.perf_counter() - started
            print(f"tick over {cases:,} open cases, {label}: {elapsed:.3f} s ({written})")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instants", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args()
    bench_library(args.instants)
    bench_cli()
    bench_tick(args.cases)


if __name__ == "__main__":
    main()
