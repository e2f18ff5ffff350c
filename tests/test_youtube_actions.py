"""YouTube's writes as the channel owner: what the Data API takes and refuses, on the fake over HTTP.

The exactly-once paths (in doubt, SIGKILL, Slack) run for YouTube in test_platform_actions.py and
test_slack_platform_actions.py; here are YouTube's own rules: OAuth only, threads one level deep,
``rejected`` as the removal of another user's comment, quota, and a hidden comment read back
from the review queue without a second case.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from connectors.youtube import FORCE_SSL_SCOPE, YouTubeConnector, YouTubeSettings
from monitor.actions.platform import act, resume
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes.youtube import FORCE_SSL, READONLY, FakeYouTube
from monitor.errors import ConfigError
from monitor.sla.cases import get_case
from tests.conftest import make_config
from tests.test_alerting import KeywordClassifier

ACK = "Thank you, we have your message and will reply properly soon."


@pytest.fixture
def fake(clock):
    with FakeYouTube() as fake:
        fake.clock = clock
        yield fake


def owner(fake, clock, **overrides) -> YouTubeConnector:
    settings = YouTubeSettings.model_validate({**fake.oauth_config("yt"), "actions": ["reply", "hide", "delete"],
                                               **overrides})
    return YouTubeConnector(settings, clock=clock)


def test_the_fake_refuses_writes_with_an_api_key_or_without_the_scope_as_google_does(fake):
    parent = fake.add_comment("When is sports day?")
    body = {"snippet": {"parentId": parent, "textOriginal": ACK}}
    with httpx.Client(base_url=f"{fake.url}/youtube/v3") as http:
        keyed = http.post("/comments", params={"part": "snippet", "key": fake.api_key}, json=body)
        assert keyed.status_code == 401
        error = keyed.json()["error"]
        assert error["status"] == "UNAUTHENTICATED" and "API keys are not supported" in error["message"]
        assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"
        fake.permissions.discard(FORCE_SSL)
        token = http.post(f"{fake.url}/token", data={
            "grant_type": "refresh_token", "client_id": fake.client_id, "client_secret": fake.client_secret,
            "refresh_token": next(iter(fake.refresh_tokens))}).json()
        assert token["scope"] == READONLY
        scoped = http.post("/comments", params={"part": "snippet"}, json=body,
                           headers={"Authorization": f"Bearer {token['access_token']}"})
        assert scoped.status_code == 403
        assert scoped.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert not fake.school_replies(parent)


def test_a_source_with_actions_and_only_an_api_key_is_refused_at_start(tmp_path, fake):
    with pytest.raises(ConfigError, match="YouTube takes no write with an API key"):
        make_config(tmp_path, sources=[{**fake.source_config("yt"), "actions": ["reply"]}])
    assert YouTubeConnector.action_scopes == dict.fromkeys(("reply", "hide", "delete", "notice"), FORCE_SSL_SCOPE)


def test_a_reply_to_a_reply_is_posted_under_the_top_level_comment(fake, clock):
    top = fake.add_comment("Is the fair on Saturday?", at=clock() - timedelta(hours=1))
    answer = fake.add_comment("you lot never answer anything", author="Troll", reply_to=top,
                              at=clock() - timedelta(minutes=5))
    written = owner(fake, clock).reply(answer, ACK)
    [reply] = fake.school_replies(top)
    assert (reply.id, reply.parent, reply.text) == (written.native_id, top, ACK)
    assert written.at == clock().replace(microsecond=0)
    posted = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/comments")]
    assert [r.json()["snippet"]["parentId"] for r in posted] == [top]
    # the API itself takes no reply whose parent is a reply
    with httpx.Client() as http:
        refused = http.post(f"{fake.url}/youtube/v3/comments", params={"part": "snippet"}, headers=owner(fake, clock).oauth.header(),
                            json={"snippet": {"parentId": answer, "textOriginal": ACK}})
    assert refused.status_code == 400 and refused.json()["error"]["errors"][0]["reason"] == "operationNotSupported"


def test_an_earlier_school_reply_with_the_same_words_is_not_taken_for_the_one_in_doubt(fake, clock):
    top = fake.add_comment("Is the fair on Saturday?", at=clock() - timedelta(hours=2))
    fake.add_school_reply(top, ACK, at=clock() - timedelta(hours=1))  # to the first comment, earlier
    later = fake.add_comment("and the car park?", reply_to=top, at=clock() - timedelta(minutes=30))
    youtube = owner(fake, clock)
    assert youtube.find_reply(later, ACK) is None
    assert youtube.find_reply(top, ACK) is not None
    written = youtube.reply(later, ACK)
    assert youtube.find_reply(later, ACK) == written


def test_removal_is_rejected_because_comments_delete_is_for_the_author_only(fake, clock):
    comment = fake.add_comment("you idiot", author="Troll")
    youtube = owner(fake, clock)
    token = youtube.oauth.header()
    with httpx.Client() as http:
        refused = http.delete(f"{fake.url}/youtube/v3/comments", params={"id": comment}, headers=token)
    assert refused.status_code == 403 and fake.status_of(comment) == "published"
    assert youtube.visibility(comment) == "visible"
    youtube.hide(comment)
    assert fake.status_of(comment) == "heldForReview" and youtube.visibility(comment) == "hidden"
    youtube.delete(comment)
    assert fake.status_of(comment) == "rejected" and youtube.visibility(comment) == "gone"
    writes = [r for r in fake.requests if r.path.endswith("/setModerationStatus")]
    assert [(r.query["moderationStatus"], r.body) for r in writes] == [("heldForReview", b""), ("rejected", b"")]


def test_writes_count_fifty_quota_units_and_a_missing_comment_is_final(fake, clock):
    comment = fake.add_comment("hello")
    youtube = owner(fake, clock)
    youtube.hide(comment)
    assert youtube.status()["quota_units_today"] == 50
    with pytest.raises(ValueError, match="no longer on YouTube"):
        youtube.reply("UgzNoSuchComment", ACK)
    with pytest.raises(ValueError, match="no longer on YouTube"):
        youtube.delete("UgzNoSuchComment")


def test_a_hidden_comment_read_back_from_the_review_queue_opens_no_second_case(tmp_path, store, clock, fake):
    config = make_config(tmp_path, sources=[{**fake.oauth_config("yt"), "official": True, "actions": ["hide"]}])
    fake.add_comment("you idiot", author="Troll", at=clock() - timedelta(minutes=9))
    pipeline = build_pipeline(config, store, clock=clock, classifier=KeywordClassifier())
    assert pipeline.poll("yt").ok
    [case] = store.query("SELECT * FROM cases")
    assert act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock).state == "done"
    clock.advance(600)
    assert pipeline.poll("yt").ok
    assert len(store.query("SELECT * FROM cases")) == 1 and len(store.query("SELECT * FROM items")) == 1
    assert get_case(store, case["id"]).state == "removed"


def test_a_reply_to_a_comment_held_for_review_is_refused_once_not_retried(tmp_path, store, clock, fake):
    config = make_config(tmp_path, sources=[{**fake.oauth_config("yt"), "official": True, "actions": ["reply"]}])
    held = fake.add_held_comment("you idiot", author="Troll", at=clock() - timedelta(minutes=9))
    assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("yt").ok
    [case] = store.query("SELECT * FROM cases")
    outcome = act(store, config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK, clock=clock)
    assert outcome.state == "refused" and "parentCommentIsPrivate" in outcome.message
    assert not fake.school_replies(held) and get_case(store, case["id"]).state == "open"


NOTICE = "A comment on this video was removed by {school} because it broke our community rules."


def thread_body(fake, **snippet) -> dict:
    top = {"snippet": {"textOriginal": snippet.pop("text", NOTICE)}}
    return {"snippet": {"channelId": fake_channel(fake), "videoId": fake.video_id, "topLevelComment": top, **snippet}}


def fake_channel(fake) -> str:
    return fake.oauth_config("yt")["channel_id"]


def test_the_fake_takes_a_notice_only_as_the_api_reference_says(fake, clock):
    token = owner(fake, clock).oauth.header()
    refusals = {
        "key": ({"params": {"part": "snippet", "key": fake.api_key}, "json": thread_body(fake)}, 401, "required"),
        "empty": ({"headers": token, "json": thread_body(fake, text="  ")}, 400, "commentTextRequired"),
        "long": ({"headers": token, "json": thread_body(fake, text="x" * 10001)}, 400, "commentTextTooLong"),
        "no channel": ({"headers": token, "json": thread_body(fake, channelId="")}, 400, "channelOrVideoIdMissing"),
        "no video": ({"headers": token, "json": thread_body(fake, videoId=None)}, 400, "channelOrVideoIdMissing"),
        "unknown video": ({"headers": token, "json": thread_body(fake, videoId="AAAAAAAAAAA")}, 404, "videoNotFound"),
        "other channel": ({"headers": token, "json": thread_body(fake, channelId="UCother")}, 404, "channelNotFound"),
    }
    fake.videos["commentsOff"] = False
    refusals["comments off"] = ({"headers": token, "json": thread_body(fake, videoId="commentsOff")}, 403,
                                "commentsDisabled")
    with httpx.Client() as http:
        for name, (request, status, reason) in refusals.items():
            request.setdefault("params", {"part": "snippet"})
            answer = http.post(f"{fake.url}/youtube/v3/commentThreads", **request)
            assert answer.status_code == status, name
            assert answer.json()["error"]["errors"][0]["reason"] == reason, name
        fake.permissions.discard(FORCE_SSL)
        scoped = http.post(f"{fake.url}/youtube/v3/commentThreads", params={"part": "snippet"},
                           json=thread_body(fake), headers=owner(fake, clock).oauth.header())
        assert scoped.status_code == 403
        assert scoped.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert not fake.school_threads(fake.video_id) and not fake.school_threads("commentsOff")


def test_a_notice_is_a_top_level_comment_on_the_video_and_is_found_again(fake, clock):
    fake.add_school_comment("Welcome to our channel", at=clock() - timedelta(days=2))
    youtube = owner(fake, clock)
    assert youtube.find_in_thread(fake.video_id, NOTICE) is None
    written = youtube.tell_thread(fake.video_id, NOTICE)
    [notice] = [c for c in fake.school_threads(fake.video_id) if c.text == NOTICE]
    assert (notice.id, notice.parent, written.at) == (written.native_id, None, clock().replace(microsecond=0))
    [posted] = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/commentThreads")]
    assert posted.query["part"] == "snippet"
    assert posted.json() == {"snippet": {"channelId": fake_channel(fake), "videoId": fake.video_id,
                                         "topLevelComment": {"snippet": {"textOriginal": NOTICE}}}}
    assert youtube.find_in_thread(fake.video_id, NOTICE) == written
    assert youtube.find_in_thread(fake.video_id, "other words") is None
    assert youtube.status()["quota_units_today"] == 50 + 3  # the write, and three one-unit reads


def test_a_notice_on_a_video_whose_comments_are_off_is_refused_once_not_retried(tmp_path, store, clock, fake):
    config = make_config(tmp_path, school={"name": "Ravens Wood School"}, replies={"removal_notice": NOTICE},
                         sources=[{**fake.oauth_config("yt"), "official": True, "actions": ["reply", "hide"]}])
    fake.add_comment("you idiot", author="Troll", at=clock() - timedelta(minutes=9))
    assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("yt").ok
    [case] = store.query("SELECT * FROM cases")
    assert act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock).state == "done"
    fake.videos[fake.video_id] = False  # the school turned comments off on the video meanwhile
    outcome = act(store, config, action="notice", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert outcome.state == "refused" and "commentsDisabled" in outcome.message
    assert resume(store, config, clock=clock) == []
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/commentThreads")]
    assert len(posts) == 1 and not fake.school_threads(fake.video_id)
