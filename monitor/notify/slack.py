"""Slack through slack_sdk's WebClient: Block Kit messages carrying their idempotency key.

Every message is posted with message metadata ``{"event_type": "monitor_alert", "event_payload":
{"key": ...}}``. After a send whose outcome is unknown (a crash, a timeout), :meth:`find_sent`
reads the channel's recent history (``conversations.history`` with metadata) and looks for the key:
found means delivered (its ``ts`` is the receipt), absent means it never arrived.

The client's own retry handlers are removed: the outbox dispatcher decides when to try again, and a
library retry after a dropped connection could post twice.
"""

from __future__ import annotations

import http.client
import logging
import socket
from datetime import timedelta
from typing import Any
from urllib.error import URLError
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from monitor.config import SlackSettings
from monitor.errors import ChannelRefused, ContentRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError, wait_seconds
from monitor.notify.base import Message, Notifier, Receipt
from monitor.notify.render import slack_message
from monitor.notify.slack_limits import fit_message, plain_version
from monitor.sanitize import NAME_LIMIT, one_line

logger = logging.getLogger(__name__)

EVENT_TYPE = "monitor_alert"
#: Slack refuses every call with these: the token must be fixed
TOKEN_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                "missing_scope", "no_permission", "team_access_not_granted", "ekm_access_denied"}
#: this destination can never receive the message as addressed
DESTINATION_ERRORS = {"channel_not_found", "is_archived", "not_in_channel", "user_not_found",
                      "cannot_dm_bot", "restricted_action"}
#: Slack refused the message's content: a plain version is posted instead
CONTENT_ERRORS = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long", "no_text",
                  "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
                  "too_many_attachments", "invalid_attachments"}
#: how far back (before the row was queued) the history is searched for an in-doubt message
HISTORY_SLACK = timedelta(minutes=5)
HISTORY_PAGES = 20


class SlackNotifier(Notifier):
    channel = "slack"

    def __init__(self, settings: SlackSettings, *, tz: ZoneInfo, client: WebClient | None = None):
        self.settings = settings
        self.tz = tz
        self.client = client or make_client(settings)

    def send(self, message: Message) -> Receipt:
        text, blocks = slack_message(message.kind, message.payload, self.tz)
        destination = message.recipient or self.settings.channel
        if destination != self.settings.channel:
            # clicks are taken only from the moderators' channel: elsewhere a button would only be refused
            blocks = [block for block in blocks if block.get("type") != "actions"]
        text, blocks = fit_message(text, blocks)
        metadata = {"event_type": EVENT_TYPE, "event_payload": metadata_payload(message)}
        try:
            response = self._call("chat_postMessage", destination, channel=destination, text=text, blocks=blocks,
                                  unfurl_links=False, unfurl_media=False, metadata=metadata)
        except ContentRefused as exc:
            # never lose the alert to its own content: the headline alone, as plain text
            logger.warning("Slack refused alert %s as built (%s): posting it as plain text", message.key, exc.error)
            response = self._call("chat_postMessage", destination, channel=destination,
                                  text=plain_version(text, exc.error), unfurl_links=False, unfurl_media=False,
                                  metadata=metadata)
        return Receipt(id=str(response["ts"]), detail={"channel": response.get("channel"), "ts": response["ts"]})

    def find_sent(self, message: Message) -> Receipt | None:
        destination = message.recipient or self.settings.channel
        conversation = self._conversation_id(destination)
        oldest = (message.created_at - HISTORY_SLACK).timestamp()
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = self._call(
                "conversations_history", destination, channel=conversation, oldest=f"{oldest:.6f}",
                limit=200, include_all_metadata=True, **({"cursor": cursor} if cursor else {}),
            )
            for posted in response.get("messages") or []:
                metadata = posted.get("metadata") or {}
                if metadata.get("event_type") == EVENT_TYPE and (metadata.get("event_payload") or {}).get("key") == message.key:
                    return Receipt(id=str(posted["ts"]), detail={"channel": conversation, "ts": posted["ts"]})
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        raise NotifyError(f"Slack history of {destination} is too long to check for an in-doubt message")

    def update(self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace a posted message (used when a button was clicked)."""
        text, blocks = fit_message(text, blocks)
        self._call("chat_update", channel, channel=channel, ts=ts, text=text, blocks=blocks)

    def user_name(self, user_id: str, fallback: str | None = None) -> str:
        """A Slack user's display name on one line, for the audit log and the updated message."""
        try:
            user = self._call("users_info", user_id, user=user_id)["user"]
        except NotifyError as exc:
            logger.warning("cannot look up Slack user %s: %s", user_id, exc)
            user = {}
        profile = user.get("profile") or {}
        for name in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name"),
                     fallback, user_id):
            if isinstance(name, str) and one_line(name):
                return one_line(name, NAME_LIMIT)
        return "unknown"

    def usergroup_members(self, usergroup: str) -> frozenset[str]:
        """The user ids in a Slack user group (``usergroups.users.list``, scope ``usergroups:read``)."""
        users = self._call("usergroups_users_list", usergroup, usergroup=usergroup).get("users") or []
        return frozenset(user for user in users if isinstance(user, str))

    def tell(self, channel: str, user: str, text: str) -> None:
        """A message only ``user`` sees, in ``channel`` (``chat.postEphemeral``)."""
        self._call("chat_postEphemeral", channel, channel=channel, user=user, text=text)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal for the person who clicked (``views.open`` with the click's ``trigger_id``,
        usable once and within three seconds); the view's id."""
        return str(self._call("views_open", "a modal", trigger_id=trigger_id, view=view)["view"]["id"])

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The posted message at ``ts`` in ``channel`` (its text and blocks), or None."""
        response = self._call("conversations_history", channel, channel=channel, latest=ts, oldest=ts,
                              inclusive=True, limit=1)
        found = [m for m in response.get("messages") or [] if m.get("ts") == ts]
        return found[0] if found else None

    def _conversation_id(self, destination: str) -> str:
        if destination[:1] in ("U", "W"):  # a person: their direct-message conversation
            return self._call("conversations_open", destination, users=destination)["channel"]["id"]
        return destination

    def _call(self, method: str, destination: str, **kwargs: Any) -> Any:
        """One Web API call, its failures translated into the error tree."""
        name = method.replace("_", ".", 1)
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            raise translate_api_error(name, destination, exc) from exc
        except URLError as exc:
            if isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
                raise NotifyError(f"cannot reach Slack at {self.settings.base_url} ({exc.reason})") from exc
            raise DeliveryInDoubt(f"Slack {name} to {destination} got no answer: {exc.reason}") from exc
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            raise DeliveryInDoubt(f"Slack {name} to {destination} got no answer: {type(exc).__name__}: {exc}") from exc


class SdkLines(logging.Filter):
    """slack_sdk logs its own failures at ERROR, in its own words, before it raises them (a refused
    connection: "Failed to send a request to Slack API server"; a websocket that does not open). The
    monitor reports each of them itself, once, saying what it means and what to check; so the SDK's
    lines are DEBUG lines, shown only when the monitor runs with --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def sdk_logger(name: str) -> logging.Logger:
    """The logger handed to a slack_sdk client, its lines kept at DEBUG (:class:`SdkLines`)."""
    sdk = logging.getLogger(name)
    if not any(isinstance(f, SdkLines) for f in sdk.filters):
        sdk.addFilter(SdkLines())
    return sdk


