"""The daemon: sources on their schedules, failures kept local, a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from apscheduler.triggers.interval import IntervalTrigger

from classifiers.base import NullClassifier
from monitor.config import parse_config
from monitor.daemon import Daemon, JobSpec, build_jobs
from monitor.demo.fakes.rss import FakeFeed
from monitor.demo.fakes.server import Response
from monitor.pipeline import Pipeline
from monitor.store import Store


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
