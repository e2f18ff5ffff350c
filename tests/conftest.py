"""Shared fixtures: real SQLite files in tmp_path, a manual clock, configurations from dicts."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import os

import pytest
from hypothesis import settings

# In CI every property test draws the same examples each run: a failure there is reproducible, and
# a build never turns red because of what a random draw happened to find that day.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

from monitor.clock import ManualClock
from monitor.config import Config, parse_config
from monitor.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
#: the tests' "now": a Monday morning in term time
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock):
    store = Store(tmp_path / "monitor.db", clock=clock)
    yield store
    store.close()


def make_connector(fake, clock, **overrides):
    """The real connector for a fake platform, configured as the fake suggests (keys overridable)."""
    from connectors import connector_class

    cls = connector_class(fake.type)
    return cls(cls.Settings.model_validate({**fake.source_config(fake.type), **overrides}), clock=clock)


@pytest.fixture
def connect(fake, clock):
    """``connect(**overrides)`` builds the connector for the module's ``fake``; closed afterwards."""
    made = []

    def connect(**overrides):
        made.append(make_connector(fake, clock, **overrides))
        return made[-1]

    yield connect
    for connector in made:
        connector.close()


def make_config(tmp_path: Path | None = None, **sections: Any) -> Config:
    """A validated Config from keyword sections, e.g. make_config(sources=[{...}])."""
    data = dict(sections)
    if tmp_path is not None:
        data.setdefault("storage", {"path": str(tmp_path / "monitor.db")})
    return parse_config(data)


def write_source_config(tmp_path: Path, source: dict[str, Any]) -> str:
    """A configuration file holding one source (as a fake's ``source_config`` gives it) and a database path."""
    lines = [f'[storage]\npath = "{tmp_path / "monitor.db"}"\n[[sources]]']
    lines += [f"{key} = {json.dumps(value)}" for key, value in source.items()]
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def cli(config_path: str, *args: str) -> list[str]:
    """The command line that runs ``monitor`` on a configuration file, in a new process."""
    return [sys.executable, "-m", "monitor.cli", "--config", config_path, *args]
