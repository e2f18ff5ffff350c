"""Telling systemd how the daemon is doing: readiness and watchdog keep-alives (``sd_notify``).

The protocol is one datagram per message to the unix socket named by ``$NOTIFY_SOCKET``
(a path, or an abstract socket written with a leading ``@``), e.g. ``READY=1`` once the scheduler
runs, ``WATCHDOG=1`` regularly after that. Outside systemd the variable is unset and every call
does nothing.

The unit sets ``WatchdogSec``: if no ``WATCHDOG=1`` arrives within it, systemd kills and restarts
the daemon. :class:`Watchdog` sends the keep-alive only while the scheduler is really working: a
heartbeat job, run by the scheduler's own worker pool, must have run recently. A scheduler whose
workers are all stuck (a hung request, a deadlock) stops the heartbeat, so the keep-alives stop
and systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable

logger = logging.getLogger(__name__)


def notify(message: str, socket_path: str | None = None) -> bool:
    """Send one sd_notify message; False (and nothing sent) when not run by systemd."""
    address = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError as exc:
        logger.warning("cannot notify systemd at %s: %s", address.replace("\0", "@"), exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """The unit's WatchdogSec in seconds, if systemd asked this process for keep-alives."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        return None
    return seconds if seconds > 0 else None


class Watchdog:
    """Keep-alives sent from the main loop, only while the scheduler's heartbeat is fresh.

    ``beat`` is the scheduler job (cheap: it records the time); ``tick`` runs in the main thread
    and sends ``WATCHDOG=1`` if the last beat is at most ``max_age`` seconds old and the
    scheduler reports itself running.
    """

    def __init__(
        self,
        max_age: float,
        *,
        running: Callable[[], bool] = lambda: True,
        send: Callable[[str], bool] = notify,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.max_age = max_age
        self.running = running
        self.send = send
        self.monotonic = monotonic
        self._last_beat = monotonic()
        self._lock = threading.Lock()
        self._healthy = True

    def beat(self) -> None:
        with self._lock:
            self._last_beat = self.monotonic()

    def age(self) -> float:
        with self._lock:
            return self.monotonic() - self._last_beat

    def healthy(self) -> bool:
        return self.running() and self.age() <= self.max_age

    def tick(self) -> bool:
        """Send a keep-alive if the scheduler is healthy; True if one was sent."""
        healthy = self.healthy()
        if healthy != self._healthy:
            if healthy:
                logger.info("scheduler heartbeat is back: watchdog keep-alives resume")
            else:
                logger.error(
                    "scheduler heartbeat is %.0fs old (limit %.0fs): keep-alives stop, systemd will restart the monitor",
                    self.age(), self.max_age,
                )
            self._healthy = healthy
        if not healthy:
            return False
        return self.send("WATCHDOG=1")
