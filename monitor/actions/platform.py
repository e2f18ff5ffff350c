"""Writes on the platforms (reply, hide, delete), each made exactly once.

A moderator's reply, hide or delete (from Slack or the command line) is a row of
``platform_actions`` keyed by the action and the item (``reply:item:42``), committed before the
platform is called. A second click, a retry or a restart finds the same row::

    pending ──► sending ──► done        the platform accepted it: the case is closed, all audited
                  │  └────► refused     the platform said no (a missing permission, the comment is gone)
                  └─ in doubt           the call failed in a way that may have reached the platform

A row left ``sending`` (a timeout, a crash, a SIGKILL between the write and its receipt) is in
doubt: before it is tried again the platform is asked whether it was done (the thread is read for
a school reply with the same text; the comment's visibility is read for a hide or a delete), so a
reply is never posted twice. A reply closes the comment's case as met at the reply's platform
time; a hide or a delete closes it as ``removed``.

Where the school cannot hide or delete another account's post (Mastodon, Bluesky), ``block`` (the
author) and ``report`` (the post, to the platform's moderators) are offered instead. The post stays
public, so the case closes as dealt with (``acknowledged``, noted "the post is still public"), never as
``removed``. An in-doubt block is checked on the platform (the school's relationship to the author);
an in-doubt report cannot be (no platform lists an account's own reports), so it is sent again: at
worst the moderators receive it twice.

After a removal the audience may be told (``notice``, key ``notice:item:42``): the school's
``[replies] removal_notice`` is posted as a comment on the thread (post, media) the removed comment
was under, once, the same way; the case is not changed by it. It needs what a reply needs (the
source allows ``reply``) and a connector that names ``notice`` in its ``supported_actions``.

Only sources that opt in (``actions = ["reply", "hide", "delete"]``) accept these; the connector
writes through the interface declared in :mod:`connectors.base`.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from connectors import connector_class
from connectors.base import Connector, Written
from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.errors import ActionNeeded, AuthError, MonitorError, SourceError
from monitor.store import Store, from_db, to_db

logger = logging.getLogger(__name__)

ACTIONS = ("reply", "hide", "delete", "block", "report", "notice")
#: moderation that leaves the post public: the case closes as dealt with (acknowledged), never as removed
KEEPS_POST = ("block", "report")
#: the actions whose text the moderator writes (or edits from a template)
WITH_TEXT = ("reply", "notice")
#: the longest reply accepted (Facebook and Instagram take 8,000 characters; the rest fewer, see docs)
REPLY_LIMIT = 2000
#: one write at a time in this process: a double click handled on two threads posts once
_WRITING = threading.Lock()


class ActionRefused(MonitorError):
    """The action cannot be asked for (the source did not opt in, no such item, an empty reply)."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What became of an action: ``state`` done, refused or in_doubt; ``message`` says it to a person."""

    id: int
    action: str
    state: str
    message: str
    changed: bool
    receipt: dict[str, Any] | None = None


