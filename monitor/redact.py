"""Secrets written into URLs stay out of everything a person or a file can read.

A school may configure a private feed's ``url = "https://user:password@news.example/feed.xml"`` (a
platform API's address with credentials is refused: see :func:`monitor.config.refuse_credentials`) or
a feed ``url`` with ``?key=...``: such a URL travels into error messages, and from there into the poll's output, the log,
``monitor status``, the database and the alerts. :func:`redact_urls` replaces, in any text, every URL's
userinfo with ``***`` and every query value with ``***`` (the names are kept, to tell the URLs apart).

It is applied where such text is made or leaves: every :class:`~monitor.errors.SourceError` message,
every configuration refusal, every recorded poll failure, every log line the command line writes (:class:`RedactingFormatter`), and
httpx's own request log (:class:`RedactingFilter`, installed by ``connectors.http``).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from monitor.sanitize import PrintableFormatter

MASK = "***"

# a scheme, "://", then everything up to whitespace, a quote or an angle bracket
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s'\"<>`]+")
_QUERY_VALUE = re.compile(r"([^&;=]*)=([^&;]*)")


def redact_url(url: str) -> str:
    """``https://u:p@host/path?key=abc&x=1`` -> ``https://***@host/path?key=***&x=***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _mask_loosely(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = _QUERY_VALUE.sub(lambda m: f"{m.group(1)}={MASK}" if m.group(2) else m.group(0), parts.query)
    if query == parts.query and netloc == parts.netloc:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_urls(text: str) -> str:
    """``text`` with every URL in it redacted (see :func:`redact_url`)."""
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match) -> str:
    # punctuation that ends a sentence ("cannot reach https://host/x: refused") is not the URL's
    url = match.group(0)
    bare = url.rstrip(".,;:!?)]}")
    return redact_url(bare) + url[len(bare):]


def _mask_loosely(url: str) -> str:
    """For a URL too broken to split: everything before an '@' and after a '?' goes."""
    scheme, sep, rest = url.partition("://")
    rest = rest.rpartition("@")[2] if "@" in rest.split("/", 1)[0] else rest
    base, question, _ = rest.partition("?")
    return f"{scheme}{sep}{base}{question}{MASK if question else ''}"


class RedactingFilter(logging.Filter):
    """A logger filter that redacts the URLs of each record's message (httpx logs every request's URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingFormatter(PrintableFormatter):
    """A log formatter whose every line (message, arguments and traceback) has its URLs redacted,
    and whose message shows its control characters as escapes (:class:`PrintableFormatter`)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_urls(super().format(record))
