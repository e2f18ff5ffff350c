"""A poll killed with SIGKILL at random moments, then run again, loses nothing and doubles nothing."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time

from monitor.demo.fakes.server import FakeServer, Response
from tests.conftest import FIXTURES


def poll_command(config) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", "--config", str(config), "poll"]


def test_sigkill_mid_poll_loses_nothing_and_doubles_nothing(tmp_path):
    body = (FIXTURES / "big-1000.rss").read_bytes()
    rng = random.Random(20261122)
    with FakeServer() as server:
        # a slow answer widens the window in which the kill lands before the commit
        server.route("GET", "/feed")(lambda r: Response(200, body, {"Content-Type": "application/rss+xml"}, delay=0.2))

        def config_for(name: str):
            path = tmp_path / f"{name}.toml"
            path.write_text(
                f'[storage]\npath = "{tmp_path / name}.db"\n'
                f'[[sources]]\nname = "news"\ntype = "rss"\nurl = "{server.url}/feed"\n',
                encoding="utf-8",
            )
            return path

        # how long one whole poll takes here, so that kills land anywhere inside it
        started = time.monotonic()
        subprocess.run(poll_command(config_for("timing")), check=True, capture_output=True, timeout=300)
        whole = time.monotonic() - started

        config = config_for("crash")
        kills = 0
        for _ in range(6):
            process = subprocess.Popen(poll_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.1, whole))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=60)
        final = subprocess.run(poll_command(config), capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        assert kills >= 1

    db = sqlite3.connect(tmp_path / "crash.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [row[0] for row in db.execute("SELECT native_id FROM items WHERE source = 'news'")]
    assert len(ids) == 1000 and set(ids) == {f"big-{n}" for n in range(1000)}
    verdicts = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    assert verdicts == 1000
