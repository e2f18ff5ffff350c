"""Slack buttons end to end: a posted alert, a click pushed through the fake's Socket Mode websocket.

Only moderators act: the tests also click as strangers, from other channels and with forged values.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta

import pytest

from monitor.actions.slack import GROUP_CACHE, SlackActions, start_slack_actions
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes import fake_platform
from monitor.demo.fakes.slack import APP_TOKEN, BOT_TOKEN, CHANNEL, MODERATOR_ID, FakeSlack, block_actions
from monitor.notify.outbox import Dispatcher
from monitor.notify.slack import SlackNotifier
from tests.conftest import make_config
from tests.test_alerting import KeywordClassifier

STRANGER = "U0STRANGER"
OTHER_CHANNEL = "C0GENERAL"


@contextmanager
def open_world(tmp_path, store, clock, *, moderators=(MODERATOR_ID,), comments=("you idiot",)):
    with fake_platform("facebook")() as facebook, FakeSlack(clock=clock, channels=(CHANNEL, OTHER_CHANNEL)) as slack:
        slack.users[STRANGER] = {"id": STRANGER, "name": "stranger", "real_name": "A Stranger"}
        config = make_config(
            tmp_path,
            sources=[{**facebook.source_config("facebook-page"), "official": True}],
            notify={"slack": {"token": BOT_TOKEN, "app_token": APP_TOKEN, "channel": CHANNEL, "base_url": slack.base_url,
                              "moderators": list(moderators)},
                    "email": {"host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
                              "moderators": ["mod@school.example"], "escalate_to": ["head@school.example"]}},
        )
        for minutes, text in enumerate(comments, start=1):
            facebook.add_comment(text, author="Troll", at=clock() - timedelta(minutes=10 - minutes))
        assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page").ok
        notifier = SlackNotifier(config.notify.slack, tz=config.school.tz)
        Dispatcher(store, {"slack": notifier}, clock=clock).run()
        actions = SlackActions(config, store, notifier=notifier, clock=clock).start()
        assert slack.wait_connected()
        try:
            yield config, slack, actions
        finally:
            actions.close()


@pytest.fixture
def world(tmp_path, store, clock):
    with open_world(tmp_path, store, clock) as (config, slack, actions):
        [posted] = slack.messages
        yield config, slack, posted, actions


def click(slack, posted, action_id: str, user: str = MODERATOR_ID) -> None:
    count = len(posted.updates)
    envelope = slack.push_action(block_actions(posted, action_id, user=user))
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
    line = blocks[-1]["elements"][0]["text"]
    assert "Acknowledged by Jane Smith" in line and "Mon 16 Nov 2026 09:02 GMT" in line
    click(slack, posted, "escalate")  # other buttons still work after the first click


def test_escalate_writes_an_escalation_alert_for_the_head(world, store):
    config, slack, posted, _ = world
    click(slack, posted, "escalate")
    rows = store.query("SELECT * FROM alerts WHERE kind = 'escalation' ORDER BY id")
    # by the default routing an escalation is email: the moderators and the head
    assert {(r["channel"], r["recipient"]) for r in rows} == {
        ("email", "mod@school.example"), ("email", "head@school.example")}
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


def refused(slack, payload, user=STRANGER) -> str:
    """Push a click through Socket Mode; returns what the clicker was told (only they see it)."""
    count = len(slack.ephemeral)
    envelope = slack.push_action(payload)
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(slack.ephemeral) > count)
    [told] = slack.ephemeral[count:]
    assert told.user == user
    return told.text


def nothing_done(store, posted) -> bool:
    """Nothing changed: the only audit rows are the refusals themselves."""
    return (not store.query("SELECT * FROM audit_log WHERE action != 'slack_refused'")
            and not store.query("SELECT * FROM feedback")
            and store.query("SELECT state FROM cases")[0]["state"] == "open"
            and not store.query("SELECT * FROM alerts WHERE kind = 'escalation'") and not posted.updates)


@pytest.mark.parametrize("action_id", ["acknowledge", "escalate", "not_abusive"])
def test_a_stranger_in_the_channel_is_told_they_are_not_a_moderator(tmp_path, store, clock, action_id):
    with open_world(tmp_path, store, clock, comments=("you idiot, I will stab you",)) as (config, slack, actions):
        [posted] = slack.messages
        told = refused(slack, block_actions(posted, action_id, user=STRANGER, name="stranger"))
        assert "not a moderator here" in told and told in [e.text for e in slack.ephemeral if e.channel == CHANNEL]
        assert nothing_done(store, posted)


def test_with_no_moderators_configured_every_click_is_refused_and_says_why(tmp_path, store, clock):
    with open_world(tmp_path, store, clock, moderators=()) as (config, slack, actions):
        [posted] = slack.messages
        told = refused(slack, block_actions(posted, "not_abusive"), user=MODERATOR_ID)
        assert "notify.slack.moderators is not set" in told
        assert nothing_done(store, posted)


def test_a_member_of_the_moderators_user_group_can_act_and_the_group_is_cached(tmp_path, store, clock):
    with open_world(tmp_path, store, clock, moderators=("S0MODS",)) as (config, slack, actions):
        [posted] = slack.messages
        slack.usergroups["S0MODS"] = [STRANGER]
        click(slack, posted, "escalate", user=STRANGER)
        click(slack, posted, "not_abusive", user=STRANGER)
        assert slack.usergroup_calls == 1  # the second click used the cached membership
        assert [a["actor"] for a in store.query("SELECT * FROM audit_log")] == ["A Stranger", "A Stranger"]
        slack.usergroups["S0MODS"] = []  # removed from the group: refused once the cache expires
        clock.advance(GROUP_CACHE.total_seconds() + 1)
        assert "not a moderator here" in refused(slack, block_actions(posted, "acknowledge", user=STRANGER))
        assert slack.usergroup_calls == 2
        assert store.query("SELECT state FROM cases")[0]["state"] == "open"


def test_an_unknown_user_group_refuses_rather_than_letting_anyone_in(tmp_path, store, clock):
    with open_world(tmp_path, store, clock, moderators=("S0GONE",)) as (config, slack, actions):
        [posted] = slack.messages
        told = refused(slack, block_actions(posted, "acknowledge"), user=MODERATOR_ID)
        assert "cannot check the moderators' user group" in told and "no_such_subteam" in told
        assert nothing_done(store, posted)


def test_a_click_from_another_channel_is_refused(world, store):
    config, slack, posted, _ = world
    payload = block_actions(posted, "acknowledge")
    payload["container"]["channel_id"] = payload["channel"]["id"] = OTHER_CHANNEL
    assert "only in the moderators' channel" in refused(slack, payload, user=MODERATOR_ID)
    assert nothing_done(store, posted)


def test_a_value_naming_another_case_and_item_is_refused(tmp_path, store, clock):
    with open_world(tmp_path, store, clock, comments=("you idiot", "idiot again")) as (config, slack, actions):
        first, second = slack.messages
        payload = block_actions(first, "acknowledge")
        payload["actions"][0]["value"] = block_actions(second, "acknowledge")["actions"][0]["value"]
        assert "does not match the alert" in refused(slack, payload, user=MODERATOR_ID)
        assert [c["state"] for c in store.query("SELECT state FROM cases ORDER BY id")] == ["open", "open"]


def test_a_value_with_the_wrong_types_is_refused(world, store):
    config, slack, posted, _ = world
    assert json.loads(block_actions(posted, "acknowledge")["actions"][0]["value"]) == {"case": 1, "item": 2}
    for value in ({"case": True, "item": 2}, {"case": 1.0, "item": 2}, {"case": "1", "item": 2}, {"case": 1, "item": 2.0},
                  {"case": 1, "item": 2, "x": 0}, {"case": 1}, [1, 2], "1", None):
        payload = block_actions(posted, "acknowledge")
        payload["actions"][0]["value"] = json.dumps(value)
        assert "does not match the alert" in refused(slack, payload, user=MODERATOR_ID), value
    assert nothing_done(store, posted)


def test_a_value_on_a_message_the_monitor_did_not_post_is_refused(world, store):
    config, slack, posted, _ = world
    payload = block_actions(posted, "acknowledge")
    payload["container"]["message_ts"] = payload["message"]["ts"] = "1.000001"
    assert "does not match the alert" in refused(slack, payload, user=MODERATOR_ID)
    assert store.query("SELECT state FROM cases")[0]["state"] == "open"


def refusals(store) -> list[tuple[str, dict]]:
    return [(r["actor"], json.loads(r["detail"])) for r in store.query(
        "SELECT actor, detail, case_id, item_id FROM audit_log WHERE action = 'slack_refused' ORDER BY id")]


def test_every_refused_click_is_in_the_audit_log_with_who_what_and_why(world, store):
    config, slack, posted, _ = world
    refused(slack, block_actions(posted, "acknowledge", user=STRANGER, name="stranger"))
    elsewhere = block_actions(posted, "escalate")
    elsewhere["container"]["channel_id"] = elsewhere["channel"]["id"] = OTHER_CHANNEL
    refused(slack, elsewhere, user=MODERATOR_ID)
    forged = block_actions(posted, "not_abusive")
    forged["actions"][0]["value"] = json.dumps({"case": 7, "item": 9})
    refused(slack, forged, user=MODERATOR_ID)
    (stranger, by_stranger), (_, from_elsewhere), (moderator, with_forgery) = refusals(store)
    assert stranger == STRANGER and moderator == MODERATOR_ID
    assert by_stranger["slack_name"] == "stranger" and by_stranger["button"] == "acknowledge"
    assert "not a moderator here" in by_stranger["refused"] and by_stranger["channel"] == CHANNEL
    assert (from_elsewhere["button"], from_elsewhere["channel"]) == ("escalate", OTHER_CHANNEL)
    assert "only in the moderators' channel" in from_elsewhere["refused"]
    assert with_forgery["value"] == '{"case": 7, "item": 9}' and "does not match the alert" in with_forgery["refused"]
    # the forged ids are recorded as sent, never as the case or item the row is about
    assert all(r["case_id"] is None and r["item_id"] is None
               for r in store.query("SELECT case_id, item_id FROM audit_log"))
    assert nothing_done(store, posted)


def test_a_hostile_refused_click_is_audited_on_one_clipped_line(world, store):
    config, slack, posted, _ = world
    payload = block_actions(posted, "acknowledge", user=STRANGER, name="x\n#2 acknowledged" + "y" * 500)
    payload["actions"][0]["value"] = "\x1b[2J" + "v" * 5000
    refused(slack, payload)
    [(actor, detail)] = refusals(store)
    assert "\n" not in detail["slack_name"] and "\x1b" not in detail["value"] and len(detail["value"]) <= 300
    assert len(detail["slack_name"]) <= 120


def test_every_audit_row_names_the_slack_user_id_and_name(world, store):
    config, slack, posted, _ = world
    for action_id in ("acknowledge", "escalate", "not_abusive"):
        click(slack, posted, action_id)
    rows = store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")
    assert [r["action"] for r in rows] == ["acknowledge", "escalate", "not_abusive"]
    for row in rows:
        detail = json.loads(row["detail"])
        assert (row["actor"], detail["slack_user"], detail["slack_name"], detail["how"]) == (
            "Jane Smith", MODERATOR_ID, "Jane Smith", "slack")


def test_a_name_with_newlines_is_kept_on_one_line(world, store):
    config, slack, posted, _ = world
    slack.users[MODERATOR_ID] = {"id": MODERATOR_ID, "name": "x",
                                 "profile": {"real_name": "Jane\n#2 facebook-page acknowledged" + "x" * 500}}
    click(slack, posted, "acknowledge")
    [case] = store.query("SELECT closed_by FROM cases")
    assert "\n" not in case["closed_by"] and len(case["closed_by"]) <= 80


def test_no_app_token_means_no_listener(tmp_path, store):
    config = make_config(tmp_path, notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL}})
    assert start_slack_actions(config, store) is None
