"""A password in a URL's userinfo or a key in its query never leaves through what the monitor shows or
stores: poll output, the log, ``status --json``, the database and the alerts (source_auth) it sends."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from monitor.app.assembly import build_hooks
from monitor.clock import ManualClock
from monitor.config import load_config
from monitor.demo.fakes.server import FakeServer, Response
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.notify.outbox import Dispatcher, build_notifiers
from monitor.pipeline import Pipeline
from monitor.redact import redact_url, redact_urls
from monitor.store import Store

PASSWORD = "Pw-in-url-7731"
FEED_KEY = "feedkey-Qz90"
SECRETS = (PASSWORD, FEED_KEY)


def write_config(tmp_path: Path, feeds: FakeServer, slack: FakeSlack) -> Path:
    port = feeds.url.rsplit(":", 1)[1]
    path = tmp_path / "monitor.toml"
    path.write_text(f"""
[storage]
path = "{tmp_path / 'monitor.db'}"
[[sources]]
name = "feed-key"
type = "rss"
url = "{feeds.url}/refused?key={FEED_KEY}&lang=en"
timeout = "2s"
[[sources]]
name = "feed-userinfo"
type = "rss"
url = "http://reader:{PASSWORD}@127.0.0.1:{port}/broken?token={FEED_KEY}"
timeout = "2s"
[[sources]]
name = "feed-down"
type = "rss"
base_url = "http://monitor:{PASSWORD}@127.0.0.1:9/private/"
url = "feed.xml?key={FEED_KEY}"
timeout = "1s"
[notify.slack]
token = "{BOT_TOKEN}"
channel = "{CHANNEL}"
base_url = "{slack.base_url}"
timeout = "3s"
""", encoding="utf-8")
    path.chmod(0o600)
    return path


def fake_feeds() -> FakeServer:
    feeds = FakeServer()
    feeds.route("GET", "/refused")(lambda request: Response(401, b"no"))
    feeds.route("GET", "/broken")(lambda request: Response(500, b"down"))
    return feeds


def test_secrets_in_urls_stay_out_of_results_logs_database_and_alerts(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(datetime.now(timezone.utc).replace(microsecond=0))
    with fake_feeds() as feeds, FakeSlack() as slack:
        config = load_config(write_config(tmp_path, feeds, slack))
        store = Store(config.database_path, clock=clock)
        pipeline = Pipeline(config=config, store=store, clock=clock, hooks=build_hooks(config, clock))
        results = [pipeline.poll(name) for name in ("feed-key", "feed-userinfo", "feed-down")]
        Dispatcher(store, build_notifiers(config, clock), clock=clock).run()
        outbox = store.query("SELECT * FROM alerts")
        states = [store.source_state(name).last_error for name in ("feed-key", "feed-userinfo", "feed-down")]
        store.close()
        slack_seen = json.dumps([m.__dict__ for m in slack.messages], default=str)
    assert [r.error_kind for r in results] == ["auth", "transient", "transient"], results
    assert "source_auth" in {row["kind"] for row in outbox} and slack.messages
    # the failures still say which URL failed, with the secrets masked
    assert "/refused?key=***&lang=***" in results[0].error
    assert "http://***@127.0.0.1" in results[1].error and "http://***@127.0.0.1:9" in results[2].error
    places = {
        "poll results": json.dumps([r.error for r in results]), "source state": json.dumps(states),
        "log": caplog.text, "outbox": json.dumps(outbox, default=str), "slack": slack_seen,
        "database": b"".join(p.read_bytes() for p in tmp_path.glob("monitor.db*")),
    }
    for secret in SECRETS:
        for place, content in places.items():
            needle = secret.encode() if isinstance(content, bytes) else secret
            assert needle not in content, f"{secret} leaked into {place}"


def test_secrets_in_urls_stay_out_of_the_command_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin",
           **{k: v for k, v in __import__("os").environ.items() if k.startswith("PYTHON")}}
    with fake_feeds() as feeds, FakeSlack() as slack:
        config_path = str(write_config(tmp_path, feeds, slack))
        runs = [subprocess.run([sys.executable, "-m", "monitor.cli", "--config", config_path, *args],
                               capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
                for args in (("-vv", "poll"), ("--debug", "poll"), ("status", "--json"), ("status",))]
    assert "feed-key" in runs[0].stdout and "key=***" in runs[0].stdout + runs[0].stderr
    assert json.loads(runs[2].stdout)
    for run in runs:
        for secret in SECRETS:
            assert secret not in run.stdout and secret not in run.stderr, (secret, run.args)


def test_redaction_keeps_what_tells_urls_apart():
    assert redact_url("https://u:p@host.example:8443/a/b?key=abc&flag&x=") == "https://***@host.example:8443/a/b?key=***&flag&x="
    assert redact_url("https://host.example/feed.xml") == "https://host.example/feed.xml"
    assert redact_urls("GET https://h.example/x?token=t0k, then https://h.example/y.") == \
        "GET https://h.example/x?token=***, then https://h.example/y."
    assert redact_urls("no url here: key=value") == "no url here: key=value"
