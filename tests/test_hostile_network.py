"""What a hostile server can send: bombs, endless and dripping bodies, huge waits, redirected logins,
JSON nested beyond reading. Each is a clean, logged failure of that source, in bounded memory and time,
over real HTTP on loopback."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest

from classifiers.base import NullClassifier
from connectors.base import AuthError, RateLimited, TransientError
from connectors.http import parse_size
from connectors.rss import RSSConnector, RSSSettings
from monitor.errors import MAX_WAIT
from monitor.demo.fakes.bluesky import FakeBluesky
from monitor.demo.fakes.hostile import HostileServer
from monitor.demo.fakes.server import FakeServer, Response
from monitor.demo.fakes.x import FakeX
from monitor.pipeline import Pipeline
from monitor.store import Store
from tests.conftest import make_config, make_connector

MB = 1024 * 1024


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


def feed(url: str, clock, **settings) -> RSSConnector:
    return RSSConnector(RSSSettings(name="news", url=url, **settings), clock=clock)


def peak_while(action) -> tuple[object, int]:
    """What ``action()`` returned or raised, and the peak of Python memory it allocated."""
    tracemalloc.start()
    try:
        try:
            outcome = action()
        except Exception as exc:  # noqa: BLE001 - the outcome is checked by the caller
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- size ------------------------------------------------------------------------------------


def test_a_gzip_bomb_fails_the_poll_cleanly_in_bounded_memory(tmp_path, clock, hostile):
    # about 100 KB on the wire, 100 MB once inflated
    config = make_config(tmp_path, sources=[
        {"name": "bomb", "type": "rss", "url": f"{hostile.url}/bomb?size={100 * MB}", "max_body": "4MB"},
    ])
    store = Store(tmp_path / "monitor.db", clock=clock)
    pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock)
    result, peak = peak_while(lambda: pipeline.poll("bomb"))
    assert result.error_kind == "transient", result
    assert "larger than" in result.error and "max_body" in result.error
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"
    assert store.source_state("bomb").cursor is None
    store.close()


def test_an_endless_body_is_cut_at_the_cap(clock, hostile):
    outcome, peak = peak_while(lambda: feed(f"{hostile.url}/endless", clock, max_body="2MB").fetch(None))
    assert isinstance(outcome, TransientError) and "larger than 2 MB" in str(outcome)
    assert peak < 30 * MB, f"peak {peak / MB:.0f} MB"


def test_each_source_type_has_a_default_cap_and_a_source_can_set_its_own(clock, hostile):
    rss = feed(f"{hostile.url}/bomb?size={20 * MB}", clock)
    assert rss.http.max_body == 16 * MB
    with pytest.raises(TransientError, match="larger than 16 MiB"):
        rss.fetch(None)
    # a JSON API's answers are smaller: its default is lower, and the same bomb at login fails it
    with FakeBluesky() as fake:
        bsky = make_connector(fake, clock)
        assert bsky.http.max_body == 8 * MB
        fake.script(Response(302, b"", {"Location": f"{hostile.url}/bomb?size={20 * MB}&type=application/json"}),
                    path="listNotifications")
        with pytest.raises(TransientError, match="larger than 8 MiB"):
            bsky.fetch(None)
        bsky.close()
    assert parse_size("512KB") == 512_000 and parse_size("2MiB") == 2 * MB and parse_size(4096) == 4096
    for bad in ("lots", "0", "5GB", -1, True):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_a_gzip_bomb_to_x_through_tweepy_is_cut_at_the_cap_too(clock, hostile):
    hostile.bomb_size = 100 * MB
    with FakeX() as fake:
        x = make_connector(fake, clock, base_url=f"{hostile.url}/bomb", max_body="4MB")
        outcome, peak = peak_while(lambda: x.fetch(None))
        x.close()
    assert isinstance(outcome, TransientError), outcome
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"


# -- time ------------------------------------------------------------------------------------


def test_a_body_dripping_one_byte_at_a_time_is_cut_off_at_the_request_deadline(tmp_path, clock, hostile):
    # each byte comes well inside the read timeout: only a total deadline ends it
    url = f"{hostile.url}/drip?every=0.2&bytes=40"
    config = make_config(tmp_path, sources=[
        {"name": "drip", "type": "rss", "url": url, "timeout": "1s", "request_deadline": "1s"},
    ])
    store = Store(tmp_path / "monitor.db", clock=clock)
    result = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock).poll("drip")
    assert result.error_kind == "transient" and "request deadline of 1 s" in result.error, result
    store.close()


def test_headers_dripping_one_byte_at_a_time_are_cut_off_too(clock, hostile):
    rss = feed(f"{hostile.url}/drip-headers?every=0.2", clock, timeout="1s", request_deadline="1s")
    with pytest.raises(TransientError, match="request deadline"):
        rss.fetch(None)


def test_x_through_tweepy_is_cut_off_at_the_request_deadline(clock, hostile):
    hostile.drip_every = 0.2
    with FakeX() as fake:
        x = make_connector(fake, clock, base_url=f"{hostile.url}/drip", timeout="1s", request_deadline="1s")
        with pytest.raises(TransientError, match="in time"):
            x.fetch(None)
        x.close()


def test_the_deadline_is_never_shorter_than_the_read_timeout(clock, hostile):
    rss = feed(f"{hostile.url}/drip", clock, timeout="45s", request_deadline="10s")
    assert rss.http.deadline == 45


# -- waits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1000000000", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_waits_a_day_at_most(tmp_path, clock, value):
    with FakeServer() as server:
        server.route("GET", "/feed")(lambda request: Response(429, b"", {"Retry-After": value}))
        with pytest.raises(RateLimited) as raised:
            feed(f"{server.url}/feed", clock).fetch(None)
        assert clock() < raised.value.retry_at <= clock() + MAX_WAIT
        config = make_config(tmp_path, sources=[{"name": "news", "type": "rss", "url": f"{server.url}/feed"}])
        store = Store(tmp_path / "monitor.db", clock=clock)
        result = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock).poll("news")
        assert result.error_kind == "rate_limited"
        assert store.source_state("news").backoff_until <= clock() + MAX_WAIT
        store.close()


@pytest.mark.parametrize("value", ["99999999999999999999", "4102444800", "1e400"])
def test_a_reset_header_far_away_waits_a_day_at_most(tmp_path, clock, value):
    with FakeBluesky() as fake:
        fake.script(Response(429, {"error": "RateLimitExceeded"}, {"ratelimit-reset": value}), path="listNotifications")
        config = make_config(tmp_path, sources=[fake.source_config("bsky")])
        store = Store(tmp_path / "monitor.db", clock=clock)
        result = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock).poll("bsky")
        assert result.error_kind == "rate_limited", result
        assert clock() < store.source_state("bsky").backoff_until <= clock() + MAX_WAIT
        store.close()


# -- redirects and JSON ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirected_login_does_not_send_the_password_elsewhere(clock, hostile, status):
    with FakeBluesky() as fake:
        fake.script(Response(status, b"", {"Location": f"{hostile.url}/steal"}), path="createSession")
        bsky = make_connector(fake, clock)
        with pytest.raises(TransientError, match="redirect") as raised:
            bsky.fetch(None)
        assert not isinstance(raised.value, AuthError)
        assert hostile.requests == []  # nothing, and no password, reached the other host
        bsky.close()


def test_a_redirected_get_is_still_followed(clock):
    with FakeServer() as server:
        server.route("GET", "/old")(lambda request: Response(301, b"", {"Location": "/feed"}))
        server.route("GET", "/feed")(lambda request: Response(
            200, b"<rss><channel><item><title>Moved</title><link>https://a.example/1</link></item></channel></rss>",
            {"Content-Type": "application/rss+xml"}))
        items, _ = feed(f"{server.url}/old", clock).fetch(None)
        assert [i.text for i in items] == ["Moved"]


def test_json_nested_beyond_reading_is_a_malformed_answer(tmp_path, clock):
    with FakeBluesky() as fake:
        depth = 200_000
        fake.script(Response(200, b"[" * depth + b"]" * depth, {"Content-Type": "application/json"}),
                    path="listNotifications")
        config = make_config(tmp_path, sources=[fake.source_config("bsky")])
        store = Store(tmp_path / "monitor.db", clock=clock)
        result = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock).poll("bsky")
        assert result.error_kind == "transient" and "unreadable" in result.error, result
        store.close()
