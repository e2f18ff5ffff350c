"""The command line as a user meets it: help everywhere, one-line errors, JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from monitor.cli import cli
from monitor.demo.fakes.rss import FakeFeed

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **(env or {})}, input=stdin, timeout=120,
    )


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, f"{prefix}{name} "))
    return found


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = all_commands(cli)
    assert {"run", "poll", "status", "check-config"} <= {name for name, _ in commands}
    for name, command in commands:
        assert (command.help or "").strip(), f"monitor {name} has no help text"
        assert f"monitor {name}" in readme, f"monitor {name} is not in the README"


@pytest.fixture
def configured(tmp_path):
    with FakeFeed() as feed:
        feed.add_comment("Ravens Wood School opens new library")
        feed.add_comment("Sports day moved to Friday")
        (tmp_path / "monitor.toml").write_text(
            f'[school]\nname = "Test School"\n[storage]\npath = "var/m.db"\n'
            f'[[sources]]\nname = "news"\ntype = "rss"\nurl = "{feed.url}/feed.xml"\n',
            encoding="utf-8",
        )
        yield tmp_path, feed


def test_poll_then_status(configured):
    folder, _ = configured
    first = run("poll", cwd=folder)
    assert first.returncode == 0, first.stderr
    assert "news: 2 fetched, 2 new" in first.stdout
    second = run("--config", str(folder / "monitor.toml"), "poll", "--source", "news")
    assert "news: 0 fetched, 0 new" in second.stdout
    status = run("status", "--json", cwd=folder)
    document = json.loads(status.stdout)
    assert document["sources"][0]["items"] == 2 and document["sources"][0]["health"] == "ok"
    human = run("status", cwd=folder)
    assert "news (rss): ok" in human.stdout


def test_a_failing_poll_exits_non_zero_and_says_why(configured):
    folder, feed = configured
    feed.expire_credentials()
    result = run("poll", cwd=folder)
    assert result.returncode == 1
    assert "news: FAILED (auth)" in result.stdout
    assert "Traceback" not in result.stderr


def test_unknown_source_is_one_line(configured):
    folder, _ = configured
    result = run("poll", "--source", "nope", cwd=folder)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no source named 'nope' (sources: news)"


def test_bad_configuration_is_an_error_without_traceback(tmp_path):
    (tmp_path / "monitor.toml").write_text('[sla]\npolicy = "48h"\n')
    result = run("check-config", cwd=tmp_path)
    assert result.returncode == 1
    assert "sla.policy" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "monitor.toml").write_text('[sla]\npolicy = "48h"\n')
    result = run("--debug", "check-config", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_missing_configuration_is_explained(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "monitor.cli", "status"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 1
    assert "no configuration file" in result.stderr


def test_check_config_warns_about_missing_notification(configured):
    folder, _ = configured
    result = run("check-config", cwd=folder)
    assert result.returncode == 0
    assert "configuration is valid" in result.stdout
    assert "reach nobody" in result.stderr


def test_check_config_warns_when_the_digest_cannot_be_sent(configured):
    folder, _ = configured
    config = folder / "monitor.toml"
    config.write_text(config.read_text() + '[digest]\nrecipients = ["head@school.example"]\n')
    result = run("check-config", cwd=folder)
    assert result.returncode == 0
    assert "the weekly digest cannot be sent" in result.stderr


def test_check_config_says_slack_clicks_are_refused_without_moderators(configured):
    folder, _ = configured
    config = folder / "monitor.toml"
    slack = '[notify.slack]\ntoken = "xoxb-1"\napp_token = "xapp-1"\nchannel = "C0MODS"\n'
    config.write_text(config.read_text() + slack)
    result = run("check-config", cwd=folder)
    assert result.returncode == 0 and "notify.slack.moderators is empty: every Slack button click" in result.stderr
    config.write_text(config.read_text() + 'moderators = ["U0JANE", "S0MODS"]\n')
    result = run("check-config", cwd=folder)
    assert result.returncode == 0 and "moderators" not in result.stderr


def test_check_config_writes_durations_as_the_configuration_does(tmp_path):
    (tmp_path / "monitor.toml").write_text(
        '[[sources]]\nname = "news"\ntype = "rss"\nurl = "http://127.0.0.1:9/feed"\ninterval = "30m"\n'
        '[notify.routing]\nbatch_window = "90m"\n'
    )
    result = run("check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "source news: rss, every 30m" in result.stdout
    assert "routing (batch_window 90m," in result.stdout
