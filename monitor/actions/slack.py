"""Button clicks from Slack, received through Socket Mode (no public URL needed on a school network).

With ``notify.slack.app_token`` set, :class:`SlackActions` keeps a Socket Mode connection open
(slack_sdk's built-in websocket client). Each click is acknowledged to Slack at once, then passes
one gate, :meth:`SlackActions.authorise`, before anything is done. A click is refused, and the
person who clicked is told so in a message only they see (``chat.postEphemeral``), unless:

1. it comes from the moderators' channel (``notify.slack.channel``);
2. the Slack user is a moderator: their id is in ``notify.slack.moderators``, or they belong to a
   user group listed there (``usergroups.users.list``, cached for :data:`GROUP_CACHE`). With no
   ``moderators`` configured every click is refused: the safe reading of a missing allow-list;
3. the button's value names, with strict types, the case and item of an alert the monitor posted as
   that very message (looked up in the outbox by the message's ``ts``), and they agree in the store.

Then it is acted on:

- **Acknowledge**: the case is acknowledged by the Slack user's name (``monitor.sla.cases.acknowledge``,
  ``how="slack"``), which writes the audit log;
- **Escalate**: an escalation alert goes to the moderators and ``notify.email.escalate_to``;
- **Not abusive**: the item, its text and the verdict are kept in ``feedback`` for retraining;
- **Reply** (sources with ``"reply"`` in ``actions``): a modal opens (``views.open`` with the click's
  ``trigger_id``) holding the school's acknowledgement (``[replies]``), editable. Its submission
  (``view_submission``) passes the same gate again, the case and item named in the view's
  ``private_metadata`` verified against the posted alert, and the reply is written on the platform
  once (:mod:`monitor.actions.platform`); the case closes as met at the reply's platform time;
- **Hide**, **Delete** (behind Slack's confirmation dialog): made on the platform once; the case
  closes as removed. A refusal (a missing permission) is told to the moderator, only them;
- **Block author**, **Report** (Mastodon, Bluesky; behind a confirmation): the same, but the post
  stays public, so the case closes as dealt with (acknowledged), and the message says so;
- **Tell the audience** (offered once a hide or delete is made, when ``[replies] removal_notice`` is
  set): a modal like Reply's holding the notice; its submission posts it once on the thread the
  removed comment was under (:func:`monitor.actions.platform.notice_refusal` says when it cannot).

Every audit row carries the Slack user's id and name, and the message is updated (``chat.update``)
to say who did what, when. A new action is a name in :data:`ACTIONS` and a method of that name
taking a :class:`Click`: the gate runs before it, so it inherits the same rules.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.errors import MonitorError, NotifyError
from monitor.notify.outbox import Alert, enqueue
from monitor.notify.render import format_local, inert_mrkdwn, payload_items, plain_text, slack_escape
from monitor.notify.slack import SlackNotifier, sdk_logger, unreachable
from monitor.sanitize import NAME_LIMIT, one_line, printable
from monitor.store import Store, to_db

logger = logging.getLogger(__name__)

ACTIONS = ("acknowledge", "escalate", "not_abusive", "reply", "hide", "delete", "block", "report", "notice")
#: the modals' callback ids (the Reply dialog, the "Tell the audience" dialog), and their one input
#: (block id, action id)
REPLY_VIEW = "reply"
NOTICE_VIEW = "notice"
REPLY_INPUT = ("reply", "text")
#: how long a user group's membership is trusted before it is asked again
GROUP_CACHE = timedelta(minutes=5)
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")

NOT_A_MODERATOR = ("You are not a moderator here: only the people listed in the monitor's "
                   "notify.slack.moderators can act on these alerts. Nothing was changed.")
NO_MODERATORS = ("Nobody can act on these alerts from Slack yet: notify.slack.moderators is not set in the "
                 "monitor's configuration. Ask whoever runs the monitor to add the moderators. Nothing was changed.")
WRONG_CHANNEL = "These buttons work only in the moderators' channel. Nothing was changed."
BAD_BUTTON = ("This button does not match the alert it is on, so it was ignored. "
              "Use `monitor ack` on the server if a case must be closed.")


class Refused(Exception):
    """A click turned away by the gate; the message is what the person who clicked is told."""


@dataclass(frozen=True, kw_only=True)
class Click:
    """A click that passed the gate: a moderator, in the moderators' channel, on a verified button."""

    action_id: str
    user_id: str
    name: str
    item_id: int
    case_id: int | None
    channel: str
    ts: str
    trigger_id: str | None = None


