"""A technician's first steps: a wrong file, a wrong value, no database yet. Each says what is wrong
and what to do, in one line, and a command that only looks writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.demo.fakes.rss import FakeFeed


def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "MONITOR_CONFIG"}
    return subprocess.run([sys.executable, "-m", "monitor.cli", "--config", "monitor.toml", *args],
                          capture_output=True, text=True, cwd=folder, env=env, timeout=120)


def write(folder: Path, text: str | bytes) -> None:
    path = folder / "monitor.toml"
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def refused(folder: Path, *args: str) -> str:
    done = run(folder, *(args or ("check-config",)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr
    return done.stderr


def test_a_file_that_is_not_text_is_named(tmp_path):
    write(tmp_path, b'[school]\nname = "Ravens Wood"\n' + b"\x7fELF\x02\x01\x01\xd0\xff\n")
    assert refused(tmp_path) == (
        "error: monitor.toml, line 3: not UTF-8 text: is it the right file? Save it as UTF-8 "
        "(config/monitor.example.toml is a commented example)\n"
    )


@pytest.mark.parametrize("toml, said", [
    ('[notify.email]\nhost = "h"\nsender = "a@b.org"\nport = "587"\n',
     "notify.email.port: must be a whole number, written without quotes (got '587') (monitor.toml, line 4)"),
    ('[[sources]]\nname = "n"\ntype = "rss"\nurl = "https://e.org/f.xml"\nofficial = "yes"\n',
     "sources[0].official: must be true or false, written without quotes (got 'yes') (monitor.toml, line 5)"),
    ('[school]\nname = 5\n', 'school.name: must be text in double quotes, e.g. "..." (got 5) (monitor.toml, line 2)'),
    ('[digest]\nrecipients = "head@school.example"\n',
     'digest.recipients: must be a list in square brackets, e.g. ["...", "..."] (got \'head@school.example\')'),
    ('school = "Ravens Wood"\n', "school: must be a table: a [section] of its own, or { key = value, ... }"),
    ('[classifier]\nthreshold = "0.5"\n', "classifier.threshold: must be a number, written without quotes (got '0.5')"),
    ('[sla]\nremind_before = 4\n',
     "sla.remind_before: 4 seconds is too short: write a duration from 1m to 7d, with its unit (ms, s, m, h, d or w)"),
])
def test_a_value_of_the_wrong_type_says_what_to_write(tmp_path, toml, said):
    write(tmp_path, toml)
    assert said in refused(tmp_path)


def test_check_config_reads_the_term_calendar_the_daemon_will_read(tmp_path):
    write(tmp_path, '[sla]\nterm_calendar = "terms.ics"\n')
    assert refused(tmp_path) == "error: sla.term_calendar: cannot read terms.ics: No such file or directory\n"
    (tmp_path / "terms.ics").write_text("not a calendar")
    assert "sla.term_calendar: " in refused(tmp_path) and "is not an iCalendar file" in refused(tmp_path)


def test_looking_before_the_first_poll_creates_no_database(tmp_path):
    write(tmp_path, '[school]\nname = "Ravens Wood"\n[storage]\npath = "var/monitor.db"\n'
                    '[[sources]]\nname = "news"\ntype = "rss"\nurl = "https://e.org/f.xml"\n')
    shown = run(tmp_path, "status")
    assert shown.returncode == 0, shown.stderr
    assert "No database yet: `monitor poll` or `monitor run` creates it" in shown.stdout
    assert "news (rss): never polled" in shown.stdout
    as_json = json.loads(run(tmp_path, "status", "--json").stdout)
    assert as_json["database_exists"] is False and as_json["cases"] == {"open": 0, "overdue": 0}
    assert run(tmp_path, "cases").stdout == "No cases.\n"
    assert refused(tmp_path, "ack", "1", "--by", "Ms Field") == "error: no case 1: `monitor cases` lists them\n"
    assert run(tmp_path, "purge", "--dry-run").returncode == 0
    assert not (tmp_path / "var").exists()


def test_a_database_folder_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "var").write_text("a file where the folder should be")
    write(tmp_path, '[storage]\npath = "var/monitor.db"\n[[sources]]\nname = "news"\ntype = "rss"\n'
                    'url = "http://127.0.0.1:9/feed.xml"\n')
    said = refused(tmp_path, "poll")
    assert said == "error: cannot open the database var/monitor.db: var is a file, not a folder; check storage.path\n"


def test_poll_with_no_source_says_so(tmp_path):
    write(tmp_path, '[school]\nname = "Ravens Wood"\n')
    done = run(tmp_path, "poll")
    assert done.returncode == 0
    assert done.stderr == ("no source to poll: monitor.toml has no enabled [[sources]] "
                           "(config/monitor.example.toml shows one of each type)\n")


def test_cases_show_the_item_number_that_hide_and_delete_take(tmp_path):
    with FakeFeed() as feed:
        feed.add_comment("Is the school open tomorrow?", author="A Parent")
        table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in
                          {**feed.source_config("page"), "official": True}.items() if not isinstance(value, dict))
        write(tmp_path, f'[storage]\npath = "monitor.db"\n[[sources]]\n{table}\n')
        assert run(tmp_path, "poll", "--no-send").returncode == 0
    (case,) = json.loads(run(tmp_path, "cases", "--json").stdout)
    listed = run(tmp_path, "cases").stdout
    assert listed.startswith(f"#{case['id']} page open") and f"(item {case['item_id']})\n" in listed


def test_a_configuration_named_by_the_environment_says_so(tmp_path):
    env = {**os.environ, "MONITOR_CONFIG": str(tmp_path / "old" / "monitor.toml")}
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "status"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr == (f"error: cannot read configuration file {tmp_path / 'old' / 'monitor.toml'} "
                           "(named by $MONITOR_CONFIG): No such file or directory\n")


def test_a_database_path_that_names_a_folder_is_refused_clearly(tmp_path):
    (tmp_path / "var" / "monitor.db").mkdir(parents=True)
    write(tmp_path, '[storage]\npath = "var/monitor.db"\n')
    assert refused(tmp_path, "status") == (
        'error: cannot open the database var/monitor.db: it is a folder; storage.path names the database file '
        'itself, e.g. "/var/lib/school-monitor/monitor.db"\n'
    )
