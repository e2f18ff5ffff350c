"""Button clicks from Slack, received through Socket Mode (no public URL needed on a school network).

With ``notify.slack.app_token`` set, :class:`SlackActions` keeps a Socket Mode connection open
(slack_sdk's built-in websocket client). Each click is acknowledged to Slack at once, then acted on:

- **Acknowledge**: the case is acknowledged by the Slack user's name (``monitor.cases.acknowledge``,
  ``how="slack"``), which writes the audit log;
- **Escalate**: an escalation alert goes to the moderators and ``notify.email.escalate_to``;
- **Not abusive**: the item, its text and the verdict are kept in ``feedback`` for retraining.

Every click is audit-logged and the message is updated (``chat.update``) to say who did what, when.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.errors import MonitorError, NotifyError
from monitor.notify.render import format_local, slack_escape
from monitor.notify.slack import SlackNotifier
from monitor.outbox import Alert, enqueue
from monitor.store import Store, to_db

logger = logging.getLogger(__name__)

ACTIONS = ("acknowledge", "escalate", "not_abusive")


class SlackActions:
    def __init__(self, config: Config, store: Store, *, notifier: SlackNotifier | None = None, clock: Clock = system_clock):
        if config.notify.slack is None or config.notify.slack.app_token is None:
            raise MonitorError("Slack buttons need notify.slack.token and notify.slack.app_token")
        self.config = config
        self.store = store
        self.clock = clock
        self.notifier = notifier or SlackNotifier(config.notify.slack, tz=config.school.tz)
        self.client = None

    # -- the connection ---------------------------------------------------------------------------

    def start(self) -> "SlackActions":
        """Connect (the client reconnects by itself after a drop); raises if Slack cannot be reached."""
        from slack_sdk.socket_mode import SocketModeClient

        if self.client is None:
            self.client = SocketModeClient(
                app_token=self.config.notify.slack.app_token.get_secret_value(), web_client=self.notifier.client,
                logger=logging.getLogger("slack_sdk.socket_mode"),
            )
            self.client.socket_mode_request_listeners.append(self._on_request)
        if not self.client.is_connected():
            self.client.connect_to_new_endpoint(force=True)
            logger.info("Slack buttons: connected through Socket Mode")
        return self

    def keep_connected(self) -> None:
        """The daemon's periodic check: connect if the first attempt (or a reconnection) failed."""
        try:
            self.start()
        except Exception as exc:  # noqa: BLE001
            logger.warning("Slack buttons: Socket Mode cannot connect yet (%s); alerts are still sent", exc)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _on_request(self, client: Any, request: Any) -> None:
        from slack_sdk.socket_mode.response import SocketModeResponse

        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "interactive" or (request.payload or {}).get("type") != "block_actions":
            return
        try:
            self.handle(request.payload)
        except Exception:  # noqa: BLE001 - one bad click must not stop the listener
            logger.exception("Slack click could not be handled")

    # -- acting on a click --------------------------------------------------------------------------

    def handle(self, payload: dict[str, Any]) -> list[str]:
        """Act on a ``block_actions`` payload; returns one line per action saying what was done."""
        user = payload.get("user") or {}
        user_id = str(user.get("id") or "unknown")
        name = self.notifier.user_name(user_id, fallback=user.get("name") or user.get("username"))
        done = []
        for action in payload.get("actions") or []:
            action_id = action.get("action_id")
            try:
                ids = json.loads(action.get("value") or "{}")
                case_id, item_id = ids.get("case"), ids.get("item")
            except (TypeError, ValueError, AttributeError):
                logger.warning("Slack click with an unreadable value ignored: %r", action.get("value"))
                continue
            if action_id not in ACTIONS or item_id is None:
                logger.warning("Slack click on an unknown button ignored: %r", action_id)
                continue
            outcome = getattr(self, action_id)(name, user_id, item_id, case_id)
            done.append(outcome)
            self._update_message(payload, action, outcome)
        return done

    def acknowledge(self, name: str, user_id: str, item_id: int, case_id: int | None) -> str:
        from monitor.cases import acknowledge

        if case_id is None:
            return "Nothing to acknowledge"
        try:
            result = acknowledge(self.store, int(case_id), by=name, how="slack")
        except MonitorError as exc:
            logger.warning("Slack acknowledgement of case %s by %s failed: %s", case_id, name, exc)
            return f"Could not acknowledge: {exc}"
        if not result.changed:
            case = result.case
            return f"Already {case.state} by {case.closed_by} ({case.closed_how})"
        return f"Acknowledged by {name}"

    def escalate(self, name: str, user_id: str, item_id: int, case_id: int | None) -> str:
        from monitor.alerting import describe_item

        with self.store.transaction():
            rows = self.store.query("SELECT * FROM items WHERE id = ?", (int(item_id),))
            if not rows:
                return "The comment is no longer stored"
            case = self.store.query("SELECT id, item_id, due_at, state FROM cases WHERE item_id = ?", (int(item_id),))
            item = describe_item(rows[0], case[0] if case else None)
            added = enqueue(self.store, self.config, Alert(
                key=f"escalated:item:{item_id}", kind="escalation", escalate=True, source=rows[0]["source"],
                item_id=int(item_id), case_id=case[0]["id"] if case else None,
                payload={"title": f"Escalated by {name}: a comment on {rows[0]['source']}", "item": item,
                         "by": name},
            ))
            self.store.audit(name, "escalate", case_id=case[0]["id"] if case else None, item_id=int(item_id),
                             detail={"how": "slack", "slack_user": user_id, "new": bool(added)})
        logger.info("source=%s item %s escalated by %s from Slack", rows[0]["source"], item_id, name)
        return f"Escalated by {name}" if added else f"Escalated again by {name} (already escalated)"

    def not_abusive(self, name: str, user_id: str, item_id: int, case_id: int | None) -> str:
        now = to_db(self.clock())
        with self.store.transaction():
            rows = self.store.query(
                """SELECT items.id, items.source, items.text, verdicts.score, verdicts.labels, verdicts.model,
                          verdicts.model_version
                   FROM items LEFT JOIN verdicts ON verdicts.item_id = items.id WHERE items.id = ?""",
                (int(item_id),),
            )
            if not rows:
                return "The comment is no longer stored"
            row = rows[0]
            self.store.execute(
                """INSERT OR REPLACE INTO feedback (item_id, source, label, text, score, labels, model,
                       model_version, by, by_id, how, at)
                   VALUES (?, ?, 'not_abusive', ?, ?, ?, ?, ?, ?, ?, 'slack', ?)""",
                (row["id"], row["source"], row["text"], row["score"], row["labels"], row["model"],
                 row["model_version"], name, user_id, now),
            )
            self.store.audit(name, "not_abusive", case_id=case_id, item_id=int(item_id),
                             detail={"how": "slack", "slack_user": user_id})
        logger.info("source=%s item %s marked not abusive by %s from Slack", row["source"], item_id, name)
        return f"Marked not abusive by {name}"

    def _update_message(self, payload: dict[str, Any], action: dict[str, Any], outcome: str) -> None:
        container = payload.get("container") or {}
        message = payload.get("message") or {}
        channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
        ts = container.get("message_ts") or message.get("ts")
        if not channel or not ts:
            return
        blocks = updated_blocks(message.get("blocks") or [], action, outcome, self.clock(), self.config.school.tz)
        try:
            self.notifier.update(channel, ts, text=message.get("text") or outcome, blocks=blocks)
        except NotifyError as exc:
            logger.warning("Slack message %s could not be updated after a click: %s", ts, exc)


def updated_blocks(blocks: list[dict[str, Any]], action: dict[str, Any], outcome: str, when: datetime, tz) -> list[dict[str, Any]]:
    """The message's blocks with the clicked button gone and a line saying who did what, when."""
    result = []
    for block in blocks:
        if block.get("type") != "actions" or block.get("block_id") != action.get("block_id"):
            result.append(block)
            continue
        remaining = [e for e in block.get("elements", []) if e.get("action_id") != action.get("action_id")]
        if action.get("action_id") == "acknowledge" and not outcome.startswith("Could not"):
            remaining = [e for e in remaining if e.get("action_id") != "acknowledge"]
        if remaining:
            result.append({**block, "elements": remaining})
        line = f":white_check_mark: {slack_escape(outcome)}, {format_local(when.isoformat(), tz)}"
        result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    return result


def start_slack_actions(config: Config, store: Store, clock: Clock = system_clock) -> SlackActions | None:
    """The buttons' listener if ``notify.slack.app_token`` is set (connected if Slack answers), else None."""
    slack = config.notify.slack
    if slack is None or slack.app_token is None:
        return None
    actions = SlackActions(config, store, clock=clock)
    actions.keep_connected()
    return actions
