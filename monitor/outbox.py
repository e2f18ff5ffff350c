"""The outbox: every alert is written here first, in the transaction that caused it.

An alert is an intent (kind, payload, idempotency key). :func:`enqueue` expands it into one row
per channel and recipient, by the routing rules:

- the moderators: the Slack channel and the moderators' email addresses, when configured;
- the source's ``leads`` (email addresses, or Slack user/channel ids);
- for escalations, ``notify.email.escalate_to`` as well.

Each row's key is ``<alert key>|<channel>|<recipient>``, unique in the table: enqueueing the same
alert twice (a second poll, a restart, a retry) adds nothing.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from monitor.config import Config
from monitor.store import Store, to_db

logger = logging.getLogger(__name__)

_SLACK_ID = re.compile(r"^[CGDUW][A-Z0-9]{6,}$")


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Something a person must be told. ``key`` makes it unique (e.g. ``breach:case:42``)."""

    key: str
    kind: str
    payload: dict[str, Any]
    source: str | None = None
    item_id: int | None = None
    case_id: int | None = None
    escalate: bool = False
    #: False for alerts meant only for ``extra_recipients`` (e.g. the principal's digest)
    moderators: bool = True
    extra_recipients: tuple[str, ...] = field(default_factory=tuple)


def routes(config: Config, alert: Alert) -> list[tuple[str, str | None]]:
    """(channel, recipient) pairs that should receive ``alert``, without repeats."""
    found: list[tuple[str, str | None]] = []
    slack, email = config.notify.slack, config.notify.email
    if slack is not None and alert.moderators:
        found.append(("slack", slack.channel))
    if email is not None and alert.moderators:
        found.extend(("email", address) for address in email.moderators)
    extra = list(alert.extra_recipients)
    if alert.source and alert.moderators:
        try:
            extra.extend(config.source(alert.source).leads)
        except Exception:  # noqa: BLE001 - a source removed from the configuration
            pass
    if alert.escalate and email is not None:
        extra.extend(email.escalate_to)
    for recipient in extra:
        if "@" in recipient and email is not None:
            found.append(("email", recipient))
        elif _SLACK_ID.match(recipient) and slack is not None:
            found.append(("slack", recipient))
    return list(dict.fromkeys(found))


def enqueue(store: Store, config: Config, alert: Alert) -> int:
    """Write the alert's rows to the outbox; returns how many were new (0 if already queued)."""
    now = to_db(store.now())
    payload = json.dumps(alert.payload, ensure_ascii=False, default=str)
    added = 0
    with store.transaction():
        for channel, recipient in routes(config, alert):
            cursor = store.execute(
                """INSERT OR IGNORE INTO alerts (key, kind, channel, recipient, source, item_id, case_id,
                    payload, created_at, state, next_attempt_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)""",
                (
                    f"{alert.key}|{channel}|{recipient or ''}", alert.kind, channel, recipient,
                    alert.source, alert.item_id, alert.case_id, payload, now, now,
                ),
            )
            added += cursor.rowcount
    if not routes(config, alert):
        logger.warning("alert %s (%s) has no recipient: configure [notify.slack] or [notify.email]", alert.key, alert.kind)
    return added
