"""Scheduling and sending: a week's digest archived beside the database and queued once.

:func:`publish` builds the digest, archives its HTML (``<database folder>/digests/<YYYY-Www>.html``)
and, with ``send``, puts the email in the outbox under the key ``digest:<YYYY-Www>``, so a week's
digest is queued once, never twice (:func:`send_digest`). :func:`send_due_digest` is the daemon's
weekly job: due at ``digest.weekday`` ``digest.time`` in the school's time zone
(:func:`last_scheduled_send`), it also catches up a digest missed while the server was off.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.clock import require_aware
from monitor.config import Config
from monitor.digest.render import CHART_CID, render_chart, render_html, render_text, standalone_html
from monitor.digest.week import Digest, DigestError, build_digest, last_complete_week, parse_week
from monitor.store import Store, create_private_folder

if TYPE_CHECKING:
    from monitor.notify.outbox import Alert

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# -- archiving and sending ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Published:
    """What :func:`publish` did with a week's digest."""

    digest: Digest
    archive: Path
    out: Path | None = None
    #: outbox rows added (0: this week's digest was queued before); None when not sent
    queued: int | None = None

    @property
    def week(self) -> str:
        return self.digest.week


def archive_path(config: Config, week: str) -> Path:
    """``<database folder>/digests/<YYYY-Www>.html``."""
    return config.database_path.parent / "digests" / f"{parse_week(week)}.html"


def write_file(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half a file), readable by its owner only like the database,
    in a folder made private if the monitor makes it."""
    create_private_folder(path.parent)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(path)
    return path


def outbox_key(week: str) -> str:
    return f"digest:{parse_week(week)}"


def already_queued(store: Store, week: str) -> bool:
    """Whether this week's digest is in the outbox (rows are keyed ``digest:<week>|<channel>|<recipient>``)."""
    prefix = outbox_key(week) + "|"
    row = store.execute(
        "SELECT 1 FROM alerts WHERE key >= ? AND key < ? LIMIT 1", (prefix, prefix[:-1] + "}")
    ).fetchone()
    return row is not None


def digest_alert(config: Config, digest: Digest, png: bytes) -> Alert:
    """The outbox intent: an email to ``digest.recipients`` only, the chart inline by Content-ID."""
    from monitor.notify.outbox import Alert

    return Alert(
        key=outbox_key(digest.week),
        kind="digest",
        moderators=False,
        extra_recipients=tuple(config.digest.recipients),
        payload={
            "subject": digest.subject,
            "text": render_text(digest),
            "html": render_html(digest),
            "images": {CHART_CID: base64.b64encode(png).decode("ascii")},
        },
    )


def publish(
    store: Store, config: Config, week: str | None = None, *, now: datetime | None = None,
    out: Path | None = None, send: bool = False,
) -> Published:
    """Build a week's digest, archive its HTML beside the database, optionally write it to ``out``
    and queue it for ``digest.recipients``.

    Queuing is idempotent: the outbox key ``digest:<week>`` admits one email per recipient, ever.
    """
    from monitor.notify.outbox import enqueue

    if send and not config.digest.recipients:
        raise DigestError('no one to send the digest to: set [digest] recipients = ["head@example.org"]')
    digest = build_digest(store, config, week, now=now)
    png = render_chart(digest)
    page = standalone_html(digest, png)
    archive = write_file(archive_path(config, digest.week), page)
    if out is not None:
        write_file(Path(out), page)
    queued = enqueue(store, config, digest_alert(config, digest, png)) if send else None
    logger.info("week=%s digest archived at %s (outbox rows added: %s)", digest.week, archive, queued)
    return Published(digest=digest, archive=archive, out=Path(out) if out is not None else None, queued=queued)


def send_digest(store: Store, config: Config, week: str | None = None, *, now: datetime | None = None) -> Published:
    """:func:`publish` and queue: the email goes once per week, however often this is called."""
    return publish(store, config, week, now=now, send=True)


# -- the schedule ------------------------------------------------------------------------------


def last_scheduled_send(now: datetime, config: Config) -> datetime:
    """The latest moment at or before ``now`` when a digest was due (``digest.weekday`` at ``digest.time``)."""
    tz = config.school.tz
    local = require_aware(now, "now").astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=WEEKDAYS.index(config.digest.weekday))
    moment = datetime.combine(day, config.digest.time, tzinfo=tz)
    if moment > local:
        moment = datetime.combine(day - timedelta(days=7), config.digest.time, tzinfo=tz)
    return moment.astimezone(timezone.utc)


def due_week(config: Config, now: datetime) -> str:
    """The week whose digest is due at ``now``: the last complete week at the last scheduled moment."""
    return last_complete_week(last_scheduled_send(now, config), config.school.tz)


_UNROUTABLE: set[str] = set()  # weeks already warned about, so the tick does not repeat it


def send_due_digest(store: Store, config: Config, *, now: datetime | None = None) -> Published | None:
    """The daemon's job: queue the digest due at ``now`` unless it is queued already.

    Run at start and on a periodic tick, it sends the digest on time, and after a server that was
    off at the scheduled moment comes back, it sends the latest missed one (only that one) at once.
    """
    from monitor.notify.outbox import Alert, routes

    now = require_aware(now or store.now(), "now")
    week = due_week(config, now)
    probe = Alert(key="", kind="digest", payload={}, moderators=False, extra_recipients=tuple(config.digest.recipients))
    if not routes(config, probe):
        if week not in _UNROUTABLE:
            _UNROUTABLE.add(week)
            logger.warning(
                "week=%s digest not sent: set [digest] recipients to email addresses and configure [notify.email]", week
            )
        return None
    if already_queued(store, week):
        return None
    logger.info("week=%s digest due since %s: building it", week, last_scheduled_send(now, config).isoformat())
    return send_digest(store, config, week, now=now)
