"""A database the monitor cannot open: every command says so in one line, naming the path, the cause
and what to do, and leaves the file as it found it.

The tests run as root, for whom permissions do not bite: the cases here fail for root too.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from monitor.errors import StoreDenied
from monitor.store import SCHEMA_VERSION, Store, cannot_open
from tests.conftest import cli

COMMANDS = [("status",), ("poll",), ("purge",), ("backup", "copy.db"), ("tell-audience", "1"), ("run",)]


def folder(tmp_path: Path) -> Path:
    (tmp_path / "monitor.db").mkdir()
    return tmp_path / "monitor.db"


def random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    path.write_bytes(os.urandom(8192))
    return path


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "var").write_text("a file where the database's folder should be\n")
    return tmp_path / "var" / "monitor.db"


def another_database(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE pupils (name TEXT)")
    conn.commit()
    conn.close()
    return path


def a_newer_monitors_database(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    return path


CASES = {
    "a folder": (folder, "it is a folder; storage.path names the database file itself"),
    "random bytes": (random_bytes, "this file is not a monitor database (not SQLite at all); check storage.path"),
    "under a file": (under_a_file, "var is a file, not a folder; check storage.path"),
    "another program's database": (another_database, "this file is not a monitor database (a SQLite database "
                                   "of something else, with the tables pupils)"),
    "a newer monitor's database": (a_newer_monitors_database, f"the database is at schema version "
                                   f"{SCHEMA_VERSION + 1}, newer than this monitor knows ({SCHEMA_VERSION}): "
                                   "upgrade the monitor, or restore a backup"),
}


def configure(tmp_path: Path, database: Path) -> str:
    path = tmp_path / "monitor.toml"
    path.write_text(f'[storage]\npath = "{database}"\n', encoding="utf-8")
    return str(path)


def snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


@pytest.mark.parametrize("case", CASES)
def test_every_command_names_the_database_the_cause_and_the_fix(tmp_path, case):
    make, cause = CASES[case]
    database = make(tmp_path)
    config = configure(tmp_path, database)
    before = snapshot(database)
    for command in COMMANDS:
        done = subprocess.run(cli(config, *command), capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith(f"error: cannot open the database {database}: "), (command, done.stderr)
        assert cause in lines[-1], (command, done.stderr)
        assert "unexpected" not in done.stderr and "Traceback" not in done.stderr, (command, done.stderr)
    assert snapshot(database) == before
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize("case", CASES)
def test_check_config_says_the_daemon_would_not_start(tmp_path, case):
    make, cause = CASES[case]
    database = make(tmp_path)
    before = snapshot(database)
    done = subprocess.run(cli(configure(tmp_path, database), "check-config"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"error: storage.path: cannot open the database {database}: " in done.stderr
    assert cause in done.stderr
    assert "`monitor run` would not start (1 problem)" in done.stderr
    assert "configuration is valid" not in done.stdout
    assert snapshot(database) == before


def test_check_config_accepts_a_database_not_created_yet_and_creates_none(tmp_path):
    database = tmp_path / "var" / "monitor.db"
    done = subprocess.run(cli(configure(tmp_path, database), "check-config"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "configuration is valid" in done.stdout
    assert not (tmp_path / "var").exists()


def test_check_config_accepts_the_monitors_own_database(tmp_path):
    database = tmp_path / "monitor.db"
    Store(database).close()
    done = subprocess.run(cli(configure(tmp_path, database), "check-config"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "error:" not in done.stderr


def test_a_refusal_by_the_system_says_to_run_as_the_service_user(tmp_path):
    # what a technician sees running `monitor status` as themselves on the service's database
    error = cannot_open(tmp_path / "monitor.db", PermissionError(13, "Permission denied"))
    assert isinstance(error, StoreDenied)
    assert str(error).startswith(f"cannot open the database {tmp_path / 'monitor.db'}: permission denied")
    assert "run monitor as the service user (on a server: sudo school-monitor COMMAND, deploy/README.md)" in str(error)