class SlackActions:
    def __init__(self, config: Config, store: Store, *, notifier: SlackNotifier | None = None, clock: Clock = system_clock):
        if config.notify.slack is None or config.notify.slack.app_token is None:
            raise MonitorError("Slack buttons need notify.slack.token and notify.slack.app_token")
        self.config = config
        self.settings = config.notify.slack
        self.store = store
        self.clock = clock
        self.notifier = notifier or SlackNotifier(config.notify.slack, tz=config.school.tz)
        self.client = None
        self._socket_error: Exception | None = None
        #: the connection's problem as last told (None: connected, or not tried yet)
        self._down: str | None = None
        self._groups: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._groups_lock = threading.Lock()
        if not self.settings.moderators:
            logger.warning("Slack buttons: notify.slack.moderators is empty, so every click is refused")

    # -- the connection ---------------------------------------------------------------------------

    def start(self) -> "SlackActions":
        """Connect (the client reconnects by itself after a drop); raises if Slack cannot be reached,
        refuses the app-level token, or the websocket it names does not open."""
        from slack_sdk.socket_mode import SocketModeClient

        if self.client is None:
            self.client = SocketModeClient(
                app_token=self.config.notify.slack.app_token.get_secret_value(), web_client=self.notifier.client,
                logger=sdk_logger("slack_sdk.socket_mode"),
            )
            self.client.socket_mode_request_listeners.append(self._on_request)
            # the websocket's failure is handed to these listeners, not raised
            self.client.on_error_listeners.append(self._on_socket_error)
        if not self.client.is_connected():
            self._socket_error = None
            self.client.connect_to_new_endpoint(force=True)
            if not self.client.is_connected():
                raise SocketNotOpened(self._socket_error)
            logger.info("Slack buttons: connected through Socket Mode")
        return self

    def _on_socket_error(self, error: Exception) -> None:
        self._socket_error = error

    def keep_connected(self) -> None:
        """The daemon's periodic check: connect if the first attempt (or a reconnection) failed.

        A failure is told once at WARNING, in one line saying what failed, what it means for the
        alerts and what to check (again only if the cause changes); the recovery at INFO."""
        try:
            self.start()
        except Exception as exc:  # noqa: BLE001 - any failure: the daemon goes on without buttons
            problem = connection_problem(exc, self.settings.base_url)
            if problem != self._down:
                logger.warning("Slack buttons: %s", problem)
            else:
                logger.debug("Slack buttons: still not connected: %s", problem)
            self._down = problem
            self._record(problem)
            return
        if self._down is not None:
            logger.info("Slack buttons: connected through Socket Mode again")
            self._down = None
            self._record(None)

    def _record(self, problem: str | None) -> None:
        """Keep the connection's problem in the database, for `monitor status` (another process)."""
        try:
            self.store.set_meta(BUTTONS_META, json.dumps({"problem": problem, "since": to_db(self.clock())})
                                if problem else None)
        except Exception as exc:  # noqa: BLE001 - the state shown by status must not stop the daemon
            logger.debug("Slack buttons: state not recorded: %s", exc)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _on_request(self, client: Any, request: Any) -> None:
        from slack_sdk.socket_mode.response import SocketModeResponse

        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "interactive" or not isinstance(request.payload, dict):
            return
        kind = request.payload.get("type")
        try:
            if kind == "block_actions":
                self.handle(request.payload)
            elif kind == "view_submission":
                self.submit(request.payload)
        except Exception:  # noqa: BLE001 - one bad click must not stop the listener
            logger.exception("Slack %s could not be handled", printable(kind))

    # -- the gate -----------------------------------------------------------------------------------

    def handle(self, payload: dict[str, Any]) -> list[str]:
        """Act on a ``block_actions`` payload; returns one line per action done (refused ones excepted)."""
        done = []
        actions = payload.get("actions")
        for action in actions if isinstance(actions, list) else []:
            try:
                click = self.authorise(payload, action)
            except Refused as exc:
                self._refuse(payload, action, str(exc))
                continue
            outcome = getattr(self, click.action_id)(click)
            if outcome is None:  # nothing to show on the message (a modal opened, a refusal told)
                continue
            done.append(outcome)
            self._update_message(payload, action, outcome, offer=self._offers(click))
        return done

    def authorise(self, payload: dict[str, Any], action: Any) -> Click:
        """The one gate every click passes: Refused unless the module docstring's three rules hold."""
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        user_id = user.get("id")
        if not isinstance(user_id, str) or not _SLACK_USER.match(user_id):
            raise Refused(NOT_A_MODERATOR)
        if not isinstance(action, dict) or action.get("action_id") not in ACTIONS:
            raise Refused(BAD_BUTTON)
        channel, ts = _where(payload)
        if channel != self.settings.channel:
            raise Refused(WRONG_CHANNEL)
        self.require_moderator(user_id)
        item_id, case_id = self.verify_value(action.get("value"), channel, ts)
        name = self.notifier.user_name(user_id, fallback=user.get("name") or user.get("username"))
        trigger = payload.get("trigger_id")
        return Click(action_id=action["action_id"], user_id=user_id, name=name, item_id=item_id,
                     case_id=case_id, channel=channel, ts=ts, trigger_id=trigger if isinstance(trigger, str) else None)

    def authorise_submission(self, payload: dict[str, Any]) -> tuple[Click, str]:
        """The gate again for a submitted Reply modal: a moderator, and the case and item named in the
        view's ``private_metadata`` verified against the alert they were shown on; (click, reply text)."""
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        user_id = user.get("id")
        if not isinstance(user_id, str) or not _SLACK_USER.match(user_id):
            raise Refused(NOT_A_MODERATOR)
        view = payload.get("view") if isinstance(payload.get("view"), dict) else {}
        if view.get("callback_id") not in (REPLY_VIEW, NOTICE_VIEW):
            raise Refused(BAD_BUTTON)
        try:
            meta = json.loads(view.get("private_metadata") or "")
        except (TypeError, ValueError):
            meta = None
        if not isinstance(meta, dict) or set(meta) != {"case", "item", "channel", "ts"} \
                or not all(isinstance(meta[k], str) for k in ("channel", "ts")):
            raise Refused(BAD_BUTTON)
        if meta["channel"] != self.settings.channel:
            raise Refused(WRONG_CHANNEL)
        self.require_moderator(user_id)
        item_id, case_id = self.verify_value(json.dumps({"case": meta["case"], "item": meta["item"]}),
                                             meta["channel"], meta["ts"])
        block, element = REPLY_INPUT
        values = ((view.get("state") or {}).get("values") or {}) if isinstance(view.get("state"), dict) else {}
        entered = ((values.get(block) or {}).get(element) or {}).get("value") if isinstance(values, dict) else None
        if not isinstance(entered, str) or not entered.strip():
            raise Refused("The reply was empty, so nothing was posted.")
        name = self.notifier.user_name(user_id, fallback=user.get("name") or user.get("username"))
        return Click(action_id=view["callback_id"], user_id=user_id, name=name, item_id=item_id, case_id=case_id,
                     channel=meta["channel"], ts=meta["ts"]), entered

    def require_moderator(self, user_id: str) -> None:
        """Refused unless ``user_id`` is listed in ``notify.slack.moderators`` or in a group listed there."""
        moderators = self.settings.moderators
        if not moderators:
            raise Refused(NO_MODERATORS)
        if user_id in moderators:
            return
        for group in (m for m in moderators if m.startswith("S")):
            if user_id in self._members(group):
                return
        raise Refused(NOT_A_MODERATOR)

    def _members(self, group: str) -> frozenset[str]:
        now = self.clock()
        with self._groups_lock:
            cached = self._groups.get(group)
        if cached is not None and now - cached[0] < GROUP_CACHE:
            return cached[1]
        try:
            members = self.notifier.usergroup_members(group)
        except NotifyError as exc:
            if cached is not None:
                logger.warning("Slack user group %s cannot be read (%s): using its members from %s",
                               group, exc, to_db(cached[0]))
                return cached[1]
            logger.warning("Slack user group %s cannot be read (%s): its members' clicks are refused", group, exc)
            raise Refused(f"The monitor cannot check the moderators' user group right now ({exc}). "
                          "Nothing was changed; try again in a few minutes.") from exc
        with self._groups_lock:
            self._groups[group] = (now, members)
        return members

    def verify_value(self, value: Any, channel: str, ts: str) -> tuple[int, int | None]:
        """(item id, case id) from a button's value, if the message at ``ts`` is an alert about them."""
        try:
            ids = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            ids = None
        if not isinstance(ids, dict) or set(ids) != {"case", "item"}:
            raise Refused(BAD_BUTTON)
        item_id, case_id = ids["item"], ids["case"]
        if not _is_id(item_id) or not (case_id is None or _is_id(case_id)):
            raise Refused(BAD_BUTTON)
        rows = self.store.query(
            "SELECT payload FROM alerts WHERE channel = 'slack' AND recipient = ? AND state = 'sent' "
            "AND json_extract(receipt, '$.ts') = ?", (channel, ts),
        )
        shown = {(item.get("item_id"), item.get("case_id")) for row in rows for item in _items(row["payload"])}
        if (item_id, case_id) not in shown:
            raise Refused(BAD_BUTTON)
        if case_id is not None:
            case = self.store.query("SELECT item_id FROM cases WHERE id = ?", (case_id,))
            if not case or case[0]["item_id"] != item_id:
                raise Refused(BAD_BUTTON)
        return item_id, case_id

    def _refuse(self, payload: dict[str, Any], action: Any, reason: str) -> None:
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        user_id = user.get("id") if isinstance(user.get("id"), str) else None
        channel, _ = _where(payload)
        action_id = action.get("action_id") if isinstance(action, dict) else None
        logger.warning("Slack click refused: %s by %s (%s) in %s: %s", printable(action_id), printable(user_id),
                       printable(user.get("name") or user.get("username") or "?"), printable(channel), reason)
        self._audit_refusal(payload, button=action_id, value=action.get("value") if isinstance(action, dict) else None,
                            channel=channel, reason=reason)
        if not user_id or not _SLACK_USER.match(user_id) or not channel:
            return
        try:
            self.notifier.tell(channel, user_id, reason)
        except NotifyError as exc:
            logger.warning("Slack: cannot tell %s that the click was refused: %s", user_id, exc)

    def _audit_refusal(self, payload: dict[str, Any], *, button: Any, value: Any, channel: str | None,
                       reason: str) -> None:
        """A refused click in the audit log: who (as Slack sent it, unverified), which button and value, why.

        The ids in a refused value are not trusted, so they stay in ``detail`` rather than in the
        log's case and item columns; every field is clipped and made printable."""
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        user_id = user.get("id") if isinstance(user.get("id"), str) else None
        name = user.get("name") or user.get("username")
        detail = {"how": "slack", "slack_user": _clipped(user_id), "slack_name": _clipped(name),
                  "button": _clipped(button), "value": _clipped(value, 300), "channel": _clipped(channel),
                  "refused": reason}
        try:
            with self.store.transaction():
                self.store.audit(_clipped(user_id) or "unknown Slack user", "slack_refused",
                                 detail={k: v for k, v in detail.items() if v is not None})
        except Exception as exc:  # noqa: BLE001 - a full disk must not hide the refusal from the person told
            logger.error("Slack: a refused click could not be written to the audit log: %s", exc)

    # -- acting on a click --------------------------------------------------------------------------

    def acknowledge(self, click: Click) -> str:
        from monitor.sla.cases import acknowledge

        if click.case_id is None:
            return "Nothing to acknowledge"
        try:
            result = acknowledge(self.store, click.case_id, by=click.name, how="slack", detail=_who(click))
        except (MonitorError, ValueError) as exc:
            logger.warning("Slack acknowledgement of case %s by %s failed: %s", click.case_id, click.name, exc)
            return f"Could not acknowledge: {exc}"
        if not result.changed:
            case = result.case
            return f"Already {case.state} by {case.closed_by} ({case.closed_how})"
        return f"Acknowledged by {click.name}"

    def escalate(self, click: Click) -> str:
        from monitor.notify.alerting import describe_item

        item_id, name = click.item_id, click.name
        with self.store.transaction():
            rows = self.store.query("SELECT * FROM items WHERE id = ?", (item_id,))
            if not rows:
                return "The comment is no longer stored"
            case = self.store.query("SELECT id, item_id, due_at, state FROM cases WHERE item_id = ?", (item_id,))
            item = describe_item(rows[0], case[0] if case else None)
            added = enqueue(self.store, self.config, Alert(
                key=f"escalated:item:{item_id}", kind="escalation", escalate=True, source=rows[0]["source"],
                item_id=item_id, case_id=case[0]["id"] if case else None,
                payload={"title": f"Escalated by {name}: a comment on {rows[0]['source']}", "item": item,
                         "by": name},
            ))
            self.store.audit(name, "escalate", case_id=case[0]["id"] if case else None, item_id=item_id,
                             detail={"how": "slack", **_who(click), "new": bool(added)})
        logger.info("source=%s item %s escalated by %s from Slack", rows[0]["source"], item_id, name)
        return f"Escalated by {name}" if added else f"Escalated again by {name} (already escalated)"

    def not_abusive(self, click: Click) -> str:
        now = to_db(self.clock())
        with self.store.transaction():
            rows = self.store.query(
                """SELECT items.id, items.source, items.text, verdicts.score, verdicts.labels, verdicts.model,
                          verdicts.model_version
                   FROM items LEFT JOIN verdicts ON verdicts.item_id = items.id WHERE items.id = ?""",
                (click.item_id,),
            )
            if not rows:
                return "The comment is no longer stored"
            row = rows[0]
            self.store.execute(
                """INSERT OR REPLACE INTO feedback (item_id, source, label, text, score, labels, model,
                       model_version, by, by_id, how, at)
                   VALUES (?, ?, 'not_abusive', ?, ?, ?, ?, ?, ?, ?, 'slack', ?)""",
                (row["id"], row["source"], row["text"], row["score"], row["labels"], row["model"],
                 row["model_version"], click.name, click.user_id, now),
            )
            self.store.audit(click.name, "not_abusive", case_id=click.case_id, item_id=click.item_id,
                             detail={"how": "slack", **_who(click)})
        logger.info("source=%s item %s marked not abusive by %s from Slack", row["source"], click.item_id, click.name)
        return f"Marked not abusive by {click.name}"

    # -- acting on the platform ----------------------------------------------------------------------

    def reply(self, click: Click) -> None:
        """Open the Reply modal, holding the school's acknowledgement, for the moderator who clicked."""
        if not self._allowed(click, "reply"):
            return None
        if click.trigger_id is None:
            self._tell(click, BAD_BUTTON)
            return None
        view = self._text_view(click, REPLY_VIEW, title="Reply as the school", submit="Post reply",
                               label="Your reply, posted publicly as the school", text=self.acknowledgement(click))
        self._open(click, view, "Reply")
        return None

    def notice(self, click: Click) -> None:
        """"Tell the audience" after a removal: a dialog holding the school's ``removal_notice``, editable;
        on submission it is posted on the thread the removed comment was under (once)."""
        from monitor.actions.platform import notice_refusal, notice_text

        refusal = notice_refusal(self.store, self.config, click.item_id)
        if refusal is not None:
            reason = f"The audience cannot be told from here: {refusal}. Nothing was posted."
            with self.store.transaction():
                self.store.audit(click.name, "slack_refused", case_id=click.case_id, item_id=click.item_id,
                                 detail={"how": "slack", **_who(click), "button": "notice", "refused": reason})
            self._tell(click, reason)
            return None
        if click.trigger_id is None:
            self._tell(click, BAD_BUTTON)
            return None
        view = self._text_view(click, NOTICE_VIEW, title="Tell the audience", submit="Post notice",
                               label="The notice, posted publicly as the school on the post the comment was under",
                               text=notice_text(self.store, self.config, click.item_id))
        self._open(click, view, "Tell the audience")
        return None

    def _open(self, click: Click, view: dict[str, Any], button: str) -> None:
        try:
            self.notifier.open_view(click.trigger_id, view)
        except NotifyError as exc:
            logger.warning("Slack: the %s dialog for item %s could not be opened: %s", button, click.item_id, exc)
            self._tell(click, f"The dialog could not be opened ({exc}). Click {button} again.")

    def _offers(self, click: Click) -> list[dict[str, Any]]:
        """The buttons a click brings: "Tell the audience" once a hide or a delete is made (when the
        school has a ``removal_notice`` and the source can post it)."""
        from monitor.notify.render import notice_button
        from monitor.actions.platform import notice_offered

        if click.action_id not in ("hide", "delete") or not notice_offered(self.store, self.config, click.item_id):
            return []
        return [notice_button(click.item_id, click.case_id)]

    def submit(self, payload: dict[str, Any]) -> str | None:
        """A submitted Reply modal: the gate, then the reply written once; the alert updated."""
        try:
            click, text = self.authorise_submission(payload)
        except Refused as exc:
            user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
            logger.warning("Slack reply refused: by %s: %s", printable(user.get("id")), exc)
            view = payload.get("view") if isinstance(payload.get("view"), dict) else {}
            self._audit_refusal(payload, button=f"{view.get('callback_id')} dialog",
                                value=view.get("private_metadata"), channel=None, reason=str(exc))
            if isinstance(user.get("id"), str) and _SLACK_USER.match(user["id"]):
                try:
                    self.notifier.tell(self.settings.channel, user["id"], str(exc))
                except NotifyError as error:
                    logger.warning("Slack: cannot tell %s that the reply was refused: %s", user["id"], error)
            return None
        outcome = self._platform(click, click.action_id, text)
        if outcome is not None:
            self._update_posted(click, outcome)
        return outcome

    def hide(self, click: Click) -> str | None:
        return self._platform(click, "hide") if self._allowed(click, "hide") else None

    def delete(self, click: Click) -> str | None:
        return self._platform(click, "delete") if self._allowed(click, "delete") else None

    def block(self, click: Click) -> str | None:
        return self._platform(click, "block") if self._allowed(click, "block") else None

    def report(self, click: Click) -> str | None:
        return self._platform(click, "report") if self._allowed(click, "report") else None

    def _allowed(self, click: Click, action: str) -> bool:
        source = self.store.query("SELECT source FROM items WHERE id = ?", (click.item_id,))
        try:
            allowed = bool(source) and action in self.config.source(source[0]["source"]).actions
        except MonitorError:
            allowed = False
        if not allowed:
            reason = f"This source does not allow {action} from the monitor. Nothing was changed."
            with self.store.transaction():
                self.store.audit(click.name, "slack_refused", case_id=click.case_id, item_id=click.item_id,
                                 detail={"how": "slack", **_who(click), "button": action, "refused": reason})
            self._tell(click, reason)
        return allowed

    def _platform(self, click: Click, action: str, text: str | None = None) -> str | None:
        from monitor.actions.platform import act

        try:
            outcome = act(self.store, self.config, action=action, item_id=click.item_id, by=click.name, how="slack",
                          text=text, by_id=click.user_id, clock=self.clock)
        except MonitorError as exc:
            self._tell(click, f"Nothing was done: {exc}")
            return None
        if outcome.state != "done":
            self._tell(click, outcome.message)
            return None
        return outcome.message

    def _text_view(self, click: Click, callback: str, *, title: str, submit: str, label: str,
                   text: str) -> dict[str, Any]:
        """A dialog quoting the comment, with one editable text holding ``text``."""
        from monitor.actions.platform import REPLY_LIMIT

        row = self.store.query("SELECT source, text, created_at, COALESCE(author_name, author_handle, 'someone') AS "
                               "author FROM items WHERE id = ?", (click.item_id,))[0]
        quoted = "\n".join("> " + inert_mrkdwn(slack_escape(line)) for line in (row["text"][:500].splitlines() or [""]))
        meta = {"case": click.case_id, "item": click.item_id, "channel": click.channel, "ts": click.ts}
        return {
            "type": "modal", "callback_id": callback, "private_metadata": json.dumps(meta),
            "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": submit},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {"type": "context", "elements": [plain_text(f"{one_line(row['author'], NAME_LIMIT)} on {row['source']}:")]},
                {"type": "section", "text": {"type": "mrkdwn", "text": quoted}},
                {"type": "input", "block_id": REPLY_INPUT[0],
                 "label": {"type": "plain_text", "text": label},
                 "element": {"type": "plain_text_input", "action_id": REPLY_INPUT[1], "multiline": True,
                             "max_length": REPLY_LIMIT, "initial_value": text[:REPLY_LIMIT]}},
            ],
        }

    def acknowledgement(self, click: Click) -> str:
        """The school's acknowledgement for this comment: its policy's template, name and deadline filled in."""
        policy, due = self.config.sla.policy, None
        if click.case_id is not None:
            case = self.store.query("SELECT policy, due_at FROM cases WHERE id = ?", (click.case_id,))
            if case:
                policy, due = case[0]["policy"], case[0]["due_at"]
        template = self.config.replies.acknowledgement.get(policy) or ""
        deadline = format_local(due, self.config.school.tz) if due else "the next working day"
        return template.format(school=self.config.school.name, deadline=deadline)

    def _tell(self, click: Click, text: str) -> None:
        try:
            self.notifier.tell(click.channel, click.user_id, text)
        except NotifyError as exc:
            logger.warning("Slack: cannot tell %s: %s", click.user_id, exc)

    def _update_posted(self, click: Click, outcome: str) -> None:
        """Update the alert a modal was opened from (its blocks read back from the channel)."""
        try:
            message = self.notifier.message(click.channel, click.ts)
        except NotifyError as exc:
            logger.warning("Slack message %s could not be read to update it: %s", click.ts, exc)
            return
        if message is None:
            return
        action = {"action_id": click.action_id, "block_id": f"actions:{click.item_id}"}
        self._update_message({"container": {"channel_id": click.channel, "message_ts": click.ts}, "message": message},
                             action, outcome)

    def _update_message(self, payload: dict[str, Any], action: dict[str, Any], outcome: str,
                        offer: list[dict[str, Any]] = ()) -> None:
        channel, ts = _where(payload)
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        if not channel or not ts:
            return
        blocks = updated_blocks(message.get("blocks") or [], action, outcome, self.clock(), self.config.school.tz,
                                offer)
        try:
            self.notifier.update(channel, ts, text=message.get("text") or outcome, blocks=blocks)
        except NotifyError as exc:
            logger.warning("Slack message %s could not be updated after a click: %s", ts, exc)


