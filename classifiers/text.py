"""Text clean-up shared by training and inference, so the model sees the same thing in both.

``clean`` never raises: it accepts lone surrogates, control and zero-width characters,
right-to-left scripts and emoji, and returns ordinary printable text.
"""

from __future__ import annotations

import re
import unicodedata

_MENTION = re.compile(r"@\w+")
_REPEATED_MENTION = re.compile(r"(?:@user\s*){2,}")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REPEATED_SYMBOL = re.compile(r"([^A-Za-z0-9\s])\1+")
_ELLIPSIS = " … "


def to_valid_str(text: object) -> str:
    """Any value as a valid Unicode string (lone surrogates replaced, ``None`` empty)."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    text = str(text)
    return text.encode("utf-8", "replace").decode("utf-8")


def truncate(text: str, max_chars: int) -> str:
    """Keep the head and the tail of a long text: abuse often sits at either end."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    head = max_chars * 3 // 4
    tail = max_chars - head
    return text[:head] + _ELLIPSIS + text[-tail:]


def _emoji_word(char: str) -> str:
    try:
        return " " + unicodedata.name(char).lower() + " "
    except ValueError:
        return " "


def _strip_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):
        return " "
    if category in ("Cf", "Cs", "Co", "Cn", "Sk"):
        # Format characters (zero-width joiners, bidi marks), unassigned code points, skin-tone modifiers.
        return ""
    if category == "So" and ord(char) >= 0x2000:
        return _emoji_word(char)
    return char


def sanitize(text: object, max_chars: int = 2000) -> str:
    """Valid, bounded, printable text: head and tail kept, control and invisible characters gone."""
    text = truncate(to_valid_str(text), max_chars)
    text = "".join(
        (" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else "")
        if not c.isprintable() and unicodedata.category(c) not in ("Zs",) else c
        for c in text
    )
    return _SPACE.sub(" ", text).strip()


def clean(text: object, max_chars: int = 2000) -> str:
    """A post as the shipped model reads it: disguises undone (``classifiers.normalise``), mentions
    as ``@user``, no links, emoji as words."""
    from classifiers.normalise import normalise

    text = normalise(truncate(to_valid_str(text), max_chars))
    text = _URL.sub(" ", text)
    text = _MENTION.sub("@user", text)
    text = _REPEATED_MENTION.sub("@user ", text)
    if text.isascii():  # the same as the loop below, for the common case, at regex speed
        text = _REPEATED_SYMBOL.sub(r"\1", _CONTROL.sub(" ", text))
        return _SPACE.sub(" ", text).strip()
    out: list[str] = []
    previous = ""
    for char in text:
        if char == previous and not char.isalnum() and not char.isspace():
            continue  # "😂😂😂😂" says no more than "😂"
        previous = char
        out.append(_strip_char(char) if not char.isascii() or not char.isprintable() else char)
    return _SPACE.sub(" ", "".join(out)).strip()
