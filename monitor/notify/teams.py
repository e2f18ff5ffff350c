"""Microsoft Teams through a Teams Workflows webhook: each alert is one Adaptive Card.

The school creates the webhook in the channel's Workflows menu, with the template "Post to a
channel when a webhook request is received"; it posts the card of every request to the channel. The
request is ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}`` (Microsoft's "Create
Incoming Webhooks" and Power Automate's "Create flows that post adaptive cards to Microsoft Teams":
the workflow reads ``attachments[0].content``), and the trigger answers ``202 Accepted`` with no body.
A posted message may be at most 28 KB, and more than 4 requests a second are answered ``429``.

Text from outside (comments, names, error messages) goes into ``RichTextBlock`` text runs, which
Teams shows literally: a ``TextBlock`` would read its Markdown, so a comment could make a link.

**At least once.** The webhook gives no message id and cannot be asked what it posted, so
:meth:`find_sent` cannot tell. A request whose answer never came (a timeout after the body was sent,
a dropped connection), or a crash between the answer and its receipt, is sent again: the card can
appear twice in the channel. Each card carries its alert key in a small footer, so a person can tell
a repeat from a new alert. Refusals (4xx) and failures to connect are never in doubt.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from monitor.config import TeamsSettings
from monitor.errors import ChannelRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError, wait_seconds
from monitor.notify.base import Message, Notifier, Receipt, key_digest
from monitor.notify.render import (
    GROUP_LIMIT, TEXT_LIMIT, alert_reason, batch_headline, format_local, headline, payload_items, safe_url,
)

logger = logging.getLogger(__name__)

CARD = "application/vnd.microsoft.card.adaptive"
#: Teams refuses a posted message over about 28 KB; the card is kept under this
MAX_BYTES = 27 * 1024
#: Adaptive Card container style (its colour) by reason or kind
STYLE = {"threat": "attention", "self_harm": "attention", "personal_data": "warning", "abusive": "warning",
         "breach": "attention", "seen_late": "attention", "escalation": "attention", "source_auth": "attention",
         "source_down": "warning", "source_still_down": "warning", "source_recovered": "good"}


class TeamsNotifier(Notifier):
    channel = "teams"

    def __init__(self, settings: TeamsSettings, *, tz: ZoneInfo, client: httpx.Client | None = None):
        self.settings = settings
        self.tz = tz
        self.client = client or httpx.Client(timeout=settings.timeout.total_seconds(), follow_redirects=False)

    def send(self, message: Message) -> Receipt:
        body = message_body(message, self.tz)
        url = self.settings.webhook_url.get_secret_value()
        try:
            response = self.client.post(url, content=body, headers={"Content-Type": "application/json"})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NotifyError(f"cannot reach the Teams webhook ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            # the request may have left: the workflow may have posted the card
            raise DeliveryInDoubt(f"the Teams webhook gave no answer ({type(exc).__name__})") from exc
        return self._receipt(message, response)

    def _receipt(self, message: Message, response: httpx.Response) -> Receipt:
        status = response.status_code
        if 200 <= status < 300:
            return Receipt(id=f"teams:{key_digest(message.key)}", detail={"status": status})
        if status == 429:
            retry_after = _retry_after(response)
            raise NotifyError(f"Teams rate limit (retry after {retry_after or '?'} s)", retry_after=retry_after)
        if status in (401, 403, 404):
            raise ChannelRefused(
                f"the Teams webhook refused the request (HTTP {status}): the workflow was deleted or turned off, "
                "or notify.teams.webhook_url is wrong; copy the workflow's HTTP POST URL again"
            )
        if status in (400, 413):
            raise PermanentNotifyError(f"Teams refused the card for {message.key} (HTTP {status}): {_error(response)}")
        raise NotifyError(f"the Teams webhook failed (HTTP {status})")

    def close(self) -> None:
        self.client.close()


def message_body(message: Message, tz: ZoneInfo) -> bytes:
    """The webhook request body, under Teams' size limit (long comments are shortened, then items dropped)."""
    for text_limit, items_limit in ((TEXT_LIMIT, GROUP_LIMIT), (400, GROUP_LIMIT), (150, 8), (80, 3)):
        card = adaptive_card(message, tz, text_limit=text_limit, items_limit=items_limit)
        body = json.dumps({"type": "message", "attachments": [{"contentType": CARD, "content": card}]},
                          ensure_ascii=False).encode("utf-8")
        if len(body) <= MAX_BYTES:
            return body
    raise PermanentNotifyError(f"the Teams card for {message.key} cannot be made small enough")


