"""The Bluesky connector against the fake PDS on loopback."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from connectors.base import AuthError, RateLimited, TransientError
from monitor.fakes.bluesky import SCHOOL_DID, FakeBluesky
from monitor.fakes.server import Response
from tests.conftest import NOW, make_connector



@pytest.fixture
def fake():
    with FakeBluesky(page_size=2) as fake:
        yield fake


connector = make_connector


def minutes_ago(n):
    return NOW - timedelta(minutes=n)


def data_requests(fake):
    return [r for r in fake.requests if "server." not in r.path]


def test_pages_over_several_pages_and_an_idle_poll_makes_one_request_per_stream(fake, clock):
    posted = [fake.add_comment(f"Comment {n}", author=f"Parent {n}", at=minutes_ago(60 - n)) for n in range(7)]
    bsky = connector(fake, clock)
    items, cursor = bsky.fetch(None)
    assert set(posted) <= {i.native_id for i in items}
    pages = [r for r in fake.requests if r.path.endswith("listNotifications")]
    assert len(pages) == 4
    assert all(i.kind == "comment" and i.parent_id == i.thread_id for i in items if i.native_id in posted)
    again, cursor = bsky.fetch(cursor)
    assert again == []
    # the last minutes before the checkpoint are read again; with real page sizes that is one page
    fake.page_size = 50
    fake.requests.clear()
    assert bsky.fetch(cursor)[0] == []
    assert len(fake.requests) == 3  # notifications, the school's feed, one search; no new login


def test_empty_account(fake, clock):
    items, cursor = connector(fake, clock).fetch(None)
    assert items == []
    assert set(cursor) == {"notifications", "school", "search:Ravens Wood"}


def test_search_finds_public_posts_since_the_checkpoint(fake, clock):
    first = fake.add_mention("Ravens Wood fair was lovely 🎪", at=minutes_ago(50))
    fake.add_mention("Nothing to do with the school", at=minutes_ago(45))
    bsky = connector(fake, clock)
    items, cursor = bsky.fetch(None)
    assert [i.native_id for i in items] == [first]
    assert items[0].kind == "mention" and items[0].url.startswith("https://bsky.app/profile/neighbour.bsky.social/post/")
    later = fake.add_mention("Ravens wood traffic again", at=minutes_ago(10))
    fake.requests.clear()
    items, _ = bsky.fetch(cursor)
    assert [i.native_id for i in items] == [later]
    (search,) = [r for r in fake.requests if r.path.endswith("searchPosts")]
    assert search.query["sort"] == "latest" and search.query["since"].startswith("2026-11-16T08:")


def test_rate_limit_waits_for_the_reset_header(fake, clock):
    reset = int((NOW + timedelta(minutes=5)).timestamp())
    fake.script(Response(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                         {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}),
                path="listNotifications")
    with pytest.raises(RateLimited) as raised:
        connector(fake, clock).fetch(None)
    assert raised.value.retry_at == NOW + timedelta(minutes=5)


def test_expired_access_token_is_refreshed_once(fake, clock):
    bsky = connector(fake, clock)
    _, cursor = bsky.fetch(None)
    fake.expire_access()
    comment = fake.add_comment("After the token expired", at=minutes_ago(5))
    items, _ = bsky.fetch(cursor)
    assert comment in {i.native_id for i in items}  # with the school post it answers
    assert any(r.path.endswith("refreshSession") for r in fake.requests)
    assert fake.logins == 1


def test_refused_app_password_is_an_auth_error(fake, clock):
    with pytest.raises(AuthError, match="refused the app password"):
        connector(fake, clock, password="wrong-pass-word-0000").fetch(None)


def test_revoked_credentials_after_login_are_an_auth_error(fake, clock):
    bsky = connector(fake, clock)
    _, cursor = bsky.fetch(None)
    fake.expire_credentials()
    with pytest.raises(AuthError):
        bsky.fetch(cursor)
    fake.renew_credentials()
    assert bsky.fetch(cursor)[0] == []


@pytest.mark.parametrize("response", [
    Response(502, "<html>Bad Gateway</html>"),
    Response(200, "{ not json", {"Content-Type": "application/json"}),
    Response(200, {"notifications": {"not": "a list"}}),
])
def test_outages_and_unreadable_answers_are_transient(fake, clock, response):
    fake.script(response, path="listNotifications")
    with pytest.raises(TransientError):
        connector(fake, clock).fetch(None)


def test_malformed_record_is_skipped_and_the_rest_kept(fake, clock):
    before = fake.add_comment("Good before", at=minutes_ago(10))
    fake.add_malformed()
    after = fake.add_comment("Good after", at=minutes_ago(5))
    items, _ = connector(fake, clock).fetch(None)
    assert {before, after} <= {i.native_id for i in items}
    assert all(i.text != "broken" for i in items)


def test_deleted_author_and_missing_optional_fields(fake, clock):
    uri = fake.add_comment("Account since deleted", at=minutes_ago(5))
    post = next(p for p in fake.posts if p.uri == uri)
    post.handle, post.display_name = "handle.invalid", None
    items, _ = connector(fake, clock).fetch(None)
    (item,) = [i for i in items if i.native_id == uri]
    assert item.author_handle is None and item.author_name is None and item.author_id == post.author_did
    assert item.url.startswith(f"https://bsky.app/profile/{post.author_did}/post/")


def test_emoji_and_right_to_left_text_survive(fake, clock):
    text = "مدرسة رائعة 🌟 שלום 👩‍👧"
    uri = fake.add_comment(text, author="أم سارة", at=minutes_ago(5))
    items, _ = connector(fake, clock).fetch(None)
    (item,) = [i for i in items if i.native_id == uri]
    assert item.text == text and item.author_name == "أم سارة"


def test_school_reply_points_at_the_comment_and_its_thread(fake, clock):
    comment = fake.add_comment("When is the parents' evening?", at=minutes_ago(30))
    bsky = connector(fake, clock)
    _, cursor = bsky.fetch(None)
    reply = fake.add_school_reply(comment, "Thursday at 6pm.", at=minutes_ago(20))
    answer = fake.add_comment("Thank you!", reply_to=reply, at=minutes_ago(10))
    items, _ = bsky.fetch(cursor)
    by_id = {i.native_id: i for i in items}
    assert set(by_id) == {reply, answer}
    school = by_id[reply]
    root = next(p.root for p in fake.posts if p.uri == comment)
    assert school.by_school and school.kind == "reply" and school.author_id == SCHOOL_DID
    assert school.parent_id == comment and school.thread_id == root
    assert by_id[answer].kind == "comment" and not by_id[answer].by_school


# -- whether a post still exists ----------------------------------------------------------------

def lookups(fake):
    return [r for r in fake.requests if r.path.endswith("app.bsky.feed.getPosts")]


def test_a_post_still_there_or_deleted_is_one_request_each(fake, clock):
    kept = fake.add_comment("Lovely concert", at=minutes_ago(20))
    deleted = fake.add_comment("an abusive reply", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    fake.remove(deleted)
    fake.requests.clear()
    assert bsky.exists(kept) is True
    assert bsky.exists(deleted) is False
    assert [r.query["uris"] for r in fake.requests] == [kept, deleted]  # one getPosts each, no new login
    assert all(r.header("authorization", "").startswith("Bearer access-") for r in fake.requests)
    bsky.close()


def test_the_fake_leaves_a_deleted_post_out_as_bluesky_does(fake, clock):
    deleted = fake.add_comment("gone soon", at=minutes_ago(10))
    bsky = connector(fake, clock)
    assert bsky.exists(deleted) is True  # and the connector has a session to borrow
    token = bsky.session["accessJwt"]
    fake.remove(deleted)
    answer = httpx.get(f"{fake.url}/xrpc/app.bsky.feed.getPosts", params={"uris": deleted},
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json() == {"posts": []}
    bsky.close()


def test_a_lookup_before_any_poll_logs_in_first(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(10))
    bsky = connector(fake, clock)
    assert bsky.exists(comment) is True
    assert [r.path.rsplit(".", 1)[-1] for r in fake.requests] == ["createSession", "getPosts"]
    bsky.close()


def test_an_expired_access_token_is_refreshed_for_a_lookup(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    fake.remove(comment)
    fake.expire_access()
    assert bsky.exists(comment) is False
    assert any(r.path.endswith("refreshSession") for r in fake.requests) and len(lookups(fake)) == 2
    bsky.close()


def test_a_lookup_with_revoked_credentials_is_an_auth_error(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    fake.remove(comment)
    fake.expire_credentials()
    with pytest.raises(AuthError):
        bsky.exists(comment)
    bsky.close()


def test_a_rate_limited_lookup_waits_for_the_reset(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(10))
    reset = int((NOW + timedelta(minutes=5)).timestamp())
    fake.script(Response(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                         {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}),
                path="getPosts")
    bsky = connector(fake, clock)
    with pytest.raises(RateLimited) as raised:
        bsky.exists(comment)
    assert raised.value.retry_at == NOW + timedelta(minutes=5)
    bsky.close()


@pytest.mark.parametrize("answer", [
    lambda uri: Response(502, "<html>Bad Gateway</html>"),
    lambda uri: Response(500, {"error": "InternalServerError", "message": "Internal Server Error"}),
    lambda uri: Response(400, {"error": "InvalidRequest", "message": "Error: uris/0 must be a valid at-uri"}),
    lambda uri: Response(404, {"error": "XRPCNotSupported", "message": "XRPCNotSupported"}),
    lambda uri: Response(200, "{ not json", {"Content-Type": "application/json"}),
    lambda uri: Response(200, {}),
    lambda uri: Response(200, []),
    lambda uri: Response(200, {"posts": None}),
    lambda uri: Response(200, {"posts": {"uri": uri}}),
    lambda uri: Response(200, {"posts": [{"uri": "at://did:plc:someone/app.bsky.feed.post/3lother"}]}),
    lambda uri: Response(200, {"posts": [{"cid": "bafy", "record": {"text": "no uri"}}]}),
    lambda uri: Response(200, {"posts": ["not a post"]}),
])
def test_an_outage_or_an_odd_answer_is_never_gone(fake, clock, answer):
    comment = fake.add_comment("deleted, but only Bluesky's clear answer may say so", at=minutes_ago(10))
    fake.remove(comment)
    fake.script(answer(comment), path="getPosts")
    bsky = connector(fake, clock)
    try:
        assert bsky.exists(comment) is None
    except TransientError:
        pass
    finally:
        bsky.close()


@pytest.mark.parametrize("native_id", ["", "3l00000000001", "https://bsky.app/profile/x/post/3l"])
def test_something_that_is_not_a_post_uri_is_not_asked_about(fake, clock, native_id):
    bsky = connector(fake, clock)
    assert bsky.exists(native_id) is None
    assert fake.requests == []
    bsky.close()
