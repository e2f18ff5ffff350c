"""``monitor check-config`` resolves and loads ``classifier.model`` as ``monitor run`` would: a model
the daemon could not load is a problem naming the key and the value; one it can is named with its version.

A Hugging Face model id not downloaded yet is looked up on the hub (a fake one on loopback, reached
through HF_ENDPOINT as the hub client reads it), never downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from classifiers import DEFAULT_MODEL
from monitor.demo.fakes.server import FakeServer, Request, Response
from tests.conftest import cli


def check(tmp_path: Path, model: str, **env: str) -> subprocess.CompletedProcess:
    config = tmp_path / "monitor.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n[classifier]\nmodel = {json.dumps(model)}\n',
                      encoding="utf-8")
    environment = {**os.environ, "HF_HOME": str(tmp_path / "hf-cache"), **env}
    return subprocess.run(cli(str(config), "check-config"), capture_output=True, text=True, timeout=180,
                          env=environment)


def refused(done: subprocess.CompletedProcess, model: str) -> str:
    """The problem line about classifier.model; asserts check-config failed with it alone."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "`monitor run` would not start (1 problem)" in done.stderr
    assert "configuration is valid" not in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: classifier.model = {json.dumps(model)}: "), lines[0]
    assert "Traceback" not in done.stderr
    return lines[0]


def test_the_shipped_model_is_named_with_its_version(tmp_path):
    done = check(tmp_path, "default")
    assert done.returncode == 0, done.stderr
    version = json.loads((DEFAULT_MODEL / "model.json").read_text(encoding="utf-8"))["version"]
    line = next(line for line in done.stdout.splitlines() if line.startswith("classifier: "))
    assert f" version {version}+rules." in line and 'classifier.model = "default"' in line
    assert "threshold 0.5, with the safeguarding rules" in line


def test_a_missing_folder_is_a_problem(tmp_path):
    model = str(tmp_path / "models" / "toxic")
    assert "there is no folder" in refused(check(tmp_path, model), model)


def test_a_folder_that_holds_no_model_is_a_problem(tmp_path):
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "README.txt").write_text("not a model\n")
    model = str(tmp_path / "downloads")
    line = refused(check(tmp_path, model), model)
    assert "is not a model folder: it has neither model.onnx and model.json" in line


def test_a_damaged_model_json_is_a_problem(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, folder)
    (folder / "model.json").write_text('{"name": "school-monitor", "labels": [', encoding="utf-8")
    line = refused(check(tmp_path, str(folder)), str(folder))
    assert f"{folder / 'model.json'} cannot be read (JSONDecodeError" in line


def test_a_model_that_fails_to_load_is_a_problem_on_one_line(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, folder)
    (folder / "model.onnx").write_bytes(b"\x08\x07" + os.urandom(4096))
    line = refused(check(tmp_path, str(folder)), str(folder))
    assert "cannot load the model" in line


def test_a_misspelt_default_is_a_problem(tmp_path):
    assert 'did you mean "default"' in refused(check(tmp_path, "defualt"), "defualt")


@pytest.fixture
def hub():
    """The Hugging Face hub's model lookup (GET /api/models/{id}): a model it knows, and the 401
    with ``X-Error-Code: RepoNotFound`` it answers for any other id."""
    server = FakeServer()

    @server.route("GET", r"/api/models/(?P<owner>[^/]+)/(?P<name>[^/]+)")
    def model_info(request: Request) -> Response:
        repo = f"{request.params['owner']}/{request.params['name']}"
        if repo == "school-trust/abuse-classifier":
            return Response(body={"id": repo, "modelId": repo, "sha": "0123456789abcdef0123", "private": False,
                                  "pipeline_tag": "text-classification", "tags": [], "siblings": []})
        return Response(401, {"error": "Repository not found"},
                        headers={"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})

    with server:
        yield server


def test_an_unknown_hub_model_is_a_problem(tmp_path, hub):
    model = "school-trust/no-such-model"
    line = refused(check(tmp_path, model, HF_ENDPOINT=hub.url), model)
    assert "no such model on the Hugging Face hub" in line


def test_a_known_hub_model_is_named_and_not_downloaded(tmp_path, hub):
    done = check(tmp_path, "school-trust/abuse-classifier", HF_ENDPOINT=hub.url)
    assert done.returncode == 0, done.stderr
    assert ("classifier: Hugging Face model school-trust/abuse-classifier (revision 0123456789ab), "
            "not downloaded yet: `monitor run` downloads it at start") in done.stdout
    assert not any((tmp_path / "hf-cache").rglob("*.safetensors"))


def test_an_unreachable_hub_is_a_warning_not_a_failure(tmp_path):
    with FakeServer() as closed:
        endpoint = closed.url
    done = check(tmp_path, "school-trust/abuse-classifier", HF_ENDPOINT=endpoint)
    assert done.returncode == 0, done.stderr
    assert ('warning: classifier.model = "school-trust/abuse-classifier": not checked: the Hugging Face hub '
            f"({endpoint}) cannot be reached from here") in done.stderr
