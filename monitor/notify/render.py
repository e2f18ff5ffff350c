"""Turns an alert's payload into a Slack message (Block Kit) and an email (text and HTML).

Payloads are plain JSON written into the outbox (see ``docs/ALERTS.md`` for the fields). Text
that came from outside (comments, names, titles, error messages) is escaped where it is placed:
``&``, ``<`` and ``>`` become entities in Slack mrkdwn, so ``<!channel>`` in a comment pings
nobody, and everything is HTML-escaped in email. An email's text and HTML parts show control
characters (ESC, the other C0 and C1 controls, bidi overrides) as escapes such as ``\\x1b``, as the
terminal does (:func:`~monitor.sanitize.printable_lines`), and its subject and names are one line each.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from monitor.notify.routing import reason_of
from monitor.sanitize import NAME_LIMIT, one_line, printable_lines

#: a comment is cut to this length in a message (Slack sections hold 3000 characters)
TEXT_LIMIT = 1500
#: a headline is cut to this length, on one line
TITLE_LIMIT = 300
#: ``*_~`` and backtick inside quoted comments: asterisk operator, full-width low line, tilde operator,
#: modifier grave accent (Slack has no escape for its formatting characters)
_MRKDWN_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"})
#: a grouped alert lists at most this many items (Slack allows 50 blocks per message)
GROUP_LIMIT = 15

HEADLINES = {
    "flagged": "Possibly abusive {what} on {source}",
    "seen_late": "Seen after its deadline: {count} {comments} on {source} not acknowledged in time",
    "new_comments": "{count} new {comments} on {source} to acknowledge",
    "reminder": "Reminder: a comment on {source} must be acknowledged soon",
    "breach": "Deadline missed: a comment on {source} was not acknowledged in time",
    "escalation": "Escalated: a comment on {source}",
}

#: a flagged item's headline and mark by its reason (see monitor.notify.routing)
REASON_HEADLINES = {
    "threat": "Threat of violence in a {what} on {source}",
    "self_harm": "Possible self-harm: a {what} on {source} needs the safeguarding lead",
    "personal_data": "Personal data posted in a {what} on {source}",
    "abusive": "Possibly abusive {what} on {source}",
}
REASON_EMOJI = {"threat": ":rotating_light:", "self_harm": ":sos:", "personal_data": ":lock:", "abusive": ":warning:"}
#: the colour of a flagged item's email heading (and of the Teams card), by reason
REASON_COLOUR = {"threat": "#b00020", "self_harm": "#6a1b9a", "personal_data": "#e65100", "abusive": "#f9a825"}

EMOJI = {"flagged": ":warning:", "seen_late": ":hourglass:", "batch": ":inbox_tray:", "new_comments": ":speech_balloon:", "reminder": ":alarm_clock:",
         "breach": ":rotating_light:", "escalation": ":rotating_light:", "source_auth": ":no_entry:",
         "source_down": ":warning:", "source_still_down": ":warning:", "source_recovered": ":white_check_mark:"}


@dataclass(frozen=True)
class EmailParts:
    subject: str
    text: str
    html: str


def slack_escape(text: Any) -> str:
    """External text made inert for Slack mrkdwn: no mentions, links or broadcasts."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(text: Any) -> dict[str, Any]:
    """A name or a line from outside shown as it is written: a ``plain_text`` object, which Slack does
    not format (``_`` and ``*`` read as themselves) and where no mention or link is parsed. ``&<>``
    are still escaped, as Slack asks of every text object (docs.slack.dev/messaging/formatting-message-text,
    "Escaping text"), and ``:name:`` stays text (``emoji`` false)."""
    return {"type": "plain_text", "text": slack_escape(text) or " ", "emoji": False}


def inert_mrkdwn(text: str) -> str:
    """Quoted text that cannot format the alert: ``*_~`` and backticks become lookalikes.

    Slack's mrkdwn has no escape for them (a backslash shows as itself, slackhq/slack-api-docs#34),
    so a comment's ``*All cases acknowledged*`` or a ``` code fence would otherwise be rendered.
    """
    return text.translate(_MRKDWN_LOOKALIKES)


def safe_url(url: Any) -> str | None:
    """An http(s) URL with the characters that would break a Slack link encoded, else None."""
    if not isinstance(url, str) or urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        return None
    return quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%~-._")


