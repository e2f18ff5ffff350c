"""The daemon: sources on their schedules, failures kept local, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.interval import IntervalTrigger

from classifiers.base import NullClassifier
from monitor.app.daemon import Daemon, JobSpec, build_jobs
from monitor.config import parse_config
from monitor.demo.fakes.rss import FakeFeed
from monitor.demo.fakes.server import Response
from monitor.pipeline import Pipeline
from monitor.store import Store
from tests.test_deploy import notify_socket  # noqa: F401 - a fixture


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_sources_run_on_their_schedule_and_a_failure_stays_local(tmp_path):
    with FakeFeed() as good, FakeFeed() as bad:
        good.add_comment("first story")
        bad.script(Response(500, "down"), times=10_000)
        sources = [good.source_config("good"), bad.source_config("bad")]
        for source in sources:
            source["interval"] = "1s"
        config = parse_config({"sources": sources, "storage": {"path": str(tmp_path / "m.db")}})
        store = Store(config.database_path)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier())
        daemon = Daemon(build_jobs(config, store, pipeline))
        daemon.start()
        try:
            assert wait_for(lambda: store.count_items("good") == 1)
            assert wait_for(lambda: store.source_state("bad").consecutive_failures >= 1)
            good.add_comment("second story")
            assert wait_for(lambda: store.count_items("good") == 2), "the good source keeps being polled"
        finally:
            daemon.stop()
            store.close()
        assert [r.path for r in bad.requests].count("/feed.xml") >= 1


def test_a_job_never_overlaps_itself_and_a_crash_does_not_stop_it():
    running, overlaps, runs = [0], [0], [0]
    lock = threading.Lock()

    def slow_and_sometimes_broken() -> None:
        with lock:
            running[0] += 1
            overlaps[0] = max(overlaps[0], running[0])
            runs[0] += 1
            attempt = runs[0]
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        if attempt == 1:
            raise RuntimeError("first run fails")

    daemon = Daemon([JobSpec(id="slow", func=slow_and_sometimes_broken, trigger=IntervalTrigger(seconds=0.1))])
    daemon.start()
    try:
        assert wait_for(lambda: runs[0] >= 3)
    finally:
        daemon.stop()
    assert overlaps[0] == 1


def test_sigterm_finishes_the_running_poll_and_exits_cleanly(tmp_path):
    with FakeFeed() as feed:
        for n in range(5):
            feed.add_comment(f"story {n}")
        feed.script(lambda request: Response(200, feed._serve_rss(request).body,
                                             {"Content-Type": "application/rss+xml"}, delay=2.0))
        config = tmp_path / "monitor.toml"
        config.write_text(
            f'[storage]\npath = "m.db"\n'
            f'[[sources]]\nname = "news"\ntype = "rss"\nurl = "{feed.url}/feed.xml"\ninterval = "1h"\n',
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
            stderr=subprocess.PIPE, text=True,
        )
        try:
            assert wait_for(lambda: len(feed.requests) >= 1, timeout=60), "the first poll started"
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert "received SIGTERM" in stderr and "monitor stopped" in stderr
    store = Store(tmp_path / "m.db")
    assert store.count_items("news") == 5, "the poll that was running when the signal came was finished"
    store.close()


# -- a server that keeps every poll hanging ------------------------------------------------------


class DripServer:
    """A real loopback HTTP server that answers 200 with a body announced as 1 GB, then sends it
    one byte every ``every`` seconds until closed: no read ever times out, no poll ever ends."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}/feed.xml"

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._drip, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                             b"Content-Length: 1000000000\r\n\r\n<")
                while not self._stop.wait(self.every):
                    conn.sendall(b" ")
            except OSError:
                return


def drip_sources(url: str, count: int = 4) -> list[dict]:
    # as many hanging sources as the daemon has poll workers; a generous timeout: only the drip holds them
    return [{"name": f"slow-{n}", "type": "rss", "url": url, "interval": "1s", "timeout": "30s"} for n in range(count)]


