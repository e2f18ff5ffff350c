"""Bad input, fuzzed: mutated XML feeds and mutated JSON from every platform's fake, over real HTTP.

Whatever arrives, a connector either returns items (which the store accepts, whatever they carry,
with a cursor it can save) or raises one of the documented connector errors: AuthError,
RateLimited, TransientError. Nothing else escapes.

Example counts are moderate for CI (50 per property); ``FUZZ_PROFILE=long`` runs 2000 per property
(e.g. before a release), ``FUZZ_EXAMPLES=N`` exactly N.
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Callable
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import connector_class
from connectors.base import Item
from connectors.rss import SEEN_LIMIT, TEXT_LIMIT, RSSConnector
from monitor.errors import SourceError
from monitor.demo.fakes import PLATFORMS, fake_platform
from monitor.demo.fakes.server import FakeServer, Response
from monitor.store import Store

# CI explores the same examples every run, so a red build is always reproducible; the long run and
# FUZZ_SEED-free local runs explore new ground.
settings.register_profile(
    "fuzz-ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.register_profile(
    "fuzz-long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = settings.get_profile("fuzz-long" if os.environ.get("FUZZ_PROFILE") == "long" else "fuzz-ci")
if os.environ.get("FUZZ_EXAMPLES"):  # an exact count, e.g. for a measured run
    PROFILE = settings(PROFILE, max_examples=int(os.environ["FUZZ_EXAMPLES"]))
NOW = datetime.now(timezone.utc).replace(microsecond=0)

#: any code point, lone surrogates and control characters included
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=60)
HOSTILE_TEXT = st.sampled_from([
    "\x00", "\x1b[31m", "\ud800", "\udfff", "\ufffe", "\U0010ffff", "<!channel>", "'; DROP TABLE items; --",
    "\u202e", "&amp;", "]]>", "<![CDATA[", "&#0;", "&#xD800;", "&bogus;", "%s%n", "\r\n", "\t",
])


def accepts(store: Store, result: tuple[list[Item], Any]) -> list[Item]:
    """What a fetch returned is usable: Items the store takes, and a cursor it can save."""
    items, cursor = result
    assert all(isinstance(item, Item) for item in items)
    json.dumps(cursor)
    store.upsert_items(items)
    return items


def fetch_or_source_error(connector, cursor=None) -> tuple[list[Item], Any] | None:
    try:
        return connector.fetch(cursor)
    except SourceError:
        return None


# -- feeds ----------------------------------------------------------------------------------------


def rss(entries: list[dict[str, str]], *, raw_titles: bool = False) -> bytes:
    items = "".join(
        f"<item><title>{e['title'] if raw_titles else escape(e['title'])}</title><link>{escape(e['link'])}</link>"
        f"<guid isPermaLink=\"false\">{escape(e['guid'])}</guid><description>{escape(e.get('summary', ''))}"
        f"</description><pubDate>{e.get('date', format_datetime(NOW, usegmt=True))}</pubDate></item>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example.org/</link><description>d</description>{items}</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def atom(entries: list[dict[str, str]]) -> bytes:
    body = "".join(
        f"<entry><id>{escape(e['guid'])}</id><title type=\"html\">{escape(e['title'])}</title>"
        f"<link href=\"{escape(e['link'])}\"/><updated>{NOW.isoformat()}</updated>"
        f"<content type=\"html\">{escape(e.get('summary', ''))}</content></entry>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        f"<id>urn:feed</id><updated>{NOW.isoformat()}</updated>{body}</feed>"
    ).encode("utf-8")


def entries(count: int, prefix: str = "e") -> list[dict[str, str]]:
    return [
        {"guid": f"{prefix}-{n}", "title": f"Story {n} about Ravens Wood", "link": f"https://news.example.org/{prefix}/{n}",
         "summary": f"Summary {n} <b>bold</b> &amp; more"}
        for n in range(count)
    ]


class FeedServer(FakeServer):
    """Serves whatever body the test sets, at /feed."""

    def __init__(self) -> None:
        super().__init__()
        self.body = b""
        self.headers: dict[str, str] = {"Content-Type": "application/rss+xml"}
        self.route("GET", "/feed")(lambda request: Response(200, self.body, dict(self.headers)))


@pytest.fixture(scope="module")
def feed_server():
    with FeedServer() as server:
        yield server


def rss_connector(server: FakeServer, **extra) -> RSSConnector:
    settings_ = RSSConnector.Settings(**{"name": "news", "type": "rss", "url": f"{server.url}/feed", "timeout": "5s", **extra})
    return RSSConnector(settings_)


@st.composite
def mutated_bytes(draw, base: bytes) -> bytes:
    """A feed damaged the ways real ones are: truncated, bytes flipped, junk or control bytes inserted."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "inject"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif kind == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 200))]
        else:
            data[at:at] = draw(HOSTILE_TEXT).encode("utf-8", "surrogatepass")
    return bytes(data)


