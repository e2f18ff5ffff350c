"""What a person reads cannot be forged by what strangers wrote: terminal, logs, status, alerts.

A comment's ESC sequences, a newline in an author's name or in a platform's error message are
played against the real command line (a subprocess on a real database) and the real log formatter.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.app.assembly import build_pipeline
from monitor.app.status import collect_status, format_status
from monitor.demo.fakes import fake_platform
from monitor.notify.render import email_parts, slack_message
from monitor.sanitize import PrintableFormatter, one_line, printable
from monitor.store import Store
from tests.conftest import make_config
from tests.test_alerting import KeywordClassifier

LONDON = ZoneInfo("Europe/London")
#: clears the screen, homes the cursor and prints a green all-clear
SCREEN_WIPE = "\x1b[2J\x1b[H\x1b[32mAll cases acknowledged\x1b[0m\x9b31m"
FORGED_CASE = "Troll\n#2 facebook-page acknowledged: received Mon 16 Nov 2026 08:00, closed by Head"
FORGED_LOG = "Service down\n2026-11-16 09:00:01,000 INFO monitor.pipeline: source=facebook-page recovered"


def toml_value(value) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def write_config(tmp_path, source: dict, database: str = "monitor.db") -> str:
    lines = [f'[storage]\npath = "{tmp_path / database}"\n', "[[sources]]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in source.items()]
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def monitor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def facebook():
    with fake_platform("facebook")() as server:
        yield server


def poll(tmp_path, clock, facebook):
    source = {**facebook.source_config("facebook-page"), "official": True}
    config = make_config(tmp_path, sources=[source])
    store = Store(config.database_path, clock=clock)
    try:
        result = build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page")
        return config, result, collect_status(config, store, clock)
    finally:
        store.close()


def test_monitor_cases_cannot_be_made_to_wipe_the_screen_or_forge_a_line(tmp_path, clock, facebook):
    posted = f"nice school {SCREEN_WIPE} \u202egnol os\u2028si siht"  # a bidi override and a line separator too
    facebook.add_comment(posted, author=FORGED_CASE, at=clock() - timedelta(minutes=5))
    _, result, _ = poll(tmp_path, clock, facebook)
    assert result.ok
    path = write_config(tmp_path, {**facebook.source_config("facebook-page"), "official": True})
    shown = monitor("--config", path, "cases")
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x9b" not in shown.stdout
    lines = shown.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("#1 facebook-page open")  # one case, two lines: no forged one
    assert "\\x1b[2J" in lines[1] and "All cases acknowledged" in lines[1]  # shown, inert
    as_json = monitor("--config", path, "cases", "--json").stdout
    assert not re.search("[\x1b\x9b\u202e\u2028]", as_json)  # no control reaches the terminal raw
    assert json.loads(as_json)[0]["text"] == posted  # JSON keeps the text exactly (escaped by JSON)


def test_a_newline_in_a_graph_error_forges_no_log_or_status_line(tmp_path, clock, facebook, caplog):
    facebook.script(facebook.error(500, 2, FORGED_LOG), times=10)
    with caplog.at_level(logging.INFO):
        config, result, status = poll(tmp_path, clock, facebook)
    assert not result.ok and "\n" not in result.error and "\\n2026-11-16" in result.error
    [source] = status["sources"]
    assert "\n" not in source["last_error"]  # stored on one line
    shown = format_status(status, LONDON)
    assert not any(line.startswith("2026-11-16") for line in shown.splitlines())
    formatter = PrintableFormatter("%(levelname)s %(name)s: %(message)s")
    for record in caplog.records:
        assert "\n" not in formatter.format(record)
    # and as the daemon's stderr shows it: `monitor poll`, its log and its output
    path = write_config(tmp_path, facebook.source_config("facebook-page"), database="cli.db")
    polled = monitor("--config", path, "poll")
    assert polled.returncode == 1
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR) ", line)
               for line in polled.stderr.splitlines()), polled.stderr
    assert "recovered" in polled.stderr and not any("INFO monitor.pipeline: source=facebook-page recovered" == line[24:]
                                                    for line in polled.stderr.splitlines())
    [failed] = [line for line in polled.stdout.splitlines() if line.startswith("facebook-page")]
    assert "FAILED" in failed and "recovered" in failed  # the forged log line stays inside the failure's line
    assert not any(re.match(r"\d{4}-\d\d-\d\d", line) for line in polled.stdout.splitlines())


def test_the_log_formatter_escapes_messages_but_keeps_tracebacks():
    formatter = PrintableFormatter("%(levelname)s: %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "comment %s", (SCREEN_WIPE + "\nline",),
                                   sys.exc_info())
    text = formatter.format(record)
    first, *rest = text.splitlines()
    assert first.startswith("ERROR: comment \\x1b[2J") and "\\nline" in first and "\x1b" not in text
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: boom"


def test_names_in_slack_and_email_stay_on_one_line():
    item = {"item_id": 1, "source": "facebook-page", "author": "Troll\n#2 facebook-page acknowledged\r\u2028x",
            "text": "hello"}
    _, blocks = slack_message("flagged", {"item": item}, LONDON)
    byline = blocks[1]["elements"][0]
    assert byline["type"] == "plain_text" and "\n" not in byline["text"] and "\r" not in byline["text"]
    assert byline["text"].startswith("Troll #2 facebook-page acknowledged") and "\u2028" not in byline["text"]
    parts = email_parts("flagged", {"item": item}, LONDON, "Test School")
    assert any(line.startswith("Troll #2 facebook-page acknowledged") and line.endswith("x on facebook-page:")
               for line in parts.text.splitlines())
    assert "\n#2 facebook-page" not in parts.text and "\n#2 facebook-page" not in parts.html


def test_quoted_comments_cannot_format_the_alert():
    item = {"item_id": 1, "source": "facebook-page", "author": "Troll",
            "text": "*All cases acknowledged* _by the head_ ~not~ ```code``` `x`"}
    _, blocks = slack_message("flagged", {"item": item}, LONDON)
    quote = [line for line in blocks[2]["text"]["text"].splitlines() if line.startswith("> ")]
    assert quote == ["> ∗All cases acknowledged∗ ＿by the head＿ ∼not∼ ˋˋˋcodeˋˋˋ ˋxˋ"]


def test_printable_and_one_line():
    assert printable("a\nb\tc\x1b[0m\x9b\u202edone\u2028") == "a\\nb\\tc\\x1b[0m\\x9b\\u202edone\\u2028"
    assert printable("école — ok") == "école — ok"
    assert one_line("  Jane\n\x1b[31mSmith\t ") == "Jane [31mSmith"
    assert one_line("N" * 100, 80) == "N" * 79 + "…"


def test_the_digest_printed_on_the_terminal_cannot_wipe_the_screen(tmp_path, clock, facebook):
    facebook.add_comment(f"idiot {SCREEN_WIPE}\n- BREACH forged line", author="Troll", at=clock() - timedelta(minutes=5))
    poll(tmp_path, clock, facebook)
    path = write_config(tmp_path, {**facebook.source_config("facebook-page"), "official": True})
    shown = monitor("--config", path, "digest", "--week", "2026-W47")
    assert shown.returncode == 0, shown.stderr
    assert "All cases acknowledged" in shown.stdout and "\x1b" not in shown.stdout and "\x9b" not in shown.stdout
    assert not any(line.startswith("- BREACH forged") for line in shown.stdout.splitlines())
