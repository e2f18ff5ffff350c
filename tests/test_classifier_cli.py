"""``monitor classify``: one text per line on stdin, one JSON verdict per line on stdout."""

from __future__ import annotations

import json

from click.testing import CliRunner

from monitor.cli import cli


def run_classify(stdin: str, *args: str):
    return CliRunner().invoke(cli, [*args, "classify"], input=stdin)


def test_one_json_object_per_input_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    lines = ["Thank you for a lovely concert", "", "you stupid fucking idiot", "ring me on 07700 900123",
             "مرحبا 😀", "I'm going to shoot up the school"]
    result = run_classify("\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in records] == lines
    for record in records:
        assert set(record) == {"text", "score", "flagged", "labels", "reasons"}
    kind, empty, abusive, phone, arabic, threat = records
    assert not kind["flagged"] and not empty["flagged"]
    assert abusive["flagged"] and abusive["labels"]["offensive"] >= 0.5
    assert phone["flagged"] and "personal_data" in phone["labels"]
    assert threat["flagged"] and threat["labels"]["threat"] == 1.0


def test_the_configured_threshold_is_used(tmp_path):
    config = tmp_path / "monitor.toml"
    config.write_text('[classifier]\nthreshold = 0.0\nrules = false\n', encoding="utf-8")
    result = run_classify("What a lovely assembly this morning\n", "--config", str(config))
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["flagged"]
    assert record["reasons"] == []


def test_a_model_that_cannot_load_is_a_one_line_error(tmp_path):
    config = tmp_path / "monitor.toml"
    config.write_text(f'[classifier]\nmodel = "{tmp_path / "missing-model"}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "classify"], input="hello\n")
    assert result.exit_code != 0
    assert "missing-model" in str(result.exception) + result.output


def classify_bytes(tmp_path, stdin: bytes):
    """``monitor classify`` as a shell pipe runs it: raw bytes on stdin."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    return subprocess.run([sys.executable, "-m", "monitor.cli", "classify"], input=stdin, capture_output=True,
                          cwd=tmp_path, env=env, timeout=300)


def test_only_a_newline_ends_a_line(tmp_path):
    done = classify_bytes(tmp_path, b"seven\rights\nthe head is a useless idiot\r\nlast line without an end")
    assert done.returncode == 0, done.stderr
    texts = [json.loads(line)["text"] for line in done.stdout.decode("utf-8").splitlines()]
    assert texts == ["seven\rights", "the head is a useless idiot", "last line without an end"]


def test_invalid_utf8_is_told_once_and_classified(tmp_path):
    done = classify_bytes(tmp_path, b"the head is a\xff useless idiot\nfine\nbad \xc3 again\n")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [r["text"] for r in records] == ["the head is a\ufffd useless idiot", "fine", "bad \ufffd again"]
    assert records[0]["flagged"]
    stderr = done.stderr.decode("utf-8")
    assert stderr.count("WARNING") == 1
    assert "stdin line 1 is not valid UTF-8" in stderr


def test_controls_that_reorder_or_break_a_line_are_escaped(tmp_path):
    unsafe = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
              "\u2028", "\u2029", "\x85", "\x7f", "\x1b"]
    text = "Mr Davies " + " ".join(unsafe) + " is a fat pig"
    done = classify_bytes(tmp_path, text.encode("utf-8") + b"\n")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.decode("utf-8").splitlines()
    assert not any(char in line for char in unsafe)
    assert "\\u202e" in line and "\\u2028" in line and "\\u001b" in line
    record = json.loads(line)
    assert record["text"] == text  # escaped as JSON: it reads back the same
    assert all(not any(char in reason for char in unsafe) for reason in record["reasons"])