def request_action(store: Store, config: Config, *, action: str, item_id: int, by: str, how: str,
                   text: str | None = None, by_id: str | None = None, clock: Clock = system_clock) -> int:
    """The row of this action on this item (made, committed, if it is the first ask); ActionRefused if
    it cannot be asked for. The key is the action and the item: asking twice is one action."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    if not by or not by.strip():
        raise ActionRefused("say who is acting (--by)")
    rows = store.query("SELECT id, source FROM items WHERE id = ?", (item_id,))
    if not rows:
        raise ActionRefused(f"no item {item_id}: `monitor cases` lists the comments with cases")
    source = config.source(rows[0]["source"])
    if action == "notice":
        refusal = notice_refusal(store, config, item_id)
        if refusal:
            raise ActionRefused(refusal)
        text = notice_text(store, config, item_id) if text is None else text
    elif action not in source.actions:
        raise ActionRefused(f"source {source.name} does not allow {action} from the monitor: add "
                            f'"{action}" to its actions in the configuration')
    if action in WITH_TEXT:
        text = (text or "").strip()
        if not text:
            raise ActionRefused(f"the {'reply' if action == 'reply' else 'notice'} is empty")
        if len(text) > REPLY_LIMIT:
            raise ActionRefused(f"the text is {len(text)} characters: at most {REPLY_LIMIT}")
    case = store.query("SELECT id FROM cases WHERE item_id = ?", (item_id,))
    key = f"{action}:item:{item_id}"
    with store.transaction():
        # a refused action may be asked again (the permission was granted since): the same row, retried
        store.execute("""UPDATE platform_actions SET state = 'pending', text = ?, by = ?, by_id = ?, how = ?
                         WHERE key = ? AND state = 'refused'""",
                      (text if action in WITH_TEXT else None, by.strip(), by_id, how, key))
        store.execute(
            """INSERT OR IGNORE INTO platform_actions (key, action, source, item_id, case_id, text, by, by_id, how,
                   created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (key, action, source.name, item_id, case[0]["id"] if case else None, text if action in WITH_TEXT else None,
             by.strip(), by_id, how, to_db(clock())),
        )
        return store.query("SELECT id FROM platform_actions WHERE key = ?", (key,))[0]["id"]


def perform(store: Store, config: Config, action_id: int, *, connector: Connector | None = None,
            clock: Clock = system_clock) -> Outcome:
    """Make the write of row ``action_id`` on the platform unless it is already made (see the module docstring)."""
    with _WRITING:
        row = _row(store, action_id)
        if row["state"] in ("done", "refused"):
            return _outcome(row, changed=False)
        settings = config.source(row["source"])
        own = connector is None
        connector = connector or connector_class(settings.type)(settings, clock=clock)
        try:
            return _perform(store, connector, row, clock)
        finally:
            if own:
                connector.close()


def act(store: Store, config: Config, *, action: str, item_id: int, by: str, how: str, text: str | None = None,
        by_id: str | None = None, clock: Clock = system_clock, connector: Connector | None = None) -> Outcome:
    """Ask for an action and make it: :func:`request_action` then :func:`perform`."""
    action_id = request_action(store, config, action=action, item_id=item_id, by=by, how=how, text=text,
                               by_id=by_id, clock=clock)
    return perform(store, config, action_id, connector=connector, clock=clock)


def resume(store: Store, config: Config, *, clock: Clock = system_clock) -> list[Outcome]:
    """Finish the actions left pending or in doubt (after a crash): each is checked on the platform first."""
    rows = store.query("SELECT id FROM platform_actions WHERE state IN ('pending', 'sending') ORDER BY id")
    outcomes = []
    for row in rows:
        try:
            outcomes.append(perform(store, config, row["id"], clock=clock))
        except MonitorError as exc:
            logger.warning("platform action %d cannot be finished: %s", row["id"], exc)
    return outcomes


def _perform(store: Store, connector: Connector, row: dict[str, Any], clock: Clock) -> Outcome:
    source, native_id = row["source"], row["native_id"]
    try:
        if row["state"] == "sending":  # in doubt: a previous attempt may have reached the platform
            found = _already_done(connector, row)
            if found is not None:
                logger.info("source=%s %s of %s was already made on the platform: not repeated",
                            source, row["action"], native_id)
                return _finish(store, row, found)
        with store.transaction():
            store.execute("UPDATE platform_actions SET state = 'sending', attempts = attempts + 1, tried_at = ? "
                          "WHERE id = ?", (to_db(clock()), row["id"]))
        written = _write(connector, row)
    except AuthError as exc:
        scope = connector.action_scopes.get(row["action"], "")
        # ActionNeeded (e.g. no credits left) is about the account, not the token's permission
        hint = scope and not isinstance(exc, ActionNeeded)
        message = (f"{connector.type} refused to {_verb(row['action'])}: {exc}"
                   + (f". The source's token needs the {scope} permission." if hint else ""))
        return _refuse(store, row, message)
    except (NotImplementedError, ValueError) as exc:
        target = f"under {native_id}" if row["action"] == "notice" else native_id
        return _refuse(store, row, f"{connector.type} cannot {_verb(row['action'])} {target}: {exc}")
    except SourceError as exc:
        logger.warning("source=%s %s of %s in doubt: %s", source, row["action"], native_id, exc)
        with store.transaction():
            store.execute("UPDATE platform_actions SET last_error = ? WHERE id = ?", (str(exc)[:500], row["id"]))
        return _outcome(_row(store, row["id"]), changed=False,
                        message=f"Could not {_verb(row['action'])} yet ({exc}): it will be checked and tried again")
    return _finish(store, row, written)


