"""The Instagram connector against the fake Graph API over loopback."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from connectors.instagram import FULL_READ_EVERY
from monitor.errors import AuthError, RateLimited, TransientError
from monitor.demo.fakes.graph import VERSION
from monitor.demo.fakes.instagram import FakeInstagram
from monitor.demo.fakes.server import Response


@pytest.fixture
def fake():
    with FakeInstagram() as server:
        server.page_size = 2
        yield server


def ago(clock, minutes):
    return clock() - timedelta(minutes=minutes)


def by_id(items):
    return {item.native_id: item for item in items}


def test_comments_and_replies_over_several_pages(fake, connect, clock):
    media = fake.add_post("Year 6 trip 🚌", at=ago(clock, 200))
    comments = [fake.add_comment(f"Comment {n}", reply_to=media, at=ago(clock, 150 - n)) for n in range(6)]
    reply = fake.add_comment("Me too!", reply_to=comments[2], author="Another Parent", at=ago(clock, 60))
    items, cursor = connect().fetch(None)
    found = by_id(items)
    assert set(found) == {media, reply, *comments}
    assert found[media].kind == "post" and found[media].by_school and found[media].url.startswith("https://www.instagram.com/p/")
    assert found[comments[0]].kind == "comment" and found[comments[0]].parent_id == media
    assert found[comments[0]].author_handle == "a_parent" and found[comments[0]].url == found[media].url
    assert found[reply].kind == "reply" and found[reply].parent_id == comments[2] and found[reply].thread_id == media
    assert found[reply].author_handle == "another_parent"
    assert sum(r.path.endswith(f"{media}/comments") for r in fake.requests) == 3
    assert cursor["since"] == found[reply].created_at.isoformat()
    assert cursor["comment_counts"] == {media: 7}


def test_second_poll_returns_only_what_is_new_even_under_old_comments(fake, connect, clock):
    media = fake.add_post("Harvest festival", at=ago(clock, 600))
    old = [fake.add_comment(f"Old {n}", reply_to=media, at=ago(clock, 500 - 30 * n)) for n in range(5)]
    connector = connect()
    _, cursor = connector.fetch(None)
    clock.advance(timedelta(hours=1))
    late = fake.add_comment("A reply to the oldest comment", reply_to=old[0], at=ago(clock, 2))
    items, cursor = connector.fetch(cursor)
    # the checkpoint's own comment is inside the overlap and comes again (the store drops it)
    assert {i.native_id for i in items} == {late, old[-1]}
    assert by_id(items)[late].parent_id == old[0]


def test_more_replies_than_nested_are_read_from_their_edge(fake, connect, clock):
    fake.nested_replies = 2
    comment = fake.add_comment("Who is coming to the fair?", at=ago(clock, 100))
    replies = [fake.add_comment(f"Me {n}", reply_to=comment, author=f"parent {n}", at=ago(clock, 90 - n)) for n in range(5)]
    found = by_id(connect().fetch(None)[0])
    assert set(replies) <= set(found)
    assert sum(r.path.endswith(f"{comment}/replies") for r in fake.requests) == 3


def test_media_without_comments_costs_no_request(fake, connect, clock):
    fake.add_post("Quiet post", at=ago(clock, 100))
    busy = fake.add_post("Busy post", at=ago(clock, 50))
    fake.add_comment("Lovely", reply_to=busy, at=ago(clock, 40))
    fake.requests.clear()
    connect().fetch(None)
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests] == ["media", "comments", "tags"]


# -- an idle poll reads comments only where the count moved -----------------------------------


def poll_paths(fake, connector, cursor):
    fake.requests.clear()
    items, cursor = connector.fetch(cursor)
    return items, cursor, [r.path.rsplit("/", 1)[-1] for r in fake.requests]


def test_an_idle_poll_reads_no_comments(fake, connect, clock):
    for n in range(3):
        media = fake.add_post(f"Post {n}", at=ago(clock, 300 - n))
        fake.add_comment(f"Comment {n}", reply_to=media, at=ago(clock, 200 - n))
    connector = connect()
    _, cursor = connector.fetch(None)
    clock.advance(timedelta(minutes=5))
    items, _, paths = poll_paths(fake, connector, cursor)
    assert paths == ["media", "media", "tags"]  # two pages of media, no comments edge
    assert items == []


def test_a_new_comment_or_reply_makes_its_media_read_again(fake, connect, clock):
    quiet = fake.add_post("Quiet", at=ago(clock, 300))
    fake.add_comment("Old", reply_to=quiet, at=ago(clock, 250))
    busy = fake.add_post("Busy", at=ago(clock, 200))
    first = fake.add_comment("First", reply_to=busy, at=ago(clock, 150))
    connector = connect()
    _, cursor = connector.fetch(None)
    clock.advance(timedelta(minutes=5))
    reply = fake.add_comment("A reply", reply_to=first, at=ago(clock, 1))
    items, cursor, _ = poll_paths(fake, connector, cursor)
    assert reply in by_id(items)
    assert [r.path for r in fake.requests if r.path.endswith("/comments")] == [f"/{VERSION}/{busy}/comments"]
    clock.advance(timedelta(minutes=5))
    later = fake.add_comment("Another", reply_to=quiet, at=ago(clock, 1))
    items, _, _ = poll_paths(fake, connector, cursor)
    assert later in by_id(items)
    assert [r.path for r in fake.requests if r.path.endswith("/comments")] == [f"/{VERSION}/{quiet}/comments"]


def test_a_comment_hidden_behind_an_unchanged_count_is_read_at_the_next_full_read(fake, connect, clock):
    media = fake.add_post("Sports day", at=ago(clock, 300))
    doomed = fake.add_comment("Soon deleted", reply_to=media, at=ago(clock, 200))
    other = fake.add_post("Other post", at=ago(clock, 250))
    connector = connect()
    _, cursor = connector.fetch(None)
    clock.advance(timedelta(minutes=10))
    fake.remove(doomed)
    masked = fake.add_comment("Posted as another was deleted", reply_to=media, at=ago(clock, 8))
    newer = fake.add_comment("A newer comment elsewhere", reply_to=other, at=ago(clock, 2))
    items, cursor, _ = poll_paths(fake, connector, cursor)
    assert set(by_id(items)) == {newer}  # the count of "Sports day" did not move
    clock.advance(FULL_READ_EVERY)
    items, _, paths = poll_paths(fake, connector, cursor)
    # the checkpoint is past it, but the full read goes back to the previous full read
    assert masked in by_id(items)
    assert paths.count("comments") == 2


def test_a_cursor_without_usable_counts_reads_every_media(fake, connect, clock):
    media = fake.add_post("Assembly", at=ago(clock, 300))
    fake.add_comment("Well done", reply_to=media, at=ago(clock, 200))
    connector = connect()
    _, cursor = connector.fetch(None)
    assert set(cursor) == {"since", "comment_counts", "full_read_at"}
    clock.advance(timedelta(minutes=5))
    future = (clock() + timedelta(hours=2)).isoformat()  # the server's clock was set back since
    for old in ({"since": cursor["since"]}, {**cursor, "full_read_at": "yesterday"}, {**cursor, "comment_counts": []},
                {**cursor, "full_read_at": future}):
        _, _, paths = poll_paths(fake, connector, old)
        assert "comments" in paths


def test_empty_account(fake, connect):
    assert connect().fetch(None) == ([], None)


def test_school_reply_recognised_by_username(fake, connect, clock):
    comment = fake.add_comment("Is the pool open?", at=ago(clock, 30))
    answer = fake.add_school_reply(comment, "Yes, from Monday.", at=ago(clock, 10))
    record = fake._top_level(comment)["_replies"][0]
    record["from"] = {"id": "someone-else"}  # the username decides, not from.id
    found = by_id(connect().fetch(None)[0])
    assert found[answer].by_school and found[answer].parent_id == comment
    assert not found[comment].by_school


def test_tags_are_mentions(fake, connect, clock):
    tag = fake.add_mention("Proud of @ravenswoodschool 💙", author="proud.mum", at=ago(clock, 15))
    found = by_id(connect().fetch(None)[0])
    assert found[tag].kind == "mention" and found[tag].author_handle == "proud.mum" and not found[tag].by_school


def test_rate_limit_waits_as_told(fake, connect, clock):
    fake.rate_limit(minutes=7)
    with pytest.raises(RateLimited, match="80002") as caught:
        connect().fetch(None)
    assert caught.value.retry_at == clock() + timedelta(minutes=7)


def test_expired_token_is_an_auth_error(fake, connect):
    fake.expire_credentials()
    with pytest.raises(AuthError, match="190"):
        connect().fetch(None)


def test_server_error_is_transient(fake, connect):
    fake.script(Response(503, "Service Unavailable"))
    with pytest.raises(TransientError):
        connect().fetch(None)


def test_malformed_json_is_transient(fake, connect):
    fake.script(Response(200, "<html>upstream error</html>"))
    with pytest.raises(TransientError, match="JSON"):
        connect().fetch(None)


def test_malformed_record_is_skipped_and_the_rest_kept(fake, connect, clock):
    first = fake.add_comment("Before", at=ago(clock, 30))
    fake.add_malformed()
    media = fake.media[0]["id"]
    fake.comments[media].append({"text": "no id", "timestamp": "2026-11-16T08:00:00+0000", "_at": ago(clock, 25),
                                 "_seq": 998, "_replies": []})
    last = fake.add_comment("After", at=ago(clock, 20))
    found = by_id(connect().fetch(None)[0])
    assert {first, last, media} == set(found)


def test_missing_optional_fields_and_deleted_authors(fake, connect, clock):
    media = fake.add_post("Caption will vanish", at=ago(clock, 60))
    ghost = fake.add_comment("Account deleted since", author=None, at=ago(clock, 30))
    record = fake.media[0]
    for key in ("caption", "permalink", "like_count"):
        del record[key]
    found = by_id(connect().fetch(None)[0])
    assert found[ghost].author_handle is None and found[ghost].author_id is None and not found[ghost].by_school
    assert found[media].text == "" and found[media].url is None
    assert found[ghost].url is None


def test_emoji_and_right_to_left_text_are_preserved(fake, connect, clock):
    texts = ["🎨🖌️ art week!", "مرحبا بالجميع", "שלום לכולם"]
    ids = [fake.add_comment(t, author="מורה", at=ago(clock, 30 - n)) for n, t in enumerate(texts)]
    found = by_id(connect().fetch(None)[0])
    assert [found[i].text for i in ids] == texts and found[ids[1]].author_handle == "מורה"


def test_engagement_counts_likes_and_comments(fake, connect, clock):
    media = fake.add_post("Results day", at=ago(clock, 60))
    fake.add_comment("Congratulations", reply_to=media, at=ago(clock, 50))
    fake.media[0]["like_count"] = 40
    found = by_id(connect().fetch(None)[0])
    assert found[media].engagement == 41


def test_a_malformed_record_is_logged_once_not_on_every_poll(fake, connect, clock, caplog):
    fake.add_comment("Fine", at=ago(clock, 30))
    fake.add_malformed()
    connector = connect()
    with caplog.at_level("WARNING"):
        _, cursor = connector.fetch(None)
        clock.advance(FULL_READ_EVERY)  # every comment is read again
        connector.fetch(cursor)
    skipped = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 1 and "source=instagram" in skipped[0].getMessage()


# -- does a comment still exist? ------------------------------------------------------------


def test_a_comment_still_there_exists_a_hidden_one_does_not_and_a_missing_one_cannot_tell(fake, connect, clock):
    media = fake.add_post("Science week 🔬", at=ago(clock, 60))
    kept = fake.add_comment("Brilliant", reply_to=media, at=ago(clock, 40))
    reply = fake.add_comment("Thank you!", reply_to=kept, at=ago(clock, 35))
    deleted = fake.add_comment("an abusive comment", reply_to=media, at=ago(clock, 30))
    hidden = fake.add_comment("another abusive comment", reply_to=media, at=ago(clock, 20))
    hidden_reply = fake.add_comment("an abusive reply", reply_to=kept, at=ago(clock, 10))
    connector = connect()
    fake.remove(deleted)
    fake.hide(hidden)
    fake.hide(hidden_reply)
    fake.requests.clear()
    asked = (kept, reply, hidden, hidden_reply, deleted)
    # a deleted comment answers as one whose author the school restricted: it cannot be told gone
    assert [connector.exists(i) for i in asked] == [True, True, False, False, None]
    looked_up = [f"/{VERSION}/{i}" for i in asked] + [f"/{VERSION}/{fake.account_id}/media"]
    assert [r.path for r in fake.requests] == looked_up
    assert all(r.query["fields"] == "id,hidden" for r in fake.requests[:-1])


def test_a_media_cannot_be_asked_whether_it_is_hidden(fake, connect, clock):
    tag = fake.add_mention("Proud of @ravenswoodschool", author="proud.mum", at=ago(clock, 15))
    with pytest.raises(TransientError, match="nonexisting field"):  # Media has no ``hidden``: cannot tell
        connect().exists(tag)


@pytest.mark.parametrize("response", [
    Response(503, "Service Unavailable"),
    Response(500, {"error": {"message": "An unexpected error has occurred.", "code": 2, "is_transient": True}}),
    Response(200, "<html>upstream error</html>"),
    Response(200, {"id": "17999999999999999", "hidden": False}),
    Response(200, {"hidden": True}),
    Response(400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}),
])
def test_a_failed_or_unexpected_lookup_never_says_gone(fake, connect, clock, response):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.remove(comment)
    fake.script(response)
    with pytest.raises(TransientError):
        connect().exists(comment)


@pytest.mark.parametrize("hidden", ["true", 1, None, {"value": True}])
def test_a_hidden_flag_that_is_not_true_or_false_cannot_tell(fake, connect, clock, hidden):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.script(Response(200, {"id": comment, "hidden": hidden}))
    with pytest.raises(TransientError, match="hidden"):
        connect().exists(comment)


def test_an_existence_check_with_an_expired_token_is_an_auth_error(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.remove(comment)
    fake.expire_credentials()
    with pytest.raises(AuthError, match="190"):
        connect().exists(comment)


def test_a_rate_limited_existence_check_waits_as_told(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    fake.rate_limit(minutes=9)
    connector = connect()
    with pytest.raises(RateLimited, match="80002") as caught:
        connector.exists(comment)
    assert caught.value.retry_at == clock() + timedelta(minutes=9)
    assert connector.status()["quota_used_percent"] == 100


# -- the platform as it is in late 2026 -----------------------------------------------------------


def official_pipeline(fake, tmp_path, clock):
    from classifiers.base import NullClassifier
    from monitor.app.assembly import build_pipeline
    from monitor.config import parse_config
    from monitor.store import Store

    config = parse_config({
        "sources": [{**fake.source_config("ig"), "official": True}],
        "storage": {"path": str(tmp_path / "m.db")},
        "notify": {"email": {"host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
                             "moderators": ["mod@school.example"]}},
    })
    store = Store(config.database_path, clock=clock)
    return build_pipeline(config, store, clock=clock, classifier=NullClassifier()), store


def test_a_comment_from_an_account_the_school_restricted_is_not_taken_for_deleted(fake, tmp_path, clock):
    from monitor.sla.cases import list_cases
    from monitor.sla.clock import tick

    media = fake.add_post("Year 6 leavers 🎓", at=ago(clock, 60))
    comment = fake.add_comment("you lot are a disgrace", author="Angry Adult", reply_to=media, at=ago(clock, 30))
    pipeline, store = official_pipeline(fake, tmp_path, clock)
    assert pipeline.poll("ig").ok
    fake.restrict("Angry Adult")  # Meta no longer returns the comment: 100/33, as for a deleted one
    assert pipeline.still_there("ig", comment) is None
    clock.advance(timedelta(days=3))  # past the deadline: the SLA clock asks the platform first
    tick(store, pipeline.config, clock(), pipeline.still_there)
    (case,) = list_cases(store)
    assert case.state == "open" and store.source_state("ig").consecutive_failures == 0
    fake.unrestrict("Angry Adult")  # unrestricted and approved: returned again
    assert pipeline.still_there("ig", comment) is True
    store.close()


def test_the_fake_hides_a_restricted_accounts_comments_everywhere(fake, clock):
    media = fake.add_post("Sports day", at=ago(clock, 60))
    kept = fake.add_comment("Well done all", reply_to=media, at=ago(clock, 30))
    restricted = fake.add_comment("rubbish school", author="Troll", reply_to=media, at=ago(clock, 20))
    fake.restrict("Troll")
    query = {"access_token": fake.token, "fields": "id,text"}
    edge = httpx.get(f"{fake.url}/{VERSION}/{media}/comments", params=query).json()
    assert [c["id"] for c in edge["data"]] == [kept]
    lookup = httpx.get(f"{fake.url}/{VERSION}/{restricted}", params=query)
    error = lookup.json()["error"]
    assert lookup.status_code == 400 and (error["code"], error["error_subcode"], error["type"]) == (100, 33, "OAuthException")


def test_lost_access_is_an_auth_error_not_a_deletion(fake, connect, clock):
    comment = fake.add_comment("hello", at=ago(clock, 5))
    connector = connect()
    fake.lose_access()  # e.g. a Page role through Business Manager without ads_read
    with pytest.raises(AuthError, match="ads_read"):
        connector.exists(comment)
    with pytest.raises(AuthError):
        connector.fetch(None)


def test_media_that_tag_the_account_open_no_case(fake, tmp_path, clock):
    from monitor.sla.cases import list_cases

    comment = fake.add_comment("What time is pick-up?", at=ago(clock, 30))
    tag = fake.add_mention("Proud of @ravenswoodschool", author="proud.mum", at=ago(clock, 20))
    pipeline, store = official_pipeline(fake, tmp_path, clock)
    assert pipeline.poll("ig").ok
    assert store.existing_ids("ig", [tag]) and [c.native_id for c in list_cases(store)] == [comment]
    store.close()


def test_the_default_api_version_is_current(fake, connect, clock):
    from connectors.graph import DEFAULT_VERSION

    connector = connect(api_version=None)
    connector.fetch(None)
    assert all(r.path.startswith(f"/{DEFAULT_VERSION}/") for r in fake.requests)
