"""Secrets are read where they are needed: a technician without the service's environment can
still look at the monitor (status, cases, deadlines, classify, a digest preview), while the daemon
and the commands that send refuse at start, naming every secret that is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from monitor.config import SECRETS_WHEN_NEEDED, UnresolvedSecret, load_config
from monitor.errors import ConfigError

MISSING = ("QA_FB_TOKEN", "QA_SLACK_TOKEN", "QA_SMTP_USER", "QA_TEAMS_URL")

CONFIG = """\
[school]
name = "Test School"
[storage]
path = "var/m.db"
[[sources]]
name = "fb"
type = "facebook"
official = true
page_id = "123"
token = "env:QA_FB_TOKEN"
[notify.slack]
token = "env:QA_SLACK_TOKEN"
channel = "C0123456789"
[notify.teams]
webhook_url = "env:QA_TEAMS_URL"
[notify.email]
host = "smtp.example.org"
username = "env:QA_SMTP_USER"
password = "file:{folder}/no-such-secret"
sender = "monitor@example.org"
moderators = ["moderator@example.org"]
[digest]
recipients = ["head@example.org"]
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "monitor.toml").write_text(CONFIG.format(folder=tmp_path), encoding="utf-8")
    return tmp_path


def run(folder, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in MISSING}
    env.pop("MONITOR_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True,
                          cwd=folder, env=env, input=stdin, timeout=120)


@pytest.mark.parametrize("args", [
    ("status",), ("status", "--json"), ("cases",), ("cases", "--open", "--json"),
    ("sla", "due", "--received", "2026-11-20T16:00:00Z"), ("digest",), ("digest", "--out", "week.html"),
])
def test_reading_commands_work_without_the_secrets(folder, args):
    done = run(folder, *args)
    assert done.returncode == 0, done.stderr
    assert "QA_" not in done.stdout + done.stderr  # nothing said about secrets they do not use
    if "--json" in args:
        json.loads(done.stdout)


def test_status_without_the_secrets_shows_the_sources(folder):
    done = run(folder, "status", "--json")
    assert done.returncode == 0, done.stderr
    assert [source["name"] for source in json.loads(done.stdout)["sources"]] == ["fb"]


def test_classify_works_without_the_secrets(folder):
    done = run(folder, "classify", stdin="hello\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["text"] == "hello"


@pytest.mark.parametrize("args", [("run",), ("poll",), ("check-config",), ("digest", "--send")])
def test_the_daemon_and_sending_commands_refuse_at_start_naming_each_secret(folder, args):
    done = run(folder, *args)
    assert done.returncode == 1
    assert done.stderr.startswith("error: invalid configuration:")
    for key, why in [
        ("sources[0].token", "QA_FB_TOKEN is not set"),
        ("notify.slack.token", "QA_SLACK_TOKEN is not set"),
        ("notify.teams.webhook_url", "QA_TEAMS_URL is not set"),
        ("notify.email.username", "QA_SMTP_USER is not set"),
        ("notify.email.password", "cannot read secret file"),
    ]:
        assert any(line.strip().startswith(f"{key}: ") and why in line for line in done.stderr.splitlines()), (key, done.stderr)
    assert "Traceback" not in done.stderr
    assert not (folder / "var").exists()  # nothing was opened


def test_a_secret_read_later_names_its_key_and_what_is_missing(folder, monkeypatch):
    for name in MISSING:
        monkeypatch.delenv(name, raising=False)
    config = load_config(folder / "monitor.toml", secrets=SECRETS_WHEN_NEEDED)
    for secret, key, why in [
        (config.sources[0].token, "sources[0].token", "environment variable QA_FB_TOKEN is not set"),
        (config.notify.slack.token, "notify.slack.token", "environment variable QA_SLACK_TOKEN is not set"),
        (config.notify.teams.webhook_url, "notify.teams.webhook_url", "QA_TEAMS_URL is not set"),
        (config.notify.email.password, "notify.email.password", "cannot read secret file"),
    ]:
        assert isinstance(secret, UnresolvedSecret)
        assert str(secret) == "**********"  # never shown, even as what the file says
        with pytest.raises(ConfigError) as raised:
            secret.get_secret_value()
        assert str(raised.value).startswith(f"{key}: ") and why in str(raised.value)


def test_a_notifier_built_without_its_secret_says_which(folder, monkeypatch):
    from monitor.notify.outbox import build_notifiers

    for name in MISSING:
        monkeypatch.delenv(name, raising=False)
    config = load_config(folder / "monitor.toml", secrets=SECRETS_WHEN_NEEDED)
    with pytest.raises(ConfigError, match=r"notify\.slack\.token: environment variable QA_SLACK_TOKEN"):
        build_notifiers(config)


def test_secrets_that_are_there_are_read_as_before(folder, monkeypatch):
    (folder / "no-such-secret").write_text("hunter2\n", encoding="utf-8")
    values = {"QA_FB_TOKEN": "fb-1", "QA_SLACK_TOKEN": "xoxb-1", "QA_SMTP_USER": "me",
              "QA_TEAMS_URL": "https://example.org/hook"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    lazy = load_config(folder / "monitor.toml", secrets=SECRETS_WHEN_NEEDED)
    eager = load_config(folder / "monitor.toml")
    for config in (lazy, eager):
        assert config.sources[0].token.get_secret_value() == "fb-1"
        assert config.notify.slack.token.get_secret_value() == "xoxb-1"
        assert config.notify.email.password.get_secret_value() == "hunter2"
    assert lazy == eager


def test_a_wrong_value_is_still_refused_when_secrets_wait(folder, monkeypatch):
    monkeypatch.setenv("QA_TEAMS_URL", "ftp://example.org/hook")
    with pytest.raises(ConfigError, match=r"notify\.teams\.webhook_url: is not an https:// URL"):
        load_config(folder / "monitor.toml", secrets=SECRETS_WHEN_NEEDED)
