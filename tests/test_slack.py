"""The Slack notifier against the fake Slack Web API over loopback, through the real slack_sdk client."""

from __future__ import annotations

import json

import socket
import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.config import SlackSettings
from monitor.errors import ChannelRefused, DeliveryInDoubt, NotifyError, PermanentNotifyError
from monitor.demo.fakes.server import Response
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.notify.base import Message
from monitor.notify.render import slack_escape
from monitor.notify.slack import SlackNotifier

HOSTILE = "<!channel> <b>x</b> <script>"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def fake(clock):
    with FakeSlack(clock=clock) as server:
        yield server


def notifier_for(base_url: str, **settings) -> SlackNotifier:
    return SlackNotifier(
        SlackSettings(token=BOT_TOKEN, channel=CHANNEL, base_url=base_url, timeout="2s", **settings), tz=LONDON
    )


def message(key: str = "flagged:item:7|slack|C0MODERATE", *, recipient: str = CHANNEL, **item) -> Message:
    payload_item = {"item_id": 7, "case_id": 3, "source": "facebook-page", "author": "A Parent",
                    "text": "hello", "url": "https://facebook.com/1", "due_at": "2026-11-17T09:00:00+00:00",
                    "labels": {"insult": 0.91}, "reasons": ["insulting language"], **item}
    return Message(key=key, kind="flagged", channel="slack", recipient=recipient,
                   payload={"item": payload_item}, created_at=datetime(2026, 11, 16, 9, tzinfo=timezone.utc),
                   item_id=7, case_id=3)


def test_posts_blocks_with_the_key_in_message_metadata(fake):
    receipt = notifier_for(fake.base_url).send(message())
    [posted] = fake.messages
    assert receipt.id == posted.ts and receipt.detail["channel"] == CHANNEL
    assert posted.metadata == {"event_type": "monitor_alert",
                               "event_payload": {"key": "flagged:item:7|slack|C0MODERATE", "kind": "flagged",
                                                 "item_id": 7, "case_id": 3}}
    body = "\n".join(b["text"]["text"] for b in posted.blocks if b["type"] == "section")
    [byline] = [b["elements"] for b in posted.blocks if b["type"] == "context"]
    assert byline == [{"type": "plain_text", "text": "A Parent on facebook-page", "emoji": False},
                      {"type": "mrkdwn", "text": "<https://facebook.com/1|open>"}]
    assert "insult 0.91" in body and "insulting language" in body
    assert "Tue 17 Nov 2026 09:00 GMT" in body  # the deadline in the school's time zone


def test_a_hostile_comment_arrives_as_literal_text(fake):
    notifier_for(fake.base_url).send(message(text=HOSTILE, author="<@U123> <!here>"))
    [posted] = fake.messages
    body = "\n".join(e["text"] for b in posted.blocks if b["type"] in ("section", "context")
                     for e in ([b["text"]] if b["type"] == "section" else b["elements"]))
    assert "&lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &lt;script&gt;" in body
    assert "&lt;@U123&gt; &lt;!here&gt; on facebook-page" in body
    assert "<!" not in body and "<@" not in body and "<script" not in body


def test_a_name_reads_as_written_and_formats_nothing(fake):
    notifier_for(fake.base_url).send(message(author="jo_bloggs_99 *URGENT* ~x~ :fire:"))
    [posted] = fake.messages
    [byline] = [b["elements"][0] for b in posted.blocks if b["type"] == "context"]
    # plain text: Slack shows it as written, so no look-alike characters are needed
    assert byline == {"type": "plain_text", "text": "jo_bloggs_99 *URGENT* ~x~ :fire: on facebook-page", "emoji": False}
    sections = "\n".join(b["text"]["text"] for b in posted.blocks if b["type"] == "section")
    assert "jo_bloggs" not in sections and "\uff3f" not in sections
    assert slack_escape("a & b") == "a &amp; b"


def test_buttons_carry_case_and_item_ids(fake):
    notifier_for(fake.base_url).send(message())
    [actions] = [b for b in fake.messages[0].blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["acknowledge", "escalate", "not_abusive"]
    assert {e["value"] for e in actions["elements"]} == {'{"case": 3, "item": 7}'}


def test_copies_outside_the_moderators_channel_carry_no_buttons(fake):
    notifier_for(fake.base_url).send(message(recipient="U0MODERATOR"))  # a lead's direct message
    [posted] = fake.messages
    assert posted.channel == "D0MODERATOR" and not [b for b in posted.blocks if b["type"] == "actions"]
    assert "hello" in posted.blocks[2]["text"]["text"]


def test_a_link_that_is_not_http_is_not_linked(fake):
    notifier_for(fake.base_url).send(message(url="javascript:alert(1)"))
    body = json.dumps(fake.messages[0].blocks)
    assert "javascript" not in body and "|open>" not in body


def test_rate_limit_gives_retry_after(fake):
    fake.script(Response(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "17"}))
    with pytest.raises(NotifyError) as caught:
        notifier_for(fake.base_url).send(message())
    assert caught.value.retry_after == 17 and not isinstance(caught.value, PermanentNotifyError)
    assert fake.messages == []


