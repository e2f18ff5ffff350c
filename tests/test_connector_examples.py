"""The commented-out example sources of config/monitor.example.toml load once uncommented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from monitor.config import parse_config

EXAMPLE = Path(__file__).parent.parent / "config" / "monitor.example.toml"
SECRETS = {"FB_PAGE_TOKEN": "fb", "IG_TOKEN": "ig", "X_BEARER_TOKEN": "x", "YOUTUBE_API_KEY": "yt",
           "YOUTUBE_CLIENT_SECRET": "secret", "YOUTUBE_REFRESH_TOKEN": "1//refresh", "REDDIT_CLIENT_ID": "rid",
           "REDDIT_CLIENT_SECRET": "rsecret", "MASTODON_TOKEN": "m"}


def example_block(type_name: str, uncomment: tuple[str, ...] = ()) -> dict:
    """The example source of ``type_name``, with the optional keys named in ``uncomment`` switched on."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in uncomment:
        text = re.sub(rf"^# # ({re.escape(key)} = )", r"# \1", text, flags=re.MULTILINE)
    pattern = r"# \[\[sources\]\]\n((?:# .*\n)*?# type = \"%s\"\n(?:# .*\n)*)" % re.escape(type_name)
    match = re.search(pattern, text)
    assert match, f"no commented-out example for type {type_name!r}"
    lines = "".join(line[2:] + "\n" for line in match.group(1).splitlines())
    return tomllib.loads("[[sources]]\n" + lines)


@pytest.mark.parametrize("type_name", ["facebook", "instagram", "x", "youtube", "mastodon"])
def test_example_source_loads(type_name, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    source = parse_config(example_block(type_name)).sources[0]
    assert source.type == type_name and source.official
    assert source.base_url.startswith("https://")


def test_the_youtube_example_with_oauth_loads(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    keys = ("client_id", "client_secret", "refresh_token", "token_url", "held_for_review")
    source = parse_config(example_block("youtube", keys)).sources[0]
    assert source.refresh_token.get_secret_value() == "1//refresh" and source.reads_held
    assert source.token_url == "https://oauth2.googleapis.com/token"


def test_example_reddit_source_is_an_app_with_its_secrets_outside_the_file(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    block = example_block("reddit")
    assert block["sources"][0]["client_id"] == "env:REDDIT_CLIENT_ID"
    assert block["sources"][0]["client_secret"] == "env:REDDIT_CLIENT_SECRET"
    source = parse_config(block).sources[0]
    assert source.client_id.get_secret_value() == "rid" and source.client_secret.get_secret_value() == "rsecret"
    assert source.base_url == "https://oauth.reddit.com"
    assert source.token_url == "https://www.reddit.com/api/v1/access_token"


@pytest.mark.parametrize("type_name", ["facebook", "instagram"])
def test_the_example_graph_sources_ask_the_current_api_version(type_name, monkeypatch):
    from connectors.graph import DEFAULT_VERSION

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    source = parse_config(example_block(type_name)).sources[0]
    assert source.graph_url == f"https://graph.facebook.com/{DEFAULT_VERSION}"


def test_example_bluesky_source_loads(monkeypatch):
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    source = parse_config(example_block("bluesky")).sources[0]
    assert source.password.get_secret_value() == "abcd-efgh-ijkl-mnop"
    assert source.plc_url == "https://plc.directory" and source.base_url == "https://bsky.social"
