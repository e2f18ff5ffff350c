"""The RSS/Atom connector over real HTTP: conditional GET, faults, encodings, Google Alerts, dedupe."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.rss import RSSConnector, RSSSettings, entry_key, strip_html, unwrap_link
from monitor.demo.fakes.rss import FakeFeed
from monitor.errors import AuthError, RateLimited, TransientError
from monitor.store import Store, from_db
from monitor.demo.fakes.server import FakeServer, Request, Response
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def server():
    with FakeServer() as server:
        yield server


def connector(server: FakeServer, path: str = "/feed", timeout: str = "30s") -> RSSConnector:
    settings = RSSSettings(name="news", type="rss", url=server.url + path, timeout=timeout)
    return RSSConnector(settings, clock=lambda: NOW)


def serve(server: FakeServer, path: str, body: bytes, content_type: str = "application/rss+xml", **headers):
    server.route("GET", path)(lambda request: Response(200, body, {"Content-Type": content_type, **headers}))


def test_conditional_get_sends_validators_and_304_keeps_the_cursor(server):
    body = fixture("latin1.rss")

    @server.route("GET", "/feed")
    def feed(request: Request) -> Response:
        if request.header("if-none-match") == '"v1"':
            return Response(304, b"")
        return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": '"v1"',
                                    "Last-Modified": "Thu, 19 Nov 2026 10:00:00 GMT"})

    rss = connector(server)
    items, cursor = rss.fetch(None)
    assert len(items) == 1 and cursor["etag"] == '"v1"'
    again, same = rss.fetch(cursor)
    assert again == [] and same == cursor
    sent = server.requests[-1]
    assert sent.header("if-none-match") == '"v1"'
    assert sent.header("if-modified-since") == "Thu, 19 Nov 2026 10:00:00 GMT"
    assert "school-social-monitor" in sent.header("user-agent")


def test_declared_non_utf8_encoding_is_honoured(server):
    serve(server, "/feed", fixture("latin1.rss"))
    items, _ = connector(server).fetch(None)
    assert items[0].text == "Café opens near Ravens Wood £ school"
    assert items[0].created_at == datetime(2026, 11, 19, 10, 0, tzinfo=timezone.utc)


def test_google_alerts_links_are_unwrapped_and_titles_stripped(server):
    serve(server, "/alerts", fixture("google-alerts.atom"), "application/atom+xml")
    items, _ = connector(server, "/alerts").fetch(None)
    assert [i.url for i in items] == [
        "https://www.bromleynews.example/news/ravens-wood-charity",
        "https://schools.example/ofsted/ravens-wood",
    ]
    assert items[0].text.startswith("Ravens Wood School pupils raise £2,000 for charity")
    assert "<b>" not in items[0].text and items[0].kind == "mention"


def test_a_thousand_entries(server):
    serve(server, "/big", fixture("big-1000.rss"))
    items, cursor = connector(server, "/big").fetch(None)
    assert len(items) == 1000 and len({i.native_id for i in items}) == 1000
    assert connector(server, "/big").fetch(cursor)[0] == []


def test_changed_guids_with_the_same_story_are_not_new(server):
    version = {"n": 1}

    @server.route("GET", "/news")
    def news(request: Request) -> Response:
        n = version["n"]
        body = (
            '<rss version="2.0"><channel><title>t</title>'
            f"<item><title>Ravens Wood wins award</title><link>https://n.example/a?utm_source=rss{n}</link>"
            f"<guid>guid-{n}</guid></item></channel></rss>"
        )
        return Response(200, body, {"Content-Type": "application/rss+xml"})

    rss = connector(server, "/news")
    items, cursor = rss.fetch(None)
    assert len(items) == 1
    version["n"] = 2
    assert rss.fetch(cursor)[0] == []


def test_malformed_xml_keeps_readable_entries(server):
    serve(server, "/bad", fixture("malformed.xml"))
    items, _ = connector(server, "/bad").fetch(None)
    assert "First story" in [i.text for i in items]


def test_a_feed_cut_short_keeps_its_entries_but_not_its_validators(server):
    entries = "".join(f"<item><title>Story {n}</title><link>https://news.example/{n}</link></item>" for n in range(6))
    body = f"<rss><channel><title>News</title>{entries}</channel></rss>".encode()

    @server.route("GET", "/feed")
    def feed(request: Request) -> Response:
        if request.header("if-none-match") == '"v6"':
            return Response(304, b"")
        return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": '"v6"',
                                    "Last-Modified": "Fri, 20 Nov 2026 11:00:00 GMT"})

    rss = connector(server)
    server.cut_short(after=0)
    first, cursor = rss.fetch({"etag": '"v5"'})
    assert 0 < len(first) < 6 and cursor["etag"] == '"v5"' and cursor["modified"] is None
    rest, cursor = rss.fetch(cursor)  # the whole feed again, not a 304
    assert sorted(i.text for i in first + rest) == [f"Story {n}" for n in range(6)]  # each once
    assert cursor["etag"] == '"v6"' and rss.fetch(cursor) == ([], cursor)


def test_a_feed_cut_short_stores_each_entry_once_and_whole(tmp_path):
    """The entry the cut fell in (a title without its guid, link or date) is left for the next poll,
    which reads it whole: stored once, under its guid, with its date and its whole text."""
    published = [NOW - timedelta(hours=n) for n in range(6)]
    with FakeFeed() as feed:
        posted = [feed.add_comment(f"New story {n}\nWhat story {n} says, to its last word.", at=published[n])
                  for n in range(6)]
        rss = RSSConnector(RSSSettings(**feed.source_config("news")), clock=lambda: NOW + timedelta(days=1))
        store = Store(tmp_path / "monitor.db")
        feed.cut_short(after=0)
        first, cursor = rss.fetch(None)
        store.upsert_items(first)
        rest, cursor = rss.fetch(cursor)
        store.upsert_items(rest)
        rows = store.query("SELECT native_id, text, created_at FROM items ORDER BY native_id")
        store.close()
    assert 0 < len(first) < 6
    assert len(rows) == 6 and sorted(r["native_id"] for r in rows) == sorted(posted)
    for row in rows:
        n = posted.index(row["native_id"])
        assert row["text"] == f"New story {n}\nWhat story {n} says, to its last word."
        assert from_db(row["created_at"]) == published[n].replace(microsecond=0)


def test_an_entry_cut_mid_text_is_read_whole_next_time(server):
    """Its guid survived the cut, its text did not: stored now, the whole text would be deduplicated
    by the guid later and the end of it (here, the threat) never read."""
    long_text = "Ordinary words about the school fair. " * 40 + "I will hurt someone at the gate."
    items = [("s-1", "Fair", "Short."), ("s-2", "Bake sale", "Short too."), ("s-3", "Letter", long_text)]
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>' + "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>https://news.example/{g}</link><description>{d}</description></item>"
        for g, t, d in items) + "</channel></rss>").encode()
    assert body.index(b"<guid>s-3") < len(body) // 2 < body.index(b"I will hurt")  # the cut falls mid-text
    serve(server, "/feed", body)
    rss = connector(server)
    server.cut_short(after=0)
    first, cursor = rss.fetch(None)
    assert [i.native_id for i in first] == ["s-1", "s-2"]
    rest, _ = rss.fetch(cursor)
    assert [(i.native_id, i.text) for i in rest] == [("s-3", f"Letter\n{long_text}")]


@pytest.mark.parametrize("damage", [b"\x01", b"&nbsp;"], ids=["control character", "undefined entity"])
def test_a_feed_malformed_mid_document_keeps_every_entry(server, damage):
    """Malformed for good, but whole: its root closes. Every entry is kept, the last one too."""
    entries = "".join(f"<item><guid>g{n}</guid><title>Story {n}</title><link>https://news.example/{n}</link></item>"
                      for n in range(4))
    body = f"<rss><channel><title>News</title>{entries}</channel></rss>".encode().replace(b"Story 1", b"Story" + damage + b"1")
    serve(server, "/feed", body)
    items, _ = connector(server).fetch(None)
    assert [i.native_id for i in items] == ["g0", "g1", "g2", "g3"]


def test_a_private_feed_is_read_with_the_http_basic_credentials_in_its_address(server):
    expected = "Basic " + base64.b64encode(b"reader:pw-81").decode()

    @server.route("GET", "/private.xml")
    def private(request: Request) -> Response:
        if request.header("authorization") != expected:
            return Response(401, b"no")
        return Response(200, fixture("latin1.rss"), {"Content-Type": "application/rss+xml"})

    host = server.url.removeprefix("http://")
    items, _ = RSSConnector(RSSSettings(name="news", type="rss", url=f"http://reader:pw-81@{host}/private.xml")).fetch(None)
    assert len(items) == 1
    on_base = RSSSettings(name="news", type="rss", base_url=f"http://reader:pw-81@{host}/", url="private.xml")
    assert len(RSSConnector(on_base).fetch(None)[0]) == 1


def test_garbage_is_a_transient_error(server):
    serve(server, "/json", fixture("not-a-feed.json"), "application/json")
    with pytest.raises(TransientError, match="did not return a readable feed"):
        connector(server, "/json").fetch(None)


def test_429_is_rate_limited_until_retry_after(server):
    server.script(Response(429, "slow down", {"Retry-After": "120"}))
    with pytest.raises(RateLimited) as error:
        connector(server).fetch(None)
    assert error.value.retry_at == NOW + timedelta(seconds=120)


@pytest.mark.parametrize("status", [500, 502, 503, 404])
def test_server_errors_are_transient(server, status):
    server.script(Response(status, "oops"))
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        connector(server).fetch(None)


def test_401_is_an_auth_error(server):
    server.script(Response(401, "no"))
    with pytest.raises(AuthError):
        connector(server).fetch(None)


def test_a_hanging_server_times_out(server):
    server.script(Response(200, "late", delay=5))
    with pytest.raises(TransientError, match="timed out"):
        connector(server, timeout="0.3s").fetch(None)


def test_refused_connection_is_transient():
    settings = RSSSettings(name="news", type="rss", url="http://127.0.0.1:9/feed")
    with pytest.raises(TransientError, match="cannot reach"):
        RSSConnector(settings, http=httpx.Client(timeout=2)).fetch(None)


def test_helpers():
    assert strip_html("<b>Ravens</b>&nbsp;Wood &amp; co") == "Ravens Wood & co"
    assert unwrap_link("https://www.google.com/url?rct=j&url=https://a.example/x%3Fid%3D1&ct=ga") == "https://a.example/x?id=1"
    assert unwrap_link("https://a.example/x?utm_medium=rss&id=2") == "https://a.example/x?id=2"
    assert entry_key("Ravens  Wood!", "https://www.a.example/x/") == entry_key("ravens wood", "https://a.example/x")
