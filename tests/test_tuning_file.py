"""A damaged tuning file (``monitor.tuning.json`` beside the database) never stops a command nor blinds
the monitor: it is named in one ERROR line, the model is used without it, and check-config fails on it."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import numpy as np
import pytest

from classifiers import DEFAULT_MODEL, load_model
from classifiers.head import HEAD_FILE, load_head
from classifiers.loader import apply_tuning
from monitor.tune import tuning_path

TEXTS = ["the head is a useless idiot", "Parents evening is on Thursday at 4pm", "you are all scum"]


def sound() -> dict:
    """A tuning as ``monitor tune`` writes it for the shipped model."""
    meta = json.loads((DEFAULT_MODEL / "model.json").read_text(encoding="utf-8"))
    head = load_head(DEFAULT_MODEL / HEAD_FILE)
    return {"model": meta["name"], "model_version": meta["version"], "tuned_at": "2026-11-30T05:27:53+00:00",
            "examples": 60, "held_back": 20, "refitted": "layer and threshold",
            "thresholds": {"offensive": 0.53, "hate": 0.53},
            "head": {"weight": head.weight.tolist(), "bias": head.bias.tolist()}}


def with_head(**changes) -> dict:
    document = sound()
    document["head"] = {**document["head"], **changes}
    return document


def without_bias() -> dict:
    document = sound()
    del document["head"]["bias"]
    return document


def nan_weights() -> dict:
    document = sound()
    document["head"]["weight"] = (np.full((384, 2), np.nan)).tolist()
    return document


DAMAGED = {
    "empty": "",
    "not JSON": "{{{",
    "binary": "\x00\xff garbage",
    "a list": "[]",
    "null": "null",
    "thresholds a list": {**sound(), "thresholds": [0.5]},
    "threshold a string": {**sound(), "thresholds": {"offensive": "abc", "hate": 0.53}},
    "threshold NaN": {**sound(), "thresholds": {"offensive": math.nan, "hate": 0.53}},
    "threshold infinite": {**sound(), "thresholds": {"offensive": math.inf}},
    "threshold 5": {**sound(), "thresholds": {"offensive": 5, "hate": 5}},
    "threshold negative": {**sound(), "thresholds": {"offensive": -1, "hate": -1}},
    "threshold far from the shipped one": {**sound(), "thresholds": {"offensive": 0.85}},
    "a label the model does not score": {**sound(), "thresholds": {"offensive": 0.5, "threat": 2.0}},
    "no thresholds": {k: v for k, v in sound().items() if k != "thresholds"},
    "head without bias": without_bias(),
    "head of strings": with_head(weight="x", bias="y"),
    "head of the wrong size": with_head(weight=[[0.1, 0.2]]),
    "head ragged": with_head(weight=[[0.1, 0.2], [0.3]]),
    "bias of the wrong size": with_head(bias=[0.1, 0.2, 0.3]),
    "head NaN": nan_weights(),
    "head a list": {**sound(), "head": [1, 2]},
}


def write(path, content) -> None:
    if isinstance(content, str):
        path.write_bytes(content.encode("latin-1"))
    else:
        path.write_text(json.dumps(content), encoding="utf-8")  # NaN and Infinity as Python writes them


@pytest.fixture(scope="module")
def model():
    return load_model("default")


def test_a_sound_tuning_is_used(model, tmp_path):
    path = tmp_path / "monitor.tuning.json"
    write(path, sound())
    tuned = load_model("default")
    assert apply_tuning(tuned, path)
    assert "+tuned.2026-11-30" in tuned.version and tuned.thresholds["offensive"] == 0.53


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_tuning_is_named_once_and_the_model_used_without_it(model, tmp_path, caplog, case):
    path = tmp_path / "monitor.tuning.json"
    write(path, DAMAGED[case])
    thresholds, head, version = dict(model.thresholds), model.head, model.version
    shipped = model.probabilities(TEXTS)
    with caplog.at_level(logging.INFO):
        assert apply_tuning(model, path) is False
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in errors] == [logging.ERROR]
    message = errors[0].getMessage()
    assert str(path) in message and "delete the file, or run `monitor tune` again" in message
    assert (model.thresholds, model.head, model.version) == (thresholds, head, version)
    assert np.array_equal(model.probabilities(TEXTS), shipped)


def strict_json(line: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("case", ["head without bias", "head of the wrong size", "head NaN", "a list",
                                  "threshold NaN"])
def test_commands_go_on_and_check_config_names_the_file(tmp_path, case):
    config = tmp_path / "monitor.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n', encoding="utf-8")
    path = tuning_path(tmp_path / "monitor.db")
    write(path, DAMAGED[case])

    def cli(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
                              input=stdin, capture_output=True, text=True, timeout=300)

    classified = cli("classify", stdin="\n".join(TEXTS) + "\n")
    assert classified.returncode == 0, classified.stderr
    records = [strict_json(line) for line in classified.stdout.splitlines()]
    assert [r["flagged"] for r in records] == [True, False, True]
    assert classified.stderr.count(" ERROR ") == 1 and str(path) in classified.stderr

    checked = cli("check-config")
    assert checked.returncode == 1
    assert f"error: classifier tuning {path} cannot be used (" in checked.stderr
    assert "`monitor run` would start, but not as configured (1 problem)" in checked.stderr
    assert f"version {sound()['model_version']}+rules" in checked.stdout  # the model it would use: without the tuning
