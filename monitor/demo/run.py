"""``monitor demo``: the whole loop on built-in sample data, with no accounts and no network.

It starts the local fake platforms (``monitor.demo.fakes``), a fake Slack and a mail server on
127.0.0.1 that saves every message as an ``.eml`` file, writes a configuration pointing at them,
and runs the real pipeline through a week of posts (``monitor.demo.data``) on a
:class:`~monitor.clock.ManualClock`:

    each step of simulated time ─► the posts whose time has come are added to the fakes
                                 ─► the sources are polled (``Pipeline.poll``)
                                 ─► the SLA clock ticks, the outbox is dispatched
                                 ─► what the moderator received is shown
    her rounds (Slack)          ─► she clicks the buttons (Acknowledge, Escalate, Not abusive), and
                                   on Tuesday hides an insult and answers a comment with the Reply
                                   dialog: every click through the fake Slack's Socket Mode websocket
    Monday 07:30 after the week ─► the weekly digest, emailed to the principal and archived

Everything it writes is inside its folder (``./demo-output`` by default): the database, the
configuration, the ``.eml`` files, a transcript of the Slack messages, the digest, a log and the
caches of the libraries it loads. A part that fails (a fake, the classifier, a notifier) is
reported and the demo goes on without it, so it always finishes with its summary.

The database records the simulated clock as it moves (``Store.record_simulated_time``), so
``monitor status``, ``monitor cases`` and ``monitor digest`` on it afterwards judge deadlines at the
demo's time, as its summary does, and say so.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, Callable, Iterator

from monitor.clock import ManualClock
from monitor.demo.data import (SCHOOL, SERIOUS, SLACK_WRITES, TIMEZONE, DemoPost, demo_incidents, demo_posts,
                               week_start_utc)
from monitor.errors import MonitorError
from monitor.sanitize import PrintableFormatter
from monitor.store import from_db, to_db

logger = logging.getLogger(__name__)

DEFAULT_FOLDER = Path("demo-output")
#: about how long the week takes to show, in seconds, unless --fast
PACE = 25.0
MARKER = ".monitor-demo"
#: what a demo folder holds; a rerun replaces exactly these
OUTPUTS = ("monitor.db", "monitor.db-wal", "monitor.db-shm", "monitor.toml", "mail", "slack.jsonl",
           "digests", "demo.log", ".cache", "summary.json")
#: the platforms the posts were written for, and whether the school's account is the one watched
OFFICIAL = {"facebook": True, "instagram": True, "youtube": True, "x": True, "bluesky": False,
            "mastodon": False, "reddit": False, "rss": False}
#: where a post goes when its platform has no fake: the first one available
FALLBACK = ("facebook", "instagram", "youtube", "x", "bluesky", "mastodon", "reddit")
#: platforms where a post that answers nobody is a mention found by search, not a comment
MENTION_PLATFORMS = ("x", "bluesky", "mastodon", "reddit")
#: when the moderator looks at Slack (weekday -> local times); on Wednesday she is on a course
MODERATOR_ROUNDS = {0: ("09:00", "15:30"), 1: ("09:00", "15:30"), 3: ("09:00", "15:30"), 4: ("09:00", "15:30"),
                    7: ("09:00",)}
#: the platforms whose sources let the moderator reply, hide and delete from Slack
WRITABLE = ("facebook",)
#: the longest wait for the monitor to act on one of her clicks, in (real) seconds
CLICK_WAIT = 15.0
#: a comment younger than this is left for the office to answer on the platform itself
MODERATOR_GRACE = timedelta(hours=2)
MODERATOR = "moderator@ravenswood.example"
HEAD = "head@ravenswood.example"
PRINCIPAL = "principal@ravenswood.example"
SENDER = "monitor@ravenswood.example"


class DemoError(MonitorError):
    """The demo cannot start (its folder is unusable)."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    part: str
    message: str


@dataclass(frozen=True, kw_only=True)
class DemoSummary:
    folder: Path
    seeded: int
    seeded_by_tag: dict[str, int]
    delivered: int
    items: int
    by_school: int
    flagged: int
    serious_seeded: int
    serious_flagged: int
    cases: int
    met: int
    breached: int
    removed: int
    open: int
    slack_messages: int
    emails: int
    digest: Path | None
    problems: tuple[Problem, ...]
    sources: dict[str, dict[str, int]]
    moderator: dict[str, int]
    #: what the moderator did on the platforms from Slack, each checked on the platform afterwards
    slack_writes: list[dict[str, Any]]
    #: the moderator's clicks and dialog submissions the monitor took from Slack's Socket Mode websocket
    socket_mode_events: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["folder"] = str(self.folder)
        data["digest"] = str(self.digest) if self.digest else None
        data["problems"] = [{"part": p.part, "message": p.message} for p in self.problems]
        return data


