"""Alert routing: why an item was flagged, which channels each kind goes to, and when.

Reasons
-------


A flagged item's reason decides its headline, its colour and its urgency. The safeguarding rules
(:mod:`classifiers.rules`) name theirs in the verdict's labels; anything else the classifier
flagged is "abusive". When several apply, the most serious one wins:

==================  ==========================================  =====================
reason              from                                        message
==================  ==========================================  =====================
``threat``          the ``threat`` rule                         always its own, urgent
``self_harm``       the ``self_harm`` rule                      always its own, urgent
``personal_data``   the ``personal_data`` rule                  urgent
``abusive``         the model (offensive, hate) or profanity    urgent
==================  ==========================================  =====================

Routing
-------

Urgent kinds go at once, any hour; routine kinds wait in the outbox for ``notify.routing.batch_window``
and, on the channels in ``quiet_channels``, for the end of the quiet hours, but never past the
reminder time of a deadline they carry. :mod:`monitor.notify.outbox` writes the rows and merges waiting
ones into one message (see docs/ALERTS.md).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from classifiers.rules import PERSONAL_DATA, SELF_HARM, THREAT

ABUSIVE = "abusive"
#: most serious first
REASONS = (THREAT, SELF_HARM, PERSONAL_DATA, ABUSIVE)
#: reasons never merged into a message with anything else
OWN_MESSAGE = frozenset({THREAT, SELF_HARM})
#: a rule hit scores 1.0; a label at or above this counts as the rule's reason
RULE_SCORE = 0.5


def reason_of(item: dict[str, Any]) -> str | None:
    """The reason a flagged item was flagged (see the table above); None if it was not flagged."""
    labels = item.get("labels") or {}
    if isinstance(labels, dict):
        for reason in REASONS[:-1]:
            try:
                if float(labels.get(reason) or 0) >= RULE_SCORE:
                    return reason
            except (TypeError, ValueError):
                continue
    elif isinstance(labels, (list, tuple)):
        for reason in REASONS[:-1]:
            if reason in labels:
                return reason
    return ABUSIVE if item.get("flagged") else None


# -- routing: which channels, and when ---------------------------------------------------------------

#: sent at once, any hour (never batched, never held by quiet hours)
URGENT = ("flagged", "seen_late", "breach", "escalation", "source_auth", "source_down", "source_still_down")
#: gathered for ``notify.routing.batch_window`` into one message per channel and recipient
ROUTINE = ("new_comments", "reminder", "source_recovered")
KINDS = URGENT + ROUTINE
CHAT = ("slack", "teams")
ALL = ("slack", "teams", "email")

#: the moderators' channels of each kind when the configuration names none. "chat" is Slack and
#: Teams where configured, else email: the moderators work there, and email would only repeat it.
#: An escalation is email (the moderators and ``escalate_to``): it is for senior staff, and the
#: moderators had the breach notice in their chat already.
DEFAULT_ROUTES: dict[str, tuple[str, ...]] = {
    "flagged": ALL, "source_auth": ALL, "source_down": ALL, "source_still_down": ALL,
    "seen_late": ("chat",), "breach": ("chat",), "escalation": ("email",),
    "new_comments": ("chat",), "reminder": ("chat",), "source_recovered": ("chat",),
}


def configured_channels(config: Any) -> tuple[str, ...]:
    notify = config.notify
    return tuple(c for c in ALL if getattr(notify, c, None) is not None)


def moderator_channels(config: Any, kind: str) -> tuple[str, ...]:
    """The configured channels on which the moderators get ``kind``.

    An urgent kind whose channels are none of those configured goes to every configured channel:
    a routing table can delay news, never lose it.
    """
    configured = configured_channels(config)
    wanted = config.notify.routing.kinds.get(kind)
    if wanted is None:
        wanted = []
        for name in DEFAULT_ROUTES.get(kind, ALL):
            if name == "chat":
                chat = [c for c in CHAT if c in configured]
                wanted.extend(chat or ["email"])
            else:
                wanted.append(name)
    found = tuple(c for c in ALL if c in wanted and c in configured)
    if not found and kind in URGENT:
        return configured
    return found


def is_routine(kind: str) -> bool:
    return kind in ROUTINE


def stands_alone(kind: str, payload: dict[str, Any]) -> bool:
    """A threat or self-harm hit: its own message, never carrying routine news along."""
    item = payload.get("item") if isinstance(payload.get("item"), dict) else None
    return kind == "flagged" and item is not None and reason_of({**item, "flagged": True}) in OWN_MESSAGE


def in_quiet_hours(at: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    local = at.astimezone(tz).time()
    return (start <= local < end) if start < end else (local >= start or local < end)


def quiet_end(at: datetime, quiet: tuple[time, time], tz: ZoneInfo) -> datetime:
    """The end of the quiet hours ``at`` is in, as a UTC instant (a wall-clock time on that day).

    Computed in local dates and times, so a clock change in the night moves nothing: "07:00" is
    07:00 on the morning's own offset. A wall-clock end that does not exist (skipped by a clock
    change) is read with the offset before it, i.e. an hour later.
    """
    _, end = quiet
    local = at.astimezone(tz)
    day = local.date() if local.time() < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(timezone.utc)


def release_time(config: Any, channel: str, now: datetime, limits: list[datetime]) -> datetime:
    """When a routine alert written ``now`` to ``channel`` is sent: after the batch window, then
    after the quiet hours if the channel keeps them; never later than the earliest of ``limits``
    (the items' reminder times), unless that is already within the batch window.
    """
    routing = config.notify.routing
    at = now + routing.batch_window
    quiet = routing.quiet if channel in routing.quiet_channels else None
    if quiet is not None and in_quiet_hours(at, quiet, config.school.tz):
        at = quiet_end(at, quiet, config.school.tz)
    if limits:
        at = min(at, max(now + routing.batch_window, min(limits)))
    return at


def deadline_limits(config: Any, payload: dict[str, Any]) -> list[datetime]:
    """The reminder time (``due - sla.remind_before``) of each item in a payload that has a deadline."""
    items = [payload["item"]] if isinstance(payload.get("item"), dict) else payload.get("items") or []
    found = []
    for item in items:
        due = item.get("due_at") if isinstance(item, dict) else None
        if due:
            try:
                found.append(datetime.fromisoformat(str(due)) - config.sla.remind_before)
            except ValueError:
                continue
    return found


def routing_table(config: Any) -> list[dict[str, Any]]:
    """The effective routing, one row per kind: what `monitor check-config` shows."""
    routing = config.notify.routing
    rows = []
    for kind in KINDS:
        channels = moderator_channels(config, kind)
        if kind in URGENT:
            when = "at once"
        elif routing.batch_window.total_seconds() > 0:
            when = f"batched ({span(routing.batch_window)})"
        else:
            when = "at once"
        quiet = [c for c in channels if kind in ROUTINE and routing.quiet and c in routing.quiet_channels]
        rows.append({"kind": kind, "urgent": kind in URGENT, "channels": list(channels), "when": when,
                     "quiet_hours": routing.quiet_hours if quiet else None, "quiet_channels": quiet})
    return rows


def span(value: timedelta) -> str:
    """A duration as the configuration writes it: ``30m``, ``2h``, ``45s``."""
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
