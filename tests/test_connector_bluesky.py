"""The Bluesky connector against the fake PDS on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from connectors.base import AuthError, RateLimited, TransientError
from monitor.demo.fakes.bluesky import SCHOOL_DID, FakeBluesky, author_did
from monitor.demo.fakes.server import Response
from monitor.store import Store
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
    return [r for r in fake.requests if r.path.endswith("com.atproto.repo.getRecord")]


def test_a_post_still_there_or_deleted_is_asked_of_the_authors_pds(fake, clock):
    kept = fake.add_comment("Lovely concert", at=minutes_ago(20))
    deleted = fake.add_comment("an abusive reply", author="Someone Else", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    fake.remove(deleted)
    fake.requests.clear()
    assert bsky.exists(kept) is True
    assert bsky.exists(deleted) is False
    did, _, rkey = deleted.removeprefix("at://").split("/")
    assert [r.path for r in fake.requests] == [f"/{author_did('A Parent')}", "/xrpc/com.atproto.repo.getRecord",
                                               f"/{did}", "/xrpc/com.atproto.repo.getRecord"]
    assert lookups(fake)[-1].query == {"repo": did, "collection": "app.bsky.feed.post", "rkey": rkey}
    assert all(r.header("authorization") is None for r in fake.requests)  # the school's session stays home
    fake.requests.clear()
    assert bsky.exists(kept) is True
    assert len(fake.requests) == 1  # the author's PDS is remembered
    bsky.close()


def test_a_post_by_someone_the_school_blocked_is_still_there(fake, clock):
    harassment = fake.add_comment("you are all useless", author="A Harasser", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    fake.block(SCHOOL_DID, author_did("A Harasser"))
    assert bsky.exists(harassment) is True  # blocked, not deleted: the post is public
    fake.remove(harassment)
    assert bsky.exists(harassment) is False
    bsky.close()


def test_a_post_by_someone_who_blocked_the_school_is_still_there(fake, clock):
    harassment = fake.add_comment("blocked you, still posting", author="A Harasser", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    fake.block(author_did("A Harasser"), SCHOOL_DID)
    assert bsky.exists(harassment) is True
    bsky.close()


def test_the_fake_hides_posts_across_a_block_from_the_schools_session_as_the_appview_does(fake, clock):
    harassment = fake.add_comment("you are all useless", author="A Harasser", at=minutes_ago(10))
    bsky = connector(fake, clock)
    bsky.fetch(None)
    token = {"Authorization": f"Bearer {bsky.session['accessJwt']}"}

    def get_posts():
        return httpx.get(f"{fake.url}/xrpc/app.bsky.feed.getPosts", params={"uris": harassment}, headers=token).json()

    assert [p["uri"] for p in get_posts()["posts"]] == [harassment]
    for blocker, blocked in ((SCHOOL_DID, author_did("A Harasser")), (author_did("A Harasser"), SCHOOL_DID)):
        fake.blocks = {(blocker, blocked)}
        assert get_posts() == {"posts": []}  # either direction
        record = httpx.get(f"{fake.url}/xrpc/com.atproto.repo.getRecord",
                           params={"repo": author_did("A Harasser"), "collection": "app.bsky.feed.post",
                                   "rkey": harassment.rsplit("/", 1)[1]})
        assert record.status_code == 200 and record.json()["uri"] == harassment
    fake.remove(harassment)
    gone = httpx.get(f"{fake.url}/xrpc/com.atproto.repo.getRecord",
                     params={"repo": author_did("A Harasser"), "collection": "app.bsky.feed.post",
                             "rkey": harassment.rsplit("/", 1)[1]})
    assert gone.status_code == 400 and gone.json()["error"] == "RecordNotFound"
    bsky.close()


def test_a_lookup_needs_no_session(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(10))
    fake.expire_credentials()  # the app password was revoked: public records are still public
    bsky = connector(fake, clock)
    assert bsky.exists(comment) is True
    fake.remove(comment)
    assert bsky.exists(comment) is False
    assert not [r for r in fake.requests if "server." in r.path]
    bsky.close()


def test_a_rate_limited_lookup_waits_for_the_reset(fake, clock):
    comment = fake.add_comment("Hello", at=minutes_ago(10))
    reset = int((NOW + timedelta(minutes=5)).timestamp())
    fake.script(Response(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                         {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}),
                path="getRecord")
    bsky = connector(fake, clock)
    with pytest.raises(RateLimited) as raised:
        bsky.exists(comment)
    assert raised.value.retry_at == NOW + timedelta(minutes=5)
    bsky.close()


@pytest.mark.parametrize("document", [
    lambda did, url: Response(404, {"message": f"DID not registered: {did}"}),
    lambda did, url: Response(410, {"message": f"DID not available: {did}"}),
    lambda did, url: Response(200, "not json"),
    lambda did, url: Response(200, {"id": "did:plc:someoneelse", "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": url}]}),
    lambda did, url: Response(200, {"id": did, "service": []}),
    lambda did, url: Response(200, {"id": did, "service": [
        {"id": "#atproto_labeler", "type": "AtprotoLabeler", "serviceEndpoint": url}]}),
    lambda did, url: Response(200, {"id": did, "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "ftp://pds.example"}]}),
    lambda did, url: Response(200, {"id": did, "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": f"{url}/some/path"}]}),
    lambda did, url: Response(200, {"id": did, "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": {"not": "a url"}}]}),
])
def test_a_did_document_without_a_pds_to_trust_cannot_tell(fake, clock, document):
    comment = fake.add_comment("deleted, but nobody to ask", at=minutes_ago(10))
    fake.remove(comment)
    did = comment.removeprefix("at://").split("/")[0]
    fake.script(document(did, fake.url), path=f"^/{did}$")
    bsky = connector(fake, clock)
    assert bsky.exists(comment) is None
    assert lookups(fake) == []
    bsky.close()


def test_a_pds_address_must_be_https_when_the_directory_is(fake, clock):
    comment = fake.add_comment("on a PDS at a plain http address", at=minutes_ago(10))
    fake.remove(comment)
    bsky = connector(fake, clock)
    did = comment.removeprefix("at://").split("/")[0]
    assert bsky._pds_endpoint(did, {"id": did, "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "http://10.0.0.1"}]}) \
        == "http://10.0.0.1"  # the test's directory is itself plain http
    https_directory = connector(fake, clock, plc_url="https://plc.directory")
    assert https_directory._pds_endpoint(did, {"id": did, "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "http://10.0.0.1"}]}) is None
    assert https_directory._pds_endpoint(did, {"id": did, "service": [
        {"id": f"{did}#atproto_pds", "type": "AtprotoPersonalDataServer",
         "serviceEndpoint": "https://morel.us-east.host.bsky.network"}]}) == "https://morel.us-east.host.bsky.network"
    for inward in ("https://10.0.0.1", "https://127.0.0.1:8443", "https://[::1]", "https://localhost",
                   "https://169.254.169.254", "https://intranet"):
        assert https_directory._pds_endpoint(did, {"id": did, "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": inward}]}) is None, inward
    bsky.close()
    https_directory.close()


@pytest.mark.parametrize("answer", [
    lambda uri: Response(502, "<html>Bad Gateway</html>"),
    lambda uri: Response(400, {"error": "InvalidRequest", "message": f"Could not locate record: {uri}"}),
    lambda uri: Response(400, {"error": "InvalidRequest", "message": "Could not find repo: did:plc:x"}),
    lambda uri: Response(400, {"error": "RepoDeactivated", "message": "Repo has been deactivated"}),
    lambda uri: Response(401, {"error": "AuthMissing", "message": "Authentication Required"}),
    lambda uri: Response(404, {"error": "RecordNotFound"}),
    lambda uri: Response(200, {"uri": uri}),
    lambda uri: Response(500, {"error": "InternalServerError", "message": "Internal Server Error"}),
    lambda uri: Response(400, {"error": "InvalidRequest", "message": "Error: uris/0 must be a valid at-uri"}),
    lambda uri: Response(404, {"error": "XRPCNotSupported", "message": "XRPCNotSupported"}),
    lambda uri: Response(200, "{ not json", {"Content-Type": "application/json"}),
    lambda uri: Response(200, {}),
    lambda uri: Response(200, []),
    lambda uri: Response(200, {"uri": "at://did:plc:someone/app.bsky.feed.post/3lother", "value": {}}),
])
def test_an_outage_or_an_odd_answer_is_never_gone(fake, clock, answer):
    comment = fake.add_comment("deleted, but only Bluesky's clear answer may say so", at=minutes_ago(10))
    fake.remove(comment)
    fake.script(answer(comment), path="getRecord")
    bsky = connector(fake, clock)
    try:
        assert bsky.exists(comment) is None
    except TransientError:
        pass
    finally:
        bsky.close()


def test_a_did_web_on_an_inward_address_is_not_asked(fake, clock):
    bsky = connector(fake, clock, plc_url="https://plc.directory")
    for did in ("did:web:localhost", "did:web:10.1.2.3", "did:web:intranet", "did:web:example.com:user:alice"):
        assert bsky.exists(f"at://{did}/app.bsky.feed.post/3l") is None
    assert fake.requests == []
    bsky.close()


@pytest.mark.parametrize("native_id", ["", "3l00000000001", "https://bsky.app/profile/x/post/3l",
                                       "at://did:plc:x/app.bsky.feed.like/3l", "at://handle.example/app.bsky.feed.post/3l",
                                       "at://did:key:z6Mk/app.bsky.feed.post/3l"])
def test_something_that_is_not_a_post_uri_is_not_asked_about(fake, clock, native_id):
    bsky = connector(fake, clock)
    assert bsky.exists(native_id) is None
    assert fake.requests == []
    bsky.close()


# -- times: the server's indexedAt, never the client's createdAt ---------------------------------

POISON = ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z"]


def test_search_sorts_and_filters_on_sortat_as_the_lexicon_says(fake, clock):
    future = fake.add_mention("Ravens Wood from a clock far ahead", at=minutes_ago(30), claimed=POISON[0])
    token = connector(fake, clock)
    token.fetch(None)
    answer = httpx.get(f"{fake.url}/xrpc/app.bsky.feed.searchPosts",
                       params={"q": "Ravens Wood", "since": "2026-11-16T08:20:00Z"},
                       headers={"Authorization": f"Bearer {token.session['accessJwt']}"}).json()
    (post,) = answer["posts"]
    assert post["uri"] == future and post["record"]["createdAt"] == POISON[0]
    assert post["indexedAt"] == "2026-11-16T08:30:00.000Z"  # sortAt: the earlier of the two
    token.close()


def test_a_post_dated_9999_does_not_push_the_search_checkpoint_past_now(fake, clock):
    poison = fake.add_mention("Ravens Wood is the future", at=minutes_ago(30), claimed=POISON[0])
    bsky = connector(fake, clock)
    items, cursor = bsky.fetch(None)
    assert poison in {i.native_id for i in items}
    assert cursor["search:Ravens Wood"]["since"] == minutes_ago(30).isoformat()  # when Bluesky indexed it
    clock.advance(timedelta(minutes=5))
    later = fake.add_mention("Ravens Wood fair on Saturday", at=minutes_ago(0))
    items, cursor = bsky.fetch(cursor)
    assert [i.native_id for i in items] == [later]


@pytest.mark.parametrize("saved", ["9999-12-31T23:59:59.999000+00:00", "0001-01-01T00:00:00+00:00",
                                   "0001-01-01T00:05:00+00:00"])
def test_a_checkpoint_saved_from_a_poisoned_date_is_repaired(fake, clock, saved):
    recent = fake.add_mention("Ravens Wood open day", at=minutes_ago(5))
    reply = fake.add_comment("When is it?", at=minutes_ago(4))
    cursor = {key: {"since": saved, "seen": []} for key in ("notifications", "school", "search:Ravens Wood")}
    items, cursor = connector(fake, clock).fetch(cursor)
    assert {recent, reply} <= {i.native_id for i in items}
    assert all(NOW - timedelta(days=14) <= datetime.fromisoformat(c["since"]) <= NOW for c in cursor.values())


@pytest.mark.parametrize("claimed", POISON + ["2026-11-16T09:00:00+14:00"])
def test_a_poisoned_comment_never_stops_the_poll(fake, clock, tmp_path, claimed):
    from monitor.app.assembly import build_pipeline
    from tests.conftest import make_config

    config = make_config(tmp_path, sources=[fake.source_config("bluesky")])
    store = Store(config.database_path, clock=clock)
    pipeline = build_pipeline(config, store, clock=clock)
    poison = fake.add_comment("you lot are a joke", author="A Troll", at=minutes_ago(20), claimed=claimed)
    first = pipeline.poll("bluesky")
    assert first.ok, first.error
    clock.advance(timedelta(minutes=5))
    later = fake.add_comment("What time is pick-up?", at=minutes_ago(1))
    second = pipeline.poll("bluesky")
    assert second.ok, second.error
    stored = {r["native_id"] for r in store.query("SELECT native_id FROM items")}
    assert {poison, later} <= stored
    assert all(datetime.fromisoformat(c["since"]) <= clock() for c in store.source_state("bluesky").cursor.values()
               if c.get("since"))
    store.close()
