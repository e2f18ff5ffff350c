"""The YouTube connector against the fake YouTube Data API on loopback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.base import AuthError, RateLimited, TransientError
from connectors.youtube import next_pacific_midnight
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes.server import Response
from monitor.demo.fakes.youtube import FORCE_SSL, SCHOOL_CHANNEL, FakeYouTube
from tests.conftest import NOW, make_config, make_connector

QUOTA_BODY = {"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
                        "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}


@pytest.fixture
def fake():
    with FakeYouTube(page_size=2, embedded_replies=1) as fake:
        yield fake


connector = make_connector


def minutes_ago(n):
    return NOW - timedelta(minutes=n)


def thread_requests(fake):
    return [r for r in fake.requests if r.path.endswith("/commentThreads")]


def test_pages_over_several_pages_then_an_idle_poll_costs_one_request(fake, clock):
    posted = [fake.add_comment(f"Comment {n}", at=minutes_ago(60 - n)) for n in range(7)]
    yt = connector(fake, clock)
    items, cursor = yt.fetch(None)
    assert sorted(i.native_id for i in items) == sorted(posted)
    assert len(thread_requests(fake)) == 4  # pages of two
    assert all(i.kind == "comment" and i.url.endswith(f"&lc={i.native_id}") for i in items)
    fake.requests.clear()
    again, cursor = yt.fetch(cursor)
    assert again == []
    # the reply window is re-read; the school's recent threads fit on pages of two here
    fake.page_size = 100
    fake.requests.clear()
    assert yt.fetch(cursor)[0] == []
    assert len(fake.requests) == 1


def test_empty_channel(fake, clock):
    items, cursor = connector(fake, clock).fetch(None)
    assert items == [] and cursor["checkpoint"] is None
    assert len(fake.requests) == 1


def test_first_poll_reads_back_only_the_backfill(fake, clock):
    old = fake.add_comment("Last month", at=NOW - timedelta(days=30))
    recent = fake.add_comment("Yesterday", at=NOW - timedelta(days=1))
    items, _ = connector(fake, clock, backfill="7d").fetch(None)
    assert [i.native_id for i in items] == [recent]
    assert old not in [i.native_id for i in items]


def test_quota_exceeded_waits_until_pacific_midnight(fake, clock):
    fake.script(Response(403, QUOTA_BODY), path="commentThreads")
    with pytest.raises(RateLimited) as raised:
        connector(fake, clock).fetch(None)
    # 09:00 UTC on 16 November is 01:00 PST: the quota resets at 00:00 PST on the 17th, 08:00 UTC
    assert raised.value.retry_at == datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc)


def test_next_pacific_midnight_follows_daylight_saving():
    summer = datetime(2026, 7, 1, 6, 59, tzinfo=timezone.utc)  # 23:59 PDT on 30 June
    assert next_pacific_midnight(summer) == datetime(2026, 7, 1, 7, 0, tzinfo=timezone.utc)


def test_expired_credentials_are_an_auth_error(fake, clock):
    fake.expire_credentials()
    with pytest.raises(AuthError, match="refused the credentials"):
        connector(fake, clock).fetch(None)


def test_wrong_key_is_an_auth_error_and_the_key_stays_out_of_the_message(fake, clock):
    with pytest.raises(AuthError) as raised:
        connector(fake, clock, api_key="not-the-key").fetch(None)
    assert "not-the-key" not in str(raised.value)


@pytest.mark.parametrize("response", [
    Response(503, {"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}}),
    Response(200, "{ this is not json", {"Content-Type": "application/json"}),
    Response(200, {"kind": "youtube#commentThreadListResponse", "items": "nope"}),
])
def test_outages_and_unreadable_answers_are_transient(fake, clock, response):
    fake.add_comment("Hello")
    fake.script(response, path="commentThreads")
    with pytest.raises(TransientError):
        connector(fake, clock).fetch(None)


def test_a_malformed_thread_is_skipped_and_the_rest_kept(fake, clock):
    before = fake.add_comment("Good before", at=minutes_ago(10))
    fake.add_malformed()
    after = fake.add_comment("Good after", at=minutes_ago(5))
    items, _ = connector(fake, clock).fetch(None)
    assert sorted(i.native_id for i in items) == sorted([before, after])


def test_deleted_author_and_missing_optional_fields(fake, clock):
    gone = fake.add_comment("Author closed their channel", at=minutes_ago(3))
    record = next(c for c in fake.comments if c.id == gone)
    record.author_name = record.author_channel = None
    items, _ = connector(fake, clock).fetch(None)
    (item,) = items
    assert item.author_id is None and item.author_name is None and item.author_handle is None
    assert item.by_school is False and item.text == "Author closed their channel"


def test_emoji_and_right_to_left_text_survive(fake, clock):
    text = "شكرا للمدرسة 🎉👏 — תודה רבה"
    fake.add_comment(text, author="والد", at=minutes_ago(2))
    (item,), _ = connector(fake, clock).fetch(None)
    assert item.text == text and item.author_name == "والد"


def test_school_reply_on_an_older_thread_is_found_and_points_at_the_comment(fake, clock):
    comment = fake.add_comment("When is the parents' evening?", at=minutes_ago(120))
    for n in range(4):
        fake.add_comment(f"Newer comment {n}", at=minutes_ago(60 - n))
    yt = connector(fake, clock)
    _, cursor = yt.fetch(None)
    fake.add_comment("Me too", reply_to=comment, at=minutes_ago(30), likes=4)
    fake.add_comment("And me", reply_to=comment, at=minutes_ago(20))
    reply = fake.add_school_reply(comment, "Thursday at 6pm.", at=minutes_ago(10))
    items, cursor = yt.fetch(cursor)
    by_id = {i.native_id: i for i in items}
    assert set(by_id) == {reply, *[c.id for c in fake.comments if c.parent == comment]}
    assert len(by_id) == 3  # one embedded, the rest through comments.list
    assert any(r.path.endswith("/comments") for r in fake.requests)
    school = by_id[reply]
    assert school.by_school and school.kind == "reply" and school.parent_id == comment
    assert school.author_id == SCHOOL_CHANNEL and school.thread_id == fake.video_id
    assert max(i.engagement or 0 for i in items) == 4
    assert all(not i.by_school for i in items if i.native_id != reply)
    assert yt.fetch(cursor)[0] == []


def test_quota_units_are_counted_per_pacific_day_and_survive_a_restart(fake, clock):
    for n in range(5):
        fake.add_comment(f"Comment {n}", at=minutes_ago(30 - n))
    yt = connector(fake, clock)
    _, cursor = yt.fetch(None)
    assert yt.status() == {"quota_units_today": len(fake.requests)} == {"quota_units_today": 3}
    restarted = connector(fake, clock)
    restarted.fetch(cursor)
    assert restarted.status()["quota_units_today"] == len(fake.requests)
    clock.set(datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc))  # midnight in California
    assert restarted.status() == {"quota_units_today": 0}


# -- does a comment still exist? ------------------------------------------------------------


def test_a_comment_still_there_exists_and_a_deleted_one_does_not(fake, clock):
    kept = fake.add_comment("Great assembly", at=minutes_ago(40))
    reply = fake.add_comment("Thanks!", reply_to=kept, at=minutes_ago(30))
    deleted = fake.add_comment("an abusive comment", at=minutes_ago(20))
    yt = connector(fake, clock)
    fake.remove(deleted)
    asked = (kept, reply, deleted)
    assert [yt.exists(i) for i in asked] == [True, True, False]
    assert [(r.path, r.query["id"], r.query["part"]) for r in fake.requests] == [
        ("/youtube/v3/comments", i, "id") for i in asked]
    assert all(r.query["key"] == fake.api_key for r in fake.requests)


def test_each_existence_check_costs_one_quota_unit(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(5))
    yt = connector(fake, clock)
    _, cursor = yt.fetch(None)
    yt.exists(comment)
    yt.exists("UgzNoSuchCommentAaABAg")
    assert yt.status() == {"quota_units_today": len(fake.requests)} == {"quota_units_today": 3}
    _, cursor = yt.fetch(cursor)
    assert cursor["quota"]["units"] == 4  # the checks are kept in the count a restart carries on from


@pytest.mark.parametrize("response", [
    Response(503, {"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}}),
    Response(500, "Internal Server Error"),
    Response(200, "{ this is not json", {"Content-Type": "application/json"}),
    Response(200, {"kind": "youtube#commentListResponse"}),
    Response(200, {"kind": "youtube#commentListResponse", "items": "nope"}),
    Response(200, {"kind": "youtube#commentListResponse", "items": [{"kind": "youtube#comment", "id": "UgzOther"}]}),
    Response(200, {"kind": "youtube#commentListResponse", "items": [None]}),
    Response(404, {"error": {"code": 404, "message": "comment not found", "errors": [{"reason": "commentNotFound"}]}}),
])
def test_a_failed_or_unexpected_lookup_never_says_gone(fake, clock, response):
    comment = fake.add_comment("Hello")
    fake.remove(comment)
    fake.script(response, path="comments$")
    with pytest.raises(TransientError):
        connector(fake, clock).exists(comment)


def test_an_existence_check_with_expired_credentials_is_an_auth_error(fake, clock):
    comment = fake.add_comment("Hello")
    fake.remove(comment)
    fake.expire_credentials()
    with pytest.raises(AuthError):
        connector(fake, clock).exists(comment)


def test_an_existence_check_over_quota_waits_until_pacific_midnight(fake, clock):
    comment = fake.add_comment("Hello")
    fake.script(Response(403, QUOTA_BODY), path="comments$")
    with pytest.raises(RateLimited) as raised:
        connector(fake, clock).exists(comment)
    assert raised.value.retry_at == datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("native_id", ["", "UgzA,UgzB", "Ugz&part=snippet", "Ugz/../commentThreads"])
def test_an_id_that_is_not_one_comment_is_not_looked_up(fake, clock, native_id):
    assert connector(fake, clock).exists(native_id) is None
    assert fake.requests == []


# -- keys refused as Google refuses them --------------------------------------------------------

KEY_INVALID = {"error": {
    "code": 400, "message": "API key not valid. Please pass a valid API key.",
    "errors": [{"message": "API key not valid. Please pass a valid API key.", "domain": "global",
                "reason": "badRequest"}],
    "status": "INVALID_ARGUMENT",
    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}]}}


def test_the_fake_refuses_a_bad_key_with_400_as_google_does(fake):
    answer = httpx.get(f"{fake.url}/youtube/v3/commentThreads",
                       params={"part": "snippet", "allThreadsRelatedToChannelId": SCHOOL_CHANNEL, "key": "wrong"})
    assert answer.status_code == 400 and answer.json() == KEY_INVALID
    missing = httpx.get(f"{fake.url}/youtube/v3/commentThreads",
                        params={"part": "snippet", "allThreadsRelatedToChannelId": SCHOOL_CHANNEL})
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("body", [
    KEY_INVALID,
    {"error": {"errors": [{"domain": "usageLimits", "reason": "keyInvalid", "message": "Bad Request"}],
               "code": 400, "message": "Bad Request"}},  # the older form
    {"error": {"code": 403, "message": "Requests from referer <empty> are blocked.", "status": "PERMISSION_DENIED",
               "errors": [{"message": "Requests from referer <empty> are blocked.", "domain": "global",
                           "reason": "forbidden"}],
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_HTTP_REFERRER_BLOCKED", "domain": "googleapis.com"}]}},
])
def test_a_bad_deleted_or_restricted_key_is_an_auth_error(fake, clock, body):
    fake.script(Response(body["error"]["code"], body), path="commentThreads")
    with pytest.raises(AuthError, match="renew|refused the credentials"):
        connector(fake, clock).fetch(None)


def test_a_deleted_key_alerts_at_once_not_as_an_outage(tmp_path, store, clock, fake):
    config = make_config(tmp_path, sources=[{**fake.source_config("yt"), "official": True}], notify={"email": {
        "host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
        "moderators": ["moderator@school.example"]}})
    pipeline = build_pipeline(config, store, clock=clock)
    assert pipeline.poll("yt").ok
    fake.api_key = "a-new-key-the-school-has-not-configured"  # the old one was deleted in the console
    failed = pipeline.poll("yt")
    assert failed.error_kind == "auth" and "API_KEY_INVALID" in failed.error
    [alert] = store.query("SELECT * FROM alerts WHERE kind = 'source_auth'")
    assert "renew the API key" in json.loads(alert["payload"])["message"]


# -- OAuth as the channel owner: held-for-review comments, tokens renewed -------------------------

def oauth(fake, clock, **overrides):
    from connectors.youtube import YouTubeConnector, YouTubeSettings

    fake.clock = clock
    return YouTubeConnector(YouTubeSettings.model_validate({**fake.oauth_config("yt"), **overrides}), clock=clock)


def token_requests(fake):
    return [r for r in fake.requests if r.path == "/token"]


def test_held_comments_are_read_as_the_channel_owner(fake, clock):
    public = fake.add_comment("Lovely concert", at=minutes_ago(30))
    held = fake.add_held_comment("you are all idiots", author="Troll", at=minutes_ago(20))
    held_reply = fake.add_held_comment("spam link", author="Spammer", reply_to=public, at=minutes_ago(10))
    items, cursor = oauth(fake, clock).fetch(None)
    found = {i.native_id: i for i in items}
    assert set(found) == {public, held, held_reply}
    assert found[held].raw["moderationStatus"] == "heldForReview" and found[held].kind == "comment"
    assert found[held_reply].kind == "reply" and found[held_reply].parent_id == public
    queue = [r for r in thread_requests(fake) if r.query.get("moderationStatus") == "heldForReview"]
    assert len(queue) == 1 and queue[0].query["allThreadsRelatedToChannelId"] == SCHOOL_CHANNEL
    api = [r for r in fake.requests if r.path.startswith("/youtube/")]
    assert all(r.header("authorization", "").startswith("Bearer ya29.") and "key" not in r.query for r in api)
    [grant] = token_requests(fake)
    assert grant.header("content-type").startswith("application/x-www-form-urlencoded")
    assert grant.form() == {"grant_type": "refresh_token", "client_id": fake.client_id,
                            "client_secret": fake.client_secret, "refresh_token": "1//fake-refresh-token"}
    assert sorted(cursor["held"]) == sorted([held, held_reply])


def test_a_held_comment_is_returned_once_and_a_new_one_next_time(fake, clock):
    fake.add_held_comment("first", at=minutes_ago(20))
    yt = oauth(fake, clock)
    _, cursor = yt.fetch(None)
    later = fake.add_held_comment("second", at=minutes_ago(5))
    items, _ = yt.fetch(cursor)
    assert [i.native_id for i in items] == [later]


def test_an_api_key_alone_never_asks_for_held_comments(fake, clock):
    fake.add_held_comment("not visible to a key", at=minutes_ago(5))
    items, cursor = connector(fake, clock).fetch(None)
    assert items == [] and "held" not in cursor
    assert all("moderationStatus" not in r.query for r in fake.requests)


def test_held_for_review_can_be_turned_off(fake, clock):
    fake.add_held_comment("held", at=minutes_ago(5))
    items, _ = oauth(fake, clock, held_for_review=False).fetch(None)
    assert items == [] and all("moderationStatus" not in r.query for r in fake.requests)


def test_the_access_token_is_renewed_before_it_expires(fake, clock):
    yt = oauth(fake, clock)
    _, cursor = yt.fetch(None)
    clock.advance(50 * 60)
    _, cursor = yt.fetch(cursor)
    assert len(token_requests(fake)) == 1  # still valid: no new token
    clock.advance(6 * 60)  # 56 minutes after it was issued: renewed before Google's hour is up
    _, cursor = yt.fetch(cursor)
    assert len(token_requests(fake)) == 2
    for _ in range(30):  # a day and more of polls
        clock.advance(3600)
        _, cursor = yt.fetch(cursor)
    assert len(token_requests(fake)) == 32


def test_an_access_token_cut_short_is_replaced_once(fake, clock):
    yt = oauth(fake, clock)
    _, cursor = yt.fetch(None)
    fake.access_tokens.clear()  # revoked server-side before its time
    yt.fetch(cursor)
    assert len(token_requests(fake)) == 2


def test_a_fixed_access_token_stops_after_an_hour(fake, clock):
    fake.clock = clock
    access = httpx.post(f"{fake.url}/token", data={
        "grant_type": "refresh_token", "client_id": fake.client_id, "client_secret": fake.client_secret,
        "refresh_token": "1//fake-refresh-token"}).json()["access_token"]
    yt = connector(fake, clock, api_key=None, token=access)
    yt.fetch(None)
    clock.advance(3600)
    with pytest.raises(AuthError, match="401"):
        yt.fetch(None)


@pytest.mark.parametrize("change, error", [
    (lambda fake: fake.refresh_tokens.clear(), "invalid_grant"),
    (lambda fake: setattr(fake, "client_secret", "rotated"), "invalid_client"),
])
def test_a_revoked_refresh_token_or_wrong_client_is_an_auth_error(fake, clock, change, error):
    yt = oauth(fake, clock)
    change(fake)
    with pytest.raises(AuthError, match=error) as raised:
        yt.fetch(None)
    assert "fake-refresh-token" not in str(raised.value) and "GOCSPX" not in str(raised.value)


@pytest.mark.parametrize("response", [
    Response(503, "Service Unavailable"),
    Response(200, {"token_type": "Bearer"}),
    Response(200, "not json"),
])
def test_a_token_endpoint_outage_is_transient(fake, clock, response):
    yt = oauth(fake, clock)
    fake.script(response, path="^/token$")
    with pytest.raises(TransientError):
        yt.fetch(None)


def test_the_fake_keeps_moderation_queues_for_the_owner_with_the_right_scope(fake, clock):
    fake.clock = clock
    fake.refresh_tokens["1//other-channel"] = ("UCsomeoneelse000000000000", "https://www.googleapis.com/auth/youtube.force-ssl")
    fake.refresh_tokens["1//readonly"] = (SCHOOL_CHANNEL, "https://www.googleapis.com/auth/youtube.readonly")

    def queue(**auth):
        return httpx.get(f"{fake.url}/youtube/v3/commentThreads", params={
            "part": "snippet", "allThreadsRelatedToChannelId": SCHOOL_CHANNEL, "moderationStatus": "heldForReview",
            **auth.get("params", {})}, headers=auth.get("headers", {}))

    def bearer(refresh):
        access = httpx.post(f"{fake.url}/token", data={
            "grant_type": "refresh_token", "client_id": fake.client_id, "client_secret": fake.client_secret,
            "refresh_token": refresh}).json()["access_token"]
        return {"headers": {"Authorization": f"Bearer {access}"}}

    assert queue(params={"key": fake.api_key}).status_code == 403
    assert queue(**bearer("1//other-channel")).json()["error"]["errors"][0]["reason"] == "forbidden"
    assert queue(**bearer("1//readonly")).json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert queue(**bearer("1//fake-refresh-token")).status_code == 200
    assert httpx.post(f"{fake.url}/token", json={"grant_type": "refresh_token"}).json()["error"] == "invalid_request"


def test_held_comments_refused_to_someone_else_s_token_is_an_auth_error(fake, clock):
    fake.refresh_tokens = {"1//fake-refresh-token": ("UCsomeoneelse000000000000", FORCE_SSL)}
    with pytest.raises(AuthError, match="forbidden"):
        oauth(fake, clock).fetch(None)


@pytest.mark.parametrize("settings, message", [
    ({"held_for_review": True}, "held_for_review needs OAuth"),
    ({"client_id": "x.apps.googleusercontent.com"}, "all three"),
    ({"api_key": None}, "set api_key"),
])
def test_credential_settings_are_checked_where_they_are_read(fake, settings, message):
    from connectors.youtube import YouTubeSettings

    with pytest.raises(ValueError, match=message):
        YouTubeSettings.model_validate({**fake.source_config("yt"), **settings})