BASES = [rss(entries(5)), atom(entries(5))]


@given(data=st.data())
@settings(PROFILE)
def test_mutated_feeds_raise_only_connector_errors(feed_server, data):
    feed_server.body = data.draw(mutated_bytes(data.draw(st.sampled_from(BASES))))
    feed_server.headers = {"Content-Type": data.draw(st.sampled_from(
        ["application/rss+xml", "text/xml; charset=iso-8859-1", "text/html", "application/octet-stream",
         "application/xml; charset=bogus-charset"]))}
    store = Store(":memory:")
    result = fetch_or_source_error(rss_connector(feed_server))
    if result is not None:
        accepts(store, result)
    store.close()


@given(titles=st.lists(ANY_TEXT | HOSTILE_TEXT, min_size=1, max_size=5), as_references=st.booleans())
@settings(PROFILE)
def test_entries_with_control_characters_and_lone_surrogates(feed_server, titles, as_references):
    """Raw, or as character references (``&#xD800;``) that XML forbids but feeds contain."""
    if as_references:
        titles = ["".join(f"&#x{ord(c):X};" for c in t) for t in titles]
    feed_server.body = rss([{"guid": f"g{n}", "title": t, "link": f"https://n.example.org/{n}"}
                            for n, t in enumerate(titles)], raw_titles=as_references)
    feed_server.headers = {"Content-Type": "application/rss+xml"}
    store = Store(":memory:")
    result = fetch_or_source_error(rss_connector(feed_server))
    if result is not None:
        for item in accepts(store, result):
            [row] = store.query("SELECT text FROM items WHERE native_id = ?", (item.native_id,))
            # stored as given, except that a lone surrogate becomes U+FFFD
            assert row["text"] == "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in item.text)
    store.close()


def test_a_one_megabyte_entry_is_kept_bounded_and_the_others_too(feed_server, store):
    huge = entries(3)
    huge[1]["summary"] = "abuse " * (1024 * 1024 // 6)
    huge[1]["title"] = "t" * (1024 * 1024)
    feed_server.body = rss(huge)
    items, _ = rss_connector(feed_server).fetch(None)
    assert [i.native_id for i in items] == ["e-0", "e-1", "e-2"]
    assert max(len(i.text) for i in items) <= TEXT_LIMIT
    stored = store.upsert_items(items)
    assert len(stored) == 3 and max(len(json.dumps(i.raw)) for i in items) < 5000


def test_a_ten_thousand_entry_feed_is_stored_once(feed_server, store):
    feed_server.body = rss(entries(10_000, "big"))
    items, cursor = rss_connector(feed_server, timeout="120s").fetch(None)
    assert len(items) == 10_000 and len({i.native_id for i in items}) == 10_000
    assert len(cursor["ids"]) <= SEEN_LIMIT and len(json.dumps(cursor)) < 500_000  # the cursor stays bounded
    assert sum(s.new for s in store.upsert_items(items)) == 10_000
    assert sum(s.new for s in store.upsert_items(items)) == 0  # the same feed again adds nothing
    assert store.count_items("news") == 10_000


# -- JSON platforms -------------------------------------------------------------------------------

JSON_PLATFORMS = sorted(t for t in PLATFORMS if t != "rss")

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | ANY_TEXT | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=6,
)


