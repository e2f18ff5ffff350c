"""Configuration: discovery, validation with key and line, secrets, durations, the example file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import find_config_path, load_config, parse_duration
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "monitor.example.toml"
EXAMPLE_ENV = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test", "SMTP_USER": "u", "SMTP_PASSWORD": "p",
               "FB_PAGE_TOKEN": "fb", "X_BEARER_TOKEN": "x", "IG_TOKEN": "ig", "YOUTUBE_API_KEY": "yt",
               "BLUESKY_APP_PASSWORD": "bs", "MASTODON_TOKEN": "m", "INSTAGRAM_TOKEN": "ig"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_configuration_loads(monkeypatch):
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(EXAMPLE)
    assert config.school.timezone == "Europe/London"
    assert config.sla.policy == "24h"
    assert config.sources, "the example names at least one source"
    assert config.notify.slack.token.get_secret_value() == "xoxb-test"
    assert config.notify.slack.moderators, "the example shows who may click the Slack buttons"


def test_the_example_names_every_key_of_every_section():
    from monitor.config import Config

    text = EXAMPLE.read_text(encoding="utf-8")
    for section_name, field in Config.model_fields.items():
        if section_name in ("sources", "path"):
            continue
        model = field.annotation
        for key in model.model_fields:
            if key in ("slack", "email", "teams", "routing"):
                continue
            assert f"\n{key} =" in text or f"\n{key}=" in text, f"[{section_name}] {key} missing from the example"


def test_the_example_names_every_routing_and_teams_key():
    from monitor.config import RoutingSettings, TeamsSettings

    text = EXAMPLE.read_text(encoding="utf-8")
    for key in RoutingSettings.model_fields:
        assert f"\n{key} =" in text, f"[notify.routing] {key} missing from the example"
    for key in TeamsSettings.model_fields:  # commented out: it needs a webhook of the school's own
        assert f"\n# {key} =" in text, f"[notify.teams] {key} missing from the example"


@pytest.mark.parametrize("text", ["90s", "5m", "4h", "2d", "1w", 30, 1.5, " 10 m "])
def test_durations(text):
    assert isinstance(parse_duration(text), timedelta)


def test_duration_values():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("4h") == timedelta(hours=4)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(ValueError):
        parse_duration(-3)


def test_unknown_key_is_named_with_its_line(tmp_path):
    path = write(tmp_path, '[school]\nname = "X"\n\n[sla]\npolicy = "24h"\nremnd_before = "4h"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "sla.remnd_before: unknown key" in message
    assert "line 6" in message


def test_bad_values_are_all_reported(tmp_path):
    path = write(
        tmp_path,
        '[school]\ntimezone = "Mars/Olympus"\n[sla]\npolicy = "3d"\nclose_of_business = "25:00"\n'
        'closures = ["2026-13-01"]\n[classifier]\nthreshold = 1.5\n',
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    for key in ("school.timezone", "sla.policy", "sla.close_of_business", "sla.closures", "classifier.threshold"):
        assert key in message
    assert "Mars/Olympus" in message


def test_source_errors_name_the_source_and_line(tmp_path):
    path = write(
        tmp_path,
        '[[sources]]\nname = "news"\ntype = "rss"\nurl = "https://e.org/feed"\n\n'
        '[[sources]]\nname = "other"\ntype = "rss"\nurl = "https://e.org/f"\ninterval = "often"\n'
        '[[sources]]\nname = "bad"\ntype = "myspace"\n',
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "sources[1].interval" in message and "line 10" in message
    assert "sources[2].type" in message and "myspace" in message and "known types" in message


def test_duplicate_source_names_are_refused(tmp_path):
    source = '[[sources]]\nname = "news"\ntype = "rss"\nurl = "https://e.org/feed"\n'
    with pytest.raises(ConfigError, match="two sources are named 'news'"):
        load_config(write(tmp_path, source + source))


@pytest.mark.parametrize("source, key", [
    ('type = "rss"\nurl = "news.example.org/feed"', "url"),
    ('type = "rss"\nurl = "ftp://news.example.org/feed"', "url"),
    ('type = "mastodon"\nhashtags = ["ravenswood"]\nbase_url = "mastodon.social"', "base_url"),
    ('type = "bluesky"\nhandle = "school.example"\nplc_url = "plc.directory"', "plc_url"),
    ('type = "reddit"\nsubreddit = "ravenswood"\ntoken = "t"\ntoken_url = "https:///api/v1/access_token"', "token_url"),
])
def test_an_address_without_scheme_or_host_is_named_with_its_line(tmp_path, source, key):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, f'[[sources]]\nname = "s"\n{source}\n'))
    message = str(error.value)
    assert f"sources[0].{key}:" in message and "is not a web address" in message
    assert f"line {source.count(chr(10)) + 3}" in message


def test_addresses_written_in_full_or_relative_to_base_url_are_accepted(tmp_path):
    config = load_config(write(
        tmp_path,
        '[[sources]]\nname = "a"\ntype = "rss"\nurl = "feed.xml"\nbase_url = "http://127.0.0.1:8080/news/"\n'
        '[[sources]]\nname = "b"\ntype = "rss"\nurl = " https://news.example.org/feed "\n'
        '[notify.slack]\ntoken = "xoxb-1"\nchannel = "C1"\nbase_url = "http://127.0.0.1:9000/api/"\n',
    ))
    assert [source.url for source in config.sources] == ["feed.xml", "https://news.example.org/feed"]
    assert config.notify.slack.base_url == "http://127.0.0.1:9000/api/"


def test_slack_base_url_must_be_a_web_address(tmp_path):
    with pytest.raises(ConfigError, match=r"notify\.slack\.base_url: 'slack\.com/api' is not a web address.*line 4"):
        load_config(write(tmp_path, '[notify.slack]\ntoken = "xoxb-1"\nchannel = "C1"\nbase_url = "slack.com/api"\n'))


def test_slack_moderators_are_user_or_user_group_ids(tmp_path):
    slack = '[notify.slack]\ntoken = "xoxb-1"\nchannel = "C0123456789"\n'
    config = load_config(write(tmp_path, slack + 'moderators = ["U0JANE", "W0GRID", "S0MODS"]\n'))
    assert config.notify.slack.moderators == ["U0JANE", "W0GRID", "S0MODS"]
    for bad in ('"nobody"', '""', '"C0CHANNEL"', '"u0jane"', "1"):
        with pytest.raises(ConfigError, match=r"notify\.slack\.moderators.*line 4"):
            load_config(write(tmp_path, slack + f"moderators = [{bad}]\n"))


def test_env_secret_missing_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    path = write(tmp_path, '[notify.slack]\ntoken = "env:NO_SUCH_TOKEN"\nchannel = "C0123456789"\n')
    with pytest.raises(ConfigError, match="environment variable NO_SUCH_TOKEN is not set"):
        load_config(path)


def test_env_and_file_secrets_are_resolved_and_hidden(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "xoxb-secret")
    (tmp_path / "smtp-password").write_text("hunter2\n")
    path = write(
        tmp_path,
        '[notify.slack]\ntoken = "env:BOT_TOKEN"\nchannel = "C0123456789"\n'
        f'[notify.email]\nhost = "localhost"\nsender = "m@e.org"\npassword = "file:{tmp_path}/smtp-password"\n',
    )
    config = load_config(path)
    assert config.notify.slack.token.get_secret_value() == "xoxb-secret"
    assert config.notify.email.password.get_secret_value() == "hunter2"
    assert "xoxb-secret" not in repr(config) and "hunter2" not in repr(config)


def test_missing_secret_file_is_named(tmp_path):
    path = write(tmp_path, '[notify.slack]\ntoken = "file:/nonexistent/token"\nchannel = "C0123456789"\n')
    with pytest.raises(ConfigError, match="cannot read secret file /nonexistent/token"):
        load_config(path)


def test_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[school\nname = 1\n"))


def test_discovery_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    assert find_config_path() is None
    (tmp_path / "monitor.toml").write_text("")
    assert find_config_path() == Path("monitor.toml")
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor/monitor.toml")
    assert find_config_path() == Path("/etc/monitor/monitor.toml")
    assert find_config_path("explicit.toml") == Path("explicit.toml")


def test_no_file_is_an_error_unless_defaults_are_allowed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="no configuration file"):
        load_config()
    assert load_config(required=False).school.timezone == "Europe/London"


def test_relative_database_path_is_beside_the_file(tmp_path):
    config = load_config(write(tmp_path, '[storage]\npath = "data/m.db"\n'))
    assert config.database_path == tmp_path / "data" / "m.db"