def unreachable(base_url: str, exc: BaseException) -> str | None:
    """What to say when a Slack call never got an answer (refused, no such host, timed out); None
    for any other failure."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
        return f"cannot reach Slack at {base_url} ({reason})"
    if isinstance(reason, (TimeoutError, ConnectionError, OSError, http.client.HTTPException)):
        return f"Slack at {base_url} did not answer ({type(reason).__name__}: {reason})"
    return None


def make_client(settings: SlackSettings) -> WebClient:
    base_url = settings.base_url if settings.base_url.endswith("/") else settings.base_url + "/"
    client = WebClient(
        token=settings.token.get_secret_value(), base_url=base_url,
        timeout=int(max(settings.timeout.total_seconds(), 1)),
        logger=sdk_logger("slack_sdk.web.base_client"),
    )
    client.retry_handlers = []
    return client


def metadata_payload(message: Message) -> dict[str, Any]:
    payload: dict[str, Any] = {"key": message.key, "kind": message.kind}
    if message.item_id is not None:
        payload["item_id"] = message.item_id
    if message.case_id is not None:
        payload["case_id"] = message.case_id
    return payload


def translate_api_error(method: str, destination: str, exc: SlackApiError) -> NotifyError:
    response = exc.response
    status = getattr(response, "status_code", None)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = data.get("error") or (f"HTTP {status}" if status else "unknown error")
    if status == 429 or error == "ratelimited":
        retry_after = _retry_after(response)
        return NotifyError(f"Slack rate limit on {method} (retry after {retry_after or '?'} s)", retry_after=retry_after)
    if status is not None and status >= 500:
        return NotifyError(f"Slack {method} to {destination} failed: HTTP {status}")
    if error in TOKEN_ERRORS:
        return ChannelRefused(
            f"Slack refused the bot token ({error}): set a valid notify.slack.token with the "
            "chat:write and channels:history scopes"
        )
    if error in CONTENT_ERRORS:
        detail = "; ".join(str(e) for e in data.get("errors") or [] if isinstance(e, str))[:300]
        return ContentRefused(f"Slack refused the content of the message ({error}"
                              + (f": {detail}" if detail else "") + "); the channel set-up is not at fault", error)
    if error in DESTINATION_ERRORS:
        return PermanentNotifyError(f"Slack cannot deliver to {destination} ({error}): check the channel id and invite the app")
    return NotifyError(f"Slack {method} to {destination} failed: {error}")


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            return wait_seconds(value)
    return None
