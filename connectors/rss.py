"""RSS and Atom feeds (news, blogs, Google Alerts, Reddit searches) through feedparser.

The feed is fetched with httpx (conditional GET with the ETag and Last-Modified of the previous
answer, a timeout, a polite User-Agent) and the bytes are handed to feedparser with the response
headers, so that it can honour the declared encoding.

Some feeds (Google News) change an entry's guid and link between fetches. An entry is therefore new
only if neither its guid nor its normalised (title, link) key was seen recently; the cursor keeps a
bounded list of both, and the store's uniqueness on the native id covers the rest.

A feed that is not read whole (malformed: feedparser's "bozo") never saves its validators, so the next
poll asks for all of it again. Two kinds are told apart by whether the document closes its root element:

- *cut short* (a dropped connection, a proxy's limit: the document ends before its root closes). The
  last entry parsed is where the cut fell: its text, guid or date may be missing, and stored now it
  would be stored twice (under a key made from what was left) or kept truncated (its guid deduplicates
  the whole version later, so the lost end of its text is never read). It is left, with any entry that
  has neither guid nor link, for the next poll, which reads them whole. A feed that never closes its
  root at all loses only the entry at its end, and a feed lists its newest first: the others were read
  when they were higher up.
- *malformed but whole* (a bad character or an undefined entity mid-document, junk after the root):
  every entry feedparser's lenient parser reads is kept, the last one too.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import logging
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import httpx
from pydantic import ValidationInfo, field_validator

from connectors.base import (
    MALFORMED,
    AuthError,
    Connector,
    Cursor,
    Item,
    RateLimited,
    SourceSettings,
    TransientError,
    skip_record,
)
from connectors.http import MiB, RedirectRefused, ResponseTooLarge, reason
from monitor.errors import MAX_WAIT
from monitor.config import check_web_address

logger = logging.getLogger(__name__)

#: How many recent guids and keys the cursor remembers (a feed rarely holds more entries).
SEEN_LIMIT = 3000
TEXT_LIMIT = 5000


class RSSSettings(SourceSettings):
    # a private feed may sit behind HTTP Basic: "https://name:password@host/feed.xml" (masked when shown)
    credentials_in_address = True

    type: Literal["rss"] = "rss"
    #: the feed's http(s) address; with a base_url, it may be relative to it
    url: str
    #: "mention" for what others write about the school, "post" for the school's own feed
    kind: Literal["mention", "post"] = "mention"

    @field_validator("url")
    @classmethod
    def _feed_address(cls, value: str, info: ValidationInfo) -> str:
        base = info.data.get("base_url")
        value = value.strip()
        check_web_address(urljoin(base, value) if base else value)
        return value


class RSSConnector(Connector):
    type = "rss"
    Settings = RSSSettings
    renew_hint = "check that the feed's url still answers (for Google Alerts, the alert may have been deleted)"
    max_body_default = 16 * MiB  # a news site's full-text feed can be a few MB

    @property
    def url(self) -> str:
        settings: RSSSettings = self.settings  # type: ignore[assignment]
        return urljoin(settings.base_url, settings.url) if settings.base_url else settings.url

    def fetch(self, cursor: Cursor | None) -> tuple[list[Item], Cursor | None]:
        cursor = dict(cursor or {})
        response = self._get(cursor)
        if response.status_code == 304:
            return [], cursor
        try:
            parsed = parse_feed(response.content, _headers_for_feedparser(response))
        except (UnicodeError, ValueError) as exc:
            raise TransientError(f"{self.url} returned a feed that cannot be parsed: {exc}") from exc
        if parsed.bozo and not parsed.entries:
            reason = getattr(parsed, "bozo_exception", "unreadable")
            raise TransientError(f"{self.url} did not return a readable feed: {reason}")
        entries = list(parsed.entries)
        if parsed.bozo and cut_short(response.content, parsed.get("encoding")):
            entries = [entry for entry in entries[:-1] if entry.get("id") or entry.get("link")]
            logger.warning("source=%s feed was cut short (%s); keeping its %d whole entries, and asking for "
                           "the whole feed again next time", self.name, parsed.bozo_exception, len(entries))
        elif parsed.bozo:
            logger.warning("source=%s feed is malformed (%s); keeping its readable entries, "
                           "and asking for the whole feed again next time", self.name, parsed.bozo_exception)
        seen_ids = list(cursor.get("ids", []))
        seen_keys = list(cursor.get("keys", []))
        known = set(seen_ids) | set(seen_keys)
        items: list[Item] = []
        for entry in entries:
            try:
                item = self._to_item(entry)
            except MALFORMED as exc:
                skip_record(self.name, dict(entry), str(exc))
                continue
            key = item.raw["key"]
            if item.native_id in known or key in known:
                continue
            known.update((item.native_id, key))
            seen_ids.append(item.native_id)
            seen_keys.append(key)
            items.append(item)
        # the validators say "you have this version": true only of a feed read whole. A feed cut short
        # (or otherwise malformed) keeps the previous ones, so the next poll gets it in full, not a 304
        read_whole = not parsed.bozo
        next_cursor = {
            "etag": response.headers.get("etag") if read_whole else cursor.get("etag"),
            "modified": response.headers.get("last-modified") if read_whole else cursor.get("modified"),
            "ids": seen_ids[-SEEN_LIMIT:],
            "keys": seen_keys[-SEEN_LIMIT:],
        }
        return items, next_cursor

    def _get(self, cursor: dict[str, Any]) -> httpx.Response:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("modified"):
            headers["If-Modified-Since"] = cursor["modified"]
        try:
            response = self.http.get(self.url, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.url} timed out ({reason(exc)})") from exc
        except (ResponseTooLarge, RedirectRefused) as exc:
            raise TransientError(f"{self.url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"cannot reach {self.url}: {exc}") from exc
        status = response.status_code
        if status in (401, 403):
            raise AuthError(f"{self.url} refused access (HTTP {status})")
        if status == 429:
            raise RateLimited(f"{self.url} asked us to slow down (HTTP 429)", retry_after(response, self.clock()))
        if status >= 400:
            raise TransientError(f"{self.url} answered HTTP {status}")
        return response

    def _to_item(self, entry: Any) -> Item:
        title = strip_html(entry.get("title", ""))
        link = unwrap_link(entry.get("link") or "")
        if not title and not link:
            raise ValueError("entry has neither title nor link")
        summary = strip_html(entry.get("summary", ""))
        text = title if not summary or summary == title else f"{title}\n{summary}"
        key = entry_key(title, link)
        native_id = (entry.get("id") or entry.get("guid") or link or key)[:500]
        return Item(
            source=self.name,
            native_id=native_id,
            kind=self.settings.kind,  # type: ignore[attr-defined]
            text=text[:TEXT_LIMIT],
            created_at=entry_time(entry) or self.clock(),
            url=link or None,
            author_name=strip_html(entry.get("author", "")) or None,
            raw={"key": key, "title": title[:300], "feed_id": str(entry.get("id", ""))[:300]},
        )


def retry_after(response: httpx.Response, now: datetime) -> datetime | None:
    """The moment a Retry-After header (seconds or an HTTP date) points to, if any, at most
    :data:`~monitor.errors.MAX_WAIT` away (a 20-digit number of seconds is a day, not an error)."""
    value = (response.headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return now + min(timedelta(seconds=min(int(value), MAX_WAIT.total_seconds())), MAX_WAIT)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return min(when, now + MAX_WAIT)


_CHAR_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def parse_feed(content: bytes, headers: dict[str, str] | None = None) -> Any:
    """feedparser's reading of a feed's bytes (the parsing seam, also used by the fuzz tests).

    feedparser's lenient parser crashes on a character reference to a surrogate (``&#xD800;``),
    which broken feeds do contain: such references are read as U+FFFD instead.
    """
    try:
        return feedparser.parse(content, response_headers=headers or {})
    except UnicodeError:
        return feedparser.parse(_CHAR_REFERENCE.sub(_safe_reference, content), response_headers=headers or {})


def _safe_reference(match: re.Match) -> bytes:
    hex_digits, decimal = match.groups()
    code = int(hex_digits, 16) if hex_digits else int(decimal)
    return match.group(0) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else b"&#xFFFD;"


_MARKUP_BEFORE_ROOT = re.compile(r"<!--(?:(?!-->).)*-->|<\?(?:(?!\?>).)*\?>|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.S | re.I)
_START_TAG = re.compile(r"<([^\s/>!?]+)")


def cut_short(content: bytes, encoding: str | None) -> bool:
    """Whether a document ends before its root element closes (``<rss>`` without ``</rss>``), as one
    cut off by a dropped connection or a proxy does; a document malformed in the middle still closes."""
    try:
        text = content.decode(encoding or "utf-8", "replace")
    except LookupError:  # an encoding Python does not know: the tags are ASCII in any case that matters
        text = content.decode("utf-8", "replace")
    root = _START_TAG.search(_MARKUP_BEFORE_ROOT.sub("", text[:65536]))
    if root is None:
        return True
    return re.search(r"</\s*" + re.escape(root.group(1)) + r"\s*>", text) is None


def _headers_for_feedparser(response: httpx.Response) -> dict[str, str]:
    keep = ("content-type", "content-location", "content-language", "etag", "last-modified")
    return {k: v for k, v in response.headers.items() if k.lower() in keep}


def entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # the plain dict lookup: feedparser's own maps a missing updated_parsed to published_parsed, with a warning
        value = dict.get(entry, key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    return None


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(value: str) -> str:
    """Plain text of an HTML fragment (Google Alerts puts <b> tags in titles), whitespace collapsed."""
    if not value:
        return ""
    if "<" in value or "&" in value:
        parser = _TextExtractor()
        parser.feed(value)
        parser.close()
        value = html.unescape("".join(parser.parts))
    return re.sub(r"\s+", " ", value).strip()


def unwrap_link(link: str) -> str:
    """The real article behind a Google redirect (``google.com/url?...&url=REAL``), tracking removed."""
    parts = urlsplit(link.strip())
    host = parts.netloc.lower()
    if (host.startswith("www.google.") or host.startswith("google.")) and parts.path == "/url":
        params = dict(parse_qsl(parts.query))
        target = params.get("url") or params.get("q")
        if target:
            parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith("utm_")]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def entry_key(title: str, link: str) -> str:
    """A stable key from the title and the link, immune to case, spacing and tracking parameters."""
    parts = urlsplit(link)
    normal_link = urlunsplit(("", parts.netloc.lower().removeprefix("www."), parts.path.rstrip("/"), parts.query, ""))
    normal_title = re.sub(r"\W+", " ", title.casefold()).strip()
    digest = hashlib.sha256(f"{normal_title}\n{normal_link}".encode("utf-8")).hexdigest()[:24]
    return f"key:{digest}"
