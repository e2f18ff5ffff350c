"""Benchmark: requests made by an idle poll of the X, Facebook and Instagram connectors.

Each fake platform is seeded with a school week (two posts a day, comments and replies under
them, a few mentions); the connector polls once to catch up, then polls again with nothing new.
Prints the requests of the first poll, of the idle poll, and the idle poll's wall time.

    .venv/bin/python benchmarks/social_idle_requests.py
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from connectors import connector_class
from monitor.config import parse_config
from monitor.demo.fakes import fake_platform

POSTS_A_DAY = 2
DAYS = 7
COMMENTS_A_POST = 6


def seed(fake, now: datetime) -> None:
    for day in range(DAYS):
        for slot in range(POSTS_A_DAY):
            at = now - timedelta(days=day, hours=3 + 5 * slot)
            post = fake.add_post(f"News {day}.{slot}", at=at)
            for n in range(COMMENTS_A_POST):
                comment = fake.add_comment(f"Comment {n} 👍", reply_to=post, author=f"Parent {n}",
                                           at=at + timedelta(minutes=10 + n))
                if n % 3 == 0:
                    fake.add_school_reply(comment, "Thank you!", at=at + timedelta(minutes=30 + n))
        fake.add_mention(f"Lovely event {day}", author="Neighbour", at=now - timedelta(days=day, hours=1))


def measure(type_name: str, **overrides) -> tuple[int, int, float, int]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with fake_platform(type_name)() as fake:
        fake.page_size = 25
        seed(fake, now)
        raw = {**fake.source_config("bench"), **overrides}
        settings = parse_config({"sources": [raw]}).sources[0]
        connector = connector_class(type_name)(settings, clock=lambda: now)
        try:
            items, cursor = connector.fetch(None)
            first = len(fake.requests)
            fake.requests.clear()
            started = time.perf_counter()
            again, _ = connector.fetch(cursor)
            elapsed = time.perf_counter() - started
            return first, len(fake.requests), elapsed, len(items)
        finally:
            connector.close()


def main() -> None:
    print(f"seed: {DAYS} days x {POSTS_A_DAY} posts, {COMMENTS_A_POST} comments each, replies, {DAYS} mentions")
    print(f"{'platform':<10} {'items':>6} {'first poll':>11} {'idle poll':>10} {'idle time':>10}")
    runs = [("x", "x", {}), ("x+OR", "x", {"combine_conversations": True}),
            ("facebook", "facebook", {}), ("instagram", "instagram", {})]
    for label, type_name, overrides in runs:
        first, idle, elapsed, items = measure(type_name, **overrides)
        print(f"{label:<10} {items:>6} {first:>11} {idle:>10} {elapsed * 1000:>8.1f}ms")


if __name__ == "__main__":
    main()
