"""How fast the outbox delivers, over loopback to the fake Slack Web API and to aiosmtpd (not a test).

    python benchmarks/outbox.py [--alerts 500]

Prints: alerts per second enqueued (one transaction each); delivered per second to Slack (one
chat.postMessage each, through slack_sdk) and by email (one SMTP session each); the time to reconcile
in-doubt Slack rows (one conversations.history page each) against a channel holding all of them;
and the time of an idle dispatcher pass over an empty outbox.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiosmtpd.controller import Controller  # noqa: E402

from monitor.config import parse_config  # noqa: E402
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack  # noqa: E402
from monitor.notify.outbox import Alert, Dispatcher, build_notifiers, enqueue  # noqa: E402
from monitor.store import Store  # noqa: E402


class Sink:
    count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        Sink.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=500)
    args = parser.parse_args()
    n = args.alerts
    with socket.socket() as probe:  # aiosmtpd needs a fixed port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    with FakeSlack() as slack, tempfile.TemporaryDirectory() as folder:
        config = parse_config({"notify": {
            "slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url},
            "email": {"host": "127.0.0.1", "port": smtp.port, "starttls": False, "sender": "m@school.example",
                      "moderators": ["mod@school.example"]}}})
        store = Store(Path(folder) / "bench.db")
        started = time.perf_counter()
        for i in range(n):
            enqueue(store, config, Alert(key=f"bench:{i}", kind="flagged", payload={"item": {
                "item_id": i, "text": f"comment {i} <!channel>", "source": "bench", "author": "A Parent"}}))
        enqueued = time.perf_counter() - started
        print(f"enqueue: {n / enqueued:,.0f} alerts/s ({n} alerts, 2 rows each)")

        notifiers = build_notifiers(config)
        for channel in ("slack", "email"):
            dispatcher = Dispatcher(store, {channel: notifiers[channel]}, per_pass=n)
            started = time.perf_counter()
            report = dispatcher.run()
            took = time.perf_counter() - started
            print(f"deliver {channel}: {report.sent / took:,.0f} messages/s ({report.sent} in {took:.2f} s)")

        store.execute("UPDATE alerts SET state = 'sending' WHERE channel = 'slack'")
        dispatcher = Dispatcher(store, {"slack": notifiers["slack"]}, per_pass=n)
        started = time.perf_counter()
        report = dispatcher.run()
        took = time.perf_counter() - started
        print(f"reconcile slack: {report.reconciled} in-doubt rows found sent in {took:.2f} s "
              f"({took / max(report.reconciled, 1) * 1000:.1f} ms each), {len(slack.messages) - n} duplicates")

        started = time.perf_counter()
        for _ in range(100):
            dispatcher.run()
        print(f"idle pass: {(time.perf_counter() - started) * 10:.2f} ms")
        store.close()
    smtp.stop()


if __name__ == "__main__":
    main()
