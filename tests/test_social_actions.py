"""Replies, blocks and reports on Mastodon and Bluesky, each made exactly once: real HTTP to the
fake platforms, which take the writes in their wire format and refuse them as the platforms do.

The school cannot hide or delete another account's post on these platforms: a block or a report
leaves the post public, so the case closes as acknowledged, never as removed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import timedelta

import pytest

from connectors import connector_class
from monitor.actions.platform import act, resume
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes import fake_platform
from monitor.errors import ConfigError
from monitor.sla.cases import get_case
from monitor.store import Store
from tests.conftest import cli, make_config, write_source_config
from tests.test_alerting import KeywordClassifier

ACK = "Thank you, we have your message and will reply properly soon."
ACTIONS = ["reply", "block", "report"]


class Mastodon:
    """What a test reads on the fake Mastodon, and the scope each write needs."""

    scopes = {"reply": "write:statuses", "block": "write:blocks", "report": "write:reports"}

    @staticmethod
    def replies(fake, comment) -> list[tuple[str, str]]:
        return [(s.id, s.text) for s in fake.school_replies(comment)]

    @staticmethod
    def blocked(fake, comment) -> bool:
        return fake.author_of(comment) in fake.blocked

    @staticmethod
    def reports(fake, comment) -> list[dict]:
        return [r for r in fake.reports if comment in r["status_ids"]]

    @staticmethod
    def withdraw(fake, action) -> None:
        fake.scopes.discard(Mastodon.scopes[action])

    @staticmethod
    def forget(fake) -> None:
        """Past the hour Mastodon keeps an Idempotency-Key: only reading the thread can tell."""
        fake.forget_idempotency_keys()


class Bluesky:
    """The same on the fake Bluesky, where an app password needs no scope: a refusal is the app
    password itself refused (revoked, or the account taken down)."""

    scopes = dict.fromkeys(ACTIONS, "app password")

    @staticmethod
    def replies(fake, comment) -> list[tuple[str, str]]:
        return [(p.uri, p.text) for p in fake.school_replies(comment)]

    @staticmethod
    def blocked(fake, comment) -> bool:
        return fake.author_of(comment) in fake.block_records.values()

    @staticmethod
    def reports(fake, comment) -> list[dict]:
        return [r for r in fake.reports if r["subject"]["uri"] == comment]

    @staticmethod
    def withdraw(fake, action) -> None:
        fake.expire_credentials()

    @staticmethod
    def forget(fake) -> None:
        """Nothing to forget: Bluesky has no idempotency key."""


PLATFORMS = {"mastodon": Mastodon, "bluesky": Bluesky}


@pytest.fixture(params=sorted(PLATFORMS))
def world(request, tmp_path, store, clock):
    with fake_platform(request.param)() as fake:
        fake.default_time = lambda: clock().replace(microsecond=0)
        config = make_config(tmp_path, sources=[{**fake.source_config("social"), "official": True,
                                                 "actions": ACTIONS}])
        comment = fake.add_comment("you idiot, when is the trip?", author="Troll", at=clock() - timedelta(minutes=9))
        assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("social").ok
        [case] = store.query("SELECT * FROM cases")
        yield config, fake, PLATFORMS[request.param], comment, case


def test_a_reply_is_posted_once_to_the_author_and_closes_the_case_as_met_at_its_platform_time(world, store, clock):
    config, fake, platform, comment, case = world
    clock.advance(300)
    outcome = act(store, config, action="reply", item_id=case["item_id"], by="Jane Smith", how="cli", text=ACK,
                  clock=clock)
    assert (outcome.state, outcome.message) == ("done", "Replied by Jane Smith")
    again = act(store, config, action="reply", item_id=case["item_id"], by="Jane Smith", how="cli", text=ACK,
                clock=clock)
    assert again.state == "done" and not again.changed
    [(reply_id, text)] = platform.replies(fake, comment)
    assert reply_id == outcome.receipt["native_id"] and text.endswith(ACK)
    closed = get_case(store, case["id"])
    assert (closed.state, closed.closed_by, closed.closed_how, closed.breached) == ("acknowledged", "Jane Smith", "cli", False)
    assert closed.closed_at == clock()


def test_a_mastodon_reply_names_its_author_and_keeps_the_visibility_of_a_direct_message(tmp_path, store, clock):
    with fake_platform("mastodon")() as fake:
        config = make_config(tmp_path, sources=[{**fake.source_config("social"), "actions": ["reply"]}])
        comment = fake.add_comment("a private question about my child", author="A Parent")
        fake._find(comment).visibility = "direct"
        connector = connector_class("mastodon")(config.source("social"), clock=clock)
        try:
            written = connector.reply(comment, ACK)
            again = connector.reply(comment, ACK)  # the same Idempotency-Key: Mastodon returns the same status
        finally:
            connector.close()
        [reply] = fake.school_replies(comment)
        assert reply.text == f"@aparent@social.example {ACK}" and reply.visibility == "direct"
        assert written.native_id == again.native_id == reply.id
        posts = [r for r in fake.requests if r.method == "POST"]
        assert len(posts) == 2 and posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]


def test_an_in_doubt_reply_is_found_on_the_platform_and_not_posted_again(world, store, clock):
    config, fake, platform, comment, case = world
    fake.write_delay = 30  # the reply is made, its answer never arrives in time
    hurried = make_config(store.path.parent, sources=[
        {**fake.source_config("social"), "official": True, "actions": ["reply"], "timeout": "1s",
         "request_deadline": "1s"}])
    outcome = act(store, hurried, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK, clock=clock)
    assert outcome.state == "in_doubt" and len(platform.replies(fake, comment)) == 1
    fake.write_delay = 0
    platform.forget(fake)
    [done] = resume(store, config, clock=clock)
    assert done.state == "done" and done.receipt["native_id"] == platform.replies(fake, comment)[0][0]
    assert len(platform.replies(fake, comment)) == 1
    assert get_case(store, case["id"]).state == "acknowledged"


@pytest.mark.parametrize("action", ["block", "report"])
def test_block_and_report_are_made_once_and_close_the_case_as_acknowledged_not_removed(world, store, clock, action):
    config, fake, platform, comment, case = world
    outcome = act(store, config, action=action, item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert outcome.state == "done" and outcome.message.endswith("by Jane: the post is still public")
    assert act(store, config, action=action, item_id=case["item_id"], by="Jane", how="cli", clock=clock).changed is False
    if action == "block":
        assert platform.blocked(fake, comment) and not platform.reports(fake, comment)
    else:
        [report] = platform.reports(fake, comment)
        assert not platform.blocked(fake, comment)
    closed = get_case(store, case["id"])
    assert (closed.state, closed.closed_by, closed.closed_how) == ("acknowledged", "Jane", "cli")
    assert "still public" in closed.note
    assert connector_class(fake.type)(config.source("social"), clock=clock).exists(comment) is True


def test_a_mastodon_report_of_another_servers_account_is_forwarded_to_it(world, store, clock):
    config, fake, platform, comment, case = world
    if fake.type != "mastodon":
        pytest.skip("Mastodon only")
    act(store, config, action="report", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    [report] = fake.reports
    assert report["forwarded"] is True and report["status_ids"] == [comment] and report["comment"]


def test_an_in_doubt_block_is_checked_on_the_platform_first(world, store, clock):
    config, fake, platform, comment, case = world
    fake.write_delay = 30
    hurried = make_config(store.path.parent, sources=[
        {**fake.source_config("social"), "official": True, "actions": ["block"], "timeout": "1s",
         "request_deadline": "1s"}])
    assert act(store, hurried, action="block", item_id=case["item_id"], by="Jane", how="cli", clock=clock).state == "in_doubt"
    assert platform.blocked(fake, comment)
    fake.write_delay = 0
    def writes():
        return sum(1 for r in fake.requests if r.method == "POST" and "Session" not in r.path)

    made = writes()
    [done] = resume(store, config, clock=clock)
    assert done.state == "done" and writes() == made


@pytest.mark.parametrize("action", ACTIONS)
def test_without_the_scope_the_write_is_refused_with_the_scope_named(world, store, clock, action):
    config, fake, platform, comment, case = world
    platform.withdraw(fake, action)
    outcome = act(store, config, action=action, item_id=case["item_id"], by="Jane", how="cli", text=ACK, clock=clock)
    assert outcome.state == "refused"
    assert f"needs the {platform.scopes[action]} permission" in outcome.message
    assert not platform.replies(fake, comment) and not platform.blocked(fake, comment)
    assert not platform.reports(fake, comment) and get_case(store, case["id"]).state == "open"


def test_a_mastodon_refusal_quotes_the_server(world, store, clock):
    config, fake, platform, comment, case = world
    if fake.type != "mastodon":
        pytest.skip("Mastodon only")
    fake.scopes.discard("write:statuses")
    outcome = act(store, config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK, clock=clock)
    assert "This action is outside the authorized scopes" in outcome.message
    too_long = act(store, config, action="report", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert too_long.state == "done"  # another action is not held up by the refused one


def test_a_reply_longer_than_the_platform_takes_is_refused_clearly(world, store, clock):
    config, fake, platform, comment, case = world
    outcome = act(store, config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text="x" * 1000,
                  clock=clock)
    assert outcome.state == "refused"
    assert "character limit of 500" in outcome.message or "longer than 300 graphemes" in outcome.message
    assert not platform.replies(fake, comment)


def test_status_says_which_write_was_refused_and_why(world, store, clock):
    from monitor.app.status import collect_status, format_status

    config, fake, platform, comment, case = world
    platform.withdraw(fake, "block")
    act(store, config, action="block", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    text = format_status(collect_status(config, store, clock), config.school.tz)
    assert f"refused: block of item {case['item_id']} on social by Jane" in text and platform.scopes["block"] in text


def test_config_refuses_hide_and_delete_and_check_config_names_the_scopes(tmp_path, world):
    from monitor.app.checks import check_configuration

    config, fake, platform, comment, case = world
    for action in ("hide", "delete"):
        with pytest.raises(ConfigError, match=rf"a {fake.type} source cannot {action} from the monitor "
                                              r"\(it can: reply, block, report\)"):
            make_config(tmp_path, sources=[{**fake.source_config("s"), "actions": [action]}])
    warnings, notes = check_configuration(config)
    [note] = [n for n in notes if "social: reply, block, report from the monitor need" in n]
    assert all(scope in note for scope in set(platform.scopes.values()))


def write_config(tmp_path, fake) -> str:
    source = {**fake.source_config("social"), "official": True, "actions": ACTIONS}
    return write_source_config(tmp_path, source)


def test_cli_reply_killed_between_the_write_and_its_receipt_posts_once(world, store, clock, tmp_path):
    config, fake, platform, comment, case = world
    path = write_config(tmp_path, fake)
    fake.write_delay = 60
    process = subprocess.Popen(cli(path, "reply", str(case["id"]), "--text", ACK, "--by", "Jane Smith"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not platform.replies(fake, comment) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert len(platform.replies(fake, comment)) == 1
    assert store.query("SELECT state FROM platform_actions")[0]["state"] == "sending"  # in doubt
    fake.write_delay = 0
    again = subprocess.run(cli(path, "reply", str(case["id"]), "--text", ACK, "--by", "Jane Smith"),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Replied by Jane Smith" in again.stdout
    assert len(platform.replies(fake, comment)) == 1
    reopened = Store(store.path, clock=clock)
    try:
        closed = get_case(reopened, case["id"])
    finally:
        reopened.close()
    assert (closed.state, closed.closed_how) == ("acknowledged", "cli")


def test_cli_block_and_report(world, tmp_path):
    config, fake, platform, comment, case = world
    path = write_config(tmp_path, fake)
    done = subprocess.run(cli(path, "block", str(case["item_id"]), "--by", "Jane"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "Author blocked by Jane: the post is still public" in done.stdout, done.stderr
    assert platform.blocked(fake, comment)
    done = subprocess.run(cli(path, "report", str(case["item_id"]), "--by", "Jane"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "Reported to the platform's moderators by Jane" in done.stdout, done.stderr
    assert len(platform.reports(fake, comment)) == 1


# -- from Slack: clicks and modal submissions through the real slack_sdk Socket Mode client ----------

@pytest.fixture(params=sorted(PLATFORMS))
def slack_world(request, tmp_path, store, clock):
    from tests.test_slack_platform_actions import open_world

    with open_world(tmp_path, store, clock, actions=ACTIONS, platform=request.param) as opened:
        yield (*opened, PLATFORMS[request.param])


def test_slack_offers_reply_block_and_report_behind_a_confirmation(slack_world):
    config, fake, slack, posted, comment, source, platform = slack_world
    [buttons] = [b["elements"] for b in posted.blocks if b["type"] == "actions"]
    assert [b["action_id"] for b in buttons] == ["acknowledge", "escalate", "not_abusive", "reply", "block", "report"]
    assert "Their post stays public" in buttons[4]["confirm"]["text"]["text"]
    assert "stays public until they act" in buttons[5]["confirm"]["text"]["text"]


def test_slack_reply_is_posted_once_and_closes_the_case_as_met(slack_world, store, clock):
    from tests.test_slack_platform_actions import EDITED, open_reply, submit

    config, fake, slack, posted, comment, source, platform = slack_world
    clock.advance(600)
    first, second = open_reply(slack, posted), open_reply(slack, posted)  # a double click
    count = len(posted.updates)
    submit(slack, first, EDITED, wait=lambda: len(posted.updates) > count)
    submit(slack, second, EDITED + " (sent twice)")
    time.sleep(0.5)  # let the second submission finish too
    [(reply_id, text)] = platform.replies(fake, comment)
    assert text.endswith(EDITED)
    case = get_case(store, 1)
    assert (case.state, case.closed_by, case.closed_how, case.breached) == ("acknowledged", "Jane Smith", "slack", False)
    assert case.closed_at == clock()  # the reply's own time on the platform
    assert "Replied by Jane Smith" in posted.blocks[-1]["elements"][0]["text"]


def test_slack_reply_after_a_kill_between_the_write_and_its_receipt_is_not_posted_again(slack_world, store, tmp_path):
    from tests.test_slack_platform_actions import EDITED, open_reply, submit

    config, fake, slack, posted, comment, source, platform = slack_world
    path = write_source_config(tmp_path, source)  # the store's database, tmp_path / "monitor.db"
    fake.write_delay = 60
    process = subprocess.Popen(cli(path, "reply", "1", "--text", EDITED, "--by", "Jane Smith"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not platform.replies(fake, comment) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    fake.write_delay = 0
    platform.forget(fake)
    assert store.query("SELECT state FROM platform_actions")[0]["state"] == "sending"
    view_id = open_reply(slack, posted)
    count = len(posted.updates)
    submit(slack, view_id, EDITED, wait=lambda: len(posted.updates) > count)
    assert len(platform.replies(fake, comment)) == 1
    assert get_case(store, 1).state == "acknowledged"


def test_slack_block_then_report_say_who_and_that_the_post_is_still_public(slack_world, store):
    from monitor.demo.fakes.slack import MODERATOR_ID
    from tests.test_slack_platform_actions import click

    config, fake, slack, posted, comment, source, platform = slack_world
    click(slack, posted, "block")
    assert platform.blocked(fake, comment)
    case = get_case(store, 1)
    assert (case.state, case.closed_by) == ("acknowledged", "Jane Smith")
    assert "Author blocked by Jane Smith: the post is still public" in posted.blocks[-1]["elements"][0]["text"]
    [buttons] = [b["elements"] for b in posted.blocks if b["type"] == "actions"]
    assert [b["action_id"] for b in buttons] == ["escalate", "not_abusive", "reply", "report"]
    click(slack, posted, "report")
    assert len(platform.reports(fake, comment)) == 1
    lines = [b["elements"][0]["text"] for b in posted.blocks if b["type"] == "context"]
    assert any("Reported to the platform's moderators by Jane Smith: the post is still public" in line for line in lines)
    audited = [(a["action"], json.loads(a["detail"]).get("slack_user")) for a in store.query("SELECT * FROM audit_log")]
    assert ("block", MODERATOR_ID) in audited and ("report", MODERATOR_ID) in audited


def test_slack_a_refused_scope_is_told_to_the_moderator_and_nothing_changes(slack_world, store):
    from monitor.demo.fakes.slack import MODERATOR_ID, block_actions

    config, fake, slack, posted, comment, source, platform = slack_world
    platform.withdraw(fake, "block")
    count = len(slack.ephemeral)
    envelope = slack.push_action(block_actions(posted, "block"))
    assert slack.wait_for_ack(envelope)
    assert slack.wait_for(lambda: len(slack.ephemeral) > count)
    told = slack.ephemeral[-1]
    assert told.user == MODERATOR_ID and platform.scopes["block"] in told.text
    assert not platform.blocked(fake, comment) and get_case(store, 1).state == "open"
    assert not posted.updates


# -- Bluesky's wire format ---------------------------------------------------------------------------

@pytest.fixture
def bluesky(tmp_path, clock):
    with fake_platform("bluesky")() as fake:
        fake.default_time = lambda: clock().replace(microsecond=0)
        config = make_config(tmp_path, sources=[{**fake.source_config("social"), "actions": ACTIONS}])
        connector = connector_class("bluesky")(config.source("social"), clock=clock)
        try:
            yield fake, connector
        finally:
            connector.close()


def test_a_bluesky_reply_to_a_reply_names_the_threads_first_post_as_its_root(bluesky, clock):
    fake, connector = bluesky
    comment = fake.add_comment("When is the trip?", author="A Parent")
    answer = fake.add_comment("I think Friday", author="Another Parent", reply_to=comment)
    written = connector.reply(answer, ACK)
    [reply] = fake.school_replies(answer)
    assert reply.uri == written.native_id and reply.text == ACK and written.at == clock()
    [create] = [r for r in fake.requests if r.path.endswith("createRecord")]
    record = create.json()["record"]
    assert record["reply"]["parent"] == {"uri": answer, "cid": "bafy" + answer[-11:]}
    assert record["reply"]["root"]["uri"] == next(p for p in fake.posts if p.uri == comment).root


def test_a_bluesky_write_after_the_session_expired_renews_it_and_writes_once(bluesky):
    fake, connector = bluesky
    comment = fake.add_comment("When is the trip?")
    connector.find_reply(comment, ACK)  # logs in
    fake.expire_access()
    connector.block(comment)  # no read before the write: the write itself meets the expired session
    assert len(fake.block_records) == 1
    assert [r.path.rsplit(".", 1)[-1] for r in fake.requests if r.method == "POST"][-3:] == [
        "createRecord", "refreshSession", "createRecord"]


def test_a_bluesky_report_goes_to_blueskys_moderation_even_after_the_author_is_blocked(bluesky):
    fake, connector = bluesky
    comment = fake.add_comment("you idiot", author="Troll")
    connector.block(comment)
    assert fake.author_of(comment) in fake.block_records.values()
    assert connector.was_done("block", comment) is not None
    connector.report(comment)  # the AppView no longer shows the post to the school: its PDS does
    [report] = fake.reports
    assert report["proxy"] == "did:plc:ar7c4by46qjdydhdevvrndac#atproto_labeler"
    assert report["reasonType"] == "com.atproto.moderation.defs#reasonRude"
    assert report["subject"] == {"$type": "com.atproto.repo.strongRef", "uri": comment, "cid": "bafy" + comment[-11:]}
    assert connector.was_done("report", comment) is None  # Bluesky cannot say: a report in doubt is sent again


def test_a_bluesky_reply_to_a_deleted_post_is_refused_not_left_in_doubt(bluesky):
    fake, connector = bluesky
    comment = fake.add_comment("When is the trip?")
    fake.remove(comment)
    assert connector.find_reply(comment, ACK) is None
    with pytest.raises(ValueError, match="deleted, or a block"):
        connector.reply(comment, ACK)


def test_a_bluesky_reply_links_its_web_addresses_over_their_utf8_bytes(bluesky):
    fake, connector = bluesky
    comment = fake.add_comment("Where is the complaints policy?")
    connector.reply(comment, "Merci Zoë! It is at https://ravenswood.example/policies/complaints.")
    assert fake.links == [("https://ravenswood.example/policies/complaints",
                           ["https://ravenswood.example/policies/complaints"])]
