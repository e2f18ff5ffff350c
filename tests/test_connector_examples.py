"""The commented-out example sources of config/monitor.example.toml load once uncommented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from monitor.config import parse_config

EXAMPLE = Path(__file__).parent.parent / "config" / "monitor.example.toml"
SECRETS = {"FB_PAGE_TOKEN": "fb", "IG_TOKEN": "ig", "X_BEARER_TOKEN": "x"}


def example_block(type_name: str) -> dict:
    text = EXAMPLE.read_text(encoding="utf-8")
    pattern = r"# \[\[sources\]\]\n((?:# .*\n)*?# type = \"%s\"\n(?:# .*\n)*)" % re.escape(type_name)
    match = re.search(pattern, text)
    assert match, f"no commented-out example for type {type_name!r}"
    lines = "".join(line[2:] + "\n" for line in match.group(1).splitlines())
    return tomllib.loads("[[sources]]\n" + lines)


@pytest.mark.parametrize("type_name", ["facebook", "instagram", "x"])
def test_example_source_loads(type_name, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    source = parse_config(example_block(type_name)).sources[0]
    assert source.type == type_name and source.official
    assert source.base_url.startswith("https://")