def format_local(value: Any, tz: ZoneInfo) -> str:
    """An ISO 8601 instant shown in the school's time zone, e.g. ``Tue 17 Nov 2026 09:00 GMT``."""
    if not value:
        return "unknown"
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")


def headline(kind: str, payload: dict[str, Any]) -> str:
    """The one-line summary (plain text, not yet escaped)."""
    if payload.get("title"):
        return one_line(payload["title"], TITLE_LIMIT)
    items = payload.get("items") or []
    item = payload.get("item") or {}
    if kind == "batch":
        return batch_headline(payload)
    source = payload.get("source") or item.get("source") or "a source"
    template = HEADLINES.get(kind)
    reason = alert_reason(kind, payload)
    if reason is not None:
        template = REASON_HEADLINES[reason]
    if template is None:
        return kind.replace("_", " ").capitalize()
    return one_line(template.format(
        source=source, count=len(items), comments="comment" if len(items) == 1 else "comments",
        what=item.get("kind") or "comment",
    ), TITLE_LIMIT)


def batch_headline(payload: dict[str, Any]) -> str:
    """"5 comments to acknowledge (2 due soon)", or the one note's title, for a batch of routine alerts."""
    items = [i for i in payload.get("items") or [] if isinstance(i, dict)]
    notes = [n for n in payload.get("notes") or [] if isinstance(n, dict)]
    if not items:
        if len(notes) == 1:
            return str(notes[0].get("title") or "An update from the monitor")
        return f"{len(notes)} updates from the monitor"
    soon = sum(1 for i in items if str(i.get("why", "")).startswith("reminder"))
    title = f"{len(items)} {'comment' if len(items) == 1 else 'comments'} to acknowledge"
    if soon:
        title += f" ({soon} due soon)" if len(items) > 1 else " soon"
    sources = sorted({str(i.get("source")) for i in items if i.get("source")})
    if len(sources) == 1:
        title += f" on {sources[0]}"
    return title


def alert_reason(kind: str, payload: dict[str, Any]) -> str | None:
    """A flagged item's reason (threat, self_harm, personal_data, abusive); None for other alerts."""
    if kind != "flagged":
        return None
    item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
    return reason_of({**item, "flagged": True})


def payload_items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(payload.get("item"), dict):
        return [payload["item"]]
    return [i for i in payload.get("items") or [] if isinstance(i, dict)]


def _clip(text: Any) -> str:
    text = str(text or "")
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "…"


def _labels(item: dict[str, Any]) -> str:
    labels = item.get("labels") or {}
    if isinstance(labels, dict):
        ordered = sorted(labels.items(), key=lambda kv: -float(kv[1] or 0))
        return ", ".join(f"{name} {float(score):.2f}" for name, score in ordered)
    return ", ".join(str(label) for label in labels)


# -- Slack ----------------------------------------------------------------------------------------


