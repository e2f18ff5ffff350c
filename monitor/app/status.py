"""``monitor status``: each source's health, open cases and the outbox backlog."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.clock import Clock
from monitor.config import Config
from monitor.notify.outbox import waiting_batches
from monitor.sanitize import printable
from monitor.store import BLIND_KINDS, Store, to_db


def collect_status(config: Config, store: Store, clock: Clock | None = None) -> dict[str, Any]:
    """A JSON-ready snapshot of the monitor's health, at ``clock`` (default: the store's clock)."""
    now = (clock or store.clock)()
    sources = []
    for settings in config.sources:
        state = store.source_state(settings.name)
        extra = dict(state.extra or {})
        # what a connector warns about (a feed that never showed anything...): said, not a failure
        warnings = extra.pop("warnings", None)
        warnings = [str(w) for w in warnings] if isinstance(warnings, list) else []
        if state.last_success_at is None and state.consecutive_failures == 0:
            health = "never polled"
        elif state.last_error_kind == "auth" and state.consecutive_failures:
            health = "blind: credentials refused"
        elif state.last_error_kind in BLIND_KINDS and state.consecutive_failures:
            health = "blind: the platform account needs action"
        elif state.consecutive_failures:
            health = "failing"
        else:
            health = "ok"
        sources.append(
            {
                "name": settings.name,
                "type": settings.type,
                "official": settings.official,
                "enabled": settings.enabled,
                "health": health,
                "items": store.count_items(settings.name),
                "last_success_at": _iso(state.last_success_at),
                "last_error": state.last_error,
                "last_error_kind": state.last_error_kind,
                "last_error_at": _iso(state.last_error_at),
                "consecutive_failures": state.consecutive_failures,
                "failing_since": _iso(state.failing_since),
                "next_attempt_after": _iso(state.backoff_until) if state.backoff_until and state.backoff_until > now else None,
                "warnings": warnings,
                "extra": extra,
            }
        )
    cases = _count(store, "SELECT state, count(*) FROM cases GROUP BY state")
    overdue = store.execute(
        "SELECT count(*) FROM cases WHERE state = 'open' AND due_at < ?", (to_db(now),)
    ).fetchone()[0]
    outbox = _count(store, "SELECT state, count(*) FROM alerts GROUP BY state")
    batches = waiting_batches(store, config)
    failed_alerts = store.query(
        "SELECT channel, recipient, kind, last_error FROM alerts WHERE state = 'failed' ORDER BY id DESC LIMIT 5"
    )
    # alerts retried after a failure: the channel's problem as its last attempt saw it
    retrying = store.query(
        """SELECT channel, count(*) AS alerts, min(next_attempt_at) AS next_attempt_at,
                  (SELECT last_error FROM alerts AS latest WHERE latest.channel = alerts.channel
                     AND latest.state IN ('pending', 'sending') AND latest.last_error IS NOT NULL
                   ORDER BY latest.id DESC LIMIT 1) AS last_error
           FROM alerts WHERE state IN ('pending', 'sending') AND attempts > 0 AND last_error IS NOT NULL
           GROUP BY channel ORDER BY channel"""
    )
    buttons = store.meta("slack_buttons")
    actions = store.query("""SELECT action, source, item_id, state, by, last_error FROM platform_actions
                             WHERE state IN ('refused', 'pending', 'sending') ORDER BY id DESC LIMIT 10""")
    return {
        "platform_actions": [{**a, "state": "in doubt" if a["state"] == "sending" else a["state"]} for a in actions],
        "school": config.school.name,
        "database": str(store.path),
        #: false until `monitor poll` or `monitor run` first creates it
        "database_exists": not store.absent,
        "checked_at": _iso(now),
        #: set for a database ``monitor demo`` filled: its simulated time, at which this is judged
        "simulated_time": _iso(store.simulated_time()),
        "sources": sources,
        #: the Slack buttons' Socket Mode connection as the daemon last saw it: its problem and
        #: since when (UTC), or null when it was connected (or has no buttons)
        "slack_buttons": json.loads(buttons) if buttons else None,
        "cases": {"open": cases.get("open", 0), "overdue": overdue, **{k: v for k, v in cases.items() if k != "open"}},
        "outbox": {
            "pending": outbox.get("pending", 0) + outbox.get("sending", 0),
            "sent": outbox.get("sent", 0),
            "failed": outbox.get("failed", 0),
            "recent_failures": failed_alerts,
            #: per channel, the alerts waiting for another attempt after a failure, and that failure
            "retrying": retrying,
            #: routine alerts waiting for their batch (or the quiet hours) to end
            "batched": outbox.get("waiting", 0),
            "waiting_batches": batches,
        },
    }


def format_status(status: dict[str, Any], tz) -> str:
    """The status as a few lines a person reads at a glance (times in the school's zone)."""
    status = _printable(status)
    lines = [f"{status['school']} — database {status['database']}", ""]
    if status.get("simulated_time"):
        lines[1:1] = [simulated_note(status["simulated_time"], tz)]
    if status.get("database_exists") is False:
        lines[1:1] = ["No database yet: `monitor poll` or `monitor run` creates it (run them as the service's "
                      "user, so that it can write it)."]
    if not status["sources"]:
        lines.append("No sources configured.")
    for source in status["sources"]:
        lines.append(f"{source['name']} ({source['type']}{', official' if source['official'] else ''}): {source['health']}")
        lines.append(f"    items stored: {source['items']}   last success: {_local(source['last_success_at'], tz)}")
        if source["consecutive_failures"]:
            lines.append(
                f"    failing since {_local(source['failing_since'], tz)} "
                f"({source['consecutive_failures']} failed polls): {source['last_error']}"
            )
        elif source["last_error"]:
            lines.append(f"    last error ({_local(source['last_error_at'], tz)}): {source['last_error']}")
        for warning in source.get("warnings", []):
            lines.append(f"    warning: {warning}")
        for key, value in sorted(source["extra"].items()):
            lines.append(f"    {key.replace('_', ' ')}: {value}")
    cases, outbox = status["cases"], status["outbox"]
    lines += [
        "",
        f"Cases: {cases['open']} open, {cases['overdue']} overdue.",
        f"Outbox: {outbox['pending']} waiting, {outbox['sent']} sent, {outbox['failed']} failed"
        + (f", {outbox['batched']} gathered for a batch." if outbox.get("batched") else "."),
    ]
    for batch in outbox.get("waiting_batches", []):
        why = "in quiet hours" if batch["quiet_hours"] else "in a batch"
        lines.append(f"    {batch['alerts']} routine alert{'s' if batch['alerts'] != 1 else ''} to {batch['channel']} "
                     f"{batch['recipient'] or ''} wait {why} until {_local(batch['until'], tz)}".replace("  ", " "))
    for retry in outbox.get("retrying", []):
        lines.append(f"    {retry['alerts']} to {retry['channel']} retried after a failure "
                     f"(next try {_local(retry['next_attempt_at'], tz)}): {retry['last_error']}")
    if status.get("slack_buttons"):
        lines.append(f"Slack buttons: not connected since {_local(status['slack_buttons']['since'], tz)}: "
                     f"{status['slack_buttons']['problem']}")
    for failure in outbox["recent_failures"]:
        lines.append(f"    failed {failure['kind']} to {failure['channel']} {failure['recipient'] or ''}: {failure['last_error']}")
    if status.get("platform_actions"):
        lines += ["", "Replies, hides and deletes not made:"]
        for action in status["platform_actions"]:
            lines.append(f"    {action['state']}: {action['action']} of item {action['item_id']} on {action['source']} "
                         f"by {action['by']}: {action['last_error'] or 'not tried yet'}")
    return "\n".join(lines)


def simulated_note(simulated_time: datetime | str, tz) -> str:
    """What to say before reporting on a database the demo filled."""
    when = simulated_time if isinstance(simulated_time, str) else _iso(simulated_time)
    return (f"A `monitor demo` database, judged at the demo's simulated time, {_local(when, tz)}, "
            "not at today's date.")


def _printable(value: Any) -> Any:
    """Every string in the snapshot with its control characters escaped (it came partly from outside)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def _count(store: Store, sql: str) -> dict[str, int]:
    return {row[0]: row[1] for row in store.execute(sql)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _local(value: str | None, tz) -> str:
    if not value:
        return "never"
    return datetime.fromisoformat(value).astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")
