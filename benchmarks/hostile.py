"""Benchmark: one poll against hostile servers on loopback, with the default caps on.

- a gzip body that inflates to 1 GiB (about 1 MB on the wire), from an RSS source and a JSON one;
- a body that never ends;
- a server that sends its answer one byte per second (each byte well inside the read timeout);
- for comparison, a well-behaved 1,000-entry feed.

Each poll runs in a fresh subprocess (the hostile server in this one), so that the peak resident
memory printed is that poll's own; the wall time is the poll's, from the subprocess's clock.

    .venv/bin/python benchmarks/hostile.py            # defaults: max_body 16 MiB (rss) / 8 MiB, deadline 60 s
    .venv/bin/python benchmarks/hostile.py --deadline 20s
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo.fakes.hostile import HostileServer, gzip_bomb  # noqa: E402
from monitor.demo.fakes.server import FakeServer, Response  # noqa: E402

GIB = 1024**3

CHILD = r"""
import json, resource, sys, time
from classifiers.base import NullClassifier
from monitor.config import parse_config
from monitor.pipeline import Pipeline
from monitor.store import Store

source, db = json.loads(sys.argv[1]), sys.argv[2]
config = parse_config({"sources": [source], "storage": {"path": db}})
store = Store(config.database_path)
pipeline = Pipeline(config=config, store=store, classifier=NullClassifier())
pipeline.connector(source["name"])  # the connector built before the clock starts
started = time.perf_counter()
result = pipeline.poll(source["name"])
wall = time.perf_counter() - started
print(json.dumps({"wall_s": round(wall, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "ok": result.ok, "new": result.new, "error": result.error}))
"""


def poll(source: dict, workdir: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(source), str(workdir / f"{source['name']}.db")],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise SystemExit(f"{source['name']} failed to run:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", default=None, help='request_deadline for every source (default: the default, "60s")')
    parser.add_argument("--bomb-gib", type=float, default=1.0, help="inflated size of the gzip bomb in GiB (default 1)")
    args = parser.parse_args()
    extra = {"request_deadline": args.deadline} if args.deadline else {}
    size = int(args.bomb_gib * GIB)
    started = time.perf_counter()
    wire = len(gzip_bomb(size))
    print(f"gzip bomb: {size / GIB:g} GiB inflated, {wire / 1024:.0f} KiB on the wire "
          f"(built in {time.perf_counter() - started:.1f} s)")
    feed = (ROOT / "tests" / "fixtures" / "big-1000.rss").read_bytes()
    with HostileServer() as hostile, FakeServer() as plain, tempfile.TemporaryDirectory() as tmp:
        hostile.bomb_size = size
        plain.route("GET", "/feed")(lambda r: Response(200, feed, {"Content-Type": "application/rss+xml"}))
        cases = [
            ("well-behaved 1,000-entry feed", {"name": "feed", "type": "rss", "url": f"{plain.url}/feed"}),
            (f"gzip bomb ({size / GIB:g} GiB) to an rss source",
             {"name": "bomb-rss", "type": "rss", "url": f"{hostile.url}/bomb?size={size}"}),
            (f"gzip bomb ({size / GIB:g} GiB) to a JSON source (Mastodon)",
             {"name": "bomb-json", "type": "mastodon", "base_url": f"{hostile.url}/bomb", "token": "t",
              "account_id": "1", "account": "school@social.example", "hashtags": ["ravenswood"]}),
            ("endless body", {"name": "endless", "type": "rss", "url": f"{hostile.url}/endless"}),
            ("one byte per second", {"name": "drip", "type": "rss", "url": f"{hostile.url}/drip?every=1"}),
            ("headers one byte per second", {"name": "drip-headers", "type": "rss",
                                             "url": f"{hostile.url}/drip-headers?every=1"}),
        ]
        print(f"{'attack':<48} {'wall s':>7} {'peak RSS MB':>12}  outcome")
        for label, source in cases:
            figures = poll({**source, **extra}, Path(tmp))
            outcome = f"ok, {figures['new']} new" if figures["ok"] else figures["error"][:90]
            print(f"{label:<48} {figures['wall_s']:>7} {figures['peak_rss_mb']:>12}  {outcome}")


if __name__ == "__main__":
    main()
