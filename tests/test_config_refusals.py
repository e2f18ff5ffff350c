"""Configuration that cannot work is refused at start, naming the key, the file and line, the value
and the fix: durations out of range, booleans and numbers written as text, addresses, Slack ids
and URLs that are not what they claim to be, two sources with one name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config, parse_duration
from monitor.errors import ConfigError

FEED = '[[sources]]\nname = "news"\ntype = "rss"\nurl = "https://news.example/feed.xml"\n'
SLACK = '[notify.slack]\ntoken = "env:BOT"\nchannel = "C0123456789"\n'
EMAIL = '[notify.email]\nhost = "smtp.school.example"\nsender = "monitor@school.example"\n'


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


def accepted(tmp_path: Path, text: str):
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture(autouse=True)
def _bot_token(monkeypatch):
    monkeypatch.setenv("BOT", "xoxb-1")


# -- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key, value, complaint", [
    ("interval", '"1000000w"', "too long: write a duration from 1s to 1d"),
    ("interval", '"2d"', "too long: write a duration from 1s to 1d"),
    ("interval", '"0s"', "too short: write a duration from 1s to 1d"),
    ("interval", "inf", "too long"),
    ("interval", "nan", "not a duration"),
    ("interval", '"99999999999999999999999w"', "too long"),
    ("timeout", '"0s"', "too short: write a duration from 100ms to 10m"),
    ("timeout", '"1h"', "too long: write a duration from 100ms to 10m"),
])
def test_a_source_duration_out_of_range_names_key_line_value_and_fix(tmp_path, key, value, complaint):
    message = refusal(tmp_path, FEED + f"{key} = {value}\n")
    assert re.search(rf"sources\[0\]\.{key}: .*{re.escape(complaint)}", message), message
    assert "line 5" in message and str(tmp_path / "monitor.toml") in message
    if value.startswith('"'):
        assert value.strip('"') in message


@pytest.mark.parametrize("section, key, value", [
    ("sla", "remind_before", '"0s"'),
    ("sla", "remind_before", '"30d"'),
    ("sla", "escalate_after", '"1000000w"'),
    ("notify", "source_down_after", '"0s"'),
    ("notify", "repeat_every", '"400d"'),
])
def test_every_duration_key_has_bounds(tmp_path, section, key, value):
    message = refusal(tmp_path, f"[{section}]\n{key} = {value}\n")
    assert f"{section}.{key}: " in message and "line 2" in message and "write a duration from" in message


@pytest.mark.parametrize("table, key", [
    ('[[sources]]\nname = "fb"\ntype = "facebook"\npage_id = "1"\ntoken = "env:BOT"\n', "comment_window"),
    ('[[sources]]\nname = "bs"\ntype = "bluesky"\nidentifier = "a.bsky.social"\npassword = "env:BOT"\n', "backfill"),
    ('[[sources]]\nname = "yt"\ntype = "youtube"\nchannel_id = "UCxxxxxxxxxxxxxxxxxxxxxx"\napi_key = "env:BOT"\n',
     "reply_window"),
])
def test_connector_windows_are_bounded_too(tmp_path, table, key):
    message = refusal(tmp_path, table + f'{key} = "1000000w"\n')
    assert f"sources[0].{key}: " in message and "line 6" in message


def test_the_limits_themselves_are_accepted(tmp_path):
    config = accepted(tmp_path, FEED + 'interval = "1d"\ntimeout = "100ms"\n[notify]\nrepeat_every = "0s"\n')
    assert config.sources[0].interval == timedelta(days=1)
    assert config.sources[0].timeout == timedelta(milliseconds=100)
    assert config.notify.repeat_every == timedelta(0)
    assert parse_duration("3650d") == timedelta(days=3650)


def test_check_config_refuses_what_run_could_not_start_with(tmp_path):
    path = tmp_path / "monitor.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "m.db"}"\n' + FEED + 'interval = "1000000w"\n', encoding="utf-8")
    for command in ("check-config", "run"):
        done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(path), command],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert "sources[0].interval: '1000000w' is too long" in done.stderr and "line 7" in done.stderr, done.stderr
        assert "OverflowError" not in done.stderr and "Traceback" not in done.stderr


# -- strict types ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, key, value", [
    (FEED + 'official = "yes"\n', "sources[0].official", "'yes'"),
    (FEED + "enabled = 1\n", "sources[0].enabled", "1"),
    ('[classifier]\nrules = "false"\n', "classifier.rules", "'false'"),
    (EMAIL + 'starttls = "true"\n', "notify.email.starttls", "'true'"),
    (EMAIL + 'port = "587"\n', "notify.email.port", "'587'"),
    ('[storage]\nretention_days = "400"\n', "storage.retention_days", "'400'"),
])
def test_booleans_and_numbers_written_as_text_are_refused(tmp_path, text, key, value):
    message = refusal(tmp_path, text)
    assert f"{key}: " in message and f"(got {value})" in message, message
    assert re.search(r"line \d+", message)


# -- addresses, ids, URLs -------------------------------------------------------------------------


def test_email_addresses_are_checked_in_every_list(tmp_path):
    message = refusal(
        tmp_path,
        '[notify.email]\nhost = "smtp.school.example"\nsender = "not an address"\n'
        'moderators = ["nobody", "", "mod@school.example"]\nescalate_to = ["Head <head@school.example>"]\n'
        '[digest]\nrecipients = ["principal@localhost", "p@@school.example"]\n',
    )
    for key in ("notify.email.sender", "notify.email.moderators[0]", "notify.email.moderators[1]",
                "notify.email.escalate_to[0]", "digest.recipients[0]", "digest.recipients[1]"):
        assert f"{key}: " in message, (key, message)
    assert "moderators[2]" not in message
    assert "'not an address' is not an email address" in message and "line 3" in message
    assert 'write one address such as "office@school.example"' in message


def test_good_addresses_are_accepted(tmp_path):
    config = accepted(tmp_path, EMAIL + 'moderators = ["first.last+alerts@school.example", "it@xn--bcher-kva.example"]\n'
                                        'escalate_to = ["head@bücher.example"]\n')
    assert config.notify.email.moderators[0] == "first.last+alerts@school.example"


@pytest.mark.parametrize("channel", ["", "#moderators", "general", "c0123456789", "U0123456789"])
def test_the_slack_channel_must_be_a_channel_id(tmp_path, channel):
    message = refusal(tmp_path, f'[notify.slack]\ntoken = "env:BOT"\nchannel = "{channel}"\n')
    assert "notify.slack.channel: " in message and "is not a Slack channel id" in message and "line 3" in message


def test_leads_are_addresses_or_slack_ids(tmp_path):
    message = refusal(tmp_path, FEED + 'leads = ["pe@school.example", "U0123ABCD", "nobody", "", "S0123MODS"]\n')
    assert "sources[0].leads[2]: 'nobody' is neither an email address nor a Slack id" in message
    assert "sources[0].leads[3]" in message and "leads[0]" not in message and "leads[1]" not in message
    assert "sources[0].leads[4]" in message, "a user group cannot be sent a message"


@pytest.mark.parametrize("text, key", [
    ('[[sources]]\nname = "news"\ntype = "rss"\nurl = "file:///etc/passwd"\n', "sources[0].url"),
    ('[[sources]]\nname = "news"\ntype = "rss"\nurl = "/feed.xml"\n', "sources[0].url"),
    ('[[sources]]\nname = "news"\ntype = "rss"\nbase_url = "ftp://files.example/"\nurl = "feed.xml"\n',
     "sources[0].base_url"),
    ('[[sources]]\nname = "news"\ntype = "rss"\nbase_url = "https://a.example/"\nurl = "file:///etc/passwd"\n',
     "sources[0].url"),
    ('[[sources]]\nname = "m"\ntype = "mastodon"\nhashtags = ["x"]\nbase_url = "javascript:alert(1)"\n',
     "sources[0].base_url"),
    ('[[sources]]\nname = "r"\ntype = "reddit"\nqueries = ["x"]\nusername = "u"\nbase_url = "https:///nohost"\n',
     "sources[0].base_url"),
    ('[[sources]]\nname = "news"\ntype = "rss"\nurl = "https://news.example/a b"\n', "sources[0].url"),
    ('[notify.slack]\ntoken = "env:BOT"\nchannel = "C0123456789"\nbase_url = "file:///tmp/slack"\n',
     "notify.slack.base_url"),
    ('[[sources]]\nname = "r"\ntype = "reddit"\nqueries = ["x"]\nusername = "u"\ntoken_url = "file:///etc/shadow"\n',
     "sources[0].token_url"),
    ('[[sources]]\nname = "b"\ntype = "bluesky"\nidentifier = "a.bsky.social"\npassword = "env:BOT"\n'
     'plc_url = "file:///etc/passwd"\n', "sources[0].plc_url"),
])
def test_only_http_and_https_addresses_are_fetched(tmp_path, text, key):
    message = refusal(tmp_path, text)
    assert f"{key}: " in message and re.search(r"not a web address|http:// or https://", message), message
    assert re.search(r"line [456]\b", message)


def test_a_relative_feed_url_on_a_base_url_is_accepted(tmp_path):
    config = accepted(tmp_path, '[[sources]]\nname = "news"\ntype = "rss"\nbase_url = "http://127.0.0.1:8080"\n'
                                'url = "/feed.xml"\n')
    assert config.sources[0].url == "/feed.xml"


def test_a_duplicate_source_name_is_named_with_its_line(tmp_path):
    other = '[[sources]]\nname = "other"\ntype = "rss"\nurl = "https://e.org/f"\n'
    message = refusal(tmp_path, FEED + "\n" + other + "\n" + FEED)
    assert "sources[2].name: two sources are named 'news' (also sources[0]): give each a unique name" in message
    assert "line 12" in message


# -- credentials in addresses ---------------------------------------------------------------------

PASSWORD = "Url-pw-5521"


@pytest.mark.parametrize("table, key, keys", [
    ('[[sources]]\nname = "bs"\ntype = "bluesky"\nidentifier = "a.bsky.social"\npassword = "env:BOT"\n'
     f'base_url = "https://monitor:{PASSWORD}@bsky.example/"\n', "sources[0].base_url", "(password, "),
    ('[[sources]]\nname = "m"\ntype = "mastodon"\nhashtags = ["x"]\n'
     f'base_url = "https://monitor:{PASSWORD}@mastodon.example"\n', "sources[0].base_url", "(token, "),
    ('[[sources]]\nname = "fb"\ntype = "facebook"\npage_id = "1"\ntoken = "env:BOT"\n'
     f'base_url = "https://{PASSWORD}@graph.example/v21.0"\n', "sources[0].base_url", "(token, "),
    ('[[sources]]\nname = "r"\ntype = "reddit"\nqueries = ["x"]\nusername = "u"\n'
     f'token_url = "https://u:{PASSWORD}@www.reddit.example/api/v1/access_token"\n', "sources[0].token_url",
     "(client_id, client_secret, token, "),
    (f'[notify.slack]\ntoken = "env:BOT"\nchannel = "C0123456789"\nbase_url = "https://x:{PASSWORD}@slack.example/api/"\n',
     "notify.slack.base_url", "in the token key"),
], ids=["bluesky", "mastodon", "facebook", "reddit token_url", "slack"])
def test_a_platform_api_address_with_credentials_is_refused_without_showing_them(tmp_path, table, key, keys):
    """httpx would send them as HTTP Basic in place of the platform's token (Bluesky: "refused the session")."""
    path = tmp_path / "monitor.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "m.db"}"\n' + table, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(path), "check-config"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "BOT": "xoxb-1"})
    assert done.returncode != 0
    line = 2 + table.count("\n")
    assert re.search(rf"{re.escape(key)}: '\w+://\*\*\*@[\w.]+/?[^']*' has a user name or password in it: .*"
                     rf"{re.escape(keys)}.*not in its address; write the address without the \"name:password@\" part "
                     rf"\(.*monitor\.toml, line {line}\)", done.stderr), done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_an_address_refused_for_another_reason_does_not_show_its_password(tmp_path):
    message = refusal(tmp_path, '[[sources]]\nname = "news"\ntype = "rss"\n'
                                f'url = "ftp://reader:{PASSWORD}@files.example/feed.xml?key=k3y"\n')
    assert "sources[0].url: 'ftp://***@files.example/feed.xml?key=***' is not a web address" in message
    assert PASSWORD not in message and "k3y" not in message


def test_a_private_feed_may_carry_its_http_basic_credentials(tmp_path):
    config = accepted(tmp_path, '[[sources]]\nname = "news"\ntype = "rss"\n'
                                f'url = "https://reader:{PASSWORD}@news.example/private.xml"\n'
                                '[[sources]]\nname = "blog"\ntype = "rss"\n'
                                f'base_url = "https://reader:{PASSWORD}@blog.example/"\nurl = "feed.xml"\n')
    assert [s.url for s in config.sources] == [f"https://reader:{PASSWORD}@news.example/private.xml", "feed.xml"]
