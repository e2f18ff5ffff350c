"""Clocks: everything that asks the time receives one, so tests and the demo can control it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(timezone.utc)


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Refuse a naive datetime where it enters; return it in UTC."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(timezone.utc)


class ManualClock:
    """A clock that moves only when told to (tests, the demo's accelerated week)."""

    def __init__(self, start: datetime):
        self._now = require_aware(start, "start")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = require_aware(when, "when")
