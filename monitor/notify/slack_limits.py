"""Slack's size and shape limits, enforced on a finished message just before it is posted.

Whatever the renderer built (a comment made of 1,600 ``&``, each 5 characters once escaped; 1,500
quoted lines; a 4,000-character name), :func:`fit_message` returns text and blocks that Slack accepts.
It runs after escaping and quoting, so what it counts is what Slack counts, and it never cuts an
entity (``&amp;``) or a link (``<url|open>``) in half.

The limits, from Slack's Block Kit reference (docs.slack.dev/reference/block-kit):

- a message holds at most 50 blocks;
- a section's text at most 3,000 characters, its fields at most 10 of 2,000 each;
- a context block at most 10 elements, a text object at most 3,000 characters;
- an actions block at most 25 elements; a button's text at most 75 characters, its value at most
  2,000, its ``action_id`` and any ``block_id`` at most 255;
- a header's text at most 150 characters.

Two more are not in the Block Kit pages. All the blocks' text together: Slack's maintainers give
"12,000 text characters with a buffer for block containers" (slackapi/bolt-js issues 2509 and 2867,
``msg_blocks_too_long``); we keep under :data:`TOTAL_TEXT`. The ``text`` field is truncated by Slack
past 40,000 characters (changelog "Truncating really long messages", 2018) and Slack asks for far
less; it is only the notification's fallback, so we keep :data:`FALLBACK_TEXT`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
CONTEXT_ELEMENTS = 10
TEXT_OBJECT = 3000
ACTION_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID_LENGTH = 255
HEADER_TEXT = 150
#: all the blocks' text together, under Slack's undocumented cumulative limit (about 12,000)
TOTAL_TEXT = 11000
#: the plain ``text`` (notification) field
FALLBACK_TEXT = 3000
#: a section is never clipped below this to make room for the others
MIN_SECTION = 200

ELLIPSIS = "…"
_OPEN_ENTITY = re.compile(r"&[a-z#0-9]{0,8}$")


def clip_mrkdwn(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with an ellipsis, never inside an
    entity or a ``<...>`` link."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    cut = _OPEN_ENTITY.sub("", cut)
    return cut + ELLIPSIS


def fit_message(text: str, blocks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(text, blocks) within Slack's limits (a copy: the arguments are not changed)."""
    blocks = [_fit_block(block) for block in copy.deepcopy(blocks) if isinstance(block, dict)]
    blocks = [block for block in blocks if block is not None]
    if len(blocks) > MAX_BLOCKS:
        dropped = len(blocks) - (MAX_BLOCKS - 1)
        blocks = blocks[: MAX_BLOCKS - 1] + [_note(f"…{dropped} more parts of this alert are not shown: "
                                                    "see `monitor cases --open` on the server")]
    _share_total(blocks)
    return clip_mrkdwn(text, FALLBACK_TEXT), blocks


def plain_version(text: str, error: str) -> str:
    """The minimal message posted when Slack refused the full one."""
    note = (f"\n(Slack refused the full alert: {error}. See `monitor cases --open` "
            "or `monitor status` on the server for the details.)")
    return clip_mrkdwn(text, FALLBACK_TEXT - len(note)) + note


def _fit_block(block: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(block.get("block_id"), str) and len(block["block_id"]) > ID_LENGTH:
        del block["block_id"]  # Slack makes one up
    kind = block.get("type")
    if kind == "section":
        _fit_text(block.get("text"), SECTION_TEXT)
        if isinstance(block.get("fields"), list):
            block["fields"] = block["fields"][:MAX_FIELDS]
            for field in block["fields"]:
                _fit_text(field, FIELD_TEXT)
    elif kind == "context":
        elements = block.get("elements") if isinstance(block.get("elements"), list) else []
        block["elements"] = elements[:CONTEXT_ELEMENTS]
        for element in block["elements"]:
            _fit_text(element, TEXT_OBJECT)
    elif kind == "header":
        _fit_text(block.get("text"), HEADER_TEXT)
    elif kind == "actions":
        elements = [e for e in block.get("elements") or [] if isinstance(e, dict) and _fit_button(e)]
        if not elements:
            return None  # an actions block must have elements
        block["elements"] = elements[:ACTION_ELEMENTS]
    return block


def _fit_button(element: dict[str, Any]) -> bool:
    """Clip a button's label; False (drop it) if its value or id would not fit: they cannot be cut."""
    if element.get("type") == "button":
        _fit_text(element.get("text"), BUTTON_TEXT)
    value, action_id = element.get("value"), element.get("action_id")
    return not (isinstance(value, str) and len(value) > BUTTON_VALUE) and \
        not (isinstance(action_id, str) and len(action_id) > ID_LENGTH)


def _fit_text(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = clip_mrkdwn(obj["text"], limit) or " "


def _texts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The text objects of the blocks, where Slack counts characters."""
    found = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"])
        for key in ("fields", "elements"):
            for element in block.get(key) or []:
                if isinstance(element, dict) and isinstance(element.get("text"), str):
                    found.append(element)
                elif isinstance(element, dict) and isinstance(element.get("text"), dict):
                    found.append(element["text"])
    return [obj for obj in found if isinstance(obj.get("text"), str)]


def _share_total(blocks: list[dict[str, Any]]) -> None:
    """Clip the longest texts, each in proportion, until all of them together fit :data:`TOTAL_TEXT`."""
    texts = _texts(blocks)
    total = sum(len(obj["text"]) for obj in texts)
    if total <= TOTAL_TEXT:
        return
    long = [obj for obj in texts if len(obj["text"]) > MIN_SECTION]
    fixed = total - sum(len(obj["text"]) for obj in long)
    share = max(TOTAL_TEXT - fixed, MIN_SECTION * len(long)) / max(sum(len(obj["text"]) for obj in long), 1)
    for obj in long:
        obj["text"] = clip_mrkdwn(obj["text"], max(int(len(obj["text"]) * share), MIN_SECTION))


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
