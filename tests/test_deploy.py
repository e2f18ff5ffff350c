"""Deployment: the systemd unit is valid, and the daemon speaks sd_notify over a real socket."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.app.systemd import Watchdog, notify, watchdog_interval

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNIT = DEPLOY / "school-monitor.service"


@pytest.fixture
def notify_socket(tmp_path: Path):
    """A unix datagram socket standing in for systemd's; yields (path, receive)."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)

    def receive() -> str:
        return sock.recv(4096).decode("utf-8")

    yield str(path), receive
    sock.close()


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_has_the_required_hardening_and_supervision():
    settings = unit_settings()
    assert settings["Type"] == ["notify"]
    assert settings["User"] == ["school-monitor"]
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["NoNewPrivileges"] == ["yes"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["ReadWritePaths"] == ["/var/lib/school-monitor"]
    assert settings["WatchdogSec"] and settings["ExecStart"][0].endswith("monitor run")
    assert settings["EnvironmentFile"] == ["/etc/school-monitor/monitor.env"]


def test_unit_bounds_memory_and_threads():
    settings = unit_settings()
    assert settings["MemoryMax"] == ["1G"] and settings["MemoryHigh"] == ["768M"]
    assert int(settings["TasksMax"][0]) >= 64, "the pools, the model's threads and Socket Mode fit"
    from monitor.app.daemon import STOP_GRACE

    minutes = int(settings["TimeoutStopSec"][0].removesuffix("min"))
    assert STOP_GRACE < minutes * 60 / 4, "the daemon stops by itself well before systemd kills it"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path):
    # verify checks that ExecStart exists: point it at a stand-in executable, nothing else changes
    executable = tmp_path / "venv" / "bin" / "monitor"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    text = UNIT.read_text().replace("/opt/school-monitor/venv", str(tmp_path / "venv"))
    assert str(executable) in text
    unit = tmp_path / "school-monitor.service"
    unit.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=120
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "school-monitor" in line]
    assert done.returncode == 0, done.stderr
    assert ours == [], "systemd-analyze complained about the unit:\n" + "\n".join(ours)


def test_env_template_and_dockerfile():
    env = (DEPLOY / "monitor.env.example").read_text()
    assert "0600" in env
    names = [line.split("=")[0] for line in env.splitlines() if line and not line.startswith("#")]
    assert "SLACK_BOT_TOKEN" in names and all(line.endswith("=") for line in env.splitlines() if line.split("=")[0] in names)
    docker = (DEPLOY / "Dockerfile").read_text()
    assert "USER school-monitor" in docker and "VOLUME" in docker
    assert docker.index("USER school-monitor") < docker.index("CMD")


def test_notify_sends_one_datagram(notify_socket):
    path, receive = notify_socket
    assert notify("READY=1", socket_path=path)
    assert receive() == "READY=1"


def test_notify_outside_systemd_does_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    assert notify("READY=1", socket_path=str(tmp_path / "gone.sock")) is False  # logged, not raised


def test_notify_reads_the_socket_from_the_environment(notify_socket, monkeypatch: pytest.MonkeyPatch):
    path, receive = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "90000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert notify("STATUS=checking")
    assert receive() == "STATUS=checking"
    assert watchdog_interval() == 90.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval() is None


def test_watchdog_keepalives_stop_when_the_heartbeat_is_stale(notify_socket):
    path, receive = notify_socket
    now = [1000.0]
    running = [True]
    watchdog = Watchdog(
        30.0, running=lambda: running[0], send=lambda m: notify(m, socket_path=path), monotonic=lambda: now[0]
    )
    assert watchdog.tick() and receive() == "WATCHDOG=1"
    now[0] += 31  # the heartbeat job has not run for longer than allowed
    assert watchdog.tick() is False
    watchdog.beat()
    assert watchdog.tick() and receive() == "WATCHDOG=1"
    running[0] = False  # the scheduler has shut down
    assert watchdog.tick() is False


def test_monitor_run_reports_ready_keepalives_and_stopping(notify_socket, tmp_path: Path):
    path, receive = notify_socket
    config = tmp_path / "monitor.toml"
    config.write_text('[storage]\npath = "monitor.db"\n')
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000", "MONITOR_CONFIG": str(config)}
    env.pop("WATCHDOG_PID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run"], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        messages = [receive()]
        assert messages[0].startswith("READY=1")
        messages.append(receive())
        assert messages[1] == "WATCHDOG=1", messages
        process.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.append(receive())
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