def test_revoked_token_refuses_the_whole_channel(fake):
    fake.revoke_token()
    with pytest.raises(ChannelRefused, match="invalid_auth"):
        notifier_for(fake.base_url).send(message())


def test_unknown_channel_is_permanent_for_that_message_only(fake):
    with pytest.raises(PermanentNotifyError, match="channel_not_found") as caught:
        notifier_for(fake.base_url).send(message(recipient="C0NOWHERE"))
    assert not isinstance(caught.value, ChannelRefused)


def test_server_error_is_retryable(fake):
    fake.script(Response(500, "Internal Server Error"))
    with pytest.raises(NotifyError, match="HTTP 500") as caught:
        notifier_for(fake.base_url).send(message())
    assert type(caught.value) is NotifyError


def test_refused_connection_is_not_in_doubt():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NotifyError) as caught:
        notifier_for(f"http://127.0.0.1:{port}/api/").send(message())
    assert type(caught.value) is NotifyError


def test_a_dropped_connection_after_the_request_is_in_doubt():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def drop() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()

    thread = threading.Thread(target=drop, daemon=True)
    thread.start()
    try:
        with pytest.raises(DeliveryInDoubt):
            notifier_for(f"http://127.0.0.1:{listener.getsockname()[1]}/api/").send(message())
    finally:
        thread.join(5)
        listener.close()


def test_find_sent_looks_for_the_key_in_history(fake):
    notifier = notifier_for(fake.base_url)
    for n in range(250):  # more than one page of history
        notifier.send(message(key=f"other:{n}"))
    sent = message(key="wanted")
    receipt = notifier.send(sent)
    for n in range(250, 260):
        notifier.send(message(key=f"other:{n}"))
    assert notifier.find_sent(sent) == receipt
    assert notifier.find_sent(message(key="never-sent")) is None


def test_direct_messages_to_a_person_are_found_again(fake):
    notifier = notifier_for(fake.base_url)
    sent = message(key="dm", recipient="U0MODERATOR")
    receipt = notifier.send(sent)
    assert receipt.detail["channel"] == "D0MODERATOR"
    assert notifier.find_sent(sent) == receipt


def test_user_name_comes_from_users_info(fake):
    notifier = notifier_for(fake.base_url)
    assert notifier.user_name("U0MODERATOR") == "Jane Smith"
    assert notifier.user_name("U0UNKNOWN", fallback="someone") == "someone"


# -- what Slack refuses for its size or shape -------------------------------------------------------


def post_raw(fake, **kwargs):
    """A chat.postMessage through the real slack_sdk client, as any app would make it."""
    from slack_sdk import WebClient

    return WebClient(token=BOT_TOKEN, base_url=fake.base_url).chat_postMessage(channel=CHANNEL, **kwargs)


@pytest.mark.parametrize("kwargs, error", [
    ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a"}}] * 51}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go", "value": "v" * 2001}]}]},
     "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "G" * 76}, "action_id": "go"}]}]}, "invalid_blocks"),
    ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 2900}}] * 5},
     "msg_blocks_too_long"),
    ({"text": "x" * 40001}, "msg_too_long"),
])
def test_the_fake_refuses_what_slack_refuses(fake, kwargs, error):
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as refused:
        post_raw(fake, **kwargs)
    assert refused.value.response["error"] == error
    assert not fake.messages


HOSTILE_SIZES = {
    "1,600 ampersands (8,000 characters escaped)": {"text": "&" * 1600},
    "1,500 lines, each quoted": {"text": "\n".join(["x"] * 1500)},
    "a 4,000-character name": {"author": "N" * 4000, "text": "the comment itself"},
}


@pytest.mark.parametrize("item", HOSTILE_SIZES.values(), ids=HOSTILE_SIZES.keys())
def test_an_alert_of_any_size_is_posted_whole_in_shape(fake, item):
    notifier_for(fake.base_url).send(message(**item))
    [posted] = fake.messages
    sections = [b["text"]["text"] for b in posted.blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections) and posted.blocks[-1]["type"] == "actions"
    body = "\n".join(sections)
    assert ("&amp;" * 100 in body) if "&" in item["text"] else (item["text"][:20].replace("\n", "\n> ") in body)
    assert "&am…" not in body and "&a…" not in body and "&…" not in body  # never an entity cut in half
    assert "N" * 81 not in body  # a name is clipped