def slack_message(kind: str, payload: dict[str, Any], tz: ZoneInfo) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) for one alert."""
    title = headline(kind, payload)
    reason = alert_reason(kind, payload)
    mark = REASON_EMOJI[reason] if reason else EMOJI.get(kind, ":bell:")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{mark} *{slack_escape(title)}*"}}
    ]
    if payload.get("message"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(_clip(payload["message"]))}})
    if payload.get("text") and not payload_items(payload):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(_clip(payload["text"]))}})
    blocks.extend(_slack_list(payload, tz, kind))
    also = payload.get("also")
    if isinstance(also, dict) and (also.get("items") or also.get("notes")):
        blocks.append({"type": "divider"})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"*Also waiting:* {slack_escape(batch_headline(also))}"}]})
        shown = {i.get("item_id") for i in payload_items(payload)}
        rest = [i for i in payload_items(also) if i.get("item_id") not in shown]  # block ids stay unique
        blocks.extend(_slack_list({**also, "items": rest}, tz, "batch"))
    return slack_escape(title), blocks


def _slack_list(payload: dict[str, Any], tz: ZoneInfo, kind: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for note in [n for n in payload.get("notes") or [] if isinstance(n, dict)][:GROUP_LIMIT]:
        text = f"*{slack_escape(note.get('title') or '')}*" + (f"\n{slack_escape(_clip(note['message']))}" if note.get("message") else "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    items = payload_items(payload)
    for item in items[:GROUP_LIMIT]:
        blocks.extend(slack_item_blocks(item, tz, kind=kind))
    if len(items) > GROUP_LIMIT:
        more = len(items) - GROUP_LIMIT
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {more} more: see `monitor cases --open`"}]})
    return blocks


def slack_item_blocks(item: dict[str, Any], tz: ZoneInfo, *, kind: str) -> list[dict[str, Any]]:
    author = one_line(item.get("author") or "someone", NAME_LIMIT) or "someone"
    byline = [plain_text(f"{author} on {item.get('source') or ''}")]
    link = safe_url(item.get("url"))
    if link:
        byline.append({"type": "mrkdwn", "text": f"<{link}|open>"})
    text = _clip(item.get("text"))
    lines = ["\n".join("> " + inert_mrkdwn(slack_escape(line)) for line in (text.splitlines() or [""]))]
    facts = []
    if item.get("why"):
        facts.append(f"*Listed as:* {slack_escape(item['why'])}")
    if item.get("labels"):
        facts.append(f"*Labels:* {slack_escape(_labels(item))}")
    if item.get("reasons"):
        facts.append("*Why:* " + slack_escape("; ".join(str(r) for r in item["reasons"])))
    if item.get("due_at"):
        facts.append(f"*Acknowledge by:* {format_local(item['due_at'], tz)}")
    if item.get("seen_at"):
        facts.append(f"*First seen:* {format_local(item['seen_at'], tz)}, after its deadline")
    blocks: list[dict[str, Any]] = [{"type": "context", "elements": byline},
                                    {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines + facts)}}]
    buttons = slack_buttons(item, kind=kind)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"actions:{item.get('item_id')}", "elements": buttons})
    return blocks


def slack_buttons(item: dict[str, Any], *, kind: str) -> list[dict[str, Any]]:
    """Acknowledge (when a case is open), Escalate, Not abusive (for a flagged item), and the platform
    actions the item's source allows (Reply; Hide, Delete, Block author and Report behind a confirmation)."""
    if item.get("item_id") is None:
        return []
    value = json.dumps({"case": item.get("case_id"), "item": item.get("item_id")})
    buttons = []
    if item.get("case_id") is not None:
        buttons.append(_button("Acknowledge", "acknowledge", value, "primary"))
    buttons.append(_button("Escalate", "escalate", value, "danger"))
    if item.get("flagged") or kind == "flagged":
        buttons.append(_button("Not abusive", "not_abusive", value))
    actions = item.get("actions") if isinstance(item.get("actions"), list) else []
    if "reply" in actions:
        buttons.append(_button("Reply", "reply", value))
    if "hide" in actions:
        buttons.append({**_button("Hide", "hide", value), "confirm": _confirm(
            "Hide this comment?", "It is hidden from everyone on the platform except its author and their friends.",
            "Hide")})
    if "delete" in actions:
        buttons.append({**_button("Delete", "delete", value, "danger"), "confirm": _confirm(
            "Delete this comment?", "It is deleted from the platform for good: the monitor keeps its copy.",
            "Delete")})
    if "block" in actions:
        buttons.append({**_button("Block author", "block", value, "danger"), "confirm": _confirm(
            "Block this author?", "The school's account blocks them: they can no longer follow the school there, "
            "and the monitor, which reads as the school, no longer sees their new posts. Their post stays public.",
            "Block")})
    if "report" in actions:
        buttons.append({**_button("Report", "report", value), "confirm": _confirm(
            "Report this post?", "It is reported to the platform's moderators, who decide what to do. "
            "It stays public until they act.", "Report")})
    return buttons


def notice_button(item_id: int, case_id: int | None) -> dict[str, Any]:
    """"Tell the audience", offered on an item's message once it was hidden or deleted from Slack."""
    return _button("Tell the audience", "notice", json.dumps({"case": case_id, "item": item_id}))


def _confirm(title: str, text: str, confirm: str) -> dict[str, Any]:
    """Slack's confirmation dialog, shown before the click is sent."""
    return {"title": {"type": "plain_text", "text": title}, "text": {"type": "plain_text", "text": text},
            "confirm": {"type": "plain_text", "text": confirm}, "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger"}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


# -- email ----------------------------------------------------------------------------------------


