"""The Reddit connector against the fake Reddit search listing on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.base import AuthError, RateLimited, TransientError
from monitor.fakes.reddit import FakeReddit
from monitor.fakes.server import Response
from tests.conftest import NOW, make_connector



@pytest.fixture
def fake():
    with FakeReddit(page_size=2) as fake:
        yield fake


connector = make_connector


def minutes_ago(n):
    return NOW - timedelta(minutes=n)


def test_pages_with_after_then_an_idle_poll_makes_one_request(fake, clock):
    posted = [fake.add_comment(f"Post {n}", at=minutes_ago(60 - n)) for n in range(7)]
    reddit = connector(fake, clock)
    items, cursor = reddit.fetch(None)
    assert sorted(i.native_id for i in items) == sorted(posted)
    assert len(fake.requests) == 4 and fake.requests[-1].query["after"].startswith("t3_")
    assert all(r.query["sort"] == "new" and r.query["q"] == "Ravens Wood School" for r in fake.requests)
    assert all(i.kind == "mention" and i.url.startswith("https://www.reddit.com/r/Ravenstown/comments/")
               for i in items)
    fake.page_size = 100  # Reddit's own page size: the idle poll's one page reaches the checkpoint
    fake.requests.clear()
    assert reddit.fetch(cursor)[0] == []
    assert len(fake.requests) == 1
    later = fake.add_comment("Post later", at=minutes_ago(1))
    items, _ = reddit.fetch(cursor)
    assert [i.native_id for i in items] == [later]


def test_posts_in_the_same_second_as_the_checkpoint_are_neither_lost_nor_repeated(fake, clock):
    reddit = connector(fake, clock)
    first = fake.add_comment("First", at=minutes_ago(5))
    _, cursor = reddit.fetch(None)
    twin = fake.add_comment("Same second", at=minutes_ago(5))
    items, _ = reddit.fetch(cursor)
    assert [i.native_id for i in items] == [twin] and first != twin


def test_empty_search(fake, clock):
    items, cursor = connector(fake, clock).fetch(None)
    assert items == [] and cursor["Ravens Wood School"]["checkpoint"] is None


def test_descriptive_user_agent(fake, clock):
    connector(fake, clock).fetch(None)
    assert fake.requests[0].header("user-agent") == "server:school-social-monitor:v0.1.0 (by /u/ravenswood_it)"
    connector(fake, clock, user_agent="linux:uk.sch.ravenswood.monitor:1.0 (by /u/rw_it)").fetch(None)
    assert fake.requests[-1].header("user-agent") == "linux:uk.sch.ravenswood.monitor:1.0 (by /u/rw_it)"


def test_subreddit_search_is_restricted(fake, clock):
    inside = fake.add_comment("Inside", subreddit="Ravenstown", at=minutes_ago(3))
    fake.add_comment("Elsewhere", subreddit="unitedkingdom", at=minutes_ago(2))
    items, _ = connector(fake, clock, subreddit="Ravenstown").fetch(None)
    assert [i.native_id for i in items] == [inside]
    assert fake.requests[0].path == "/r/Ravenstown/search.json" and fake.requests[0].query["restrict_sr"] == "on"


def test_429_waits_for_the_reset_seconds(fake, clock):
    fake.script(Response(429, {"message": "Too Many Requests", "error": 429},
                         {"X-Ratelimit-Used": "100", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "42"}))
    with pytest.raises(RateLimited) as raised:
        connector(fake, clock).fetch(None)
    assert raised.value.retry_at == NOW + timedelta(seconds=42)


def test_a_spent_budget_stops_before_the_next_page_is_refused(fake, clock):
    for n in range(5):
        fake.add_comment(f"Post {n}", at=minutes_ago(30 - n))
    fake.budget = 1
    with pytest.raises(RateLimited) as raised:
        connector(fake, clock).fetch(None)
    assert raised.value.retry_at == NOW + timedelta(seconds=300)
    assert len(fake.requests) == 1


def test_expired_token_is_an_auth_error(fake, clock):
    fake.expire_credentials()
    with pytest.raises(AuthError, match="HTTP 401"):
        connector(fake, clock).fetch(None)


@pytest.mark.parametrize("response", [
    Response(503, "<html>all our servers are busy</html>"),
    Response(200, "{ not json", {"Content-Type": "application/json"}),
    Response(200, {"kind": "Listing", "data": {"children": None}}),
])
def test_outages_and_unreadable_answers_are_transient(fake, clock, response):
    fake.script(response)
    with pytest.raises(TransientError):
        connector(fake, clock).fetch(None)


def test_malformed_post_is_skipped_and_the_rest_kept(fake, clock):
    before = fake.add_comment("Good before", at=minutes_ago(10))
    fake.add_malformed()
    after = fake.add_comment("Good after", at=minutes_ago(5))
    items, _ = connector(fake, clock).fetch(None)
    assert sorted(i.native_id for i in items) == sorted([before, after])


def test_deleted_author_and_missing_optional_fields(fake, clock):
    name = fake.add_comment("Gone", at=minutes_ago(5))
    fake.posts[-1].author = None
    original = fake._render

    def sparse(post):
        rendered = original(post)
        for key in ("score", "num_comments", "selftext"):
            rendered["data"].pop(key)
        return rendered

    fake._render = sparse
    (item,) = connector(fake, clock).fetch(None)[0]
    assert item.native_id == name and item.text == "Gone"
    assert item.author_name is None and item.author_id is None and item.engagement is None


def test_emoji_right_to_left_text_and_engagement(fake, clock):
    fake.add_comment("مدرسة ريفنز وود 🏫", body="בית ספר מצוין 👍", at=minutes_ago(5))
    fake.posts[-1].score, fake.posts[-1].num_comments = 12, 3
    (item,) = connector(fake, clock).fetch(None)[0]
    assert item.text == "مدرسة ريفنز وود 🏫\nבית ספר מצוין 👍"
    assert item.engagement == 15


def test_the_schools_own_account_is_recognised(fake, clock):
    fake.add_comment("Open evening on Thursday", author="RavensWoodSchool", at=minutes_ago(5))
    fake.add_comment("Anyone going?", author="someparent", at=minutes_ago(4))
    items = connector(fake, clock, account="ravenswoodschool").fetch(None)[0]
    assert {i.author_name: i.by_school for i in items} == {"RavensWoodSchool": True, "someparent": False}


# -- comments in a subreddit ----------------------------------------------------------------


def test_new_comments_in_the_subreddit_that_name_the_school_are_mentions(fake, clock):
    thread = fake.add_comment("Best secondary in town?", at=minutes_ago(60))
    fake.posts[-1].keywords = ""  # the post itself does not name the school
    named = fake.add_subreddit_comment("Ravens Wood School was great for my eldest", post=thread, at=minutes_ago(30))
    fake.add_subreddit_comment("Try the one by the park", post=thread, at=minutes_ago(20))
    reply = fake.add_subreddit_comment("ravens  wood SCHOOL? their head is rude", post=thread, reply_to=named,
                                       at=minutes_ago(10))
    fake.add_subreddit_comment("Ravens Wood School is lovely", post=thread, subreddit="unitedkingdom",
                               at=minutes_ago(5))
    reddit = connector(fake, clock, subreddit="Ravenstown", comment_keywords=["Ravens Wood School", "RWS"])
    items, cursor = reddit.fetch(None)
    found = {i.native_id: i for i in items}
    assert set(found) == {named, reply}
    assert found[reply].kind == "mention" and found[reply].parent_id == named and found[reply].thread_id == thread
    assert found[reply].url == f"https://www.reddit.com/r/Ravenstown/comments/{thread[3:]}/_/{reply[3:]}/"
    assert found[reply].author_handle == "u/AParent"
    assert fake.requests[-1].path == "/r/Ravenstown/comments.json"
    fake.requests.clear()
    assert reddit.fetch(cursor)[0] == []
    assert [r.path for r in fake.requests] == ["/r/Ravenstown/search.json", "/r/Ravenstown/comments.json"]
    later = fake.add_subreddit_comment("RWS parents evening tonight", post=thread, at=minutes_ago(1))
    fake.add_subreddit_comment("RWSX is a band", post=thread, at=minutes_ago(1))
    assert [i.native_id for i in reddit.fetch(cursor)[0]] == [later]


def test_comments_that_name_nobody_still_move_the_checkpoint(fake, clock):
    thread = fake.add_comment("Roadworks on the high street", at=minutes_ago(90))
    for n in range(5):
        fake.add_subreddit_comment(f"Traffic is awful {n}", post=thread, at=minutes_ago(50 - n))
    reddit = connector(fake, clock, subreddit="Ravenstown", comment_keywords=["Ravens Wood"])
    _, cursor = reddit.fetch(None)
    key = "r/Ravenstown/comments"
    assert cursor[key]["checkpoint"] == minutes_ago(46).timestamp()
    fake.page_size = 100
    fake.requests.clear()
    reddit.fetch(cursor)
    assert sum(r.path.endswith("comments.json") for r in fake.requests) == 1  # the first page reaches the checkpoint


def test_without_keywords_no_comments_are_read(fake, clock):
    connector(fake, clock, subreddit="Ravenstown").fetch(None)
    assert [r.path for r in fake.requests] == ["/r/Ravenstown/search.json"]


@pytest.mark.parametrize("overrides, message", [
    ({"comment_keywords": ["Ravens Wood"]}, "needs subreddit"),
    ({"subreddit": "Ravenstown", "comment_keywords": ["Ravens Wood", "  "]}, "a keyword is empty"),
])
def test_comment_keywords_are_checked_at_start(fake, overrides, message):
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"sources\[0\]\.comment_keywords.*{message}|comment_keywords.*{message}"):
        parse_config({"sources": [{**fake.source_config("reddit"), **overrides}]})
