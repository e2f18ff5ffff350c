"""Slack out of reach: the technician reads one line from the monitor (what failed, what happens to
the alerts, what to check), not slack_sdk's own ERROR lines; `monitor status` still shows it.

Slack is the fake Slack, stopped (its port closed) or answering as Slack does when something is wrong.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

import pytest

from monitor.actions.slack import start_slack_actions
from monitor.app.status import collect_status, format_status
from monitor.demo.fakes.server import FakeServer, Response
from monitor.demo.fakes.slack import APP_TOKEN, BOT_TOKEN, CHANNEL, MODERATOR_ID, FakeSlack
from monitor.notify.outbox import Alert, Dispatcher, enqueue
from monitor.notify.slack import SlackNotifier
from tests.conftest import cli, make_config


@pytest.fixture
def closed_url() -> str:
    """The address of a server that has stopped: a connection there is refused."""
    with FakeSlack() as slack:
        url = slack.base_url
    return url


def slack_config(tmp_path, base_url: str):
    return make_config(tmp_path, notify={"slack": {"token": BOT_TOKEN, "app_token": APP_TOKEN, "channel": CHANNEL,
                                                   "base_url": base_url, "moderators": [MODERATOR_ID]}})


def sdk_lines(caplog) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records
            if r.name.startswith("slack_sdk") and r.levelno >= logging.INFO]


def monitor_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("monitor") and r.levelno >= logging.WARNING]


def test_an_unreachable_slack_at_start_is_one_warning_from_the_monitor(tmp_path, store, caplog, closed_url):
    caplog.set_level(logging.INFO)
    config = slack_config(tmp_path, closed_url)
    buttons = start_slack_actions(config, store)
    try:
        assert sdk_lines(caplog) == []
        [line] = monitor_warnings(caplog)
        assert line.startswith(f"Slack buttons: Socket Mode cannot connect: cannot reach Slack at {closed_url} (")
        assert "Alerts to Slack are kept in the outbox and retried until Slack answers" in line
        assert "Check that this server reaches slack.com over https (firewall, proxy) and notify.slack.base_url" in line
        # the daemon's check a minute later: still down, not said again
        buttons.keep_connected()
        assert len(monitor_warnings(caplog)) == 1 and sdk_lines(caplog) == []
    finally:
        buttons.close()
    shown = collect_status(config, store)["slack_buttons"]
    assert shown["problem"] == line.removeprefix("Slack buttons: ")
    assert "Slack buttons: not connected since " in format_status(collect_status(config, store), config.school.tz)


def test_with_debug_the_sdk_lines_are_there_as_debug_lines(tmp_path, store, caplog, closed_url):
    caplog.set_level(logging.DEBUG)
    buttons = start_slack_actions(slack_config(tmp_path, closed_url), store)
    buttons.close()
    failed = [r for r in caplog.records if r.name == "slack_sdk.web.base_client" and "Failed to send" in r.getMessage()]
    assert failed and all(r.levelno == logging.DEBUG for r in failed)
    assert any(r.name == "monitor.actions.slack" and r.levelno == logging.WARNING for r in caplog.records)


def test_alerts_while_slack_is_unreachable_are_kept_and_status_says_why(tmp_path, store, clock, caplog, closed_url):
    caplog.set_level(logging.INFO)
    config = slack_config(tmp_path, closed_url)
    enqueue(store, config, Alert(key="source-blind:news", kind="source_blind", source="news",
                                 payload={"source": "news", "error": "token refused"}))
    notifier = SlackNotifier(config.notify.slack, tz=config.school.tz)
    Dispatcher(store, {"slack": notifier}, clock=clock).run()
    assert sdk_lines(caplog) == []
    [line] = monitor_warnings(caplog)
    assert f"outbox: slack is not delivering (cannot reach Slack at {closed_url}" in line
    [row] = store.query("SELECT state, attempts FROM alerts")
    assert row == {"state": "pending", "attempts": 1}
    [retrying] = collect_status(config, store)["outbox"]["retrying"]
    assert retrying["channel"] == "slack" and retrying["alerts"] == 1
    assert retrying["last_error"].startswith(f"cannot reach Slack at {closed_url}")
    assert "1 to slack retried after a failure" in format_status(collect_status(config, store), config.school.tz)


def test_a_refused_app_token_says_what_to_fix_and_the_recovery_is_told(tmp_path, store, clock, caplog):
    caplog.set_level(logging.INFO)
    with FakeSlack(clock=clock) as slack:
        slack.app_tokens.clear()
        config = slack_config(tmp_path, slack.base_url)
        buttons = start_slack_actions(config, store)
        try:
            [line] = monitor_warnings(caplog)
            assert line.startswith("Slack buttons: Slack refused to open a Socket Mode connection (invalid_auth)")
            assert "notify.slack.app_token is an app-level token (xapp-...) with the connections:write scope" in line
            assert sdk_lines(caplog) == []
            slack.app_tokens.add(APP_TOKEN)
            buttons.keep_connected()
            assert slack.wait_connected()
            assert "Slack buttons: connected through Socket Mode again" in caplog.messages
            assert collect_status(config, store)["slack_buttons"] is None
        finally:
            buttons.close()


def test_a_websocket_that_does_not_open_is_not_called_connected(tmp_path, store, clock, caplog):
    caplog.set_level(logging.INFO)
    with FakeServer() as gone:
        closed = gone.url.replace("http://", "ws://") + "/link"
    with FakeSlack(clock=clock) as slack:
        slack.script(Response(200, {"ok": True, "url": closed}), path=r"^/api/apps\.connections\.open$")
        buttons = start_slack_actions(slack_config(tmp_path, slack.base_url), store)
        try:
            assert "Slack buttons: connected through Socket Mode" not in caplog.messages
            [line] = monitor_warnings(caplog)
            assert line.startswith("Slack buttons: Socket Mode's websocket did not open (")
            assert "Alerts are still sent" in line and "wss://wss-primary.slack.com" in line
            assert sdk_lines(caplog) == []
        finally:
            buttons.close()


def test_the_daemon_log_has_the_monitors_line_and_no_sdk_error(tmp_path, closed_url):
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "monitor.db"}"\n[notify.slack]\ntoken = "env:SLACK_BOT_TOKEN"\n'
        f'app_token = "env:SLACK_APP_TOKEN"\nchannel = "{CHANNEL}"\nbase_url = "{closed_url}"\n'
        f'moderators = ["{MODERATOR_ID}"]\n', encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "PATH": "/usr/bin:/bin",
           **{k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "HF_", "HOME"))}}
    daemon = subprocess.Popen(cli(str(config), "run"), stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = daemon.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "monitor started" in line:
                break
    finally:
        daemon.send_signal(signal.SIGINT)
        _, rest = daemon.communicate(timeout=60)
    log = "".join(lines) + rest
    assert "monitor started" in log, log
    assert "slack_sdk" not in log, log
    [warning] = [line for line in log.splitlines() if "Slack buttons:" in line]
    assert f" WARNING monitor.actions.slack: Slack buttons: Socket Mode cannot connect: cannot reach Slack at {closed_url}" in warning