def test_an_update_after_a_click_stays_within_fifty_blocks(fake):
    notifier = notifier_for(fake.base_url)
    receipt = notifier.send(message())
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"line {n}"}} for n in range(60)]
    notifier.update(CHANNEL, receipt.id, text="updated", blocks=blocks)
    [posted] = fake.messages
    assert len(posted.blocks) == 50 and "11 more parts" in posted.blocks[-1]["elements"][0]["text"]


def test_a_refused_payload_is_posted_as_plain_text_rather_than_lost(fake):
    fake.script(Response(200, {"ok": False, "error": "invalid_blocks", "errors": ["something new"]}),
                path="chat.postMessage")
    sent = message()
    receipt = notifier_for(fake.base_url).send(sent)
    [posted] = fake.messages
    assert receipt.id == posted.ts and not posted.blocks
    assert posted.text.startswith("Possibly abusive comment on facebook-page") and "invalid_blocks" in posted.text
    assert posted.metadata["event_payload"]["key"] == sent.key  # still found again after a crash


def test_a_content_refusal_does_not_blame_the_channel(fake, store, clock):
    from monitor.notify.outbox import Dispatcher
    from monitor.app.status import collect_status, format_status
    from tests.conftest import make_config

    fake.script(Response(200, {"ok": False, "error": "msg_too_long"}), path="chat.postMessage", times=2)
    with pytest.raises(PermanentNotifyError) as refused:
        notifier_for(fake.base_url).send(message())
    assert "content of the message (msg_too_long)" in str(refused.value)
    assert "channel id" not in str(refused.value) and "invite" not in str(refused.value)
    fake.script(Response(200, {"ok": False, "error": "invalid_blocks"}), path="chat.postMessage", times=2)
    store.execute(
        "INSERT INTO alerts (key, kind, channel, recipient, payload, created_at, state, next_attempt_at) "
        "VALUES ('k|slack|C0MODERATE', 'flagged', 'slack', ?, ?, ?, 'pending', ?)",
        (CHANNEL, '{"item": {"item_id": 1, "text": "hi"}}', "2026-11-16T09:00:00+00:00", "2026-11-16T09:00:00+00:00"))
    Dispatcher(store, {"slack": notifier_for(fake.base_url)}, clock=clock).run()
    config = make_config(None, notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL}})
    shown = format_status(collect_status(config, store, clock), LONDON)
    assert "invalid_blocks" in shown and "channel set-up is not at fault" in shown and "invite" not in shown


def test_a_grouped_alert_of_long_comments_is_delivered_through_the_outbox(fake, store, clock):
    from datetime import timedelta

    from monitor.app.assembly import build_pipeline
    from monitor.demo.fakes import fake_platform
    from monitor.notify.outbox import Dispatcher
    from tests.conftest import make_config
    from tests.test_alerting import KeywordClassifier

    with fake_platform("facebook")() as facebook:
        config = make_config(None, storage={"path": str(store.path)},
                             sources=[{**facebook.source_config("facebook-page"), "official": True}],
                             notify={"slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": fake.base_url},
                                     "routing": {"batch_window": "0s"}})  # the poll's grouped alert, at once
        for n in range(20):
            facebook.add_comment(f"{n} " + "&" * 1600, author="N" * 4000, at=clock() - timedelta(minutes=30 - n))
        assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page").ok
    report = Dispatcher(store, {"slack": notifier_for(fake.base_url)}, clock=clock).run()
    assert report.sent == 1 and report.failed == 0
    [posted] = fake.messages
    assert posted.blocks and len([b for b in posted.blocks if b["type"] == "actions"]) == 15
    assert sum(len(t) for t in _texts(posted.blocks)) <= 12000
    assert store.query("SELECT state FROM alerts")[0]["state"] == "sent"


def _texts(blocks):
    found = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"]["text"])
        for element in block.get("elements") or []:
            text = element.get("text")
            found.append(text["text"] if isinstance(text, dict) else text)
    return [t for t in found if isinstance(t, str)]


def test_clipping_never_cuts_an_entity_or_a_link_in_half():
    from monitor.notify.slack_limits import clip_mrkdwn

    linked = "x" * 2990 + " <https://facebook.com/1|open> more"
    assert clip_mrkdwn(linked, 3000) == "x" * 2990 + " …"
    assert clip_mrkdwn("&amp;" * 700, 3000) == "&amp;" * 599 + "…"
    assert clip_mrkdwn("short", 3000) == "short"
