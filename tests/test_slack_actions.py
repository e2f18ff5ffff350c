"""Slack buttons end to end: a posted alert, a click pushed through the fake's Socket Mode websocket."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from monitor.app import build_pipeline
from monitor.fakes import fake_platform
from monitor.fakes.slack import APP_TOKEN, BOT_TOKEN, CHANNEL, FakeSlack, block_actions
from monitor.notify.slack import SlackNotifier
from monitor.outbox import Dispatcher
from monitor.slack_actions import SlackActions, start_slack_actions
from tests.conftest import make_config
from tests.test_alerting import KeywordClassifier


@pytest.fixture
def world(tmp_path, store, clock):
    with fake_platform("facebook")() as facebook, FakeSlack(clock=clock) as slack:
        config = make_config(
            tmp_path,
            sources=[{**facebook.source_config("facebook-page"), "official": True}],
            notify={"slack": {"token": BOT_TOKEN, "app_token": APP_TOKEN, "channel": CHANNEL, "base_url": slack.base_url},
                    "email": {"host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
                              "moderators": ["mod@school.example"], "escalate_to": ["head@school.example"]}},
        )
        facebook.add_comment("you idiot", author="Troll", at=clock() - timedelta(minutes=5))
        assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page").ok
        notifier = SlackNotifier(config.notify.slack, tz=config.school.tz)
        Dispatcher(store, {"slack": notifier}, clock=clock).run()
        [posted] = slack.messages
        actions = SlackActions(config, store, notifier=notifier, clock=clock).start()
        assert slack.wait_connected()
        try:
            yield config, slack, posted, actions
        finally:
            actions.close()


def click(slack, posted, action_id: str) -> None:
    count = len(posted.updates)
    envelope = slack.push_action(block_actions(posted, action_id))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(posted.updates) > count)  # handled: the message was updated


def test_acknowledge_closes_the_case_by_the_slack_users_name(world, store, clock):
    config, slack, posted, _ = world
    clock.advance(120)
    click(slack, posted, "acknowledge")
    [case] = store.query("SELECT * FROM cases")
    assert (case["state"], case["closed_by"], case["closed_how"]) == ("acknowledged", "Jane Smith", "slack")
    assert [(a["actor"], a["action"]) for a in store.query("SELECT * FROM audit_log")] == [("Jane Smith", "acknowledge")]
    blocks = posted.blocks
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["escalate", "not_abusive"]
    [line] = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert "Acknowledged by Jane Smith" in line and "Mon 16 Nov 2026 09:02 GMT" in line
    click(slack, posted, "escalate")  # other buttons still work after the first click


def test_escalate_writes_an_escalation_alert_for_the_head(world, store):
    config, slack, posted, _ = world
    click(slack, posted, "escalate")
    rows = store.query("SELECT * FROM alerts WHERE kind = 'escalation' ORDER BY id")
    assert {(r["channel"], r["recipient"]) for r in rows} == {
        ("slack", CHANNEL), ("email", "mod@school.example"), ("email", "head@school.example")}
    assert all(r["key"].startswith("escalated:item:") for r in rows)
    assert json.loads(rows[0]["payload"])["title"].startswith("Escalated by Jane Smith")
    [audit] = store.query("SELECT * FROM audit_log")
    assert (audit["actor"], audit["action"]) == ("Jane Smith", "escalate")
    assert "Escalated by Jane Smith" in posted.blocks[-1]["elements"][0]["text"]


def test_not_abusive_is_kept_as_feedback_for_retraining(world, store):
    config, slack, posted, _ = world
    click(slack, posted, "not_abusive")
    [feedback] = store.query("SELECT * FROM feedback")
    assert (feedback["label"], feedback["text"], feedback["by"], feedback["by_id"], feedback["how"]) == (
        "not_abusive", "you idiot", "Jane Smith", "U0MODERATOR", "slack")
    assert feedback["model"] == "keyword" and json.loads(feedback["labels"])["insult"] == 0.93
    assert [a["action"] for a in store.query("SELECT * FROM audit_log")] == ["not_abusive"]


def test_a_click_with_a_bad_value_is_ignored_and_acknowledged(world, store):
    config, slack, posted, _ = world
    payload = block_actions(posted, "acknowledge")
    payload["actions"][0]["value"] = "not json"
    envelope = slack.push_action(payload)
    assert slack.wait_for_ack(envelope)
    click(slack, posted, "not_abusive")  # the listener still works
    assert store.query("SELECT state FROM cases")[0]["state"] == "open"


def test_an_unknown_user_falls_back_to_the_payloads_name(world, store):
    config, slack, posted, actions = world
    payload = block_actions(posted, "acknowledge", user="U0STRANGER")
    assert actions.handle(payload) == ["Acknowledged by jsmith"]


def test_no_app_token_means_no_listener(tmp_path, store):
    config = make_config(tmp_path, notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL}})
    assert start_slack_actions(config, store) is None