def email_parts(kind: str, payload: dict[str, Any], tz: ZoneInfo, school: str) -> EmailParts:
    """Subject, plain text and HTML for one alert (a payload with its own subject is sent as given)."""
    if payload.get("subject") and (payload.get("text") or payload.get("html")):
        text = str(payload.get("text") or "")
        body = str(payload.get("html") or f"<pre>{html.escape(text)}</pre>")
        return _inert(EmailParts(str(payload["subject"]), text, body))
    title = headline(kind, payload)
    text_lines = [title, ""]
    reason = alert_reason(kind, payload)
    style = f' style="border-left:6px solid {REASON_COLOUR[reason]};padding-left:8px"' if reason else ""
    html_parts = [f"<h2{style}>{html.escape(title)}</h2>"]
    for key in ("message", "text"):
        if payload.get(key) and not (key == "text" and payload_items(payload)):
            text_lines += [str(payload[key]), ""]
            html_parts.append(f"<p>{html.escape(str(payload[key]))}</p>")
    _email_list(payload, tz, text_lines, html_parts)
    also = payload.get("also")
    if isinstance(also, dict) and (also.get("items") or also.get("notes")):
        text_lines += ["", f"Also waiting: {batch_headline(also)}", ""]
        html_parts.append(f"<hr><h3>Also waiting: {html.escape(batch_headline(also))}</h3>")
        _email_list(also, tz, text_lines, html_parts)
    text_lines.append(f"— {school} social media monitor")
    html_parts.append(f"<p style=\"color:#666\">{html.escape(school)} social media monitor</p>")
    return _inert(EmailParts(f"[{school}] {title}", "\n".join(text_lines), "\n".join(html_parts)))


def _inert(parts: EmailParts) -> EmailParts:
    """Control characters from outside shown as escapes in both parts (a terminal mail client would
    run an ESC sequence), the subject on one line."""
    return EmailParts(one_line(parts.subject), printable_lines(parts.text), printable_lines(parts.html))


def _email_list(payload: dict[str, Any], tz: ZoneInfo, text_lines: list[str], html_parts: list[str]) -> None:
    for note in [n for n in payload.get("notes") or [] if isinstance(n, dict)]:
        text_lines += [str(note.get("title") or ""), str(note.get("message") or ""), ""]
        html_parts.append(f"<p><b>{html.escape(str(note.get('title') or ''))}</b><br>{html.escape(str(note.get('message') or ''))}</p>")
    for item in payload_items(payload):
        lines, fragment = _email_item(item, tz)
        text_lines += lines + [""]
        html_parts.append(fragment)


def _email_item(item: dict[str, Any], tz: ZoneInfo) -> tuple[list[str], str]:
    author = one_line(item.get("author") or "someone", NAME_LIMIT) or "someone"
    source = one_line(item.get("source") or "")
    text = _clip(item.get("text"))
    # only a newline breaks the quote: \x1c, \x85 or U+2028 stay on their line, shown as escapes
    lines = [f"{author} on {source}:", *("  " + line for line in text.replace("\r\n", "\n").rstrip("\n").split("\n"))]
    facts = []
    if item.get("why"):
        facts.append(("Listed as", str(item["why"])))
    if item.get("labels"):
        facts.append(("Labels", _labels(item)))
    if item.get("reasons"):
        facts.append(("Why", "; ".join(str(r) for r in item["reasons"])))
    if item.get("due_at"):
        facts.append(("Acknowledge by", format_local(item["due_at"], tz)))
    if item.get("seen_at"):
        facts.append(("First seen", f"{format_local(item['seen_at'], tz)}, after its deadline"))
    if item.get("case_id") is not None:
        facts.append(("Case", f"{item['case_id']} (monitor ack {item['case_id']} --by NAME)"))
    link = safe_url(item.get("url"))
    if link:
        facts.append(("Link", link))
    lines += [f"{name}: {value}" for name, value in facts]
    rows = "".join(
        f"<tr><th align=\"left\">{html.escape(name)}</th><td>"
        + (f"<a href=\"{html.escape(value, quote=True)}\">{html.escape(value)}</a>" if name == "Link" else html.escape(value))
        + "</td></tr>"
        for name, value in facts
    )
    fragment = (
        f"<p><b>{html.escape(author)}</b> on {html.escape(source)}:</p>"
        f"<blockquote style=\"white-space:pre-wrap\">{html.escape(text)}</blockquote>"
        f"<table>{rows}</table>"
    )
    return lines, fragment