def adaptive_card(message: Message, tz: ZoneInfo, *, text_limit: int = TEXT_LIMIT,
                  items_limit: int = GROUP_LIMIT) -> dict[str, Any]:
    kind, payload = message.kind, message.payload
    reason = alert_reason(kind, payload)
    title = headline(kind, payload)
    header: list[dict[str, Any]] = [_rich(title, weight="Bolder", size="Large")]
    if payload.get("message"):
        header.append(_rich(_clip(payload["message"], text_limit)))
    body: list[dict[str, Any]] = [{"type": "Container", "style": STYLE.get(reason or kind, "emphasis"),
                                   "bleed": True, "items": header}]
    body.extend(_listing(payload, tz, text_limit, items_limit))
    also = payload.get("also")
    if isinstance(also, dict) and (also.get("items") or also.get("notes")):
        body.append(_rich(f"Also waiting: {batch_headline(also)}", weight="Bolder", separator=True))
        body.extend(_listing(also, tz, text_limit, items_limit))
    body.append(_rich(f"alert {key_digest(message.key, 12)}", size="Small", subtle=True, separator=True))
    return {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msteams": {"width": "Full"}, "body": body}


def _listing(payload: dict[str, Any], tz: ZoneInfo, text_limit: int, items_limit: int) -> list[dict[str, Any]]:
    blocks = []
    for note in [n for n in payload.get("notes") or [] if isinstance(n, dict)]:
        blocks.append(_rich(str(note.get("title") or ""), weight="Bolder", separator=True))
        if note.get("message"):
            blocks.append(_rich(_clip(note["message"], text_limit)))
    items = payload_items(payload)
    for item in items[:items_limit]:
        blocks.extend(_item(item, tz, text_limit))
    if len(items) > items_limit:
        blocks.append(_rich(f"…and {len(items) - items_limit} more: see `monitor cases --open`", subtle=True))
    return blocks


def _item(item: dict[str, Any], tz: ZoneInfo, text_limit: int) -> list[dict[str, Any]]:
    who = f"{item.get('author') or 'someone'} on {item.get('source') or ''}"
    facts = []
    if item.get("why"):
        facts.append(f"Listed as: {item['why']}")
    if item.get("reasons"):
        facts.append("Why: " + "; ".join(str(r) for r in item["reasons"]))
    if item.get("due_at"):
        facts.append(f"Acknowledge by: {format_local(item['due_at'], tz)}")
    if item.get("seen_at"):
        facts.append(f"First seen: {format_local(item['seen_at'], tz)}, after its deadline")
    if item.get("case_id") is not None:
        facts.append(f"Case {item['case_id']}: monitor ack {item['case_id']} --by NAME")
    blocks: list[dict[str, Any]] = [
        _rich(who, weight="Bolder", separator=True),
        _rich(_clip(item.get("text"), text_limit), italic=True),
    ]
    blocks.extend(_rich(fact, size="Small") for fact in facts)
    link = safe_url(item.get("url"))
    if link:
        blocks.append({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": link}]})
    return blocks


def _rich(text: str, *, separator: bool = False, subtle: bool = False, **run: Any) -> dict[str, Any]:
    """A RichTextBlock of one literal text run (no Markdown is read in it)."""
    text_run: dict[str, Any] = {"type": "TextRun", "text": str(text), **run}
    if subtle:
        text_run["isSubtle"] = True
    block: dict[str, Any] = {"type": "RichTextBlock", "inlines": [text_run]}
    if separator:
        block["separator"] = True
    return block


def _clip(text: Any, limit: int) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    return wait_seconds(response.headers.get("Retry-After"))


def _error(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or error.get("code") or response.text[:200])
    except (ValueError, AttributeError):
        return response.text[:200]
