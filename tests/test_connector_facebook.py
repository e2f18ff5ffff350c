"""The Facebook connector against the fake Graph API over loopback."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from monitor.errors import AuthError, RateLimited, TransientError
from monitor.demo.fakes.facebook import FakeFacebook
from monitor.demo.fakes.graph import VERSION
from monitor.demo.fakes.server import Response


@pytest.fixture
def fake():
    with FakeFacebook() as server:
        server.page_size = 2
        yield server


def ago(clock, minutes):
    return clock() - timedelta(minutes=minutes)


def by_id(items):
    return {item.native_id: item for item in items}


def test_posts_comments_and_replies_are_read_over_several_pages(fake, connect, clock):
    post = fake.add_post("Sports day is on Friday 🏃", at=ago(clock, 120))
    comments = [fake.add_comment(f"Comment {n}", reply_to=post, at=ago(clock, 100 - n)) for n in range(7)]
    reply = fake.add_comment("Replying to the first", reply_to=comments[0], author="Another Parent", at=ago(clock, 50))
    items, cursor = connect().fetch(None)
    found = by_id(items)
    assert set(comments) | {post, reply} == set(found)
    assert found[post].kind == "post" and found[post].by_school
    assert found[comments[3]].kind == "comment"
    assert found[comments[3]].parent_id == post and found[comments[3]].thread_id == post
    assert found[reply].kind == "reply" and found[reply].parent_id == comments[0]
    assert found[comments[0]].author_name == "A Parent" and found[comments[0]].url.startswith("https://www.facebook.com/")
    comment_pages = [r for r in fake.requests if r.path.endswith(f"{post}/comments")]
    assert len(comment_pages) >= 4  # 8 records, 2 a page
    assert all(r.query["filter"] == "stream" and r.query["order"] == "reverse_chronological" for r in comment_pages)
    assert cursor == {"since": found[reply].created_at.isoformat()}


def test_second_poll_stops_at_the_checkpoint_and_finds_only_what_is_new(fake, connect, clock):
    post = fake.add_post("Term dates", at=ago(clock, 300))
    old = [fake.add_comment(f"Old comment {n}", reply_to=post, at=ago(clock, 200 - 20 * n)) for n in range(6)]
    connector = connect()
    _, cursor = connector.fetch(None)
    clock.advance(timedelta(minutes=30))
    new = fake.add_comment("A new question", reply_to=post, at=ago(clock, 1))
    fake.requests.clear()
    items, cursor = connector.fetch(cursor)
    # the newest old comment is the checkpoint itself, inside the overlap: the store drops the repeat
    assert [i.native_id for i in items] == [new, old[-1]]
    # feed, two pages of comments (the second reaches past the checkpoint: stop), tagged
    assert len(fake.requests) == 4
    fake.requests.clear()
    items, _ = connector.fetch(cursor)
    assert [i.native_id for i in items] == [new]  # inside the overlap: repeated, the store drops it
    assert len(fake.requests) == 3


def test_idle_poll_requests_feed_each_recent_post_and_tagged(fake, connect, clock):
    for n in range(3):
        fake.add_post(f"Post {n}", at=ago(clock, 60 * 24 * (n + 1)))
    fake.add_post("Too old to watch", at=ago(clock, 60 * 24 * 30))
    connector = connect()
    _, cursor = connector.fetch(None)
    fake.requests.clear()
    connector.fetch(cursor)
    paths = [r.path for r in fake.requests]
    assert sum(p.endswith("/comments") for p in paths) == 3
    assert len(paths) == 1 + 3 + 1 + 1  # feed over two pages (page size 2), comments, tagged


def test_empty_page(fake, connect):
    items, cursor = connect().fetch(None)
    assert items == [] and cursor is None


def test_visitor_posts_and_tagged_posts(fake, connect, clock):
    visitor = fake.add_visitor_post("Lost a coat at the gate", author="Sam", at=ago(clock, 30))
    tag = fake.add_mention("Great concert at Ravens Wood tonight", author="Local Choir", at=ago(clock, 20), page=True)
    person = fake.add_mention("Proud of my daughter at Ravens Wood", author="A Parent", at=ago(clock, 10))
    found = by_id(connect().fetch(None)[0])
    assert found[visitor].kind == "comment" and not found[visitor].by_school
    assert found[tag].kind == "mention" and found[tag].author_name == "Local Choir"
    assert found[person].kind == "mention" and found[person].author_name is None  # Facebook withholds from


def test_school_reply_is_recognised(fake, connect, clock):
    comment = fake.add_comment("When do we get reports?", at=ago(clock, 40))
    answer = fake.add_school_reply(comment, "Next Wednesday.", at=ago(clock, 10))
    found = by_id(connect().fetch(None)[0])
    assert found[answer].by_school and found[answer].parent_id == comment and found[answer].kind == "reply"
    assert not found[comment].by_school


def test_rate_limit_names_the_time_to_regain_access(fake, connect, clock):
    fake.add_comment("hello", at=ago(clock, 5))
    fake.rate_limit(minutes=12, code=80001)
    with pytest.raises(RateLimited) as caught:
        connect().fetch(None)
    assert caught.value.retry_at == clock() + timedelta(minutes=12)


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_other_rate_limit_codes(fake, connect, clock, code):
    fake.script(Response(403, {"error": {"message": "Application request limit reached", "code": code}}))
    with pytest.raises(RateLimited) as caught:
        connect().fetch(None)
    assert caught.value.retry_at == clock() + timedelta(minutes=15)  # no estimate given: the default wait


def test_expired_token_is_an_auth_error(fake, connect):
    fake.expire_credentials()
    with pytest.raises(AuthError, match="190"):
        connect().fetch(None)


def test_wrong_token_is_an_auth_error(fake, connect):
    with pytest.raises(AuthError):
        connect(token="not-the-token").fetch(None)


def test_server_error_is_transient(fake, connect):
    fake.script(Response(500, {"error": {"message": "An unknown error occurred", "code": 1, "is_transient": True}}))
    with pytest.raises(TransientError):
        connect().fetch(None)


def test_malformed_json_is_transient(fake, connect):
    fake.script(Response(200, '{"data": [ {"id": "1_2", '))
    with pytest.raises(TransientError, match="JSON"):
        connect().fetch(None)


def test_a_response_without_data_is_transient(fake, connect):
    fake.script(Response(200, {"something": "else"}))
    with pytest.raises(TransientError, match="data"):
        connect().fetch(None)


def test_malformed_record_is_skipped_and_the_rest_kept(fake, connect, clock):
    post = fake.add_post("Open evening", at=ago(clock, 60))
    first = fake.add_comment("Before", reply_to=post, at=ago(clock, 50))
    fake.add_malformed()
    fake.comments[post].append({"message": "no id at all", "created_time": "2026-11-16T08:00:00+0000",
                                "_at": ago(clock, 45), "_seq": 999})
    last = fake.add_comment("After", reply_to=post, at=ago(clock, 40))
    found = by_id(connect().fetch(None)[0])
    assert {post, first, last} == set(found)


def test_missing_optional_fields_and_deleted_authors(fake, connect, clock):
    post = fake.add_post("Photo album", at=ago(clock, 60))
    ghost = fake.add_comment("I was deleted", reply_to=post, author=None, at=ago(clock, 50))
    record = next(c for c in fake.comments[post] if c["id"] == ghost)
    for key in ("permalink_url", "like_count", "comment_count"):
        del record[key]
    fake.posts[0].pop("message")
    found = by_id(connect().fetch(None)[0])
    assert found[ghost].author_id is None and found[ghost].author_name is None
    assert found[ghost].url == f"https://www.facebook.com/{ghost}" and found[ghost].engagement is None
    assert found[post].text == ""


def test_emoji_and_right_to_left_text_are_preserved(fake, connect, clock):
    texts = ["Well done team 🎉👏🏽", "شكرا للمدرسة على الرحلة", "תודה רבה 🙏"]
    ids = [fake.add_comment(t, author="ולד", at=ago(clock, 30 - n)) for n, t in enumerate(texts)]
    found = by_id(connect().fetch(None)[0])
    assert [found[i].text for i in ids] == texts
    assert found[ids[0]].author_name == "ולד"


def test_post_deleted_while_reading_is_skipped(fake, connect, clock):
    kept = fake.add_comment("Still here", at=ago(clock, 30))
    doomed = fake.add_post("Deleted soon", at=ago(clock, 20))
    fake.script(fake.missing(doomed), path=f"{doomed}/comments")
    found = by_id(connect().fetch(None)[0])
    assert kept in found and doomed in found


def test_token_stays_with_the_configured_host(fake, connect, clock):
    post = fake.add_post("Paging", at=ago(clock, 60))
    for n in range(5):
        fake.add_comment(f"c{n}", reply_to=post, at=ago(clock, 50 - n))
    connect().fetch(None)
    assert all(r.query.get("access_token") == fake.token for r in fake.requests)
    assert any("after" in r.query for r in fake.requests)


def test_a_comment_from_the_future_does_not_stall_the_checkpoint(fake, connect, clock):
    post = fake.add_post("Timestamps", at=ago(clock, 60))
    normal = fake.add_comment("Normal", reply_to=post, at=ago(clock, 30))
    fake.add_comment("Clock gone wrong", reply_to=post, at=clock() + timedelta(days=365 * 5))
    items, cursor = connect().fetch(None)
    assert cursor == {"since": by_id(items)[normal].created_at.isoformat()}


def test_comments_served_oldest_first_are_all_read(fake, connect, clock):
    post = fake.add_post("Order", at=ago(clock, 400))
    old = [fake.add_comment(f"Old {n}", reply_to=post, at=ago(clock, 300 - 20 * n)) for n in range(4)]
    connector = connect()
    _, cursor = connector.fetch(None)
    clock.advance(timedelta(hours=1))
    new = [fake.add_comment(f"New {n}", reply_to=post, at=ago(clock, 10 - n)) for n in range(3)]

    fake.honour_order = False  # a server that ignores order=reverse_chronological
    items, _ = connector.fetch(cursor)
    assert set(new) <= {i.native_id for i in items}
    assert old[0] not in {i.native_id for i in items}


def test_a_next_link_to_another_host_is_followed_on_the_base_url(fake, connect, clock):
    fake.add_post("Only post", at=ago(clock, 30))
    foreign = "https://graph.facebook.com/v21.0/1010101010/feed?until=1763280000&__paging_token=enc_AdB"
    fake.script(Response(200, {"data": [], "paging": {"next": foreign}}), path=r"/feed$")
    items, _ = connect().fetch(None)
    follow = fake.requests[2]  # after /tagged and the first page of the feed
    assert follow.path == f"/{VERSION}/1010101010/feed" and follow.query["until"] == "1763280000"
    assert follow.query["access_token"] == fake.token and len(items) == 1


def test_the_token_goes_as_bearer_header_too_and_never_into_errors(fake, connect):
    fake.expire_credentials()
    with pytest.raises(AuthError) as caught:
        connect().fetch(None)
    assert fake.requests[0].header("authorization") == f"Bearer {fake.token}"
    assert fake.token not in str(caught.value)


def test_quota_use_is_shown_in_status_and_follows_the_latest_poll(fake, connect, clock):
    connector = connect()
    connector.fetch(None)
    assert connector.status() == {"quota_used_percent": 2, "warnings": []}
    fake.script(Response(200, {"data": []}, {"X-App-Usage": '{"call_count": 93, "total_cputime": 10, "total_time": 12}'}),
                path=r"/feed$")
    connector.fetch(None)
    assert connector.status()["quota_used_percent"] == 93
    connector.fetch(None)
    assert connector.status()["quota_used_percent"] == 2


# -- does a comment still exist? ------------------------------------------------------------


def test_a_comment_still_there_exists_and_a_deleted_one_does_not(fake, connect, clock):
    post = fake.add_post("Harvest festival photos", at=ago(clock, 60))
    kept = fake.add_comment("Lovely photos", reply_to=post, at=ago(clock, 30))
    reply = fake.add_comment("Agreed!", reply_to=kept, at=ago(clock, 20))
    deleted = fake.add_comment("an abusive comment", reply_to=post, at=ago(clock, 10))
    mention = fake.add_mention("Well done @ravenswood", at=ago(clock, 5))
    connector = connect()
    fake.remove(deleted)
    fake.requests.clear()
    assert [connector.exists(i) for i in (post, kept, reply, mention, deleted)] == [True, True, True, True, False]
    # "does not exist" is believed once the Page's own feed is still readable (a lost role reads the same)
    asked = [f"/{VERSION}/{i}" for i in (post, kept, reply, mention, deleted)] + [f"/{VERSION}/{fake.page_id}/feed"]
    assert [r.path for r in fake.requests] == asked
    assert all(r.query["fields"] == "id,is_hidden" for r in fake.requests[:-1])
    assert all(r.header("authorization") == f"Bearer {fake.token}" for r in fake.requests)


def test_an_existence_check_counts_in_the_quota_use(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    connector = connect()
    fake.script(Response(200, {"id": comment}, {"X-App-Usage": '{"call_count": 91, "total_cputime": 3, "total_time": 4}'}))
    assert connector.exists(comment) is True
    assert connector.status()["quota_used_percent"] == 91


@pytest.mark.parametrize("response", [
    Response(500, {"error": {"message": "An unknown error occurred", "code": 1, "is_transient": True}}),
    Response(503, "Service Unavailable"),
    Response(200, '{"id": "1_2", '),
    Response(200, {"data": []}),
    Response(200, {"id": "someone_else"}),
    Response(200, ["not", "an", "object"]),
    # code 100 without subcode 33 is a bad request, not a missing object
    Response(400, {"error": {"message": "(#100) Tried accessing nonexisting field (nope) on node type (Comment)",
                             "type": "OAuthException", "code": 100}}),
    Response(400, {"error": {"message": "(#100) Invalid parameter", "code": 100, "error_subcode": 1234}}),
])
def test_a_failed_or_unexpected_lookup_never_says_gone(fake, connect, clock, response):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.remove(comment)
    fake.script(response)
    with pytest.raises(TransientError):
        connect().exists(comment)


def test_an_existence_check_with_an_expired_token_is_an_auth_error(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.remove(comment)
    fake.expire_credentials()
    with pytest.raises(AuthError, match="190"):
        connect().exists(comment)


def test_a_rate_limited_existence_check_waits_as_told(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.rate_limit(minutes=7)
    with pytest.raises(RateLimited) as caught:
        connect().exists(comment)
    assert caught.value.retry_at == clock() + timedelta(minutes=7)


@pytest.mark.parametrize("native_id", ["1010101010/feed", "1_2?fields=x", "", "1_2,1_3"])
def test_an_id_that_is_not_one_object_is_not_looked_up(fake, connect, native_id):
    assert connect().exists(native_id) is None
    assert fake.requests == []


# -- the platform as it is in late 2026 -----------------------------------------------------------


def official_pipeline(fake, tmp_path, clock, **overrides):
    """The real pipeline with its hooks (cases, alerts) over an official Facebook Page source."""
    from classifiers.base import NullClassifier
    from monitor.app.assembly import build_pipeline
    from monitor.config import parse_config
    from monitor.store import Store

    config = parse_config({
        "sources": [{**fake.source_config("fb"), "official": True, **overrides}],
        "storage": {"path": str(tmp_path / "m.db")},
        "notify": {"email": {"host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
                             "moderators": ["mod@school.example"]}},
    })
    store = Store(config.database_path, clock=clock)
    return build_pipeline(config, store, clock=clock, classifier=NullClassifier()), store


def test_the_api_version_is_one_setting_with_a_current_default(fake, connect, clock):
    from connectors.facebook import FacebookSettings
    from connectors.graph import DEFAULT_VERSION

    plain = FacebookSettings.model_validate({"name": "fb", "page_id": "1", "token": "t"})
    assert plain.graph_url == f"https://graph.facebook.com/{DEFAULT_VERSION}" and DEFAULT_VERSION >= "v24.0"
    chosen = FacebookSettings.model_validate({"name": "fb", "page_id": "1", "token": "t", "api_version": "v26.0"})
    assert chosen.graph_url == "https://graph.facebook.com/v26.0"
    older = FacebookSettings.model_validate({"name": "fb", "page_id": "1", "token": "t",
                                              "base_url": "https://graph.facebook.com/v21.0/"})
    assert older.graph_url == "https://graph.facebook.com/v21.0" and older.version == "v21.0"  # still works
    with pytest.raises(ValueError, match="give the version once"):
        FacebookSettings.model_validate({"name": "fb", "page_id": "1", "token": "t",
                                         "base_url": "https://graph.facebook.com/v21.0", "api_version": "v25.0"})
    connector = connect(api_version=None)
    connector.fetch(None)
    assert fake.requests and all(r.path.startswith(f"/{DEFAULT_VERSION}/") for r in fake.requests)
    assert connector.status()["warnings"] == []


def test_a_version_near_its_retirement_is_a_warning_in_status(fake, connect, clock):
    connector = connect(base_url=f"{fake.url}/v21.0", api_version=None)  # the older form of the setting
    connector.fetch(None)
    assert fake.requests[0].path.startswith("/v21.0/")
    (warning,) = connector.status()["warnings"]
    assert "v21.0 retires on 21 January 2027" in warning and 'api_version = "v25.0"' in warning
    assert "already" in connect(api_version="v19.0").status()["warnings"][0]


def test_a_comment_the_page_hid_is_gone_though_the_api_still_returns_it(fake, connect, clock):
    post = fake.add_post("Open evening", at=ago(clock, 60))
    hidden = fake.add_comment("an abusive comment", reply_to=post, at=ago(clock, 30))
    visitor = fake.add_visitor_post("a rude visitor post", author="Troll", at=ago(clock, 20))
    kept = fake.add_comment("See you there", reply_to=post, at=ago(clock, 10))
    fake.hide(hidden)
    fake.hide(visitor)
    connector = connect()
    assert [connector.exists(i) for i in (hidden, visitor, kept)] == [False, False, True]
    # the fake is as strict as the Graph API: is_hidden comes only when asked for
    plain = httpx.get(f"{fake.url}/{VERSION}/{hidden}", params={"fields": "id", "access_token": fake.token}).json()
    assert plain == {"id": hidden}


def test_a_lost_page_role_is_an_auth_alert_not_every_case_closed(fake, tmp_path, clock):
    from monitor.sla.cases import list_cases

    post = fake.add_post("Trip letters", at=ago(clock, 60))
    comment = fake.add_comment("Where do I send the form?", reply_to=post, at=ago(clock, 30))
    pipeline, store = official_pipeline(fake, tmp_path, clock)
    assert pipeline.poll("fb").ok
    fake.lose_access()  # every object now answers 100/33, as a deleted one does
    assert pipeline.still_there("fb", comment) is None  # not False: nothing is closed as removed
    assert [c.state for c in list_cases(store)] == ["open"]
    state = store.source_state("fb")
    assert state.last_error_kind == "auth" and "lost their role" in state.last_error
    assert store.query("SELECT kind FROM alerts WHERE kind = 'source_auth'")
    result = pipeline.poll("fb")  # a poll says the same, not "transient"
    assert result.error_kind == "auth"
    store.close()


def test_a_lost_role_is_told_by_the_lookup_alone(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    connector = connect()
    fake.lose_access()
    with pytest.raises(AuthError, match="lost their role"):
        connector.exists(comment)


def test_the_page_check_is_made_once_for_many_deleted_comments(fake, connect, clock):
    gone = [fake.add_comment(f"spam {n}", at=ago(clock, 10 - n)) for n in range(3)]
    for native_id in gone:
        fake.remove(native_id)
    connector = connect()
    assert [connector.exists(i) for i in gone] == [False, False, False]
    assert sum(r.path.endswith("/feed") for r in fake.requests) == 1


def test_posts_that_tag_the_page_are_mentions_with_no_case(fake, tmp_path, clock):
    from monitor.sla.cases import list_cases

    visitor = fake.add_visitor_post("Is the car park open on Saturday?", author="Sam", at=ago(clock, 40))
    tag = fake.add_mention("Great match against Ravens Wood today", author="A Parent", at=ago(clock, 30))
    fake.add_comment("Well played!", reply_to=tag, author="Someone Else", at=ago(clock, 20))
    pipeline, store = official_pipeline(fake, tmp_path, clock)
    assert pipeline.poll("fb").ok
    kinds = {row["native_id"]: row["kind"] for row in store.query("SELECT native_id, kind FROM items")}
    assert kinds == {visitor: "comment", tag: "mention"}  # the comments under someone else's post are not read
    assert [c.native_id for c in list_cases(store)] == [visitor]
    assert not any(r.path.endswith(f"{tag}/comments") for r in fake.requests)
    store.close()


def test_tagging_posts_are_left_out_of_the_feed_when_mentions_are_not_wanted(fake, connect, clock):
    tag = fake.add_mention("Ravens Wood choir was lovely", at=ago(clock, 30))
    items, _ = connect(tagged=False).fetch(None)
    assert tag not in {i.native_id for i in items}


def test_the_fake_feed_holds_tagging_posts_and_fields_only_when_asked(fake):
    tag = fake.add_mention("Ravens Wood fair")
    feed = httpx.get(f"{fake.url}/{VERSION}/{fake.page_id}/feed",
                     params={"fields": "id,message", "access_token": fake.token}).json()
    assert [p["id"] for p in feed["data"]] == [tag] and set(feed["data"][0]) == {"id", "message"}
    refused = httpx.get(f"{fake.url}/{VERSION}/{fake.page_id}/feed",
                        params={"fields": "id,nope", "access_token": fake.token})
    error = refused.json()["error"]
    assert refused.status_code == 400 and (error["code"], error["type"]) == (100, "OAuthException")
    assert "nonexisting field (nope)" in error["message"]


def test_check_config_warns_about_a_retiring_graph_version(fake):
    from monitor.app.checks import check_configuration
    from monitor.config import parse_config

    old = parse_config({"sources": [{**fake.source_config("fb"), "api_version": None,
                                     "base_url": "https://graph.facebook.com/v21.0"}]})
    warnings, _ = check_configuration(old)
    assert any("source fb: Graph API v21.0" in w and "api_version" in w for w in warnings)
    # a version newer than Meta's published retirement dates (checked against today's date)
    current = parse_config({"sources": [{**fake.source_config("fb"), "base_url": "https://graph.facebook.com",
                                         "api_version": "v27.0"}]})
    assert not any("Graph API" in w for w in check_configuration(current)[0])
