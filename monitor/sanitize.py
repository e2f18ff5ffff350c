"""Text from outside made safe to show a person: on a terminal, in a log line, as a name.

Comments, names and platforms' error messages are written by strangers. On a terminal an ESC
sequence can clear the screen or recolour it, and a newline can forge a whole line ("case 12
acknowledged by Head"). So:

- :func:`printable` keeps the text readable but makes every control visible: a newline becomes the
  two characters ``\\n``, ESC becomes ``\\x1b``, and so do the other C0 and C1 controls, DEL, the
  Unicode line and paragraph separators and the bidirectional overrides (which can reorder what a
  line seems to say). Used for terminal output, log records and stored error text.
- :func:`printable_lines` does the same but keeps the line breaks: for a plain-text email (read in a
  terminal mail client such as mutt, where ESC sequences would run) and its HTML part.
- :class:`PrintableFormatter` does the same to every log message (a traceback keeps its lines).
- :func:`printable_json` is one JSON document (on one line, or indented), its strings' controls (the same
  ones) written as JSON escapes (``\\u202e``), so that it reads back to the same text.
- :func:`one_line` is for names and headlines inside a message: every run of whitespace or control
  characters becomes one space, and the result is clipped to a length.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

#: a person's name is clipped to this (Slack's own display names are at most 80 characters)
NAME_LIMIT = 80

#: DEL, C1 controls, line/paragraph separators, bidi embeddings, overrides, isolates (json.dumps leaves
#: these raw inside a string; it escapes the C0 controls itself)
_BEYOND_C0 = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: every control character: C0 and the above
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_BEYOND_C0 = re.compile(f"[{_BEYOND_C0}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SPACING = re.compile(f"(?:\\s|[\x00-\x1f{_BEYOND_C0}])+")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any) -> str:
    """``text`` with its control characters (newlines included) shown as escapes, on one line."""
    return _UNSAFE.sub(_escape, str(text))


def printable_lines(text: Any) -> str:
    """``text`` with its lines kept (``\\n``, or ``\\r\\n``, ends one) and every other control character
    shown as an escape, as :func:`printable` shows it."""
    return "\n".join(printable(line) for line in str(text).replace("\r\n", "\n").split("\n"))


def printable_json(document: Any, indent: int | None = None) -> str:
    """``document`` as JSON (on one line, or indented by ``indent``), every control character in its
    strings written as an escape."""
    # json.dumps escapes C0 controls inside strings itself (any left are the layout's own newlines); the
    # others it leaves raw, and inside a JSON string any character may be written as \uXXXX (RFC 8259,
    # section 7), which reads back the same
    text = json.dumps(document, ensure_ascii=False, indent=indent)
    return _UNSAFE_BEYOND_C0.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def one_line(text: Any, limit: int | None = None) -> str:
    """``text`` as one line: runs of whitespace and controls become one space; clipped to ``limit``."""
    flat = _SPACING.sub(" ", str(text)).strip()
    if limit is not None and len(flat) > limit:
        flat = flat[: max(limit - 1, 0)].rstrip() + "…"
    return flat


class PrintableFormatter(logging.Formatter):
    """A log formatter whose messages cannot forge a line: see :func:`printable`.

    Only the message is escaped: a traceback appended after it keeps its own lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)
