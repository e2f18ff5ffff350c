"""What is alerted as polls happen: flagged items, new comments to acknowledge, source health.

:class:`AlertsHook` runs inside each poll's transaction, after the cases hook, so that what it
writes to the outbox is atomic with the items and can name their cases and deadlines:

- every new flagged item: one alert at once (``flagged:item:<id>``), with labels, reasons, a link;
- the other new items that opened a case in this poll: ONE grouped alert listing them with their
  deadlines (``new_comments:<source>:<first case id>-<last case id>``);
- the new items first seen after their deadline (the daemon was stopped, the source was failing):
  ONE grouped "seen after its deadline" alert (``seen_late:<source>:<first case id>-<last case id>``)
  instead of a reminder, a breach notice and an escalation at once. The case is marked as breach
  noticed, so the SLA clock writes no reminder or breach for it, and escalates it
  ``sla.escalate_after`` after it was seen (a flagged item says it in its own alert);
- source health, keyed on the outage row in ``source_outages`` so that each fires once per outage:
  refused credentials alert at once (``source_auth:<source>:outage:<id>``); any other failure once it
  has lasted ``notify.source_down_after`` (``source_down:...``); an unresolved outage is repeated every
  ``notify.repeat_every`` (``source_still_down:...:<n>``); recovery once, if the outage was alerted.

Health is checked on every failed poll and by :func:`check_health`, a periodic job of the daemon,
because a source in back-off is not polled while it waits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.errors import AuthError
from monitor.notify.outbox import Alert, enqueue
from monitor.notify.render import format_local
from monitor.pipeline import IngestBatch, PipelineHook
from monitor.store import BLIND_KINDS, SourceState, Store, from_db, to_db

logger = logging.getLogger(__name__)

PLATFORMS = {"facebook": "Facebook", "instagram": "Instagram", "x": "X", "youtube": "YouTube",
             "bluesky": "Bluesky", "mastodon": "Mastodon", "reddit": "Reddit", "rss": "feed"}
HEALTH_KINDS = ("source_auth", "source_down", "source_still_down")


class AlertsHook(PipelineHook):
    def __init__(self, config: Config, clock: Clock = system_clock):
        self.config = config
        self.clock = clock

    def on_ingest(self, store: Store, batch: IngestBatch) -> None:
        new = batch.new
        if not new:
            return
        cases = open_cases(store, [s.id for s in new])
        flagged = {s.id for s in new if (v := batch.verdicts.get(s.id)) is not None and v.flagged}
        rows = items_by_id(store, [s.id for s in new])
        late = seen_late(store, cases, batch.polled_at)
        for stored in new:
            if stored.id in flagged:
                item = describe_item(rows[stored.id], cases.get(stored.id), batch.verdicts[stored.id],
                                     actions=batch.source.actions)
                if stored.id in late:
                    item["seen_at"] = to_db(batch.polled_at)
                enqueue(store, self.config, Alert(
                    key=f"flagged:item:{stored.id}", kind="flagged", payload={"source": batch.source.name, "item": item},
                    source=batch.source.name, item_id=stored.id, case_id=item.get("case_id"),
                ))
        # oldest comment first, as the moderator reads them; the key names the poll's range of cases
        unflagged = sorted((c for i, c in cases.items() if i not in flagged),
                           key=lambda c: (rows[c["item_id"]]["created_at"], c["id"]))
        overdue = [c for c in unflagged if c["item_id"] in late]
        grouped = [c for c in unflagged if c["item_id"] not in late]
        if overdue:
            items = [{**describe_item(rows[c["item_id"]], c, actions=batch.source.actions),
                      "seen_at": to_db(batch.polled_at)} for c in overdue]
            ids = [c["id"] for c in overdue]
            enqueue(store, self.config, Alert(
                key=f"seen_late:{batch.source.name}:{min(ids)}-{max(ids)}", kind="seen_late",
                payload={"source": batch.source.name, "items": items, "message": late_message(len(items))},
                source=batch.source.name, case_id=ids[0] if len(ids) == 1 else None,
            ))
            logger.warning("source=%s %d comments first seen after their deadline: one notice written",
                           batch.source.name, len(ids))
        if grouped:
            items = [describe_item(rows[c["item_id"]], c, actions=batch.source.actions) for c in grouped]
            ids = [c["id"] for c in grouped]
            enqueue(store, self.config, Alert(
                key=f"new_comments:{batch.source.name}:{min(ids)}-{max(ids)}",
                kind="new_comments", payload={"source": batch.source.name, "items": items}, source=batch.source.name,
            ))
        if flagged or grouped:
            logger.info("source=%s alerts written: %d flagged, %d new comments grouped", batch.source.name,
                        len(flagged), len(grouped))

    def on_failure(self, store: Store, source: Any, state: SourceState, error: Exception) -> None:
        outage = open_outage(store, source.name)
        if outage is not None:
            outage_alerts(store, self.config, source, outage, self.clock(), auth=isinstance(error, AuthError))

    def on_recovery(self, store: Store, source: Any, previous: SourceState) -> None:
        rows = store.query(
            "SELECT * FROM source_outages WHERE source = ? AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            (source.name,),
        )
        if not rows or not health_alerted(store, source.name, rows[0]["id"]):
            return  # a short failure nobody was told about: no news is good news
        outage = rows[0]
        tz = self.config.school.tz
        enqueue(store, self.config, Alert(
            key=f"source_recovered:{source.name}:outage:{outage['id']}", kind="source_recovered", source=source.name,
            payload={"source": source.name,
                     "title": f"{source.name} is monitored again",
                     "message": f"{describe_source(source)} works again since {format_local(outage['ended_at'], tz)} "
                                f"(it failed from {format_local(outage['started_at'], tz)}). Items published "
                                "meanwhile are collected now."},
        ))
        logger.info("source=%s recovery alert written (outage %d)", source.name, outage["id"])


def seen_late(store: Store, cases: dict[int, dict[str, Any]], now: datetime) -> set[int]:
    """The items among ``cases`` already past their deadline; their cases are marked breach-noticed."""
    late = {item_id for item_id, case in cases.items() if from_db(case["due_at"]) <= now}
    for item_id in late:
        store.execute("UPDATE cases SET breach_noticed_at = ? WHERE id = ? AND breach_noticed_at IS NULL",
                      (to_db(now), cases[item_id]["id"]))
    return late


def late_message(count: int) -> str:
    what = "This comment was" if count == 1 else "These comments were"
    return (f"{what} first seen after the deadline for acknowledging {'it' if count == 1 else 'them'} "
            "(the monitor was stopped, or the source was failing). Acknowledge now; anything still open "
            "is escalated after the usual delay.")


def check_health(store: Store, config: Config, clock: Clock = system_clock) -> int:
    """The periodic health job: alerts for outages that lasted too long or need repeating."""
    now = clock()
    written = 0
    for source in config.sources:
        if not source.enabled:
            continue
        with store.transaction():
            outage = open_outage(store, source.name)
            if outage is not None:
                written += outage_alerts(store, config, source, outage, now, auth=outage["kind"] in BLIND_KINDS)
    return written


def outage_alerts(store: Store, config: Config, source: Any, outage: dict[str, Any], now: datetime, *, auth: bool) -> int:
    """Write whichever health alerts an open outage is due (each at most once); how many were new."""
    started = from_db(outage["started_at"])
    key = f"{source.name}:outage:{outage['id']}"
    written = 0
    if auth:
        written += _health(store, config, source, outage, f"source_auth:{key}", "source_auth", auth=True)
        first = started
    else:
        first = started + config.notify.source_down_after
        if now >= first:
            written += _health(store, config, source, outage, f"source_down:{key}", "source_down", auth=False)
    if now >= first and config.notify.repeat_every.total_seconds() > 0:
        repeat = int((now - first) / config.notify.repeat_every)
        if repeat >= 1:
            written += _health(store, config, source, outage, f"source_still_down:{key}:{repeat}",
                               "source_still_down", auth=auth)
    return written


def _health(store: Store, config: Config, source: Any, outage: dict[str, Any], key: str, kind: str, *, auth: bool) -> int:
    tz = config.school.tz
    since = format_local(outage["started_at"], tz)
    what = describe_source(source)
    if auth and outage["kind"] == "action":  # the connector's message says what to do
        title = f"{what}: the platform stopped serving it until someone acts. Monitoring of this account has stopped"
        message = f"Since {since}: {outage['last_error']}"
    elif auth:
        title = f"{what}: the credentials were refused. Monitoring of this account has stopped"
        message = f"Since {since}: {outage['last_error']}. Renew them: {renew_hint(source)}."
    else:
        title = f"{what} has been failing since {since}"
        message = f"Monitoring of this source has stopped. Last error: {outage['last_error']}. `monitor status` shows more."
    if kind == "source_still_down":
        title = f"Still not fixed: {title[0].lower()}{title[1:]}"
    added = enqueue(store, config, Alert(
        key=key, kind=kind, source=source.name,
        payload={"source": source.name, "title": title, "message": message, "since": outage["started_at"],
                 "error": outage["last_error"]},
    ))
    if added:
        logger.warning("source=%s %s alert written: %s", source.name, kind, outage["last_error"])
    return 1 if added else 0


def health_alerted(store: Store, source: str, outage_id: int) -> bool:
    patterns = [f"{kind}:{source}:outage:{outage_id}%" for kind in HEALTH_KINDS]
    row = store.execute(
        "SELECT count(*) FROM alerts WHERE " + " OR ".join(["key LIKE ?"] * len(patterns)), patterns
    ).fetchone()
    return row[0] > 0


def open_outage(store: Store, source: str) -> dict[str, Any] | None:
    rows = store.query(
        "SELECT * FROM source_outages WHERE source = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1", (source,)
    )
    return rows[0] if rows else None


def describe_source(source: Any) -> str:
    platform = PLATFORMS.get(source.type, source.type)
    return f"The {platform} account {source.name}" if source.official else f"The {platform} source {source.name}"


def renew_hint(source: Any) -> str:
    from connectors import connector_class

    try:
        return connector_class(source.type).renew_hint
    except Exception:  # noqa: BLE001 - an unknown type was refused at start; keep the alert anyway
        return "check the source's credentials in the configuration"


def open_cases(store: Store, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """item id -> its case row, for those of ``item_ids`` that have one."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        rows = store.query(
            f"SELECT id, item_id, due_at, state FROM cases WHERE item_id IN ({','.join('?' * len(chunk))})", chunk
        )
        found.update({row["item_id"]: row for row in rows if row["state"] == "open"})
    return found


def items_by_id(store: Store, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        rows = store.query(f"SELECT * FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        found.update({row["id"]: row for row in rows})
    return found


def describe_item(row: dict[str, Any], case: dict[str, Any] | None, verdict: Any = None, *,
                  actions: Any = ()) -> dict[str, Any]:
    """The ``item`` part of an alert payload (see docs/ALERTS.md); ``actions``: what the source lets
    moderators do on the platform (its Slack buttons)."""
    item: dict[str, Any] = {
        "item_id": row["id"], "source": row["source"], "kind": row["kind"],
        "author": row["author_name"] or row["author_handle"] or row["author_id"],
        "text": row["text"], "url": row["url"], "received_at": row["created_at"],
    }
    if case is not None:
        item.update(case_id=case["id"], due_at=case["due_at"])
    if verdict is not None:
        item.update(flagged=bool(verdict.flagged), score=round(float(verdict.score), 3),
                    labels={k: round(float(v), 3) for k, v in dict(verdict.labels).items()},
                    reasons=list(verdict.reasons))
    if actions:
        item["actions"] = list(actions)
    return item

