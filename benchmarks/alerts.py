"""What the moderator receives in the demo week, and how soon urgent alerts arrive (not a test).

    python benchmarks/alerts.py [--daemon-comments 6] [--interval 20]

Part 1 plays `monitor demo` (the fast week, default routing) and prints the messages delivered per
channel, recipient and kind (a batch counts once, however many alerts it carries), and for each
flagged item the delay between the poll that found it and its delivery on each channel, in the
demo's simulated time.

Part 2 measures the same in real time: `monitor run` as a subprocess, polling a fake Facebook Page
every --interval seconds and delivering to the fake Slack Web API, while threats and insults are
posted at random moments. It prints, for each, the seconds from posting to the Slack message, against
the bound the school is promised: the poll interval + 10 s.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.demo.fakes.facebook import FakeFacebook  # noqa: E402
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack  # noqa: E402

URGENT_TEXTS = ("I will stab you all at the school gate tomorrow", "you are a useless idiot and a disgrace",
                "i want to kill myself nobody cares", "call me on 07700 900123 about it")


def demo_week() -> None:
    from monitor.demo.run import MODERATOR, run_demo

    with tempfile.TemporaryDirectory() as folder:
        summary = run_demo(Path(folder) / "demo", fast=True)
        db = sqlite3.connect(Path(folder) / "demo" / "monitor.db")
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT channel, recipient, kind, count(*) AS n FROM alerts WHERE state = 'sent' "
                          "GROUP BY channel, recipient, kind ORDER BY channel, recipient, kind").fetchall()
        print(f"demo week: {summary.slack_messages} Slack messages, {summary.emails} emails "
              f"({sum(r['n'] for r in rows if r['recipient'] == MODERATOR)} to the moderator)")
        print(f"  cases {summary.cases}: met {summary.met}, breached {summary.breached}, removed {summary.removed}")
        for row in rows:
            print(f"  {row['channel']:<6} {row['recipient'] or '':<32} {row['kind']:<18} {row['n']:>4}")
        merged = db.execute("SELECT kind, count(*) AS n FROM alerts WHERE state = 'batched' GROUP BY kind").fetchall()
        print("  routine alerts carried in batches: " + ", ".join(f"{r['kind']} {r['n']}" for r in merged))
        print("flagged items, delay from the poll that found them to delivery (simulated time):")
        for row in db.execute(
            "SELECT a.channel, a.sent_at, i.first_seen, i.source, a.payload FROM alerts a "
            "JOIN items i ON i.id = a.item_id WHERE a.kind = 'flagged' AND a.state = 'sent' ORDER BY a.id"
        ):
            item = json.loads(row["payload"])["item"]
            labels = [k for k, v in (item.get("labels") or {}).items() if v >= 0.5]
            delay = datetime.fromisoformat(row["sent_at"]) - datetime.fromisoformat(row["first_seen"])
            print(f"  {row['channel']:<6} {row['source']:<16} {','.join(labels) or 'flagged':<24} "
                  f"{delay.total_seconds():6.0f} s")
        db.close()


def daemon_latency(comments: int, interval: int) -> None:
    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as folder, FakeFacebook() as facebook, FakeSlack() as slack:
        folder = Path(folder)
        post = facebook.add_post("Sports day", at=datetime.now(timezone.utc) - timedelta(hours=1))
        config = folder / "monitor.toml"
        config.write_text(f"""
[storage]
path = "{folder / 'monitor.db'}"
[[sources]]
name = "facebook-page"
type = "facebook"
official = true
interval = "{interval}s"
base_url = "{facebook.source_config('x')['base_url']}"
page_id = "{facebook.page_id}"
token = "{facebook.token}"
tagged = false
[notify.slack]
token = "{BOT_TOKEN}"
channel = "{CHANNEL}"
base_url = "{slack.base_url}"
""", encoding="utf-8")
        config.chmod(0o600)
        daemon = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            if not slack.wait_for(lambda: (folder / "monitor.db").exists(), timeout=120):
                raise SystemExit("the daemon did not start")
            time.sleep(interval + 5)  # past its first poll (the classifier loads first)
            posted: list[tuple[str, float]] = []
            for n in range(comments):
                time.sleep(rng.uniform(1, interval * 1.5))
                text = f"{URGENT_TEXTS[n % len(URGENT_TEXTS)]} ({n})"
                facebook.add_comment(text, reply_to=post, at=datetime.now(timezone.utc))
                posted.append((text, time.time()))
            slack.wait_for(lambda: all(any(t in str(m.blocks) for m in slack.messages) for t, _ in posted),
                           timeout=interval + 60)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
        print(f"daemon, real time (poll every {interval} s; bound {interval + 10} s):")
        for text, at in posted:
            arrived = [float(m.ts) for m in slack.messages if text in str(m.blocks)]
            delay = f"{min(arrived) - at:6.1f} s" if arrived else "  never"
            ok = bool(arrived) and min(arrived) - at <= interval + 10
            print(f"  {delay}  {'within' if ok else 'LATE  '}  {text[:60]}")
        kinds = Counter((m.metadata or {}).get("event_payload", {}).get("kind") for m in slack.messages)
        print("  Slack messages by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--daemon-comments", type=int, default=6)
    parser.add_argument("--interval", type=int, default=20)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    if not args.skip_demo:
        demo_week()
    if args.daemon_comments:
        daemon_latency(args.daemon_comments, args.interval)


if __name__ == "__main__":
    main()
