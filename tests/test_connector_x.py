"""The X connector (tweepy.Client sent to a fake X API v2 over loopback)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.x import conversation_queries, snowflake_time
from monitor.app.assembly import build_pipeline
from monitor.app.status import collect_status
from monitor.demo.fakes.server import Response
from monitor.demo.fakes.x import FakeX
from monitor.errors import ActionNeeded, AuthError, RateLimited, TransientError
from tests.conftest import make_config


@pytest.fixture
def fake():
    with FakeX() as server:
        server.page_size = 3
        yield server


def ago(clock, minutes):
    return clock() - timedelta(minutes=minutes)


def by_id(items):
    return {item.native_id: item for item in items}


def paths(fake):
    return [r.path for r in fake.requests]


def test_a_mention_links_to_its_author_handle(fake, connect, clock):
    mention = fake.add_mention("@RavensWoodSch any news on the astro pitch?", author="@thornbury_dad", at=ago(clock, 5))
    item = by_id(connect().fetch(None)[0])[mention]
    assert item.url == f"https://x.com/thornbury_dad/status/{mention}"


def test_replies_under_school_posts_are_read_over_several_pages(fake, connect, clock):
    post = fake.add_post("Sports day results 🏅", at=ago(clock, 300))
    comments = [fake.add_comment(f"Well done {n}", reply_to=post, author=f"Parent {n}", at=ago(clock, 200 - n)) for n in range(8)]
    nested = fake.add_comment("Agreed", reply_to=comments[0], author="Grandad", at=ago(clock, 100))
    items, cursor = connect().fetch(None)
    found = by_id(items)
    assert set(found) == {post, nested, *comments}
    assert found[post].kind == "post" and found[post].by_school
    assert found[post].url == f"https://x.com/RavensWoodSch/status/{post}"
    assert found[comments[1]].kind == "comment" and found[comments[1]].parent_id == post
    assert found[comments[1]].thread_id == post and found[comments[1]].author_name == "Parent 1"
    assert found[nested].kind == "reply" and found[nested].parent_id == comments[0]
    searches = [r for r in fake.requests if r.path.endswith("/search/recent")]
    assert len(searches) >= 3 and all(f"conversation_id:{post}" in r.query["query"] for r in searches)
    assert [r.query.get("next_token") is None for r in searches].count(True) == 1  # then paged by next_token
    assert cursor["replies"] == nested and cursor["timeline"] == post


def test_idle_poll_makes_few_requests_and_finds_nothing(fake, connect, clock):
    post = fake.add_post("Parents' evening booking is open", at=ago(clock, 60))
    fake.add_comment("Booked!", reply_to=post, at=ago(clock, 30))
    connector = connect()
    _, cursor = connector.fetch(None)
    fake.requests.clear()
    items, again = connector.fetch(cursor)
    assert items == [] and again["replies"] == cursor["replies"]
    assert paths(fake) == [f"/2/users/{fake.school['id']}/tweets", f"/2/users/{fake.school['id']}/mentions",
                           "/2/tweets/search/recent"]
    assert all(r.query.get("since_id") for r in fake.requests)


def test_a_post_seen_late_is_searched_from_its_root(fake, connect, clock):
    known = fake.add_post("Known for a while", at=ago(clock, 400))
    post = fake.add_post("Posted while the timeline lagged", at=ago(clock, 300))
    early = fake.add_comment("Quick reply", reply_to=post, at=ago(clock, 290))
    later = fake.add_public_post("unrelated", at=ago(clock, 100))
    # the replies search had already moved past the post before the post was known
    cursor = {"timeline": later, "mentions": later, "replies": later, "conversations": {known: "2026-11-16"}}
    late = {k: v for k, v in next(t for t in fake.tweets if t["id"] == post).items() if not k.startswith("_")}
    fake.script(Response(200, {"data": [late], "meta": {"result_count": 1, "newest_id": post}}), path="/tweets$")
    items, _ = connect().fetch(cursor)
    assert {post, early} <= set(by_id(items))
    since = {r.query["query"]: r.query["since_id"] for r in fake.requests if r.path.endswith("/search/recent")}
    assert since == {f"conversation_id:{known}": later, f"conversation_id:{post}": post}


def test_mentions_and_public_search(fake, connect, clock):
    mention = fake.add_mention("Great play tonight", author="Local Theatre", at=ago(clock, 50))
    public = fake.add_public_post("Ravens Wood School choir was brilliant", author="Neighbour", at=ago(clock, 40))
    fake.add_public_post("Nothing to do with it", author="Stranger", at=ago(clock, 30))
    connector = connect(query='"Ravens Wood School" -is:retweet')
    items, cursor = connector.fetch(None)
    found = by_id(items)
    assert set(found) == {mention, public}
    assert found[mention].kind == "mention" and found[public].kind == "mention"
    assert cursor["query"] == {"q": '"Ravens Wood School" -is:retweet', "since_id": public}
    # a new query starts afresh instead of reusing the old since_id
    changed = connect(query="choir")
    _, changed_cursor = changed.fetch(cursor)
    assert changed_cursor["query"]["q"] == "choir"
    assert "since_id" not in fake.requests[-1].query


def test_school_reply_closes_the_comment(fake, connect, clock):
    comment = fake.add_comment("Is school open tomorrow? ❄️", at=ago(clock, 40))
    answer = fake.add_school_reply(comment, "Yes, open as usual.", at=ago(clock, 5))
    found = by_id(connect().fetch(None)[0])
    assert found[answer].by_school and found[answer].kind == "reply" and found[answer].parent_id == comment
    assert not found[comment].by_school


def test_empty_results(fake, connect):
    items, cursor = connect().fetch(None)
    assert items == []
    assert cursor["timeline"] is None and cursor["mentions"] is None and cursor["conversations"] == {}


def test_rate_limit_uses_the_reset_header(fake, connect):
    reset = datetime(2026, 11, 16, 9, 12, 30, tzinfo=timezone.utc)
    fake.rate_limit(reset_at=reset)
    with pytest.raises(RateLimited) as caught:
        connect().fetch(None)
    assert caught.value.retry_at == reset


def test_rate_limit_in_the_legacy_body_form(fake, connect):
    reset = datetime(2026, 11, 16, 9, 15, tzinfo=timezone.utc)
    fake.rate_limit(reset_at=reset, legacy=True, path="/mentions")
    with pytest.raises(RateLimited) as caught:
        connect().fetch(None)
    assert caught.value.retry_at == reset


def test_rate_limit_without_headers_waits_a_window(fake, connect, clock):
    fake.script(Response(429, {"title": "Too Many Requests", "status": 429, "detail": "Too Many Requests"}))
    with pytest.raises(RateLimited) as caught:
        connect().fetch(None)
    assert caught.value.retry_at == clock() + timedelta(minutes=15)


def test_revoked_token_is_an_auth_error(fake, connect):
    fake.expire_credentials()
    with pytest.raises(AuthError, match="401"):
        connect().fetch(None)


def test_forbidden_access_level_is_an_auth_error(fake, connect):
    fake.script(Response(403, {"title": "Unsupported Authentication", "status": 403,
                               "detail": "Your client app is not configured with the appropriate access"}))
    with pytest.raises(AuthError, match="access"):
        connect().fetch(None)


def test_server_error_is_transient(fake, connect):
    fake.script(Response(503, {"title": "Service Unavailable", "status": 503}))
    with pytest.raises(TransientError, match="503"):
        connect().fetch(None)


def test_malformed_json_is_transient(fake, connect):
    fake.script(Response(200, '{"data": [{"id": "1"'))
    with pytest.raises(TransientError, match="JSON"):
        connect().fetch(None)


def test_unexpected_shape_is_transient(fake, connect):
    fake.script(Response(200, {"data": {"id": "1"}}))
    with pytest.raises(TransientError, match="shape"):
        connect().fetch(None)


def test_hanging_server_is_transient(fake, connect):
    fake.script(Response(200, {"meta": {"result_count": 0}}, delay=5))
    with pytest.raises(TransientError, match="in time"):
        connect(timeout="0.2s").fetch(None)


def test_malformed_record_is_skipped_and_the_rest_kept(fake, connect, clock):
    good = fake.add_comment("Fine", at=ago(clock, 20))
    fake.add_malformed()
    later = fake.add_comment("Also fine", at=ago(clock, 1))
    found = by_id(connect().fetch(None)[0])
    assert {good, later} <= set(found) and len(found) == 3  # with the post they answer


def test_deleted_author_and_missing_optional_fields(fake, connect, clock):
    ghost = fake.add_comment("From a deleted account", author=None, at=ago(clock, 10))
    record = next(t for t in fake.tweets if t["id"] == ghost)
    del record["public_metrics"]
    found = by_id(connect().fetch(None)[0])
    assert found[ghost].author_id and found[ghost].author_name is None and found[ghost].author_handle is None
    assert found[ghost].url == f"https://x.com/i/web/status/{ghost}" and found[ghost].engagement is None


def test_emoji_and_right_to_left_text_are_preserved(fake, connect, clock):
    texts = ["🎉🎉 well done year 11! 👩🏽‍🎓", "مبروك للطلاب", "כל הכבוד"]
    ids = [fake.add_comment(t, author="مريم", at=ago(clock, 30 - n)) for n, t in enumerate(texts)]
    found = by_id(connect().fetch(None)[0])
    assert [found[i].text for i in ids] == texts and found[ids[0]].author_name == "مريم"


def test_engagement_adds_up_public_metrics(fake, connect, clock):
    post = fake.add_post("Open day", at=ago(clock, 10))
    record = next(t for t in fake.tweets if t["id"] == post)
    record["public_metrics"].update(like_count=12, retweet_count=3, quote_count=1)
    assert by_id(connect().fetch(None)[0])[post].engagement == 16


def test_too_old_since_id_gives_way_to_start_time(fake, connect, clock):
    post = fake.add_post("Old post", at=ago(clock, 60 * 24 * 9))
    connector = connect(query="robotics")
    old_cursor = {"query": {"q": "robotics", "since_id": post}}
    connector.fetch(old_cursor)
    search = next(r for r in fake.requests if r.query.get("query") == "robotics")
    assert "since_id" not in search.query and search.query["start_time"].endswith("Z")


def test_requests_go_to_base_url_with_bearer_and_user_agent(fake, connect):
    connect().fetch(None)
    assert fake.requests and all(r.header("authorization") == f"Bearer {fake.token}" for r in fake.requests)
    assert all("school-social-monitor" in r.header("user-agent") for r in fake.requests)


def test_conversation_queries_stay_within_the_limit():
    roots = [str(1_800_000_000_000_000_000 + n) for n in range(40)]
    assert conversation_queries(roots) == [(f"conversation_id:{root}", [root]) for root in roots]
    combined = conversation_queries(roots, combine=True)
    assert len(combined) > 1 and all(len(query) <= 512 for query, _ in combined)
    assert [root for _, batch in combined for root in batch] == roots
    assert all(query == " OR ".join(f"conversation_id:{r}" for r in batch) for query, batch in combined)


def test_snowflake_time_matches_the_fake_ids(fake, clock):
    when = ago(clock, 5)
    tweet_id = fake.add_post("hello", at=when)
    assert abs(snowflake_time(tweet_id) - when) < timedelta(milliseconds=2)


def test_an_implausible_newest_id_does_not_move_the_cursor(fake, connect, clock):
    fake.script(Response(200, {"data": [], "meta": {"result_count": 0, "newest_id": "9" * 19}}), path="/tweets")
    fake.script(Response(200, {"meta": {"result_count": 0, "newest_id": "not-an-id"}}), path="/mentions")
    _, cursor = connect().fetch({"timeline": None, "mentions": "1500000000000000000"})
    assert cursor["timeline"] is None and cursor["mentions"] == "1500000000000000000"


@pytest.mark.parametrize("combine, searches", [(False, 3), (True, 1)])
def test_one_search_per_recent_post_unless_combined(fake, connect, clock, combine, searches):
    posts = [fake.add_post(f"Post {n}", at=ago(clock, 300 - n)) for n in range(3)]
    replies = [fake.add_comment(f"Reply {n}", reply_to=post, at=ago(clock, 100 - n)) for n, post in enumerate(posts)]
    items, _ = connect(combine_conversations=combine).fetch(None)
    assert set(replies) <= {i.native_id for i in items}
    queries = [r.query["query"] for r in fake.requests if r.path.endswith("/search/recent") and "next_token" not in r.query]
    assert len(queries) == searches
    assert {t for q in queries for t in q.split(" OR ")} == {f"conversation_id:{p}" for p in posts}


def test_without_a_timeline_endpoint_school_replies_come_by_search(fake, connect, clock):
    comment = fake.add_comment("Are the results out?", at=ago(clock, 30))
    answer = fake.add_school_reply(comment, "Tomorrow at 9.", at=ago(clock, 20))
    fake.script(Response(404, {"title": "Not Found Error", "status": 404, "detail": "Not found"}), path="/tweets$")
    found = by_id(connect().fetch(None)[0])
    assert found[answer].by_school and found[answer].parent_id == comment and found[comment].kind == "comment"


def test_a_conversation_where_someone_answered_the_school_is_watched(fake, connect, clock):
    mention = fake.add_mention("Is the fair on Saturday?", author="Parent", at=ago(clock, 50))
    school = fake.add_school_reply(mention, "Yes, from 10am.", at=ago(clock, 40))
    thanks = fake.add_comment("Thanks!", reply_to=school, author="Parent", at=ago(clock, 30))
    aside = fake.add_comment("See you there", reply_to=thanks, author="Other Parent", at=ago(clock, 20))
    items, cursor = connect().fetch(None)
    found = by_id(items)
    assert mention in cursor["conversations"]
    assert {mention, school, thanks, aside} <= set(found)
    assert found[thanks].kind == "reply" and found[thanks].parent_id == school


def test_the_bearer_token_never_reaches_the_log(fake, connect, clock, caplog):
    caplog.set_level("DEBUG")
    fake.add_comment("hello", at=ago(clock, 5))
    fake.expire_credentials()
    with pytest.raises(AuthError) as caught:
        connect().fetch(None)
    assert fake.token not in caplog.text and fake.token not in str(caught.value)


# -- whether a tweet still exists -------------------------------------------------------------

NOT_FOUND = "https://api.x.com/2/problems/resource-not-found"


def test_a_tweet_still_there_or_deleted_is_one_lookup_each(fake, connect, clock):
    kept = fake.add_comment("Lovely concert", at=ago(clock, 20))
    deleted = fake.add_comment("an abusive reply", at=ago(clock, 10))
    fake.remove(deleted)
    connector = connect()
    fake.requests.clear()
    assert connector.exists(kept) is True
    assert connector.exists(deleted) is False
    assert paths(fake) == [f"/2/tweets/{kept}", f"/2/tweets/{deleted}"]
    assert all(r.header("authorization") == f"Bearer {fake.token}" for r in fake.requests)


def test_the_fake_answers_a_deleted_tweet_as_x_does(fake, clock):
    deleted = fake.add_comment("gone soon", at=ago(clock, 10))
    fake.remove(deleted)
    answer = httpx.get(f"{fake.url}/2/tweets/{deleted}", headers={"Authorization": f"Bearer {fake.token}"})
    assert answer.status_code == 200 and "data" not in answer.json()
    (error,) = answer.json()["errors"]
    assert error["type"] == NOT_FOUND and error["resource_id"] == deleted and error["parameter"] == "id"


@pytest.mark.parametrize("problem_type", [NOT_FOUND, "https://api.twitter.com/2/problems/resource-not-found"])
def test_a_deleted_tweet_is_gone_whichever_host_names_the_problem(fake, connect, clock, problem_type):
    tweet = fake.add_comment("deleted since", at=ago(clock, 10))
    fake.script(Response(200, {"errors": [{
        "value": tweet, "detail": f"Could not find tweet with id: [{tweet}].", "title": "Not Found Error",
        "resource_type": "tweet", "parameter": "id", "resource_id": tweet, "type": problem_type}]}),
        path=r"^/2/tweets/\d+$")
    assert connect().exists(tweet) is False


@pytest.mark.parametrize("answer", [
    lambda tweet: Response(503, {"title": "Service Unavailable", "status": 503}),
    lambda tweet: Response(500, "<html>oops</html>"),
    lambda tweet: Response(404, {"title": "Not Found Error", "status": 404, "detail": "Not found"}),
    lambda tweet: Response(400, {"title": "Invalid Request", "status": 400, "detail": "invalid parameters"}),
    lambda tweet: Response(200, '{"data": {"id": "1"'),
    lambda tweet: Response(200, {}),
    lambda tweet: Response(200, []),
    lambda tweet: Response(200, {"data": None}),
    lambda tweet: Response(200, {"data": [{"id": tweet}]}),
    lambda tweet: Response(200, {"data": {"id": "1", "text": "another tweet"}}),
    lambda tweet: Response(200, {"errors": []}),
    lambda tweet: Response(200, {"errors": "resource-not-found"}),
    lambda tweet: Response(200, {"errors": [{"type": NOT_FOUND, "resource_id": "1", "value": "1"}]}),  # another one
    lambda tweet: Response(200, {"errors": [{"title": "Not Found Error", "resource_id": tweet}]}),  # no problem type
    lambda tweet: Response(200, {"data": {"id": "1"}, "errors": [{"type": NOT_FOUND, "resource_id": tweet}]}),
])
def test_an_outage_or_an_odd_answer_is_never_gone(fake, connect, clock, answer):
    tweet = fake.add_comment("deleted, but only X's clear answer may say so", at=ago(clock, 10))
    fake.remove(tweet)
    fake.script(answer(tweet), path=r"^/2/tweets/\d+$")
    try:
        assert connect().exists(tweet) is None
    except TransientError:
        pass


def test_a_tweet_x_will_not_show_cannot_tell(fake, connect, clock):
    tweet = fake.add_comment("from an account that went private", at=ago(clock, 10))
    fake.script(Response(200, {"errors": [{
        "value": tweet, "detail": f"Sorry, you are not authorized to see the Tweet with id: [{tweet}].",
        "title": "Authorization Error", "resource_type": "tweet", "parameter": "id", "resource_id": tweet,
        "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}]}), path=r"^/2/tweets/\d+$")
    assert connect().exists(tweet) is None


def test_a_lookup_with_a_revoked_token_is_an_auth_error(fake, connect, clock):
    tweet = fake.add_comment("hello", at=ago(clock, 10))
    fake.remove(tweet)
    fake.expire_credentials()
    with pytest.raises(AuthError, match="401"):
        connect().exists(tweet)


def test_a_rate_limited_lookup_waits_for_the_reset(fake, connect, clock):
    tweet = fake.add_comment("hello", at=ago(clock, 10))
    reset = datetime(2026, 11, 16, 9, 12, 30, tzinfo=timezone.utc)
    fake.rate_limit(reset_at=reset, path=r"^/2/tweets/\d+$")
    with pytest.raises(RateLimited) as caught:
        connect().exists(tweet)
    assert caught.value.retry_at == reset


def test_a_hanging_lookup_is_transient(fake, connect, clock):
    tweet = fake.add_comment("hello", at=ago(clock, 10))
    fake.script(Response(200, {"data": {"id": tweet, "text": "hello"}}, delay=5), path=r"^/2/tweets/\d+$")
    with pytest.raises(TransientError, match="in time"):
        connect(timeout="0.2s").exists(tweet)


@pytest.mark.parametrize("native_id", ["", "abc", "12/../34", "1e5", "١٢٣"])
def test_something_that_is_not_a_tweet_id_is_not_asked_about(fake, connect, native_id):
    assert connect().exists(native_id) is None
    assert fake.requests == []


# -- pay-per-use billing ----------------------------------------------------------------------

def test_an_empty_credit_balance_needs_a_person_not_a_retry(fake, connect, clock):
    fake.add_comment("Thanks!", at=ago(clock, 10))
    fake.deplete_credits()
    with pytest.raises(ActionNeeded, match="402.*CreditsDepleted.*Buy credits"):
        connect().fetch(None)
    with pytest.raises(ActionNeeded, match="credits"):
        connect().exists(fake.tweets[0]["id"])


@pytest.mark.parametrize("period", ["Monthly", "Daily"])
def test_a_reached_usage_cap_needs_a_person_not_a_retry(fake, connect, clock, period):
    fake.add_comment("Thanks!", at=ago(clock, 10))
    fake.cap_usage(period)
    with pytest.raises(ActionNeeded, match=f"429, UsageCapExceeded.*{period}.*spending limit"):
        connect().fetch(None)


def test_a_402_without_a_readable_body_is_still_about_credits(fake, connect):
    fake.script(Response(402, "Payment Required"))
    with pytest.raises(ActionNeeded, match="credits"):
        connect().fetch(None)


def test_billing_stops_alert_at_once_and_recover_by_themselves(tmp_path, store, clock, fake):
    fake.add_comment("Before", at=ago(clock, 30))
    config = make_config(tmp_path, sources=[{**fake.source_config("x-school"), "official": True}], notify={"email": {
        "host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
        "moderators": ["moderator@school.example"]}})
    pipeline = build_pipeline(config, store, clock=clock)
    assert pipeline.poll("x-school").ok
    fake.deplete_credits()
    clock.advance(300)
    failed = pipeline.poll("x-school")
    assert failed.error_kind == "action"
    [alert] = store.query("SELECT * FROM alerts WHERE kind = 'source_auth'")
    payload = json.loads(alert["payload"])
    assert "until someone acts" in payload["title"] and "Buy credits" in payload["message"]
    assert "bearer token" not in payload["message"]  # not the renew-the-token hint
    assert collect_status(config, store)["sources"][0]["health"].startswith("blind")
    fake.top_up()
    later = fake.add_comment("While out of credits", at=clock())
    clock.advance(3600)
    assert pipeline.poll("x-school").ok
    assert later in {row["native_id"] for row in store.query("SELECT native_id FROM items")}
