"""X's writes as the school's account: what the API takes and refuses, on the fake over HTTP.

The exactly-once paths (in doubt, SIGKILL, Slack) run for X in test_platform_actions.py and
test_slack_platform_actions.py; here are X's own rules: user context (OAuth 1.0a) only, no delete,
paid calls refused when the credits run out, duplicate text, and hiding only in the school's conversations.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from connectors.x import WRITE_PERMISSION, XConnector, XSettings
from monitor.actions.platform import act
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes.x import FakeX
from monitor.errors import AuthError, ConfigError, TransientError
from tests.conftest import make_config
from tests.test_alerting import KeywordClassifier

ACK = "Thank you, we have your message and will reply properly soon."


@pytest.fixture
def fake(clock):
    with FakeX() as fake:
        fake.default_time = lambda: clock().replace(microsecond=0)
        yield fake


def school(fake, clock) -> XConnector:
    return XConnector(XSettings.model_validate({**fake.user_config("x"), "actions": ["reply", "hide"]}), clock=clock)


def test_the_fake_refuses_a_write_with_the_apps_bearer_token_as_x_does(fake):
    comment = fake.add_comment("When is sports day?")
    with httpx.Client() as http:
        answer = http.post(f"{fake.url}/2/tweets", headers={"Authorization": f"Bearer {fake.token}"},
                           json={"text": ACK, "reply": {"in_reply_to_tweet_id": comment}})
    assert answer.status_code == 403
    assert answer.json()["type"].endswith("/2/problems/unsupported-authentication")
    assert not fake.replies_to(comment)


def test_actions_need_the_accounts_keys_and_delete_is_not_offered(tmp_path, fake):
    with pytest.raises(ConfigError, match="bearer token cannot do"):
        make_config(tmp_path, sources=[{**fake.source_config("x"), "actions": ["reply"]}])
    with pytest.raises(ConfigError, match=r"a x source cannot delete from the monitor \(it can: reply, hide\)"):
        make_config(tmp_path, sources=[{**fake.user_config("x"), "actions": ["reply", "delete"]}])
    with pytest.raises(ConfigError, match="keys go together"):
        make_config(tmp_path, sources=[{**fake.source_config("x"), "access_token": "a"}])
    assert XConnector.action_scopes == {"reply": WRITE_PERMISSION, "hide": WRITE_PERMISSION}


def test_a_reply_is_signed_as_the_school_and_timed_by_its_id(fake, clock):
    comment = fake.add_comment("When is sports day?", at=clock() - timedelta(minutes=5))
    written = school(fake, clock).reply(comment, ACK)
    [reply] = fake.replies_to(comment)
    assert (reply["id"], reply["text"], reply["author_id"]) == (written.native_id, ACK, fake.school["id"])
    assert written.at == clock().replace(microsecond=0)
    [request] = [r for r in fake.requests if r.method == "POST"]
    assert request.json() == {"text": ACK, "reply": {"in_reply_to_tweet_id": comment}}
    header = request.header("authorization")
    assert header.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA1"' in header


def test_a_write_signed_with_the_wrong_secret_is_refused(fake, clock):
    comment = fake.add_comment("When is sports day?")
    wrong = XConnector(XSettings.model_validate({**fake.user_config("x"), "access_token_secret": "not-the-secret",
                                                 "actions": ["reply"]}), clock=clock)
    with pytest.raises(AuthError, match="HTTP 401"):
        wrong.reply(comment, ACK)
    assert not fake.replies_to(comment)


def test_the_same_text_twice_is_taken_as_made_and_found_again(fake, clock):
    comment = fake.add_comment("When is sports day?")
    x = school(fake, clock)
    first = x.reply(comment, ACK)
    with pytest.raises(TransientError, match="already posted"):
        x.reply(comment, ACK)
    assert x.find_reply(comment, ACK) == first
    assert len(fake.replies_to(comment)) == 1


def test_hiding_is_only_for_replies_in_the_schools_conversations_and_a_gone_tweet_is_final(fake, clock):
    mention = fake.add_mention("look at this school")
    x = school(fake, clock)
    with pytest.raises(ValueError, match="conversation the school's account started"):
        x.hide(mention)
    comment = fake.add_comment("you idiot")
    fake.remove(comment)
    with pytest.raises(ValueError, match="no longer on X"):
        x.reply(comment, ACK)
    assert x.visibility(comment) == "gone"


def test_with_no_credits_left_the_write_is_refused_and_says_so(tmp_path, store, clock, fake):
    config = make_config(tmp_path, sources=[{**fake.user_config("x"), "official": True, "actions": ["reply"]}])
    fake.add_comment("you idiot, when is the trip?", author="Troll", at=clock() - timedelta(minutes=9))
    assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("x").ok
    [case] = store.query("SELECT * FROM cases")
    fake.deplete_credits()
    outcome = act(store, config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK, clock=clock)
    assert outcome.state == "refused" and "CreditsDepleted" in outcome.message and "Buy credits" in outcome.message
    assert "needs the" not in outcome.message  # not a permission matter
    fake.top_up()
    again = act(store, config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK, clock=clock)
    assert again.state == "done" and len(fake.replies_to(store.query("SELECT native_id FROM items WHERE id = ?",
                                                                     (case["item_id"],))[0]["native_id"])) == 1
