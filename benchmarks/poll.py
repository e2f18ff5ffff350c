"""Benchmark: one poll of a 1,000-entry feed served on loopback, into a fresh database.

Prints the wall time of the poll and the peak resident memory of the process, with the null
classifier (fetch, parse, store) and with the configured default classifier (the whole path).
Each measurement runs in a fresh subprocess so that peak memory is its own.

    .venv/bin/python benchmarks/poll.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEED = ROOT / "tests" / "fixtures" / "big-1000.rss"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from classifiers.base import NullClassifier
from monitor.app.assembly import build_pipeline
from monitor.config import parse_config
from monitor.demo.fakes.server import FakeServer, Response
from monitor.store import Store

body = Path(sys.argv[1]).read_bytes()
with FakeServer() as server:
    server.route("GET", "/feed")(lambda r: Response(200, body, {"Content-Type": "application/rss+xml"}))
    config = parse_config({"sources": [{"name": "news", "type": "rss", "url": server.url + "/feed"}],
                           "storage": {"path": sys.argv[2]}})
    store = Store(config.database_path)
    started = time.perf_counter()
    classifier = NullClassifier() if sys.argv[3] == "null" else None
    pipeline = build_pipeline(config, store, classifier=classifier)
    loaded = time.perf_counter()
    result = pipeline.poll("news")
    done = time.perf_counter()
    store.close()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"new": result.new, "error": result.error, "setup_s": loaded - started,
                  "poll_s": done - loaded, "peak_rss_mb": peak_mb}))
"""


def measure(mode: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        output = subprocess.run(
            [sys.executable, "-c", CHILD, str(FEED), str(Path(folder) / "bench.db"), mode],
            check=True, capture_output=True, text=True, cwd=ROOT,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    for mode, label in (("null", "fetch + parse + store"), ("default", "with the default classifier")):
        runs = [measure(mode) for _ in range(3)]
        best = min(runs, key=lambda r: r["poll_s"])
        print(
            f"{label:32s} items={best['new']:5d}  poll={best['poll_s']:.3f}s (best of 3)  "
            f"classifier load={best['setup_s']:.2f}s  peak RSS={max(r['peak_rss_mb'] for r in runs):.0f} MB"
            + (f"  ERROR {best['error']}" if best["error"] else "")
        )


if __name__ == "__main__":
    main()