def test_hanging_polls_never_starve_the_heartbeat_the_sla_clock_or_the_outbox(tmp_path, monkeypatch):
    from monitor.app.assembly import build_hooks
    from monitor.clock import ManualClock
    from monitor.app.daemon import supervise
    from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack

    monkeypatch.setenv("WATCHDOG_USEC", "3000000")  # a heartbeat every 0.5 s, stale after 1.5 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    database = tmp_path / "m.db"
    # ten days ago, the school's feed had a comment: its case is long overdue now
    with FakeFeed() as feed:
        past = ManualClock(datetime.now(timezone.utc) - timedelta(days=10))
        feed.add_comment("Nobody answered my question", author="A Parent", at=past() - timedelta(hours=1))
        earlier = parse_config({"sources": [{**feed.source_config("slow-0"), "official": True}],
                                "storage": {"path": str(database)}})
        store = Store(database, clock=past)
        Pipeline(config=earlier, store=store, classifier=NullClassifier(), clock=past,
                 hooks=build_hooks(earlier, past)).poll("slow-0")
        store.close()

    drip = DripServer()
    with FakeSlack() as slack:
        sources = drip_sources(drip.url)
        sources[0]["official"] = True
        config = parse_config({"sources": sources, "storage": {"path": str(database)},
                               "notify": {"slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url}}})
        store = Store(database)
        assert store.query("SELECT state FROM cases") == [{"state": "open"}]
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), hooks=build_hooks(config))
        jobs = build_jobs(config, store, pipeline)
        watchdog = supervise(jobs, lambda: daemon.scheduler.running)
        beats = []
        jobs[:] = [replace(job, func=lambda: (beats.append(time.monotonic()), watchdog.beat()))
                   if job.id == "heartbeat" else job for job in jobs]
        daemon = Daemon(jobs)
        daemon.start()
        try:
            assert wait_for(lambda: drip.connections >= 4), "every poll worker is held by the slow server"
            held_since = time.monotonic()
            assert wait_for(lambda: len([b for b in beats if b > held_since]) >= 5), "the heartbeat goes on"
            assert watchdog.healthy()
            breach = "SELECT state FROM alerts WHERE kind = 'breach' AND channel = 'slack'"
            assert wait_for(lambda: store.query(breach) == [{"state": "sent"}], timeout=60), \
                "the SLA clock wrote the breach notice and the outbox delivered it"
            assert any("breach:case:1" in json.dumps(m.metadata) for m in slack.messages_in(CHANNEL))
            assert {"poll:slow-0", "poll:slow-1", "poll:slow-2", "poll:slow-3"} <= set(daemon.running_jobs())
            assert store.count_items("slow-1") == 0
        finally:
            drip.close()
            daemon.stop()
            store.close()


def test_sigterm_stops_the_daemon_while_every_poll_hangs(tmp_path, notify_socket):
    path, receive = notify_socket
    drip = DripServer()
    sources = "".join(f'[[sources]]\nname = "{s["name"]}"\ntype = "rss"\nurl = "{s["url"]}"\ninterval = "1h"\n'
                      f'timeout = "30s"\n' for s in drip_sources(drip.url))
    config = tmp_path / "monitor.toml"
    config.write_text(f'[storage]\npath = "m.db"\n{sources}', encoding="utf-8")
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"}
    env.pop("WATCHDOG_PID", None)
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
                               env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert receive().startswith("READY=1")
        assert wait_for(lambda: drip.connections >= 4, timeout=60), "every poll hangs on the slow server"
        keepalives = 0
        while keepalives < 5:  # the watchdog is fed all the while: systemd does not restart a healthy daemon
            assert receive() == "WATCHDOG=1"
            keepalives += 1
        process.send_signal(signal.SIGTERM)
        while receive() != "STOPPING=1":  # said at once, before the wait for running jobs
            pass
        _, stderr = process.communicate(timeout=90)  # a bound: the unit's TimeoutStopSec is 2 min
    finally:
        drip.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "received SIGTERM" in stderr and "monitor stopped" in stderr
    assert re.search(r"stopping without poll:slow-\d.*still running after 10s", stderr), stderr