def _verb(action: str) -> str:
    return "post the removal notice" if action == "notice" else action


def _already_done(connector: Connector, row: dict[str, Any]) -> Written | None:
    if row["action"] == "reply":
        return connector.find_reply(row["native_id"], row["text"])
    if row["action"] in KEEPS_POST:
        return connector.was_done(row["action"], row["native_id"])
    if row["action"] == "notice":
        return connector.find_in_thread(row["thread_id"], row["text"])
    state = connector.visibility(row["native_id"])
    if state == "gone" or (state == "hidden" and row["action"] == "hide"):
        return Written(native_id=None, at=connector.clock())
    return None


def _write(connector: Connector, row: dict[str, Any]) -> Written:
    if row["action"] == "reply":
        return connector.reply(row["native_id"], row["text"])
    if row["action"] == "notice":
        return connector.tell_thread(row["thread_id"], row["text"])
    return getattr(connector, row["action"])(row["native_id"])


def _finish(store: Store, row: dict[str, Any], written: Written) -> Outcome:
    from monitor.sla.cases import acknowledge, mark_removed

    receipt = {"native_id": written.native_id, "at": to_db(written.at)}
    detail = {"how": row["how"], "action": row["action"], **({"slack_user": row["by_id"]} if row["by_id"] else {})}
    with store.transaction():
        store.execute("UPDATE platform_actions SET state = 'done', done_at = ?, receipt = ?, last_error = NULL "
                      "WHERE id = ?", (to_db(written.at), json.dumps(receipt), row["id"]))
        store.audit(row["by"], row["action"], case_id=row["case_id"], item_id=row["item_id"],
                    detail={**detail, **receipt})
        if row["case_id"] is not None and row["action"] != "notice":  # a notice follows a removal: the case is closed
            if row["action"] == "reply":
                acknowledge(store, row["case_id"], by=row["by"], how=row["how"], at=written.at,
                            note=f"reply {written.native_id}", detail=detail)
            elif row["action"] in KEEPS_POST:
                acknowledge(store, row["case_id"], by=row["by"], how=row["how"], at=written.at,
                            note=f"{PAST[row['action']].lower()}{STILL_PUBLIC}", detail=detail)
            else:
                mark_removed(store, row["case_id"], by=row["by"], at=written.at,
                             note=f"{'hidden' if row['action'] == 'hide' else 'deleted'} by {row['by']}", detail=detail)
    logger.info("source=%s %s of %s done by %s", row["source"], row["action"], row["native_id"], row["by"])
    return _outcome(_row(store, row["id"]), changed=True)


def _refuse(store: Store, row: dict[str, Any], message: str) -> Outcome:
    logger.error("source=%s %s of %s refused: %s", row["source"], row["action"], row["native_id"], message)
    with store.transaction():
        store.execute("UPDATE platform_actions SET state = 'refused', last_error = ? WHERE id = ?",
                      (message[:500], row["id"]))
        store.audit(row["by"], f"{row['action']}_refused", case_id=row["case_id"], item_id=row["item_id"],
                    detail={"how": row["how"], "error": message[:500],
                            **({"slack_user": row["by_id"]} if row["by_id"] else {})})
    return _outcome(_row(store, row["id"]), changed=True)


def _row(store: Store, action_id: int) -> dict[str, Any]:
    rows = store.query("""SELECT platform_actions.*, items.native_id, items.thread_id FROM platform_actions
                          JOIN items ON items.id = platform_actions.item_id WHERE platform_actions.id = ?""",
                       (action_id,))
    if not rows:
        raise ActionRefused(f"no platform action {action_id}")
    return rows[0]


