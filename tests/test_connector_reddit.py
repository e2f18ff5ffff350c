"""The Reddit connector against the fake Reddit search listing on loopback."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest

from connectors.base import AuthError, RateLimited, TransientError
from monitor.demo.fakes.reddit import BLOCKED_PAGE, CLIENT_ID, CLIENT_SECRET, FakeReddit
from monitor.demo.fakes.server import Response
from tests.conftest import NOW, make_connector



@pytest.fixture
def fake(clock):
    with FakeReddit(page_size=2, clock=clock) as fake:
        yield fake


connector = make_connector


def listings(fake):
    """The requests for listings, without the token requests."""
    return [r for r in fake.requests if r.method == "GET"]


def minutes_ago(n):
    return NOW - timedelta(minutes=n)


def test_pages_with_after_then_an_idle_poll_makes_one_request(fake, clock):
    posted = [fake.add_comment(f"Post {n}", at=minutes_ago(60 - n)) for n in range(7)]
    reddit = connector(fake, clock)
    items, cursor = reddit.fetch(None)
    assert sorted(i.native_id for i in items) == sorted(posted)
    assert len(listings(fake)) == 4 and fake.requests[-1].query["after"].startswith("t3_")
    assert all(r.query["sort"] == "new" and r.query["q"] == "Ravens Wood School" for r in listings(fake))
    assert all(i.kind == "mention" and i.url.startswith("https://www.reddit.com/r/Ravenstown/comments/")
               for i in items)
    fake.page_size = 100  # Reddit's own page size: the idle poll's one page reaches the checkpoint
    fake.requests.clear()
    assert reddit.fetch(cursor)[0] == []
    assert len(fake.requests) == 1  # the token is still good: no new one
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
    assert {r.header("user-agent") for r in fake.requests} == {"server:school-social-monitor:v0.1.0 (by /u/ravenswood_it)"}
    connector(fake, clock, user_agent="linux:uk.sch.ravenswood.monitor:1.0 (by /u/rw_it)").fetch(None)
    assert fake.requests[-1].header("user-agent") == "linux:uk.sch.ravenswood.monitor:1.0 (by /u/rw_it)"


def test_subreddit_search_is_restricted(fake, clock):
    inside = fake.add_comment("Inside", subreddit="Ravenstown", at=minutes_ago(3))
    fake.add_comment("Elsewhere", subreddit="unitedkingdom", at=minutes_ago(2))
    items, _ = connector(fake, clock, subreddit="Ravenstown").fetch(None)
    assert [i.native_id for i in items] == [inside]
    (search,) = listings(fake)
    assert search.path == "/r/Ravenstown/search" and search.query["restrict_sr"] == "on"


def test_429_waits_for_the_reset_seconds(fake, clock):
    fake.script(Response(429, {"message": "Too Many Requests", "error": 429},
                         {"X-Ratelimit-Used": "100", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "42"}),
                path="search")
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
    assert len(listings(fake)) == 1


def test_a_refused_app_is_an_auth_error(fake, clock):
    fake.expire_credentials()
    with pytest.raises(AuthError, match=r"client_id and secret \(HTTP 401\).*reddit.com/prefs/apps"):
        connector(fake, clock).fetch(None)


@pytest.mark.parametrize("response", [
    Response(503, "<html>all our servers are busy</html>"),
    Response(200, "{ not json", {"Content-Type": "application/json"}),
    Response(200, {"kind": "Listing", "data": {"children": None}}),
])
def test_outages_and_unreadable_answers_are_transient(fake, clock, response):
    fake.script(response, path="search")
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
    assert fake.requests[-1].path == "/r/Ravenstown/comments"
    fake.requests.clear()
    assert reddit.fetch(cursor)[0] == []
    assert [r.path for r in fake.requests] == ["/r/Ravenstown/search", "/r/Ravenstown/comments"]
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
    assert sum(r.path.endswith("/comments") for r in fake.requests) == 1  # the first page reaches the checkpoint


def test_without_keywords_no_comments_are_read(fake, clock):
    connector(fake, clock, subreddit="Ravenstown").fetch(None)
    assert [r.path for r in listings(fake)] == ["/r/Ravenstown/search"]


@pytest.mark.parametrize("overrides, message", [
    ({"comment_keywords": ["Ravens Wood"]}, "needs subreddit"),
    ({"subreddit": "Ravenstown", "comment_keywords": ["Ravens Wood", "  "]}, "a keyword is empty"),
])
def test_comment_keywords_are_checked_at_start(fake, overrides, message):
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"sources\[0\]\.comment_keywords.*{message}|comment_keywords.*{message}"):
        parse_config({"sources": [{**fake.source_config("reddit"), **overrides}]})


# -- OAuth: Reddit answers only approved apps ---------------------------------------------------


def test_the_app_gets_its_token_in_reddits_wire_format_and_reads_with_it(fake, clock):
    posted = fake.add_comment("Open evening", at=minutes_ago(5))
    items, _ = connector(fake, clock).fetch(None)
    assert [i.native_id for i in items] == [posted]
    token, search = fake.requests
    assert (token.method, token.path) == ("POST", "/api/v1/access_token")
    assert token.header("authorization") == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token.header("content-type") == "application/x-www-form-urlencoded"
    assert token.form() == {"grant_type": "client_credentials"}  # no Reddit password is needed
    assert search.header("authorization") == "bearer 1-fake-app-only-token"
    assert search.path == "/search" and search.query["raw_json"] == "1"


def test_the_token_is_renewed_before_its_hour_is_up(fake, clock):
    reddit = connector(fake, clock)
    _, cursor = reddit.fetch(None)
    for minutes in (30, 26, 30, 30):  # 56 minutes after the first token, then every half hour
        clock.advance(timedelta(minutes=minutes))
        fake.add_comment(f"{minutes} minutes later", at=clock() - timedelta(seconds=30))
        items, cursor = reddit.fetch(cursor)
        assert len(items) == 1
    # a new token at 0, 56 and 116 minutes, each before the one in use had five minutes left: never a 401
    used = [r.method if r.method == "POST" else r.header("authorization").removesuffix("-fake-app-only-token")
            for r in fake.requests if r.method == "POST" or "after" not in r.query]  # one line a poll
    assert used == ["POST", "bearer 1", "bearer 1", "POST", "bearer 2", "bearer 2", "POST", "bearer 3"]


def test_a_token_older_than_an_hour_is_refused_by_the_fake_as_by_reddit(fake, clock):
    reddit = connector(fake, clock)
    reddit.fetch(None)
    token = reddit._token
    clock.advance(timedelta(minutes=60))
    answer = httpx.get(f"{fake.url}/search", params={"q": "x"},
                       headers={"Authorization": f"bearer {token}", "User-Agent": reddit.user_agent})
    assert answer.status_code == 401 and answer.json() == {"message": "Unauthorized", "error": 401}
    assert answer.headers["www-authenticate"] == 'Bearer realm="reddit", error="invalid_token"'
    reddit.close()


def test_a_token_revoked_early_is_replaced_once_and_nothing_is_lost(fake, clock):
    reddit = connector(fake, clock)
    _, cursor = reddit.fetch(None)
    fake.expire_tokens()
    later = fake.add_comment("After the revocation", at=minutes_ago(1))
    items, _ = reddit.fetch(cursor)
    assert [i.native_id for i in items] == [later]
    assert [r.method for r in fake.requests] == ["POST", "GET", "GET", "POST", "GET"]


def test_a_token_refused_at_once_is_an_auth_error(fake, clock):
    fake.script(Response(401, {"message": "Unauthorized", "error": 401},
                         {"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'}), path="search", times=2)
    with pytest.raises(AuthError, match="new access token at once"):
        connector(fake, clock).fetch(None)
    assert [r.method for r in fake.requests] == ["POST", "GET", "POST", "GET"]


def test_without_an_app_the_source_is_blind_and_says_what_to_do(fake, clock):
    reddit = connector(fake, clock, client_id=None, client_secret=None)
    with pytest.raises(AuthError, match="only approved OAuth apps.*403 Blocked.*client_id and client_secret"):
        reddit.fetch(None)
    assert fake.requests == []  # nothing is sent that Reddit would block


def test_reddit_blocks_anonymous_and_generic_clients_with_its_403_page(fake, clock):
    for path in ("/search.json", "/r/Ravenstown/comments.json", "/search"):
        answer = httpx.get(f"{fake.url}{path}", params={"q": "Ravens Wood"},
                           headers={"User-Agent": "server:school-social-monitor:v0.1.0 (by /u/ravenswood_it)"})
        assert (answer.status_code, answer.reason_phrase) == (403, "Blocked")
        assert answer.headers["content-type"].startswith("text/html") and "whoa there, pardner!" in answer.text
    reddit = connector(fake, clock)
    reddit.fetch(None)
    generic = httpx.get(f"{fake.url}/search", params={"q": "x"}, headers={"Authorization": f"bearer {reddit._token}"})
    assert (generic.status_code, generic.reason_phrase) == (403, "Blocked")
    reddit.close()


def test_a_blocked_app_is_an_auth_error_that_names_the_approval(fake, clock):
    fake.script(Response(403, BLOCKED_PAGE, {"Content-Type": "text/html"}, reason="Blocked"), path="search")
    with pytest.raises(AuthError, match=r"HTTP 403 Blocked.*Reddit still approves the app"):
        connector(fake, clock).fetch(None)


def test_a_private_subreddit_is_an_auth_error_that_says_so(fake, clock):
    fake.script(Response(403, {"reason": "private", "message": "Forbidden", "error": 403}), path="search")
    with pytest.raises(AuthError, match="private"):
        connector(fake, clock, subreddit="Ravenstown").fetch(None)


@pytest.mark.parametrize("answer, error", [
    (Response(200, {"error": "unsupported_grant_type"}), AuthError),
    (Response(200, {"error": "invalid_grant"}), AuthError),
    (Response(403, BLOCKED_PAGE, {"Content-Type": "text/html"}, reason="Blocked"), AuthError),
    (Response(429, {"message": "Too Many Requests", "error": 429}, {"X-Ratelimit-Reset": "30"}), RateLimited),
    (Response(503, "<html>busy</html>"), TransientError),
    (Response(200, {"token_type": "bearer", "expires_in": 3600}), TransientError),
    # a token HTTP cannot carry in a header (found by the fuzz test): refused, never a UnicodeEncodeError
    (Response(200, {"access_token": "\x80", "token_type": "bearer", "expires_in": 3600}), TransientError),
    (Response(200, {"access_token": "abc def\n", "token_type": "bearer", "expires_in": 3600}), TransientError),
])
def test_what_the_token_endpoint_may_answer(fake, clock, answer, error):
    fake.script(answer, path="access_token")
    with pytest.raises(error):
        connector(fake, clock).fetch(None)
    assert [r.method for r in fake.requests] == ["POST"]


def test_a_static_token_is_still_accepted_and_its_expiry_explained(fake, clock):
    reddit = connector(fake, clock)
    reddit.fetch(None)
    static = connector(fake, clock, client_id=None, client_secret=None, token=reddit._token)
    assert static.fetch(None)[0] == []
    clock.advance(timedelta(hours=1))
    with pytest.raises(AuthError, match="a token lasts an hour; set client_id and client_secret"):
        static.fetch(None)


@pytest.mark.parametrize("overrides, message", [
    ({"client_secret": None}, "client_id and client_secret go together"),
    ({"client_id": None}, "client_id and client_secret go together"),
])
def test_the_app_keys_are_checked_at_start(fake, overrides, message):
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config({"sources": [{**fake.source_config("reddit"), **overrides}]})


@pytest.mark.parametrize("url", ["https://www.reddit.com", "https://reddit.com/", "https://old.reddit.com"])
def test_the_web_host_is_read_as_the_api_host(fake, url):
    from monitor.config import parse_config

    source = parse_config({"sources": [{**fake.source_config("reddit"), "base_url": url}]}).sources[0]
    assert source.base_url == "https://oauth.reddit.com"


def test_a_refused_app_raises_a_source_auth_alert_with_what_to_do(tmp_path, store, clock, fake):
    from monitor.app.assembly import build_pipeline
    from tests.conftest import make_config

    config = make_config(tmp_path, sources=[fake.source_config("reddit")],
                         notify={"email": {"host": "127.0.0.1", "port": 25, "starttls": False,
                                           "sender": "m@school.example", "moderators": ["mod@school.example"]}})
    pipeline = build_pipeline(config, store, clock=clock)
    assert pipeline.poll("reddit").ok
    fake.expire_credentials()
    clock.advance(timedelta(hours=1))
    failed = pipeline.poll("reddit")
    assert failed.error_kind == "auth"
    [alert] = store.query("SELECT * FROM alerts WHERE kind = 'source_auth'")
    message = json.loads(alert["payload"])["message"]
    assert "client_id and secret (HTTP 401)" in message and "reddit.com/prefs/apps" in message


def test_check_config_warns_about_a_source_that_cannot_work(tmp_path, fake):
    from monitor.app.checks import check_configuration
    from tests.conftest import make_config

    sources = [{**fake.source_config("reddit-app")},
               {**fake.source_config("reddit-none"), "client_id": None, "client_secret": None},
               {**fake.source_config("reddit-token"), "client_id": None, "client_secret": None, "token": "t"}]
    warnings, _ = check_configuration(make_config(tmp_path, sources=sources))
    reddit = [w for w in warnings if w.startswith("source reddit")]
    assert len(reddit) == 2
    assert reddit[0].startswith("source reddit-none: Reddit answers only approved OAuth apps")
    assert reddit[1].startswith("source reddit-token: token lasts an hour")
