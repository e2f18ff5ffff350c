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
