"""Reply, Hide and Delete from Slack: clicks and modal submissions through the real slack_sdk Socket
Mode client, the writes made on the fake Graph API over HTTP, each exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest

from monitor.actions.slack import SlackActions
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes import fake_platform
from monitor.demo.fakes.slack import APP_TOKEN, BOT_TOKEN, CHANNEL, MODERATOR_ID, FakeSlack, block_actions
from monitor.notify.outbox import Dispatcher
from monitor.notify.slack import SlackNotifier
from monitor.sla.cases import get_case
from tests.conftest import make_config
from tests.test_alerting import KeywordClassifier
from tests.test_platform_actions import (NOTICE, NOTICE_PLATFORMS, PLATFORMS, can, follow_clock, hidden, removed,
                                        school_notices, school_replies, thread_of, writing_source)

STRANGER = "U0STRANGER"
EDITED = "Thank you for your message: the head of year will call you today."


@contextmanager
def open_world(tmp_path, store, clock, *, actions=("reply", "hide", "delete"), platform="facebook", replies=None):
    with fake_platform(platform)() as facebook, FakeSlack(clock=clock) as slack:
        follow_clock(facebook, clock)
        slack.users[STRANGER] = {"id": STRANGER, "name": "stranger", "real_name": "A Stranger"}
        source = writing_source(facebook, actions=actions)
        config = make_config(
            tmp_path, school={"name": "Ravens Wood School"}, sources=[source], replies=replies or {},
            notify={"slack": {"token": BOT_TOKEN, "app_token": APP_TOKEN, "channel": CHANNEL,
                              "base_url": slack.base_url, "moderators": [MODERATOR_ID]}},
        )
        comment = facebook.add_comment("you idiot, why was the trip cancelled?", author="Troll",
                                       at=clock() - timedelta(minutes=9))
        assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page").ok
        notifier = SlackNotifier(config.notify.slack, tz=config.school.tz)
        Dispatcher(store, {"slack": notifier}, clock=clock).run()
        actions_listener = SlackActions(config, store, notifier=notifier, clock=clock).start()
        assert slack.wait_connected()
        [posted] = slack.messages
        try:
            yield config, facebook, slack, posted, comment, source
        finally:
            actions_listener.close()


@pytest.fixture(params=sorted(PLATFORMS))
def world(request, tmp_path, store, clock):
    with open_world(tmp_path, store, clock, platform=request.param) as opened:
        yield opened


def open_dialog(slack, posted, button: str, user=MODERATOR_ID) -> str:
    """Click ``button`` (Reply, Tell the audience); the id of the modal it opened."""
    count = len(slack.views)
    envelope = slack.push_action(block_actions(posted, button, user=user))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(slack.views) > count)
    return list(slack.views)[-1]


def open_reply(slack, posted, user=MODERATOR_ID) -> str:
    return open_dialog(slack, posted, "reply", user)


def submit(slack, view_id, text, *, user=None, wait=None) -> None:
    payload = slack.submission(view_id, {"reply": {"text": text}}, user=user)
    envelope = slack.push_action(payload)
    assert slack.wait_for_ack(envelope)
    if wait is not None:
        assert slack.wait_for(wait)


def click(slack, posted, action_id, user=MODERATOR_ID) -> None:
    count = len(posted.updates)
    envelope = slack.push_action(block_actions(posted, action_id, user=user))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(posted.updates) > count)


def test_the_alert_of_an_opted_in_source_has_reply_hide_and_delete_behind_a_confirmation(world):
    config, facebook, slack, posted, comment, source = world
    [buttons] = [b["elements"] for b in posted.blocks if b["type"] == "actions"]
    offered = [a for a in ("reply", "hide", "delete") if can(facebook, a)]
    assert [b["action_id"] for b in buttons] == ["acknowledge", "escalate", "not_abusive", *offered]
    assert "confirm" not in buttons[3] and buttons[4]["confirm"]["confirm"]["text"] == "Hide"
    if can(facebook, "delete"):
        assert buttons[5]["confirm"]["title"]["text"] == "Delete this comment?"


def test_without_actions_there_are_no_platform_buttons(tmp_path, store, clock):
    with open_world(tmp_path, store, clock, actions=()) as (config, facebook, slack, posted, comment, source):
        [buttons] = [b["elements"] for b in posted.blocks if b["type"] == "actions"]
        assert [b["action_id"] for b in buttons] == ["acknowledge", "escalate", "not_abusive"]


def test_reply_opens_the_schools_acknowledgement_and_posts_the_edited_reply_once(world, store, clock):
    config, facebook, slack, posted, comment, source = world
    clock.advance(600)
    view_id = open_reply(slack, posted)
    view = slack.views[view_id]["view"]
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    offered = field["element"]["initial_value"]
    assert "Ravens Wood School has received your message" in offered and "Tue 17 Nov 2026 08:51 GMT" in offered
    item = store.query("SELECT item_id FROM cases WHERE id = 1")[0]["item_id"]
    assert json.loads(view["private_metadata"]) == {"case": 1, "item": item, "channel": CHANNEL, "ts": posted.ts}
    count = len(posted.updates)
    submit(slack, view_id, EDITED, wait=lambda: len(posted.updates) > count)
    [reply] = school_replies(facebook, comment)
    assert reply.get("message", reply.get("text")) == EDITED
    case = get_case(store, 1)
    assert (case.state, case.closed_by, case.closed_how, case.breached) == ("acknowledged", "Jane Smith", "slack", False)
    assert case.closed_at == clock()  # the reply's own time on the platform
    assert "Replied by Jane Smith" in posted.blocks[-1]["elements"][0]["text"]
    [buttons] = [b["elements"] for b in posted.blocks if b["type"] == "actions"]
    assert [b["action_id"] for b in buttons] == ["escalate", "not_abusive", *(a for a in ("hide", "delete") if can(facebook, a))]
    [audit] = store.query("SELECT * FROM audit_log WHERE action = 'reply'")
    assert json.loads(audit["detail"])["slack_user"] == MODERATOR_ID and audit["actor"] == "Jane Smith"


def test_a_double_click_and_two_submissions_post_one_reply(world, store):
    config, facebook, slack, posted, comment, source = world
    first, second = open_reply(slack, posted), open_reply(slack, posted)
    count = len(posted.updates)
    submit(slack, first, EDITED)
    submit(slack, second, EDITED + " (sent twice)")
    assert slack.wait_for(lambda: len(posted.updates) > count)
    time.sleep(0.5)  # let the second submission finish too
    assert len(school_replies(facebook, comment)) == 1
    assert len(store.query("SELECT * FROM platform_actions")) == 1


def test_a_reply_killed_between_the_write_and_its_receipt_is_not_posted_again_from_slack(world, store, tmp_path):
    config, facebook, slack, posted, comment, source = world
    path = tmp_path / "monitor.toml"
    path.write_text(f'[storage]\npath = "{store.path}"\n[[sources]]\n'
                    + "".join(f"{k} = {json.dumps(v)}\n" for k, v in source.items()), encoding="utf-8")
    facebook.write_delay = 60
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(path), "reply", "1",
                                "--text", EDITED, "--by", "Jane Smith"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not school_replies(facebook, comment) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    facebook.write_delay = 0
    assert store.query("SELECT state FROM platform_actions")[0]["state"] == "sending"
    view_id = open_reply(slack, posted)
    count = len(posted.updates)
    submit(slack, view_id, EDITED, wait=lambda: len(posted.updates) > count)
    assert len(school_replies(facebook, comment)) == 1
    assert get_case(store, 1).state == "acknowledged"


def test_hide_then_delete_close_the_case_as_removed_and_say_who(world, store):
    config, facebook, slack, posted, comment, source = world
    click(slack, posted, "hide")
    assert hidden(facebook, comment)
    case = get_case(store, 1)
    assert (case.state, case.closed_by) == ("removed", "Jane Smith")
    assert "Hidden by Jane Smith" in posted.blocks[-1]["elements"][0]["text"]
    if not can(facebook, "delete"):
        return
    click(slack, posted, "delete")
    assert removed(facebook, comment)
    lines = [b["elements"][0]["text"] for b in posted.blocks if b["type"] == "context"]
    assert any("Deleted by Jane Smith" in line for line in lines)
    actions = [(a["action"], json.loads(a["detail"]).get("slack_user")) for a in store.query("SELECT * FROM audit_log")]
    assert ("hide", MODERATOR_ID) in actions and ("delete", MODERATOR_ID) in actions


def test_a_refused_permission_is_told_to_the_moderator_and_nothing_changes(world, store):
    config, facebook, slack, posted, comment, source = world
    facebook.permissions.discard(PLATFORMS[facebook.type][0])
    count = len(slack.ephemeral)
    envelope = slack.push_action(block_actions(posted, "hide"))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(slack.ephemeral) > count)
    told = slack.ephemeral[-1]
    scope, refusal = PLATFORMS[facebook.type]
    assert told.user == MODERATOR_ID and scope in told.text and refusal in told.text
    assert not hidden(facebook, comment) and get_case(store, 1).state == "open"
    assert not posted.updates


def test_a_strangers_submission_is_refused(world, store):
    config, facebook, slack, posted, comment, source = world
    view_id = open_reply(slack, posted)
    count = len(slack.ephemeral)
    submit(slack, view_id, "I am not the school", user=STRANGER, wait=lambda: len(slack.ephemeral) > count)
    assert slack.ephemeral[-1].user == STRANGER and "not a moderator" in slack.ephemeral[-1].text
    assert not school_replies(facebook, comment) and get_case(store, 1).state == "open"
    [row] = store.query("SELECT actor, detail FROM audit_log WHERE action = 'slack_refused'")
    detail = json.loads(row["detail"])
    assert row["actor"] == STRANGER and detail["button"] == "reply dialog" and "not a moderator" in detail["refused"]


def test_a_submission_naming_another_item_is_refused(world, store):
    config, facebook, slack, posted, comment, source = world
    view_id = open_reply(slack, posted)
    meta = json.loads(slack.views[view_id]["view"]["private_metadata"])
    slack.views[view_id]["view"]["private_metadata"] = json.dumps({**meta, "item": meta["item"] + 1})
    count = len(slack.ephemeral)
    submit(slack, view_id, EDITED, wait=lambda: len(slack.ephemeral) > count)
    assert "does not match the alert" in slack.ephemeral[-1].text
    assert not school_replies(facebook, comment)


def test_a_reply_click_from_a_stranger_opens_no_modal(world):
    config, facebook, slack, posted, comment, source = world
    count = len(slack.ephemeral)
    envelope = slack.push_action(block_actions(posted, "reply", user=STRANGER))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(slack.ephemeral) > count)
    assert not slack.views


@pytest.fixture(params=NOTICE_PLATFORMS)
def noticed(request, tmp_path, store, clock):
    """A world whose school has a removal notice."""
    with open_world(tmp_path, store, clock, platform=request.param, replies={"removal_notice": NOTICE}) as opened:
        yield opened


def buttons_of(posted) -> list[str]:
    return [e["action_id"] for b in posted.blocks if b["type"] == "actions" for e in b["elements"]]


def item_of(store, native_id: str) -> int:
    """The stored item of a comment (on Facebook the post itself is stored too, on YouTube not)."""
    return store.query("SELECT id FROM items WHERE native_id = ?", (native_id,))[0]["id"]


def open_notice(slack, posted, user=MODERATOR_ID) -> str:
    return open_dialog(slack, posted, "notice", user)


@pytest.mark.parametrize("removal", ["hide", "delete"])
def test_after_a_removal_tell_the_audience_posts_the_notice_once_on_the_thread(noticed, store, removal):
    config, facebook, slack, posted, comment, source = noticed
    assert "notice" not in buttons_of(posted)  # offered only once something was removed
    click(slack, posted, removal)
    said = [e["text"] for b in posted.blocks if b["type"] == "context" for e in b["elements"]]
    assert any(f"{'Hidden' if removal == 'hide' else 'Deleted'} by Jane Smith" in line for line in said)
    assert "notice" in buttons_of(posted)
    first, second = open_notice(slack, posted), open_notice(slack, posted)  # a double click: two dialogs
    view = slack.views[first]["view"]
    assert view["callback_id"] == "notice" and view["title"]["text"] == "Tell the audience"
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    offered = field["element"]["initial_value"]
    assert offered == NOTICE.format(school="Ravens Wood School")
    count = len(posted.updates)
    submit(slack, first, offered, wait=lambda: len(posted.updates) > count)
    submit(slack, second, offered + " (twice)")
    time.sleep(0.5)  # let the second submission finish too
    thread = thread_of(store, item_of(store, comment))
    [notice] = school_notices(facebook, thread)
    assert notice.get("message", notice.get("text")) == offered
    assert get_case(store, 1).state == "removed"
    assert "notice" not in buttons_of(posted)
    lines = [e["text"] for b in posted.blocks if b["type"] == "context" for e in b["elements"]]
    assert any("Removal notice posted by Jane Smith" in line for line in lines)
    [audit] = store.query("SELECT * FROM audit_log WHERE action = 'notice'")
    assert audit["actor"] == "Jane Smith" and json.loads(audit["detail"])["slack_user"] == MODERATOR_ID
    assert len(store.query("SELECT * FROM platform_actions WHERE action = 'notice'")) == 1


def test_without_a_removal_notice_there_is_no_tell_the_audience_button(world, store):
    config, facebook, slack, posted, comment, source = world
    click(slack, posted, "hide")
    assert "notice" not in buttons_of(posted) and get_case(store, 1).state == "removed"


def test_only_a_moderator_can_tell_the_audience(noticed, store):
    config, facebook, slack, posted, comment, source = noticed
    click(slack, posted, "hide")
    count = len(slack.ephemeral)
    envelope = slack.push_action(block_actions(posted, "notice", user=STRANGER))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(slack.ephemeral) > count)
    assert slack.ephemeral[-1].user == STRANGER and "not a moderator" in slack.ephemeral[-1].text
    view_id = open_notice(slack, posted)  # a moderator's dialog, submitted by someone else
    count = len(slack.ephemeral)
    submit(slack, view_id, "not the school", user=STRANGER, wait=lambda: len(slack.ephemeral) > count)
    assert not school_notices(facebook, thread_of(store, item_of(store, comment)))
    refused = [json.loads(r["detail"]) for r in store.query("SELECT detail FROM audit_log WHERE action = 'slack_refused'")]
    assert [(r["slack_user"], r["button"]) for r in refused] == [(STRANGER, "notice"), (STRANGER, "notice dialog")]
