"""Microsoft Teams through a Workflows webhook: Adaptive Cards over loopback to the fake Teams endpoint."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from monitor.demo.fakes.teams import MAX_BYTES, FakeTeams
from monitor.errors import ChannelRefused, ConfigError, DeliveryInDoubt, NotifyError, PermanentNotifyError
from monitor.notify.base import Message
from monitor.notify.outbox import Alert, Dispatcher, build_notifiers, enqueue
from monitor.notify.teams import TeamsNotifier, message_body
from monitor.store import Store
from tests.conftest import NOW, make_config

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def teams(clock):
    with FakeTeams(seconds=lambda: clock().timestamp()) as server:
        yield server


def card_texts(card) -> list[str]:
    """Every text run of a card, containers included, in order."""
    found = []

    def walk(blocks):
        for block in blocks:
            if block["type"] == "RichTextBlock":
                found.extend(run["text"] for run in block["inlines"])
            walk(block.get("items") or [])

    walk(card["body"])
    return found


def teams_config(tmp_path, url: str, **routing):
    notify = {"teams": {"webhook_url": url, "timeout": "2s"}}
    if routing:
        notify["routing"] = routing
    return make_config(tmp_path, notify=notify)


def flagged(n: int, text: str = "you idiot", labels=None) -> Alert:
    item = {"item_id": n, "source": "facebook-page", "kind": "comment", "author": "Troll", "text": text,
            "url": f"https://facebook.example/c{n}", "flagged": True, "labels": labels or {"offensive": 0.9},
            "case_id": n, "due_at": "2026-11-17T09:00:00.000000+00:00"}
    return Alert(key=f"flagged:item:{n}", kind="flagged", item_id=n, payload={"source": "facebook-page", "item": item})


def dispatcher(store, config, clock) -> Dispatcher:
    return Dispatcher(store, build_notifiers(config, clock=clock), clock=clock, rng=random.Random(7))


def test_an_alert_arrives_as_an_adaptive_card_with_its_reason_in_colour(tmp_path, store, clock, teams):
    config = teams_config(tmp_path, teams.webhook_url)
    enqueue(store, config, flagged(1, "I will stab you [click](https://evil.example) <at>all</at>", {"threat": 1.0}))
    assert dispatcher(store, config, clock).run().sent == 1
    [card] = teams.cards
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    header = card["body"][0]
    assert header["style"] == "attention"
    texts = card_texts(card)
    assert texts[0].startswith("Threat of violence in a comment on facebook-page")
    # the comment is a literal text run: no Markdown link, no mention is made of it
    assert "I will stab you [click](https://evil.example) <at>all</at>" in texts
    assert not any(block["type"] == "TextBlock" for block in card["body"])
    [open_link] = [a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    assert open_link == {"type": "Action.OpenUrl", "title": "Open", "url": "https://facebook.example/c1"}
    assert store.query("SELECT state, receipt FROM alerts")[0]["state"] == "sent"


def test_the_request_is_what_the_workflow_template_reads(teams):
    """Workflows "Post to a channel when a webhook request is received" reads attachments[0].content."""
    message = Message(key="flagged:item:1|teams|", kind="flagged", channel="teams", recipient=None,
                      payload=flagged(1).payload, created_at=NOW)
    body = json.loads(message_body(message, LONDON))
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"


def test_a_teams_outage_then_every_alert_arrives_in_order(tmp_path, store, clock, teams):
    config = teams_config(tmp_path, teams.webhook_url)
    teams.outage()
    teams.rate = 100  # this test is about the outage, not the rate limit
    for n in range(6):
        enqueue(store, config, flagged(n, f"comment {n}"))
    run = dispatcher(store, config, clock)
    for _ in range(30):  # half an hour of the daemon, one pass a minute
        run.run()
        clock.advance(60)
    assert teams.cards == []
    assert store.query("SELECT DISTINCT state FROM alerts")[0]["state"] == "pending"
    teams.recover()
    teams.retry_after = 0
    for _ in range(30):
        clock.advance(60)
        run.run()
    texts = [run_["text"] for card in teams.cards for b in card["body"] if b["type"] == "RichTextBlock"
             for run_ in b["inlines"] if run_.get("italic")]
    assert texts == [f"comment {n}" for n in range(6)]  # each once, in order
    assert {r["state"] for r in store.query("SELECT state FROM alerts")} == {"sent"}


def test_429_waits_for_retry_after_then_delivers(tmp_path, store, clock, teams):
    config = teams_config(tmp_path, teams.webhook_url)
    teams.retry_after = 120
    for n in range(6):
        enqueue(store, config, flagged(n, f"comment {n}"))
    run = dispatcher(store, config, clock)
    report = run.run()  # the fake takes 4 a second, then says 429
    assert report.sent == 4 and report.waiting == 1
    row = store.query("SELECT * FROM alerts WHERE state = 'pending' ORDER BY id LIMIT 1")[0]
    assert "rate limit" in row["last_error"]
    clock.advance(119)
    assert run.run().sent == 0  # Retry-After is a minimum
    clock.advance(timedelta(seconds=20))
    assert run.run().sent == 2
    assert len(teams.cards) == 6


def test_a_hanging_webhook_is_in_doubt_and_sent_again(tmp_path, store, clock, teams):
    """At least once: an answer that never came means the card may be there; it is sent again."""
    config = make_config(tmp_path, notify={"teams": {"webhook_url": teams.webhook_url, "timeout": "0.5s"}})
    notifier = TeamsNotifier(config.notify.teams, tz=LONDON)
    message = Message(key="flagged:item:1|teams|", kind="flagged", channel="teams", recipient=None,
                      payload=flagged(1).payload, created_at=NOW)
    teams.outage("hang")
    with pytest.raises(DeliveryInDoubt):
        notifier.send(message)
    assert notifier.find_sent(message) is None  # Teams cannot be asked
    teams.recover()
    assert notifier.send(message).id.startswith("teams:")


@pytest.mark.parametrize(("status", "error"), [
    (404, ChannelRefused), (401, ChannelRefused), (400, PermanentNotifyError), (413, PermanentNotifyError),
    (502, NotifyError),
])
def test_refusals_are_translated(teams, status, error):
    from monitor.demo.fakes.server import Response

    config = make_config(notify={"teams": {"webhook_url": teams.webhook_url}})
    notifier = TeamsNotifier(config.notify.teams, tz=LONDON)
    teams.script(Response(status, {"error": {"code": "x", "message": "refused"}}))
    message = Message(key="k", kind="flagged", channel="teams", recipient=None, payload=flagged(1).payload,
                      created_at=NOW)
    with pytest.raises(error) as raised:
        notifier.send(message)
    assert type(raised.value) is error
    assert teams.signature not in str(raised.value)  # the URL is a secret: never in an error


def test_a_wrong_signature_holds_the_channel(tmp_path, store, clock, teams):
    config = teams_config(tmp_path, teams.webhook_url.replace(teams.signature, "wrong"))
    enqueue(store, config, flagged(1))
    run = dispatcher(store, config, clock)
    run.run()
    assert "teams" in run.held and teams.cards == []


def test_a_huge_batch_is_fitted_under_the_size_limit(tmp_path, store, clock, teams):
    config = teams_config(tmp_path, teams.webhook_url)
    items = [{"item_id": n, "case_id": n, "source": "page", "author": "N" * 300, "text": "&" * 1500,
              "due_at": "2026-11-17T09:00:00.000000+00:00"} for n in range(15)]
    message = Message(key="batch:teams::1-15|teams|", kind="batch", channel="teams", recipient=None,
                      payload={"items": items}, created_at=NOW)
    assert len(message_body(message, LONDON)) <= MAX_BYTES
    assert TeamsNotifier(config.notify.teams, tz=LONDON).send(message)
    assert len(teams.cards) == 1


def test_the_webhook_url_is_a_secret_read_from_the_environment(tmp_path, monkeypatch, teams):
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", teams.webhook_url)
    config = make_config(tmp_path, notify={"teams": {"webhook_url": "env:TEAMS_WEBHOOK_URL"}})
    assert config.notify.teams.webhook_url.get_secret_value() == teams.webhook_url
    assert teams.signature not in repr(config)
    with pytest.raises(ConfigError, match="notify.teams.webhook_url"):
        make_config(tmp_path, notify={"teams": {"webhook_url": "ftp://example.org/hook"}})


def test_routine_news_reaches_teams_in_one_card_per_batch(tmp_path, clock, teams):
    config = teams_config(tmp_path, teams.webhook_url, batch_window="30m")
    store = Store(tmp_path / "monitor.db", clock=clock)
    for n in range(3):
        item = {"item_id": n, "source": "page", "text": f"question {n}", "due_at": f"2026-11-17T1{n}:00:00+00:00"}
        enqueue(store, config, Alert(key=f"new_comments:page:{n}-{n}", kind="new_comments",
                                     payload={"source": "page", "items": [item]}))
    dispatcher(store, config, clock).run()
    assert teams.cards == []
    store.close()  # a restart while they wait
    clock.advance(timedelta(minutes=30))
    store = Store(tmp_path / "monitor.db", clock=clock)
    dispatcher(store, config, clock).run()
    dispatcher(store, config, clock).run()
    store.close()
    [card] = teams.cards
    texts = card_texts(card)
    assert texts[0] == "3 comments to acknowledge on page"
    assert [t for t in texts if t.startswith("question")] == ["question 0", "question 1", "question 2"]


def test_the_notifier_speaks_http_to_the_url_as_given(teams):
    """The fake is strict: JSON only, the card's shape checked."""
    answer = httpx.post(teams.webhook_url, json={"type": "message", "attachments": [{"contentType": "text/plain"}]})
    assert answer.status_code == 400
    answer = httpx.post(teams.webhook_url, content=b"x" * (MAX_BYTES + 1), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


@pytest.mark.parametrize("header", ["1e400", "100000000000000000000", "nan", "1000000000"])
def test_a_hostile_retry_after_waits_a_day_at_most(tmp_path, store, clock, teams, header):
    """Retry-After is the provider's word, not ours: an absurd one never breaks the outbox or parks
    an alert for years."""
    config = teams_config(tmp_path, teams.webhook_url)
    teams.retry_after = header
    for n in range(5):
        enqueue(store, config, flagged(n, f"comment {n}"))
    run = dispatcher(store, config, clock)
    assert run.run().sent == 4  # the fifth is told 429 with the hostile header
    teams.retry_after = 0
    clock.advance(timedelta(hours=24 * 1.1, seconds=1))  # MAX_WAIT and the outbox's jitter
    assert run.run().sent == 1
    assert len(teams.cards) == 5