class Mutator:
    """Damages a platform's answers: the status, the JSON's shape and values, or the bytes themselves."""

    def __init__(self, rng: random.Random, values: list[Any], rate: float):
        self.rng = rng
        self.values = values
        self.rate = rate

    def response(self, response: Response) -> Response:
        if self.rng.random() > self.rate * 2:
            return response
        body = response.body
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                pass
        status = response.status
        if self.rng.random() < 0.15:
            status = self.rng.choice([200, 400, 401, 403, 404, 429, 500, 502, 503, 504])
        mode = self.rng.random()
        if isinstance(body, (dict, list)) and mode < 0.6:
            encoded = json.dumps(self.json(body)).encode("utf-8")  # lone surrogates as \ud800 escapes
        else:
            encoded = body if isinstance(body, bytes) else json.dumps(body, default=str).encode("utf-8")
            if mode < 0.8:
                encoded = encoded[: self.rng.randrange(len(encoded) + 1)]  # cut mid-body
            elif mode < 0.9:
                encoded = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(64)))
            else:
                encoded = b"<html><body>502 Bad Gateway</body></html>"
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        headers["Content-Type"] = self.rng.choice(["application/json; charset=utf-8", "text/html", "application/json"])
        if status == 429 and self.rng.random() < 0.5:
            headers["Retry-After"] = self.rng.choice(["30", "-1", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "9" * 30])
        return Response(status, encoded, headers)

    def json(self, value: Any) -> Any:
        if self.rng.random() < self.rate:
            return self.rng.choice(self.values)
        if isinstance(value, dict):
            out = {}
            for key, child in value.items():
                if self.rng.random() < self.rate / 2:
                    continue  # a key goes missing
                out[key] = self.json(child)
            return out
        if isinstance(value, list):
            items = [self.json(child) for child in value]
            if items and self.rng.random() < self.rate:
                items.append(self.rng.choice(items))  # a record repeated
            return items
        return value


def mutate_routes(server: FakeServer, mutate: Callable[[Response], Response]) -> None:
    """Every answer of the fake's own routes passes through ``mutate``."""
    def wrap(handler):
        return lambda request: mutate(handler(request))

    server._routes = [(method, pattern, wrap(handler)) for method, pattern, handler in server._routes]


@pytest.fixture(params=JSON_PLATFORMS)
def json_platform(request):
    try:
        fake_class = fake_platform(request.param)
    except (ImportError, AttributeError):
        pytest.skip(f"no fake for {request.param} yet")
    with fake_class() as fake:
        yield fake


def seed(fake) -> None:
    for n in range(4):
        fake.add_comment(f"Comment {n} from a parent", at=NOW - timedelta(hours=5 - n))
    if fake.has_threads:
        fake.add_school_reply(fake.add_comment("A question?", at=NOW - timedelta(minutes=50)), "Thanks!",
                              at=NOW - timedelta(minutes=40))


def test_mutated_json_from_every_platform_raises_only_connector_errors(json_platform):
    fake = json_platform
    seed(fake)
    settings_class = connector_class(fake.type).Settings
    raw = {**fake.source_config("fuzzed"), "timeout": "5s"}
    current: dict[str, Mutator] = {}
    mutate_routes(fake, lambda response: current["mutator"].response(response))
    outcomes = {"items": 0, "errors": 0}

    @given(seed_=st.integers(0, 2**32 - 1), values=st.lists(JSON_VALUES, min_size=1, max_size=4),
           rate=st.sampled_from([0.05, 0.2, 0.5]))
    @settings(PROFILE)
    def run(seed_, values, rate):
        current["mutator"] = Mutator(random.Random(seed_), values, rate)
        store = Store(":memory:")
        connector = connector_class(fake.type)(settings_class.model_validate(raw))
        try:
            result = fetch_or_source_error(connector)
            if result is None:
                outcomes["errors"] += 1
            else:
                outcomes["items"] += len(accepts(store, result))
        finally:
            connector.close()
            store.close()

    run()
    # the fuzzing reached both sides: some polls still produced items, some were refused
    assert outcomes["items"] > 0 and outcomes["errors"] > 0, outcomes
