"""Files the monitor writes are private whatever the umask, and the configuration check warns
about secrets that others could read: written in the file itself, or in a ``file:`` open to all.
The deploy guide's own layout (a 0640 configuration whose group is the service's) draws no warning."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.base import Item
from monitor.app.checks import check_permissions
from monitor.app.maintenance import backup_database
from monitor.config import load_config
from monitor.digest import publish
from monitor.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """The usual umask outside the systemd unit, which makes a new file readable by all."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def write_config(tmp_path: Path, text: str = "", file_mode: int = 0o600) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n{text}', encoding="utf-8")
    path.chmod(file_mode)
    return path


@pytest.fixture
def database(tmp_path) -> Path:
    store = Store(tmp_path / "monitor.db")
    store.upsert_items([Item(source="news", native_id="1", kind="mention", text="a comment", created_at=NOW)])
    store.close()
    return tmp_path / "monitor.db"


# -- what the monitor writes ----------------------------------------------------------------------


def test_a_backup_is_private(tmp_path, database, usual_umask):
    (tmp_path / "backups").mkdir()
    result = backup_database(database, tmp_path / "backups", now=NOW)
    assert mode(result.path) == 0o600
    (tmp_path / "old.db").write_bytes(b"")
    (tmp_path / "old.db").chmod(0o644)
    replaced = backup_database(database, tmp_path / "old.db", now=NOW, overwrite=True)
    assert mode(replaced.path) == 0o600, "a replaced backup is private too"


def test_monitor_backup_writes_a_private_file(tmp_path, database, usual_umask):
    config = write_config(tmp_path)
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config), "backup",
                           str(tmp_path / "copy.db")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "copy.db") == 0o600


def test_digest_archive_and_out_file_are_private(tmp_path, database, usual_umask):
    config = load_config(write_config(tmp_path))
    store = Store(config.database_path)
    try:
        (tmp_path / "shared").mkdir()
        out = tmp_path / "shared" / "digest.html"
        out.write_text("an older page")
        out.chmod(0o644)
        published = publish(store, config, "2026-W47", now=NOW, out=out)
    finally:
        store.close()
    assert mode(published.archive) == 0o600
    assert mode(out) == 0o600
    assert [p.name for p in published.archive.parent.iterdir()] == [published.archive.name]


def test_folders_the_monitor_makes_for_its_output_are_private(tmp_path, database, usual_umask):
    """The digests/ folder beside the database, the folders of a --out page and of a new database are
    0700 like demo-output/ (their files are 0600); a folder that was already there is left as it is."""
    (tmp_path / "shared").mkdir(mode=0o755)
    config = write_config(tmp_path)
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config), "digest", "--week", "2026-W47",
                           "--out", str(tmp_path / "pages" / "2026" / "digest.html")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "digests") == 0o700 and mode(tmp_path / "digests" / "2026-W47.html") == 0o600
    assert mode(tmp_path / "pages") == mode(tmp_path / "pages" / "2026") == 0o700
    Store(tmp_path / "shared" / "data" / "db" / "monitor.db").close()
    assert mode(tmp_path / "shared" / "data") == mode(tmp_path / "shared" / "data" / "db") == 0o700
    assert mode(tmp_path / "shared") == 0o755


# -- what the configuration check says ------------------------------------------------------------


def test_the_deploy_guides_0640_configuration_with_the_services_group_is_accepted(tmp_path, database):
    config_path = write_config(tmp_path, file_mode=0o640)
    os.chown(config_path, -1, os.getegid())  # root:school-monitor in deploy/README.md: the service's group
    assert check_permissions(load_config(config_path)) == []


def test_a_0640_configuration_readable_by_another_group_is_named(tmp_path, database):
    other = next((g for g in grp.getgrall() if g.gr_gid != os.getegid() and g.gr_gid not in os.getgroups()), None)
    if other is None or os.geteuid() != 0:
        pytest.skip("needs another group and the right to give a file to it")
    config_path = write_config(tmp_path, file_mode=0o640)
    os.chown(config_path, -1, other.gr_gid)
    [warning] = check_permissions(load_config(config_path))
    assert f"the group {other.gr_name} can read it" in warning and "chmod 600" in warning


def test_a_world_readable_configuration_is_named(tmp_path, database):
    config_path = write_config(tmp_path, file_mode=0o644)
    [warning] = check_permissions(load_config(config_path))
    assert f"configuration file {config_path} has mode 644: other accounts on this server can read it" in warning


def test_a_secret_written_in_the_file_is_named_without_showing_it(tmp_path, database, monkeypatch):
    monkeypatch.setenv("BOT", "xoxb-from-env")
    config_path = write_config(
        tmp_path,
        '[notify.slack]\ntoken = "env:BOT"\nchannel = "C0123456789"\napp_token = "xapp-Literal-Secret-1"\n'
        '[notify.email]\nhost = "smtp.school.example"\nsender = "m@school.example"\nusername = "mailer"\n'
        'password = "hunter2-Literal"\n'
        '[[sources]]\nname = "fb"\ntype = "facebook"\npage_id = "1"\ntoken = "EAAB-Literal-Page-Token"\n',
    )
    warnings = check_permissions(load_config(config_path))
    text = "\n".join(warnings)
    for key, line in (("notify.slack.app_token", 6), ("notify.email.password", 11), ("sources[0].token", 16)):
        assert any(w.startswith(f"{key}: is a secret written in the configuration file itself") and f"line {line})" in w
                   for w in warnings), (key, text)
    assert 'write password = "env:NAME"' in text
    assert "notify.slack.token" not in text, "an env: reference is what is asked for"
    assert "username" not in text, "a user name is no secret"
    assert len(warnings) == 3
    for secret in ("xapp-Literal-Secret-1", "hunter2-Literal", "EAAB-Literal-Page-Token", "xoxb-from-env"):
        assert secret not in text


def test_a_file_secret_readable_by_others_is_named(tmp_path, database):
    token = tmp_path / "slack-token"
    token.write_text("xoxb-in-a-file\n")
    token.chmod(0o644)
    config_path = write_config(tmp_path, f'[notify.slack]\ntoken = "file:{token}"\nchannel = "C0123456789"\n')
    [warning] = check_permissions(load_config(config_path))
    assert f"secret file for notify.slack.token, {token} has mode 644: other accounts on this server can read it" in warning
    assert "xoxb-in-a-file" not in warning
    token.chmod(0o600)
    assert check_permissions(load_config(config_path)) == []


def test_check_config_prints_the_secret_warnings(tmp_path, database):
    config_path = write_config(tmp_path, '[[sources]]\nname = "fb"\ntype = "facebook"\npage_id = "1"\n'
                                         'token = "EAAB-Literal-Page-Token"\n')
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config_path), "check-config"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warning: sources[0].token: is a secret written in the configuration file itself" in done.stderr
    assert "EAAB-Literal-Page-Token" not in done.stderr + done.stdout