PAST = {"reply": "Replied", "hide": "Hidden", "delete": "Deleted", "block": "Author blocked",
        "report": "Reported to the platform's moderators", "notice": "Removal notice posted"}
STILL_PUBLIC = ": the post is still public"


def _outcome(row: dict[str, Any], *, changed: bool, message: str | None = None) -> Outcome:
    receipt = json.loads(row["receipt"]) if row["receipt"] else None
    state = {"sending": "in_doubt"}.get(row["state"], row["state"])
    if message is None:
        if state == "done":
            when = from_db(receipt["at"]) if receipt else None
            message = f"{PAST[row['action']]} by {row['by']}" + ("" if changed else f" (already, {to_db(when)})")
            message += STILL_PUBLIC if row["action"] in KEEPS_POST else ""
        elif state == "refused":
            message = f"Could not {_verb(row['action'])}: {row['last_error']}"
        else:
            message = f"The {row['action']} is waiting to be made ({row['last_error'] or 'not tried yet'})"
    return Outcome(id=row["id"], action=row["action"], state=state, message=message, changed=changed, receipt=receipt)


def notice_text(store: Store, config: Config, item_id: int) -> str:
    """The school's removal notice for this item: ``[replies] removal_notice`` with ``{school}`` and
    ``{deadline}`` (its case's, in the school's time) filled in; "" when none is configured."""
    from monitor.notify.render import format_local

    template = config.replies.removal_notice
    if not template:
        return ""
    case = store.query("SELECT due_at FROM cases WHERE item_id = ?", (item_id,))
    deadline = format_local(case[0]["due_at"], config.school.tz) if case else "the next working day"
    return template.format(school=config.school.name, deadline=deadline)


def notice_refusal(store: Store, config: Config, item_id: int) -> str | None:
    """Why the audience of item ``item_id`` cannot be told of its removal (None: it can): no
    ``removal_notice`` configured, a source that does not allow replies or cannot post one, no thread
    to post on, or nothing removed from the monitor yet."""
    from connectors import connector_class

    if not config.replies.removal_notice:
        return "no removal notice is configured: set [replies] removal_notice"
    rows = store.query("SELECT source, native_id, thread_id FROM items WHERE id = ?", (item_id,))
    if not rows:
        return f"no item {item_id}: `monitor cases` lists the comments with cases"
    item = rows[0]
    try:
        source = config.source(item["source"])
        supported = connector_class(source.type).supported_actions
    except MonitorError:
        return f"source {item['source']} is no longer configured"
    if "notice" not in supported:
        return f"a {source.type} source cannot post a removal notice from the monitor yet"
    if "reply" not in source.actions:
        return (f"source {source.name} does not allow replies from the monitor, and a removal notice is one: "
                'add "reply" to its actions in the configuration')
    if not item["thread_id"] or item["thread_id"] == item["native_id"]:
        return "the removed item was the post itself: there is no thread under it to post a notice on"
    removed = store.query("SELECT 1 FROM platform_actions WHERE item_id = ? AND action IN ('hide', 'delete') "
                          "AND state = 'done'", (item_id,))
    if not removed:
        return "the comment has not been hidden or deleted from the monitor: hide or delete it first"
    return None


def notice_offered(store: Store, config: Config, item_id: int) -> bool:
    """Whether a "tell the audience" is worth offering: it can be made and has not been."""
    if notice_refusal(store, config, item_id) is not None:
        return False
    return not store.query("SELECT 1 FROM platform_actions WHERE key = ? AND state = 'done'", (f"notice:item:{item_id}",))


def action_problems(store: Store) -> list[dict[str, Any]]:
    """The actions refused or still in doubt, for ``monitor status``."""
    return store.query("""SELECT id, action, source, item_id, state, last_error, by FROM platform_actions
                          WHERE state IN ('refused', 'sending', 'pending') ORDER BY id""")