#: a click that closes the case, and the buttons it takes away with it
CLOSES_CASE = {"acknowledge": {"acknowledge"}, "reply": {"acknowledge", "reply"},
               "hide": {"acknowledge", "hide"}, "delete": {"acknowledge", "hide", "delete", "reply"},
               "block": {"acknowledge", "block"}, "report": {"acknowledge", "report"}}


def updated_blocks(blocks: list[dict[str, Any]], action: dict[str, Any], outcome: str, when: datetime, tz,
                   offer: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The message's blocks with the clicked button gone, the buttons in ``offer`` added (once), and a
    line saying who did what, when."""
    result = []
    for block in blocks:
        if block.get("type") != "actions" or block.get("block_id") != action.get("block_id"):
            result.append(block)
            continue
        remaining = [e for e in block.get("elements", []) if e.get("action_id") != action.get("action_id")]
        if action.get("action_id") in CLOSES_CASE and not outcome.startswith("Could not"):
            gone = CLOSES_CASE[action["action_id"]]
            remaining = [e for e in remaining if e.get("action_id") not in gone]
        shown = {e.get("action_id") for e in remaining}
        remaining += [button for button in offer if button["action_id"] not in shown]
        if remaining:
            result.append({**block, "elements": remaining})
        # plain text: a moderator's name reads as written (``_`` stays ``_``) and formats nothing
        line = f"\u2705 {outcome}, {format_local(when.isoformat(), tz)}"
        result.append({"type": "context", "elements": [plain_text(line)]})
    return result


def _where(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """The (channel, message ts) a click came from."""
    container, message, conversation = (payload.get(key) if isinstance(payload.get(key), dict) else {}
                                        for key in ("container", "message", "channel"))
    channel = container.get("channel_id") or conversation.get("id")
    ts = container.get("message_ts") or message.get("ts")
    return (channel if isinstance(channel, str) else None), (ts if isinstance(ts, str) else None)


def _is_id(value: Any) -> bool:
    """A database id: an int (``True`` is not case 1), positive."""
    return type(value) is int and value > 0


def _items(payload: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(payload)
    except (TypeError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    # an urgent alert may carry routine news along ("also"): its comments have buttons too
    also = data.get("also") if isinstance(data.get("also"), dict) else {}
    return payload_items(data) + payload_items(also)


def _clipped(value: Any, limit: int = 120) -> str | None:
    """Something a refused click carried, fit for the audit log: printable, one line, clipped."""
    if value is None:
        return None
    return printable(value if isinstance(value, str) else json.dumps(value, default=str))[:limit]


#: the ``meta`` key under which the daemon keeps the buttons' connection problem for `monitor status`
BUTTONS_META = "slack_buttons"


class SocketNotOpened(Exception):
    """Slack gave a Socket Mode address, but the websocket to it did not open."""

    def __init__(self, cause: Exception | None):
        super().__init__(f"{type(cause).__name__}: {cause}" if cause else "no reason given")


def connection_problem(exc: BaseException, base_url: str) -> str:
    """One line: what failed when connecting the buttons, what it means for alerts, what to check."""
    from slack_sdk.errors import SlackApiError

    retry = "tried again every minute"
    away = unreachable(base_url, exc)
    if away:
        return (f"Socket Mode cannot connect: {away}. Alerts to Slack are kept in the outbox and retried until "
                f"Slack answers (`monitor status` shows them); the buttons connect when it does ({retry}). Check "
                "that this server reaches slack.com over https (firewall, proxy) and notify.slack.base_url")
    if isinstance(exc, SlackApiError):
        data = exc.response.data if isinstance(getattr(exc.response, "data", None), dict) else {}
        error = data.get("error") or f"HTTP {getattr(exc.response, 'status_code', '?')}"
        return (f"Slack refused to open a Socket Mode connection ({error}): the buttons do nothing until "
                "notify.slack.app_token is an app-level token (xapp-...) with the connections:write scope and "
                f"Socket Mode is on in the Slack app's settings ({retry}). Alerts are still sent with the bot token")
    if isinstance(exc, SocketNotOpened):
        return (f"Socket Mode's websocket did not open ({exc}): the buttons do nothing until it does ({retry}). "
                "Alerts are still sent. Check that this server (and any proxy) lets websocket connections to "
                "wss://wss-primary.slack.com through")
    return f"Socket Mode cannot connect ({type(exc).__name__}: {exc}); {retry}. Alerts are still sent"


def _who(click: Click) -> dict[str, str]:
    return {"slack_user": click.user_id, "slack_name": click.name}


def start_slack_actions(config: Config, store: Store, clock: Clock = system_clock) -> SlackActions | None:
    """The buttons' listener if ``notify.slack.app_token`` is set (connected if Slack answers), else None."""
    slack = config.notify.slack
    if slack is None or slack.app_token is None:
        return None
    actions = SlackActions(config, store, clock=clock)
    actions.keep_connected()
    return actions
