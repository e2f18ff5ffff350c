"""What polls alert: flagged items, grouped new comments, source health, end to end to Slack and email."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Sequence

import pytest

from classifiers.base import Classifier, Verdict
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes import fake_platform
from monitor.demo.fakes.slack import BOT_TOKEN, CHANNEL, FakeSlack
from monitor.notify.alerting import check_health
from monitor.notify.email import EmailNotifier
from monitor.notify.outbox import Dispatcher
from monitor.notify.slack import SlackNotifier
from tests.conftest import make_config
from tests.smtp_server import Recorder, start_smtp

HOSTILE = "<!channel> <b>x</b> <script>"
MODERATOR = "mod@school.example"


class KeywordClassifier(Classifier):
    """Flags texts containing "idiot": enough to drive the alerts without a model."""

    name, version = "keyword", "1"

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        return [
            Verdict(score=0.93, flagged=True, labels={"insult": 0.93, "threat": 0.1}, reasons=("insulting language",),
                    model=self.name, model_version=self.version)
            if "idiot" in text else Verdict(score=0.01, flagged=False, labels={"insult": 0.01}, model=self.name)
            for text in texts
        ]


@pytest.fixture
def facebook():
    with fake_platform("facebook")() as server:
        yield server


def config_for(tmp_path, platform, *, leads=(), notify=None):
    source = {**platform.source_config("facebook-page"), "official": True, "leads": list(leads)}
    notify = notify or {"email": {"host": "127.0.0.1", "port": 25, "starttls": False, "sender": "m@school.example",
                                  "moderators": [MODERATOR]}}
    return make_config(tmp_path, sources=[source], notify=notify)


def alerts(store, kind=None):
    sql = "SELECT * FROM alerts" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
    return store.query(sql, (kind,) if kind else ())


def test_flagged_items_alert_one_each_and_the_rest_are_grouped(tmp_path, store, clock, facebook):
    config = config_for(tmp_path, facebook, leads=["pe-lead@school.example"])
    pipeline = build_pipeline(config, store, clock=clock, classifier=KeywordClassifier())
    at = clock() - timedelta(minutes=10)
    facebook.add_post("Sports day photos", at=at)
    facebook.add_comment("you idiot", author="Troll", at=at + timedelta(minutes=1))
    facebook.add_comment("what time is pick-up?", author="A Parent", at=at + timedelta(minutes=2))
    facebook.add_comment("lovely photos", author="Another Parent", at=at + timedelta(minutes=3))
    assert pipeline.poll("facebook-page").ok

    [flagged] = {a["key"].split("|")[0]: a for a in alerts(store, "flagged")}.values()
    item_id = store.query("SELECT id FROM items WHERE text = 'you idiot'")[0]["id"]
    assert flagged["key"].startswith(f"flagged:item:{item_id}|")
    payload = json.loads(flagged["payload"])["item"]
    assert payload["labels"]["insult"] == 0.93 and payload["reasons"] == ["insulting language"]
    assert payload["url"] and payload["case_id"] and payload["due_at"] and payload["author"] == "Troll"

    grouped = alerts(store, "new_comments")
    cases = store.query("SELECT id FROM cases WHERE item_id != ? ORDER BY id", (item_id,))
    assert {a["key"] for a in grouped} == {
        f"new_comments:facebook-page:{cases[0]['id']}-{cases[-1]['id']}|email|{r}" for r in (MODERATOR, "pe-lead@school.example")
    }
    listed = json.loads(grouped[0]["payload"])["items"]
    assert [i["text"] for i in listed] == ["what time is pick-up?", "lovely photos"] and all(i["due_at"] for i in listed)

    before = len(alerts(store))
    clock.advance(300)
    assert pipeline.poll("facebook-page").ok
    assert len(alerts(store)) == before  # nothing new, nothing repeated


def test_a_hostile_comment_arrives_as_literal_text_in_slack_and_email(tmp_path, store, clock, facebook):
    recorder = Recorder()
    controller = start_smtp(recorder)
    try:
        with FakeSlack(clock=clock) as slack:
            config = config_for(tmp_path, facebook, notify={
                "slack": {"token": BOT_TOKEN, "channel": CHANNEL, "base_url": slack.base_url},
                "email": {"host": "127.0.0.1", "port": controller.port, "starttls": False,
                          "sender": "m@school.example", "moderators": [MODERATOR]}})
            facebook.add_comment(f"idiot {HOSTILE}", author="<!here>", at=clock() - timedelta(minutes=1))
            assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page").ok
            notifiers = {"slack": SlackNotifier(config.notify.slack, tz=config.school.tz),
                         "email": EmailNotifier(config.notify.email, tz=config.school.tz, school="x", clock=clock)}
            assert Dispatcher(store, notifiers, clock=clock).run().sent == 2
            [posted] = slack.messages
    finally:
        controller.stop()
    byline, section = posted.blocks[1]["elements"][0], posted.blocks[2]["text"]["text"]
    assert "idiot &lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &lt;script&gt;" in section and "<!" not in section
    assert byline == {"type": "plain_text", "text": "&lt;!here&gt; on facebook-page", "emoji": False}
    [email] = recorder.messages
    html = email.get_body(("html",)).get_content()
    assert "idiot &lt;!channel&gt; &lt;b&gt;x&lt;/b&gt; &lt;script&gt;" in html and "<script" not in html


def test_an_expired_token_alerts_within_one_poll_then_daily_then_recovery_once(tmp_path, store, clock, facebook):
    config = config_for(tmp_path, facebook)
    pipeline = build_pipeline(config, store, clock=clock)
    assert pipeline.poll("facebook-page").ok
    facebook.expire_credentials()
    clock.advance(300)
    assert not pipeline.poll("facebook-page", respect_backoff=True).ok
    [auth] = alerts(store, "source_auth")
    payload = json.loads(auth["payload"])
    assert "Facebook account facebook-page" in payload["title"] and "Monitoring of this account has stopped" in payload["title"]
    assert "Page access token" in payload["message"]  # the connector's renew hint
    # three days of the daemon: polls (in back-off) and the health job every quarter of an hour
    for _ in range(3 * 24 * 4):
        clock.advance(900)
        pipeline.poll("facebook-page", respect_backoff=True)
        check_health(store, config, clock)
    assert len(alerts(store, "source_auth")) == 1
    repeats = [a["key"].split("|")[0] for a in alerts(store, "source_still_down")]
    assert [k.rsplit(":", 1)[1] for k in repeats] == ["1", "2", "3"]  # one a day
    facebook.renew_credentials()
    for _ in range(13):  # the back-off is at most an hour
        clock.advance(300)
        pipeline.poll("facebook-page", respect_backoff=True)
        check_health(store, config, clock)
    assert len(alerts(store, "source_recovered")) == 1
    assert len(alerts(store, "source_still_down")) == 3


def test_a_short_failure_alerts_nothing_and_a_long_one_alerts_once(tmp_path, store, clock, facebook):
    from monitor.demo.fakes.server import Response

    config = config_for(tmp_path, facebook)
    pipeline = build_pipeline(config, store, clock=clock)
    facebook.script(Response(503, "down"), times=3)
    for _ in range(3):
        pipeline.poll("facebook-page")
        clock.advance(300)
    assert pipeline.poll("facebook-page").ok
    assert alerts(store) == []  # 15 minutes of failure, recovered: nobody needed to know

    facebook.script(Response(503, "down"), times=10_000)
    for _ in range(3 * 12):  # three hours
        pipeline.poll("facebook-page", respect_backoff=True)
        check_health(store, config, clock)
        clock.advance(300)
    [down] = alerts(store, "source_down")
    assert "failing since" in json.loads(down["payload"])["title"]
    facebook.clear_script()
    clock.advance(3600)
    assert pipeline.poll("facebook-page").ok
    assert len(alerts(store, "source_recovered")) == 1 and len(alerts(store, "source_down")) == 1


def test_health_job_without_outages_writes_nothing(tmp_path, store, clock, facebook):
    config = config_for(tmp_path, facebook)
    assert check_health(store, config, clock) == 0 and alerts(store) == []


def test_a_comment_first_seen_after_its_deadline_gets_one_notice_then_the_usual_escalation(tmp_path, store, clock, facebook):
    from monitor.sla.clock import tick

    config = config_for(tmp_path, facebook)  # 24h policy, escalate_after 4h
    pipeline = build_pipeline(config, store, clock=clock, classifier=KeywordClassifier())
    facebook.add_post("Sports day photos", at=clock() - timedelta(days=5))
    assert pipeline.poll("facebook-page").ok  # monitoring begins
    # the source was failing: comments from Thursday and Friday (due Friday and Saturday) appear on Monday
    facebook.add_comment("was the trip cancelled?", author="A Parent", at=clock() - timedelta(days=4))
    facebook.add_comment("who do I ask about uniform?", author="Another Parent", at=clock() - timedelta(days=3))
    facebook.add_comment("you idiot", author="Troll", at=clock() - timedelta(days=3, minutes=-5))
    clock.advance(60)
    assert pipeline.poll("facebook-page").ok

    [late] = alerts(store, "seen_late")
    payload = json.loads(late["payload"])
    assert [i["text"] for i in payload["items"]] == ["was the trip cancelled?", "who do I ask about uniform?"]
    assert all(i["seen_at"] for i in payload["items"]) and "after the deadline" in payload["message"]
    [flagged] = alerts(store, "flagged")
    assert json.loads(flagged["payload"])["item"]["seen_at"]  # the flagged one says it in its own alert
    assert alerts(store, "new_comments") == []
    # no reminder after a deadline and no breach burst: the next ticks write nothing ...
    assert tick(store, config, clock()) == {"reminder": 0, "breach": 0, "escalation": 0}
    clock.advance(timedelta(hours=3, minutes=59))
    assert tick(store, config, clock()) == {"reminder": 0, "breach": 0, "escalation": 0}
    # ... and the escalation follows the usual delay from when the comments were seen
    clock.advance(timedelta(minutes=1))
    assert tick(store, config, clock()) == {"reminder": 0, "breach": 0, "escalation": 3}
    assert len(alerts(store)) == 2 + 3


@pytest.mark.parametrize(("text", "labels", "headline", "mark"), [
    ("I will stab you", {"threat": 1.0, "offensive": 0.4}, "Threat of violence in a comment on facebook-page", ":rotating_light:"),
    ("I want to kill myself", {"self_harm": 1.0}, "Possible self-harm: a comment on facebook-page", ":sos:"),
    ("ring 07700 900123", {"personal_data": 1.0, "offensive": 0.1}, "Personal data posted in a comment on facebook-page", ":lock:"),
    ("you idiot", {"offensive": 0.93}, "Possibly abusive comment on facebook-page", ":warning:"),
    ("threatening to stab and phone 07700 900123", {"personal_data": 1.0, "threat": 1.0}, "Threat of violence", ":rotating_light:"),
])
def test_the_headline_and_colour_say_why_an_item_was_flagged(text, labels, headline, mark):
    from zoneinfo import ZoneInfo

    from monitor.notify.render import REASON_COLOUR, email_parts, slack_message

    item = {"item_id": 1, "source": "facebook-page", "kind": "comment", "text": text, "flagged": True, "labels": labels}
    payload = {"source": "facebook-page", "item": item}
    title, blocks = slack_message("flagged", payload, ZoneInfo("Europe/London"))
    assert title.startswith(headline) and blocks[0]["text"]["text"].startswith(mark)
    parts = email_parts("flagged", payload, ZoneInfo("Europe/London"), "Ravens Wood")
    assert headline in parts.subject
    assert any(colour in parts.html for colour in REASON_COLOUR.values())