# -- the parts' failures ------------------------------------------------------------------------


class Parts:
    """Runs each part of the demo so that its failure is recorded once and the demo goes on."""

    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}

    def run(self, part: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the demo must finish and say what failed
            self.fail(part, exc)
            return None

    def fail(self, part: str, exc: BaseException | str) -> None:
        if part in self.problems:
            logger.debug("%s failed again: %s", part, exc)
            return
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.problems[part] = Problem(part=part, message=message)
        if isinstance(exc, BaseException):
            logger.error("demo: %s failed: %s", part, message, exc_info=exc)
        else:
            logger.error("demo: %s: %s", part, message)


# -- the local mail server ------------------------------------------------------------------------


class MailFolder:
    """An aiosmtpd handler that saves every message it receives as ``<folder>/NNNN.eml``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.received: list[tuple[Path, str, tuple[str, ...]]] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        subject = message_from_bytes(content, policy=policy.default).get("Subject", "")
        with self._lock:
            path = self.folder / f"{next(self._numbers):04d}.eml"
            path.write_bytes(content)
            self.received.append((path, str(subject), tuple(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def mail_server(folder: Path) -> Iterator[tuple[MailFolder, int]]:
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    handler = MailFolder(folder)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# -- configuration ----------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for the demo's configuration (tables, arrays of tables, plain values)."""
    lines = ["# Written by `monitor demo`: every address is a local fake server that is gone now.", ""]

    def table(prefix: str, values: dict[str, Any]) -> None:
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items() if not isinstance(v, dict))
        lines.append("")
        for key, value in values.items():
            if isinstance(value, dict):
                lines.append(f"[{prefix}{key}]")
                table(f"{prefix}{key}.", value)

    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                lines.append(f"[[{key}]]")
                table(f"{key}.", entry)
        elif isinstance(value, dict):
            lines.append(f"[{key}]")
            table(f"{key}.", value)
        else:
            lines.insert(2, f"{key} = {toml_value(value)}")
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------------


@dataclass
class Platform:
    type: str
    fake: Any
    source: str


