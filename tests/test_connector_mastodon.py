"""The Mastodon connector against the fake Mastodon server on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.base import AuthError, RateLimited, TransientError
from connectors.mastodon import html_to_text
from monitor.config import ConfigError, parse_config
from monitor.demo.fakes.mastodon import SCHOOL_ID, TOKEN, FakeMastodon
from monitor.demo.fakes.server import Response
from tests.conftest import NOW, make_connector



@pytest.fixture
def fake():
    with FakeMastodon(page_size=2) as fake:
        yield fake


connector = make_connector


def minutes_ago(n):
    return NOW - timedelta(minutes=n)


def test_pages_through_link_headers_and_an_idle_poll_makes_one_request_per_stream(fake, clock):
    tagged = [fake.add_tagged(f"Tagged {n}", at=minutes_ago(60 - n)) for n in range(7)]
    masto = connector(fake, clock)
    items, cursor = masto.fetch(None)
    assert set(tagged) == {i.native_id for i in items if i.kind == "mention"}
    tag_pages = [r for r in fake.requests if "/timelines/tag/" in r.path]
    assert len(tag_pages) == 4 and "max_id" in tag_pages[-1].query
    assert cursor["tag:ravenswood"] == max(tagged, key=int)
    newer = fake.add_tagged("One more", at=minutes_ago(5))
    fake.requests.clear()
    items, cursor = masto.fetch(cursor)
    assert [i.native_id for i in items] == [newer]
    fake.requests.clear()
    assert masto.fetch(cursor)[0] == []
    assert len(fake.requests) == 3  # the hashtag, the school's statuses, its notifications
    (tag_request,) = [r for r in fake.requests if "/timelines/tag/" in r.path]
    assert tag_request.query["since_id"] == cursor["tag:ravenswood"]


def test_many_new_statuses_since_the_checkpoint_are_all_read(fake, clock):
    masto = connector(fake, clock)
    fake.add_tagged("Old", at=minutes_ago(100))
    _, cursor = masto.fetch(None)
    burst = [fake.add_tagged(f"Burst {n}", at=minutes_ago(50 - n)) for n in range(5)]
    items, _ = masto.fetch(cursor)
    assert sorted(i.native_id for i in items) == sorted(burst)


def test_empty_server(fake, clock):
    items, cursor = connector(fake, clock).fetch(None)
    assert items == [] and cursor == {"tag:ravenswood": None, "account": None, "notifications": None}


def test_rate_limit_waits_until_the_reset(fake, clock):
    fake.script(Response(429, {"error": "Too many requests"},
                         {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset": "2026-11-16T09:05:00.000Z"}), path="/timelines/tag/")
    with pytest.raises(RateLimited) as raised:
        connector(fake, clock).fetch(None)
    assert raised.value.retry_at == datetime(2026, 11, 16, 9, 5, tzinfo=timezone.utc)


def test_revoked_token_is_an_auth_error(fake, clock):
    fake.expire_credentials()
    with pytest.raises(AuthError, match="The access token is invalid"):
        connector(fake, clock).fetch(None)


@pytest.mark.parametrize("response", [
    Response(500, {"error": "We're sorry, but something went wrong on our end."}),
    Response(200, "[{ not json", {"Content-Type": "application/json"}),
    Response(200, {"error": "a dict where a list belongs"}),
])
def test_outages_and_unreadable_answers_are_transient(fake, clock, response):
    fake.script(response, path="/timelines/tag/")
    with pytest.raises(TransientError):
        connector(fake, clock).fetch(None)


def test_malformed_status_is_skipped_and_the_rest_kept(fake, clock):
    before = fake.add_comment("Good before", at=minutes_ago(10))
    fake.add_malformed()
    after = fake.add_comment("Good after", at=minutes_ago(5))
    items, _ = connector(fake, clock).fetch(None)
    assert {before, after} <= {i.native_id for i in items}
    assert not [i for i in items if "broken" in i.text]


def test_missing_optional_fields_are_tolerated(fake, clock):
    status_id = fake.add_tagged("Plain", at=minutes_ago(5))
    status = next(s for s in fake.statuses if s.id == status_id)
    status.account = {"id": "42", "acct": "", "username": ""}  # a suspended or deleted account
    original = fake._render

    def sparse(s):
        rendered = original(s)
        for key in ("url", "favourites_count", "reblogs_count", "replies_count", "spoiler_text", "account"):
            rendered.pop(key) if s.id == status_id else None
        return rendered

    fake._render = sparse
    (item,) = [i for i in connector(fake, clock).fetch(None)[0] if i.native_id == status_id]
    assert item.author_id is None and item.author_handle is None and item.author_name is None
    assert item.engagement is None and item.url.endswith(f"/statuses/{status_id}") and item.text.startswith("Plain")


def test_html_becomes_plain_text_with_emoji_and_right_to_left_script(fake, clock):
    text = "نحن فخورون بطلابنا 🏆\nגאים & <proud>"
    status_id = fake.add_comment(text, author="معلمة", at=minutes_ago(5), favourites=3)
    (item,) = [i for i in connector(fake, clock).fetch(None)[0] if i.native_id == status_id]
    assert item.text == f"@ravenswood {text}"
    assert item.kind == "comment" and item.engagement == 3 and item.author_name == "معلمة"


def test_html_to_text_keeps_paragraphs_and_full_links():
    content = ('<p>Hello <a href="https://x.example/a/b"><span class="invisible">https://</span>'
               '<span class="ellipsis">x.example/a</span><span class="invisible">/b</span></a></p><p>Bye&amp;so</p>')
    assert html_to_text(content) == "Hello https://x.example/a/b\n\nBye&so"


def test_school_reply_points_at_the_comment(fake, clock):
    comment = fake.add_comment("When is the parents' evening?", at=minutes_ago(30))
    masto = connector(fake, clock)
    _, cursor = masto.fetch(None)
    reply = fake.add_school_reply(comment, "Thursday at 6pm.", at=minutes_ago(20))
    items, _ = masto.fetch(cursor)
    (school,) = [i for i in items if i.native_id == reply]
    assert school.by_school and school.kind == "reply" and school.parent_id == comment
    assert school.author_id == SCHOOL_ID


def test_school_recognised_by_its_address_alone(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(30))
    reply = fake.add_school_reply(comment, "Hi!", at=minutes_ago(20))
    masto = connector(fake, clock, account_id=None, account="@RavensWood@mastodon.example")
    fake.statuses[-1].tags.append("ravenswood")  # reach the reply through the hashtag
    items = {i.native_id: i for i in masto.fetch(None)[0]}
    assert items[reply].by_school and items[reply].parent_id == comment
    assert not items[comment].by_school


def test_search_needs_a_token(tmp_path):
    with pytest.raises(ConfigError, match="queries need a token"):
        parse_config({"sources": [{"name": "m", "type": "mastodon", "queries": ["Ravens Wood"]}]})


def test_search_reads_statuses_newer_than_the_checkpoint(fake, clock):
    first = fake.add_tagged("Ravens Wood fair 🎡", at=minutes_ago(40))
    masto = connector(fake, clock, hashtags=[], queries=["ravens wood"])
    items, cursor = masto.fetch(None)
    assert first in {i.native_id for i in items}
    later = fake.add_tagged("ravens wood again", at=minutes_ago(10))
    items, _ = masto.fetch(cursor)
    assert [i.native_id for i in items] == [later]


# -- whether a status still exists --------------------------------------------------------------

def test_a_status_still_there_or_deleted_is_one_request_each(fake, connect):
    kept = fake.add_comment("Lovely concert", at=minutes_ago(20))
    deleted = fake.add_comment("an abusive reply", at=minutes_ago(10))
    fake.remove(deleted)
    masto = connect()
    assert masto.exists(kept) is True
    assert masto.exists(deleted) is False
    # the 404 is asked once more without the token: only a status gone for everyone is gone
    assert [r.path for r in fake.requests] == [f"/api/v1/statuses/{i}" for i in (kept, deleted, deleted)]
    assert [r.header("authorization") for r in fake.requests] == [f"Bearer {TOKEN}"] * 2 + [None]


def test_a_status_whose_author_blocked_the_school_is_still_there(fake, connect, caplog):
    blocked = fake.add_comment("you will never see this reply", at=minutes_ago(10))
    fake.statuses[-1].blocks_school = True
    with caplog.at_level("INFO"):
        assert connect().exists(blocked) is True
    assert "may have blocked the school" in caplog.text


def test_a_server_that_refuses_anonymous_lookups_cannot_tell(fake, connect):
    status = fake.add_comment("deleted or hidden from the school?", at=minutes_ago(10))
    fake.remove(status)
    masto = connect()
    fake.script(Response(404, {"error": "Record not found"}), path="/api/v1/statuses/")
    fake.script(Response(401, {"error": "This API requires an authenticated user"}), path="/api/v1/statuses/")
    with pytest.raises(TransientError):  # not an AuthError: the school's token is not at fault
        masto.exists(status)


def test_the_fake_answers_a_deleted_status_as_mastodon_does(fake):
    deleted = fake.add_comment("gone soon", at=minutes_ago(10))
    fake.remove(deleted)
    answer = httpx.get(f"{fake.url}/api/v1/statuses/{deleted}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404 and answer.json() == {"error": "Record not found"}


def test_a_public_status_is_looked_up_without_a_token(fake, connect):
    kept = fake.add_tagged("Fair on Saturday", at=minutes_ago(20))
    deleted = fake.add_tagged("something rude", at=minutes_ago(10))
    fake.remove(deleted)
    masto = connect(token=None)
    assert (masto.exists(kept), masto.exists(deleted)) == (True, False)
    assert all(r.header("authorization") is None for r in fake.requests)


def test_a_lookup_with_a_revoked_token_is_an_auth_error(fake, connect):
    status = fake.add_comment("Hello", at=minutes_ago(10))
    fake.remove(status)
    fake.expire_credentials()
    with pytest.raises(AuthError, match="The access token is invalid"):
        connect().exists(status)


def test_a_rate_limited_lookup_waits_until_the_reset(fake, connect):
    status = fake.add_comment("Hello", at=minutes_ago(10))
    fake.script(Response(429, {"error": "Too many requests"},
                         {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset": "2026-11-16T09:05:00.000Z"}), path="/api/v1/statuses/")
    with pytest.raises(RateLimited) as raised:
        connect().exists(status)
    assert raised.value.retry_at == datetime(2026, 11, 16, 9, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("answer", [
    lambda status_id: Response(500, {"error": "We're sorry, but something went wrong on our end."}),
    lambda status_id: Response(503, "<html>Service Unavailable</html>"),
    lambda status_id: Response(404, "<html><body>404 Not Found</body></html>"),  # a proxy, not Mastodon
    lambda status_id: Response(404, {"error": "no route"}),
    lambda status_id: Response(404, None),
    lambda status_id: Response(410, {"error": "Record not found"}),
    lambda status_id: Response(422, {"error": "Validation failed"}),
    lambda status_id: Response(200, "{ not json", {"Content-Type": "application/json"}),
    lambda status_id: Response(200, {}),
    lambda status_id: Response(200, [{"id": status_id}]),
    lambda status_id: Response(200, {"error": "Record not found"}),
    lambda status_id: Response(200, {"id": "1", "content": "<p>another status</p>"}),
])
def test_an_outage_or_an_odd_answer_is_never_gone(fake, connect, answer):
    status = fake.add_comment("deleted, but only Mastodon's clear answer may say so", at=minutes_ago(10))
    fake.remove(status)
    fake.script(answer(status), path="/api/v1/statuses/")
    try:
        assert connect().exists(status) is None
    except TransientError:
        pass


@pytest.mark.parametrize("native_id", ["", "../accounts/1", "12 34", "١٢٣"])
def test_something_that_is_not_a_status_id_is_not_asked_about(fake, connect, native_id):
    assert connect().exists(native_id) is None
    assert fake.requests == []


# -- what a current server leaves out ------------------------------------------------------------


def test_a_reply_filtered_by_the_schools_notification_policy_is_still_read(fake, clock):
    # Mastodon 4.3+ leaves filtered notifications out of /api/v1/notifications unless asked
    filtered = fake.add_comment("A question from a new account", author="New Parent", at=minutes_ago(10),
                                filtered=True)
    items, _ = connector(fake, clock).fetch(None)
    assert filtered in {i.native_id for i in items}
    (asked,) = [r for r in fake.requests if r.path == "/api/v1/notifications"]
    assert asked.query["include_filtered"] == "true" and asked.query["types[]"] == "mention"


def test_the_fake_leaves_filtered_notifications_out_unless_asked(fake):
    kept = fake.add_comment("an ordinary reply", at=minutes_ago(20))
    filtered = fake.add_comment("from an account the school does not follow", at=minutes_ago(10), filtered=True)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    plain = httpx.get(f"{fake.url}/api/v1/notifications", headers=headers).json()
    everything = httpx.get(f"{fake.url}/api/v1/notifications", params={"include_filtered": "true"},
                           headers=headers).json()
    assert [n["status"]["id"] for n in plain] == [kept]
    assert [n["status"]["id"] for n in everything] == [filtered, kept]


def poll_status(fake, tmp_path, clock):
    from monitor.pipeline import Pipeline
    from monitor.app.status import collect_status, format_status
    from monitor.store import Store

    config = parse_config({"sources": [fake.source_config("masto")], "storage": {"path": str(tmp_path / "m.db")}})
    store = Store(config.database_path, clock=clock)
    pipeline = Pipeline(config=config, store=store, clock=clock)

    def poll():
        assert pipeline.poll("masto").ok
        status = collect_status(config, store, clock)
        return status["sources"][0], format_status(status, config.school.tz)

    return poll, store


def test_a_hashtag_feed_the_server_disabled_is_a_warning_in_status_not_a_failure(fake, tmp_path, clock):
    fake.add_tagged("Well done Ravens Wood #ravenswood", at=minutes_ago(30))
    fake.hashtag_feeds = {"local": "disabled", "remote": "disabled"}  # 4.5: an empty list, no error
    poll, store = poll_status(fake, tmp_path, clock)
    source, text = poll()
    assert source["health"] == "ok" and source["consecutive_failures"] == 0
    (warning,) = source["warnings"]
    assert "#ravenswood has never shown a post" in warning and "limits its hashtag feeds" in warning
    assert f"warning: {warning}" in text
    fake.hashtag_feeds = {"local": "public", "remote": "public"}  # the server opens its feeds again
    source, text = poll()
    assert source["warnings"] == [] and "warning" not in text
    assert store.count_items("masto") >= 1
    store.close()


def test_an_empty_hashtag_on_a_server_that_does_not_say_why_is_still_a_warning(fake, tmp_path, clock):
    fake.script(Response(404, {"error": "Record not found"}), path="/api/v2/instance", times=10)  # before 4.5
    poll, store = poll_status(fake, tmp_path, clock)
    (warning,) = poll()[0]["warnings"]
    assert "nobody may have used it yet" in warning
    assert sum(r.path == "/api/v2/instance" for r in fake.requests) == 1
    poll()  # asked at most once an hour
    assert sum(r.path == "/api/v2/instance" for r in fake.requests) == 1
    store.close()


def test_a_hashtag_used_only_before_the_backfill_has_shown_something(fake, clock):
    fake.add_tagged("Sports day last spring #ravenswood", at=NOW - timedelta(days=200))
    masto = connector(fake, clock)
    items, cursor = masto.fetch(None)
    assert items == []
    assert cursor["tag:ravenswood"] is not None and masto.status() == {"warnings": []}


def test_search_finds_only_accounts_that_opted_in(fake, clock):
    # full-text search covers only "indexable" accounts (Mastodon 4.2+): the fake is as strict
    found = fake.add_tagged("Ravens Wood fete on Saturday", at=minutes_ago(20))
    hidden = fake.add_tagged("Ravens Wood fete was loud", author="Private Person", at=minutes_ago(10),
                             indexable=False)
    items, _ = connector(fake, clock, hashtags=[], queries=["ravens wood"]).fetch(None)
    ids = {i.native_id for i in items}
    assert found in ids and hidden not in ids