@dataclass
class DemoRun:
    folder: Path
    fast: bool
    view: Any  # monitor.demo.view.View (or anything with its methods)
    days: int = 7
    parts: Parts = field(default_factory=Parts)
    clock: ManualClock = field(default_factory=lambda: ManualClock(week_start_utc()))
    platforms: dict[str, Platform] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)  # post platform -> platform used
    native: dict[str, tuple[str, str]] = field(default_factory=dict)  # post ref -> (platform, native id)
    deleted: set[tuple[str, str]] = field(default_factory=set)  # (source, native id) the moderator deleted
    delivered: list[DemoPost] = field(default_factory=list)
    slack: Any = None
    mail: MailFolder | None = None
    mail_port: int | None = None
    store: Any = None
    config: Any = None
    pipeline: Any = None
    sla_tick: Callable[..., Any] | None = None
    dispatcher: Any = None
    shown_slack: int = 0
    shown_mail: int = 0
    digest: Path | None = None
    buttons: Any = None
    clicked: set[str] = field(default_factory=set)  # Slack message ts the moderator has dealt with
    moderator: Counter = field(default_factory=Counter)
    slack_writes: list[dict[str, Any]] = field(default_factory=list)

    # -- set-up ----------------------------------------------------------------------------------

    def start_platforms(self, stack: ExitStack) -> None:
        from monitor.demo.fakes import PLATFORMS, fake_platform

        for type_name in PLATFORMS:
            fake = self.parts.run(f"fake {type_name}", lambda t=type_name: stack.enter_context(fake_platform(t)()))
            if fake is not None:
                self.platforms[type_name] = Platform(type=type_name, fake=fake, source=f"{type_name}-demo")

    def plan_routes(self) -> None:
        """Where each platform's posts go: its own fake, else a stand-in (see :data:`FALLBACK`)."""
        threaded = [p for p in FALLBACK if p in self.platforms and self.platforms[p].fake.has_threads]
        for name in OFFICIAL:
            if name in self.platforms:
                self.routes[name] = name
            elif name != "rss" and threaded:
                self.routes[name] = threaded[0]
            elif "rss" in self.platforms:
                self.routes[name] = "rss"

    def start_slack(self, stack: ExitStack) -> None:
        from monitor.demo.fakes.slack import FakeSlack

        self.slack = stack.enter_context(FakeSlack(clock=self.clock))

    def start_mail(self, stack: ExitStack) -> None:
        self.mail, self.mail_port = stack.enter_context(mail_server(self.folder / "mail"))

    def source_tables(self) -> list[dict[str, Any]]:
        from monitor.config import parse_config

        tables = []
        for type_name, platform in self.platforms.items():
            table = dict(platform.fake.source_config(platform.source))
            table["official"] = OFFICIAL.get(type_name, bool(table.get("official")))
            table["interval"] = "1h"
            table["timeout"] = "30s"  # a busy machine must not look like a platform outage
            table["leads"] = []
            if type_name in WRITABLE:
                table["actions"] = ["reply", "hide", "delete"]
            try:
                parse_config({"sources": [table]})
            except Exception as exc:  # noqa: BLE001 - its connector is not there yet, or disagrees
                self.parts.fail(f"source {platform.source}", exc)
                continue
            tables.append(table)
        for type_name in [t for t in self.platforms if t not in {t2["type"] for t2 in tables}]:
            del self.platforms[type_name]
        return tables

    def write_config(self) -> Any:
        from monitor.config import load_config

        notify: dict[str, Any] = {}
        if self.slack is not None:
            from monitor.demo.fakes.slack import APP_TOKEN, BOT_TOKEN, CHANNEL, MODERATOR_ID

            notify["slack"] = {"token": BOT_TOKEN, "app_token": APP_TOKEN, "channel": CHANNEL,
                               "base_url": self.slack.base_url, "timeout": "5s", "moderators": [MODERATOR_ID]}
        if self.mail_port is not None:
            notify["email"] = {
                "host": "127.0.0.1", "port": self.mail_port, "starttls": False, "sender": SENDER,
                "moderators": [MODERATOR], "escalate_to": [HEAD], "timeout": "5s",
            }
        data = {
            "school": {"name": SCHOOL, "timezone": TIMEZONE},
            "storage": {"path": "monitor.db", "retention_days": 400},
            "sla": {"policy": "24h", "close_of_business": "17:00", "holidays": "GB-ENG", "closures": [],
                    "remind_before": "4h", "escalate_after": "4h"},
            "classifier": {"model": "default", "threshold": 0.5},
            "digest": {"recipients": [PRINCIPAL], "weekday": "mon", "time": "07:30"},
            "notify": notify,
            "sources": self.source_tables(),
        }
        path = self.folder / "monitor.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        return load_config(path)

    def build(self) -> None:
        from classifiers.base import NullClassifier
        from monitor.app.assembly import build_classifier, build_pipeline, open_store

        self.store = open_store(self.config, clock=self.clock)
        # `monitor status` and `monitor cases` then judge this database at the demo's time, not today's
        self.store.record_simulated_time(self.clock())
        self.view.status("loading the classifier")
        classifier = self.parts.run("classifier", build_classifier, self.config)
        if isinstance(classifier, NullClassifier):
            self.parts.fail("classifier", "no classifier is installed: nothing can be flagged as abusive")
        self.pipeline = build_pipeline(
            self.config, self.store, clock=self.clock,
            classifier=classifier if classifier is not None else NullClassifier(),
        )
        self.sla_tick = self.parts.run("SLA clock", _find, "monitor.sla.clock", "tick")
        self.dispatcher = self.parts.run("outbox dispatcher", self._dispatcher)
        if self.slack is not None:
            self.buttons = self.parts.run("Slack buttons", self._buttons)

    def _dispatcher(self) -> Any:
        from monitor.notify.outbox import Dispatcher, build_notifiers

        notifiers = build_notifiers(self.config, clock=self.clock)
        return Dispatcher(self.store, notifiers, clock=self.clock, base_delay=timedelta(minutes=1))

    def _buttons(self) -> Any:
        from monitor.actions.slack import SlackActions

        buttons = SlackActions(self.config, self.store, clock=self.clock).start()  # Socket Mode, to the fake Slack
        if not self.slack.wait_connected(CLICK_WAIT):
            buttons.close()
            raise MonitorError("the Socket Mode connection to the fake Slack did not open")
        return buttons

    # -- the week ---------------------------------------------------------------------------------

    def end(self) -> datetime:
        return week_start_utc() + timedelta(days=self.days, hours=10)

    def rounds(self) -> set[datetime]:
        tz = self.config.school.tz
        monday = week_start_utc().astimezone(tz).date()
        found = set()
        for day, times in MODERATOR_ROUNDS.items():
            for clock in times:
                hours, minutes = (int(part) for part in clock.split(":"))
                local = datetime.combine(monday + timedelta(days=day), datetime.min.time().replace(hour=hours, minute=minutes), tzinfo=tz)
                if local.astimezone(timezone.utc) < self.end():
                    found.add(local.astimezone(timezone.utc))
        return found

    def steps(self, posts: list[DemoPost]) -> list[datetime]:
        start, end = week_start_utc(), self.end()
        hourly = {start + timedelta(hours=h) for h in range(int((end - start).total_seconds() // 3600) + 1)}
        incidents = {incident.at for incident in demo_incidents() if incident.at < end}
        return sorted(hourly | {post.at for post in posts} | self.rounds() | incidents)

    def run_week(self, posts: list[DemoPost]) -> None:
        posts = [post for post in posts if post.at < week_start_utc() + timedelta(days=self.days)]
        steps = self.steps(posts)
        pending = list(posts)
        digest_at = self.digest_time()
        rounds = self.rounds()
        dirty: set[str] = set()
        started = time.monotonic()
        with self.view.progress(len(steps)) as advance:
            for number, when in enumerate(steps, start=1):
                self.clock.set(when)
                self.parts.run("recording the simulated time", self.store.record_simulated_time, when)
                for incident in (i for i in demo_incidents() if i.at == when):
                    self.parts.run(f"fake {incident.platform}", self.incident, incident)
                due = [p for p in pending if p.at <= when]
                pending = [p for p in pending if p.at > when]
                touched = {self.add_post(post) for post in due} - {None}
                hourly = when.minute == 0 and when.second == 0
                # a source with new posts, or whose last poll failed, is polled now; all every 6 hours
                dirty |= touched
                to_poll = set(self.platforms) if hourly and when.hour % 6 == 0 else set(dirty)
                for type_name in sorted(to_poll):
                    result = self.parts.run(f"poll {type_name}", self.pipeline.poll, self.platforms[type_name].source)
                    if result is not None and result.ok:
                        dirty.discard(type_name)
                if self.sla_tick is not None and hourly:
                    self.parts.run("SLA clock", self.sla_tick, self.store, self.config, when,
                                   self.pipeline.still_there)
                if digest_at is not None and self.digest is None and when >= digest_at:
                    self.digest = self.parts.run("digest", self.make_digest, when)
                self.dispatch()
                if when in rounds and self.buttons is not None:
                    self.parts.run("Slack buttons", self.moderate, when)
                    self.dispatch()
                advance(when)
                if not self.fast:
                    # paced to last about PACE seconds, so a person can follow; never slower than the work
                    behind = started + PACE * number / len(steps) - time.monotonic()
                    if behind > 0:
                        time.sleep(behind)

    def incident(self, incident: Any) -> None:
        type_name = self.routes.get(incident.platform)
        if type_name is None or type_name != incident.platform:
            return  # the platform has no fake here: nothing to break
        when = f"{incident.at.astimezone(self.config.school.tz):%a %H:%M}"
        if incident.action == "remove":
            target = self.native.get(incident.post or "")
            if target is None or target[0] != type_name:
                return  # the post never reached its platform: nothing to delete
            self.platforms[type_name].fake.remove(target[1])
            self.deleted.add((self.platforms[type_name].source, target[1]))
            self.view.note(f"{incident.platform}: the moderator deleted an abusive comment ({when}); "
                           "the SLA clock will close its case instead of alerting", icon="🗑")
            return
        getattr(self.platforms[type_name].fake, incident.action)()
        what = ("the school's token has expired" if incident.action == "expire_credentials"
                else "the IT technician has renewed the school's token")
        self.view.note(f"{incident.platform}: {what} ({when})", icon="🔑")
        self.pipeline.poll(self.platforms[type_name].source)  # the next poll finds out at once

    def add_post(self, post: DemoPost) -> str | None:
        type_name = self.routes.get(post.platform)
        if type_name is None:
            return None
        fake = self.platforms[type_name].fake
        parent = self.native.get(post.reply_to) if post.reply_to else None
        if parent is not None and parent[0] != type_name:
            parent = None
        try:
            native_id = self._publish(fake, type_name, post, parent[1] if parent else None)
        except Exception as exc:  # noqa: BLE001 - one fake's gap must not stop the week
            self.parts.fail(f"fake {type_name}", exc)
            return None
        if native_id is None:
            return None
        if post.ref:
            self.native[post.ref] = (type_name, native_id)
        self.delivered.append(post)
        return type_name

    def _publish(self, fake: Any, type_name: str, post: DemoPost, parent: str | None) -> str | None:
        if post.by_school:
            if parent is None or not fake.has_threads:
                return None  # nothing to answer here
            return fake.add_school_reply(parent, post.text, at=post.at)
        if parent is None and post.platform in MENTION_PLATFORMS and hasattr(fake, "add_mention"):
            return fake.add_mention(post.text, author=post.author, at=post.at)
        return fake.add_comment(post.text, author=post.author, at=post.at, reply_to=parent)

    def dispatch(self) -> None:
        if self.dispatcher is not None:
            self.parts.run("outbox dispatcher", self.dispatcher.run)
        self.show_received()

    def moderate(self, now: datetime) -> None:
        """The moderator's round: she clicks the buttons of the Slack messages she has not dealt with.

        Acknowledge for comments older than :data:`MODERATOR_GRACE`, Escalate for a threat, and
        Not abusive where the classifier flagged something harmless. Each click is pushed through the
        fake Slack's Socket Mode websocket, as Slack sends it, to the monitor's listener.
        """
        tags = {post.text: post.tag for post in demo_posts()}
        before = Counter(self.moderator)
        for write in self.writes_at(now):
            self.parts.run("Slack buttons", self.write_from_slack, *write)
        for posted in list(self.slack.messages):
            if posted.ts in self.clicked:
                continue
            waiting = False
            for block in posted.blocks:
                for button in block.get("elements", []) if block.get("type") == "actions" else []:
                    if self._age(button, now) < MODERATOR_GRACE:
                        waiting = True  # she looks at this comment again on her next round
                        continue
                    action = self._decide(button, tags)
                    if action is None:
                        continue
                    outcome = self.click(posted, action, block.get("block_id"))
                    if outcome is not None:
                        self.moderator[action] += 1
                        if action == "escalate":
                            self.view.note(f"the moderator clicked Escalate: {outcome}")
            if not waiting:
                self.clicked.add(posted.ts)
        done = Counter(self.moderator)
        done.subtract(before)
        said = [f"acknowledged {done['acknowledge']} comment{'s' if done['acknowledge'] != 1 else ''}"] if done["acknowledge"] else []
        if done["not_abusive"]:
            said.append(f"marked {done['not_abusive']} flagged item{'s' if done['not_abusive'] != 1 else ''} not abusive")
        if said:
            self.view.note(f"the moderator's round at {now.astimezone(self.config.school.tz):%a %H:%M}: "
                           f"{' and '.join(said)}, with Slack's buttons")

    def click(self, posted: Any, action: str, block_id: str | None) -> str | None:
        """One click through Socket Mode; the outcome the monitor wrote on the message, or None when
        the click was refused (the monitor told her so in a message only she sees)."""
        from monitor.demo.fakes.slack import block_actions

        def said(blocks: list[dict[str, Any]]) -> list[str]:
            return [e.get("text", "") for b in blocks if b.get("type") == "context" for e in b.get("elements", [])]

        updates, told, before = len(posted.updates), len(self.slack.ephemeral), Counter(said(posted.blocks))
        self._push(block_actions(posted, action, block_id=block_id))
        if not self.slack.wait_for(lambda: len(posted.updates) > updates or len(self.slack.ephemeral) > told,
                                   CLICK_WAIT):
            raise MonitorError(f"the Slack message was not updated after {action}")
        if len(posted.updates) == updates:
            return None
        # the line the click added to the message: "✅ {outcome}, {when}"
        added = list((Counter(said(posted.updates[updates]["blocks"])) - before).elements())
        return added[0].removeprefix("\u2705 ").rsplit(", ", 1)[0] if added else action

    def writes_at(self, now: datetime) -> list[tuple[str, str, str | None]]:
        """The (button, post ref, text) of :data:`SLACK_WRITES` due in the round at ``now``."""
        local = now.astimezone(self.config.school.tz)
        monday = week_start_utc().astimezone(self.config.school.tz).date()
        return [(button, ref, text) for day, clock, button, ref, text in SLACK_WRITES
                if local.date() == monday + timedelta(days=day) and f"{local:%H:%M}" == clock]

    def write_from_slack(self, button: str, ref: str, text: str | None) -> None:
        """One of her clicks on a platform button, pushed through the fake Slack's Socket Mode websocket
        as Slack would (Reply: the click, then the dialog's submission); then what the platform shows."""
        from monitor.demo.fakes.slack import block_actions

        target = self.native.get(ref)
        if target is None or target[0] not in WRITABLE:
            return  # the post is not on a platform she can write on here
        type_name, native_id = target
        platform = self.platforms[type_name]
        rows = self.store.query("SELECT id, author_name FROM items WHERE source = ? AND native_id = ?",
                                (platform.source, native_id))
        found = self._message_with(rows[0]["id"], button) if rows else None
        if found is None:
            raise MonitorError(f"no {button} button in Slack for the comment {ref}")
        posted, block_id = found
        updates = len(posted.updates)
        views = len(self.slack.views)
        self._push(block_actions(posted, button, block_id=block_id))
        if button == "reply":
            if not self.slack.wait_for(lambda: len(self.slack.views) > views, CLICK_WAIT):
                raise MonitorError("the Reply dialog did not open")
            view_id = list(self.slack.views)[-1]
            self._push(self.slack.submission(view_id, {"reply": {"text": text}}))
        if not self.slack.wait_for(lambda: len(posted.updates) > updates, CLICK_WAIT):
            raise MonitorError(f"the Slack message was not updated after {button}")
        self.moderator[button] += 1
        self._check_write(button, platform, native_id, rows[0], text)

    def _push(self, payload: dict[str, Any]) -> None:
        envelope = self.slack.push_action(payload)
        if not self.slack.wait_for_ack(envelope, CLICK_WAIT):
            raise MonitorError("the monitor did not acknowledge a Socket Mode event")

    def _message_with(self, item_id: int, button: str) -> tuple[Any, str] | None:
        """The newest Slack message with ``button`` for the item (and its block id)."""
        block_id = f"actions:{item_id}"
        for posted in reversed(self.slack.messages):
            for block in posted.blocks:
                if block.get("type") == "actions" and block.get("block_id") == block_id \
                        and any(e.get("action_id") == button for e in block.get("elements", [])):
                    return posted, block_id
        return None

    def _check_write(self, button: str, platform: Platform, native_id: str, item: dict[str, Any],
                     text: str | None) -> None:
        """What the platform and the case show after her click: said as it is, good or bad."""
        fake = platform.fake
        if button == "reply":
            on_platform = any(r.get("message") == text and r.get("from", {}).get("id") == fake.page_id
                              for r in fake.replies_to(native_id))
        else:
            node = fake.node(native_id)
            on_platform = node is None if button == "delete" else bool(node and node[1].get("is_hidden") is True)
        case = self.store.query("SELECT state, closed_at, due_at FROM cases WHERE item_id = ?", (item["id"],))
        state = case[0]["state"] if case else None
        met = bool(case) and state == "acknowledged" and case[0]["closed_at"] <= case[0]["due_at"]
        record = {"action": button, "source": platform.source, "author": item["author_name"] or "someone",
                  "on_platform": on_platform, "case": state, "met": met}
        self.slack_writes.append(record)
        done = {"reply": "replied to", "hide": "hid", "delete": "deleted"}[button]
        seen = {"reply": "the reply is on the platform", "hide": "it is hidden on the platform",
                "delete": "it is gone from the platform"}[button] if on_platform else "but the platform does NOT show it"
        closed = "case met" if met else f"case {state}" if state else "no case"
        self.view.note(f"the moderator {done} {record['author']}'s comment on {platform.source} from Slack: "
                       f"{seen}, {closed}", icon="✍" if button == "reply" else "🙈")

    def _age(self, button: dict[str, Any], now: datetime) -> timedelta:
        """How long ago the comment behind a button was posted (a batch lists comments of several ages)."""
        try:
            item_id = json.loads(button.get("value") or "{}").get("item")
        except ValueError:
            return timedelta(0)
        row = self.store.query("SELECT created_at FROM items WHERE id = ?", (item_id,)) if item_id else []
        return now - from_db(row[0]["created_at"]) if row else MODERATOR_GRACE

    def _decide(self, button: dict[str, Any], tags: dict[str, str]) -> str | None:
        try:
            item_id = json.loads(button.get("value") or "{}").get("item")
        except ValueError:
            return None
        row = self.store.query("SELECT text, by_school FROM items WHERE id = ?", (item_id,)) if item_id else []
        if not row:
            return None
        tag = "school" if row[0]["by_school"] else next((t for text, t in tags.items() if text and text in row[0]["text"]), None)
        action = button.get("action_id")
        if action == "acknowledge":
            case_id = json.loads(button["value"]).get("case")
            still_open = self.store.query(
                "SELECT items.source, items.native_id FROM cases JOIN items ON items.id = cases.item_id "
                "WHERE cases.id = ? AND cases.state = 'open'", (case_id,))
            # a comment she deleted on the platform needs no acknowledgement: the SLA clock closes it
            deleted = bool(still_open) and (still_open[0]["source"], still_open[0]["native_id"]) in self.deleted
            return action if still_open and not deleted else None
        if action == "escalate" and tag == "threat":
            escalated = self.store.query(
                "SELECT 1 FROM audit_log WHERE item_id = ? AND action LIKE 'escalat%'", (item_id,))
            return action if not escalated else None
        if action == "not_abusive" and tag not in (None, *SERIOUS):
            return action
        return None

    def show_received(self) -> None:
        if self.slack is not None:
            messages = list(self.slack.messages)
            with (self.folder / "slack.jsonl").open("a", encoding="utf-8") as transcript:
                for posted in messages[self.shown_slack:]:
                    transcript.write(json.dumps({"channel": posted.channel, "ts": posted.ts, "text": posted.text,
                                                 "blocks": posted.blocks}, ensure_ascii=False) + "\n")
                    self.parts.run("terminal display", self.view.slack, posted, self.clock())
            self.shown_slack = len(messages)
        if self.mail is not None:
            received = list(self.mail.received)
            for path, subject, recipients in received[self.shown_mail:]:
                self.parts.run("terminal display", self.view.email, path, subject, recipients)
            self.shown_mail = len(received)

    # -- the digest ---------------------------------------------------------------------------------

    def digest_time(self) -> datetime | None:
        from monitor.digest.week import local_midnight

        monday = (week_start_utc() + timedelta(days=7)).astimezone(self.config.school.tz).date()
        return local_midnight(monday, self.config.school.tz) + timedelta(hours=7, minutes=30)

    def make_digest(self, now: datetime) -> Path | None:
        from monitor.digest.send import send_digest
        from monitor.digest.week import week_of

        week = week_of((now - timedelta(days=7)).astimezone(self.config.school.tz).date())
        return send_digest(self.store, self.config, week, now=now).archive

    # -- the summary ----------------------------------------------------------------------------------

    def summary(self, started: float) -> DemoSummary:
        posts = demo_posts()
        counts = self.parts.run("summary", self._counts) or {}
        serious_ids = counts.get("serious_flagged", 0)
        return DemoSummary(
            folder=self.folder,
            seeded=len(posts),
            seeded_by_tag=dict(Counter(p.tag for p in posts)),
            delivered=len(self.delivered),
            items=counts.get("items", 0),
            by_school=counts.get("by_school", 0),
            flagged=counts.get("flagged", 0),
            serious_seeded=sum(1 for p in self.delivered if p.tag in SERIOUS),
            serious_flagged=serious_ids,
            cases=counts.get("cases", 0),
            met=counts.get("met", 0),
            breached=counts.get("breached", 0),
            removed=counts.get("removed", 0),
            open=counts.get("open", 0),
            slack_messages=len(self.slack.messages) if self.slack is not None else 0,
            emails=len(self.mail.received) if self.mail is not None else 0,
            digest=self.digest if self.digest is not None and self.digest.exists() else None,
            problems=tuple(self.parts.problems.values()),
            sources=counts.get("sources", {}),
            moderator=dict(self.moderator),
            slack_writes=list(self.slack_writes),
            socket_mode_events=len(self.slack.acks) if self.slack is not None else 0,
            seconds=time.monotonic() - started,
        )

    def _counts(self) -> dict[str, Any]:
        if self.store is None:
            return {}
        now = to_db(self.clock())

        def one(sql: str, *params: Any) -> int:
            return self.store.execute(sql, params).fetchone()[0]

        serious_texts = {p.text for p in self.delivered if p.tag in SERIOUS}
        flagged_texts = [r["text"] for r in self.store.query(
            "SELECT i.text FROM items i JOIN verdicts v ON v.item_id = i.id WHERE v.flagged = 1")]
        sources = {
            row["source"]: {"items": row["items"], "flagged": row["flagged"] or 0}
            for row in self.store.query(
                "SELECT i.source, count(*) AS items, sum(v.flagged) AS flagged FROM items i "
                "LEFT JOIN verdicts v ON v.item_id = i.id GROUP BY i.source ORDER BY i.source")
        }
        return {
            "items": one("SELECT count(*) FROM items"),
            "by_school": one("SELECT count(*) FROM items WHERE by_school = 1"),
            "flagged": one("SELECT count(*) FROM verdicts WHERE flagged = 1"),
            "serious_flagged": sum(1 for text in serious_texts if any(text in f for f in flagged_texts)),
            "cases": one("SELECT count(*) FROM cases"),
            "met": one("SELECT count(*) FROM cases WHERE state = 'acknowledged' AND closed_at <= due_at"),
            "breached": one(
                "SELECT count(*) FROM cases WHERE (state = 'acknowledged' AND closed_at > due_at) "
                "OR (closed_at IS NULL AND due_at < ?)", now),
            "removed": one("SELECT count(*) FROM cases WHERE state = 'removed'"),
            "open": one("SELECT count(*) FROM cases WHERE closed_at IS NULL AND due_at >= ?", now),
            "sources": sources,
        }


def _find(module: str, name: str) -> Callable[..., Any]:
    import importlib

    return getattr(importlib.import_module(module), name)


# -- the folder and the environment ---------------------------------------------------------------


def prepare_folder(folder: Path) -> Path:
    """Create the demo folder, or clear a previous demo's outputs from it; never anything else."""
    folder = folder.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise DemoError(f"{folder} is a file: give the demo a folder (--dir PATH)")
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise DemoError(f"{folder} is not empty and was not made by `monitor demo`: give another folder (--dir PATH)")
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (folder / MARKER).write_text("made by `monitor demo`; it replaces its own files here on each run\n")
    return folder


@contextmanager
def contained(folder: Path) -> Iterator[None]:
    """Library caches inside the demo folder and logs into ``demo.log``, for the demo's duration."""
    cache = folder / ".cache"
    overrides = {
        "MPLCONFIGDIR": str(cache / "matplotlib"),
        "XDG_CACHE_HOME": str(cache),
        "HF_HOME": str(cache / "huggingface"),
        # onnxruntime leaves a session file in the temporary folder
        "TMPDIR": str(cache / "tmp"),
    }
    (cache / "tmp").mkdir(parents=True, exist_ok=True)
    saved_env = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    tempfile.tempdir = None  # read TMPDIR again
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = logging.FileHandler(folder / "demo.log", encoding="utf-8")
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        handler.close()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        tempfile.tempdir = None


def run_demo(folder: Path = DEFAULT_FOLDER, *, fast: bool = False, view: Any = None, days: int = 7) -> DemoSummary:
    """Run the demo week into ``folder``; returns its summary (the view shows it as it goes).

    ``days`` shortens the week (the digest comes only after a whole one). The summary is also
    written to ``summary.json`` in the folder.
    """
    started = time.monotonic()
    # the demo's emails, transcript, log and digest hold names and comments: readable by their owner only
    saved_umask = os.umask(0o077)
    try:
        return _run_demo(folder, started, fast=fast, view=view, days=days)
    finally:
        os.umask(saved_umask)


def _run_demo(folder: Path, started: float, *, fast: bool, view: Any, days: int) -> DemoSummary:
    from monitor.demo.view import QuietView

    folder = prepare_folder(Path(folder))
    folder.chmod(0o700)
    view = view or QuietView()
    run = DemoRun(folder=folder, fast=fast, view=view, days=days)
    with contained(folder), ExitStack() as stack:
        view.status("starting the local fake platforms")
        run.start_platforms(stack)
        run.parts.run("fake Slack", run.start_slack, stack)
        run.parts.run("mail server", run.start_mail, stack)
        run.config = run.write_config()
        run.plan_routes()
        try:
            run.build()
            view.intro(run)
            run.run_week(demo_posts())
        except Exception as exc:  # noqa: BLE001 - still say what happened, and summarise
            run.parts.fail("demo", exc)
        summary = run.summary(started)
        if run.buttons is not None:
            run.parts.run("Slack buttons", run.buttons.close)
        if run.store is not None:
            run.parts.run("closing the database", run.store.close)
        for platform in run.platforms.values():
            connector = run.pipeline.connectors.get(platform.source) if run.pipeline else None
            if connector is not None:
                run.parts.run("closing a connector", connector.close)
    (folder / "summary.json").write_text(json.dumps(summary.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    return summary
