"""Acknowledgement cases: opened at ingest, closed by the school's reply or a person; the SLA clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from classifiers.base import NullClassifier
from connectors.base import Connector, Item
from monitor.app.assembly import build_hooks, build_pipeline
from monitor.cli import main
from monitor.clock import ManualClock
from monitor.demo.fakes.rss import FakeFeed
from monitor.errors import MonitorError
from monitor.pipeline import Pipeline
from monitor.sla.cases import CasesHook, acknowledge, get_case, list_cases, mark_removed
from monitor.sla.clock import tick
from monitor.store import Store
from tests.conftest import make_config

SCHOOL = "Ravens Wood School"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class ScriptedConnector(Connector):
    """A connector whose platform is a list: each fetch returns what was added since the cursor."""

    type = "rss"

    def __init__(self, settings, **kwargs):
        super().__init__(settings, **kwargs)
        self.items: list[Item] = []
        self.deleted: set[str] = set()
        self.asked: list[str] = []

    def exists(self, native_id):
        self.asked.append(native_id)
        return native_id not in self.deleted

    def fetch(self, cursor):
        start = cursor or 0
        return self.items[start:], len(self.items)

    def comment(self, native_id: str, at: str, *, parent: str | None = "post-1", author: str = "A Parent",
                text: str = "When is the trip?") -> None:
        self.items.append(Item(
            source=self.name, native_id=native_id, kind="comment" if parent in (None, "post-1") else "reply",
            text=text, created_at=utc(at), author_name=author, parent_id=parent, thread_id="post-1",
            url=f"https://social.example/{native_id}",
        ))

    def school_reply(self, native_id: str, at: str, *, parent: str) -> None:
        self.items.append(Item(
            source=self.name, native_id=native_id, kind="reply", text="Thank you, we will reply by email.",
            created_at=utc(at), author_name=SCHOOL, parent_id=parent, thread_id="post-1", by_school=True,
        ))


def source(name: str = "page", official: bool = True) -> dict:
    return {"name": name, "type": "rss", "url": "http://127.0.0.1:9/feed.xml", "official": official}


@pytest.fixture
def page(store, clock):
    config = make_config(sources=[source("page"), source("news", official=False)])
    connector = ScriptedConnector(config.source("page"), clock=clock)
    news = ScriptedConnector(config.source("news"), clock=clock)
    pipeline = Pipeline(
        config=config, store=store, classifier=NullClassifier(), clock=clock,
        hooks=build_hooks(config, clock), connectors={"page": connector, "news": news},
    )
    return pipeline, connector, news


# -- opening ------------------------------------------------------------------------------------


def test_cases_are_opened_by_a_real_poll_of_an_official_feed(tmp_path, store, clock):
    with FakeFeed() as feed:
        feed.add_comment("Is the school open tomorrow?", author="A Parent", at=utc("2026-11-16T08:00"))
        feed.add_comment("Lost coat at the fair", author="B Parent", at=utc("2026-11-14T10:00"))  # Saturday
        config = make_config(tmp_path, sources=[{**feed.source_config("feed"), "official": True}])
        pipeline = build_pipeline(config, store, clock=clock, classifier=NullClassifier())
        assert pipeline.poll("feed").new == 2
        assert pipeline.poll("feed").new == 0
    found = sorted(list_cases(store), key=lambda case: case.received)
    assert [(c.received, c.due, c.state, c.policy) for c in found] == [
        (utc("2026-11-14T10:00"), utc("2026-11-16T17:00"), "open", "24h"),  # Saturday -> Monday 17:00
        (utc("2026-11-16T08:00"), utc("2026-11-17T08:00"), "open", "24h"),  # Monday -> 24 hours
    ]
    assert found[1].author == "A Parent" and "open tomorrow" in found[1].text
    assert found[0].breached is False  # it is Monday 09:00: not yet due


def test_no_case_on_an_unofficial_source_or_for_the_school_itself(page, store):
    pipeline, connector, news = page
    news.comment("n1", "2026-11-16T08:00")
    connector.school_reply("s0", "2026-11-16T08:30", parent="post-1")
    pipeline.poll("news")
    pipeline.poll("page")
    assert list_cases(store) == []


def test_the_cases_hook_comes_first():
    config = make_config(sources=[source()])
    assert isinstance(build_hooks(config)[0], CasesHook)


def test_the_configured_policy_is_used(store, clock):
    config = make_config(sources=[source()], sla={"policy": "2wd", "close_of_business": "16:00"})
    connector = ScriptedConnector(config.source("page"), clock=clock)
    pipeline = Pipeline(config=config, store=store, clock=clock, hooks=build_hooks(config, clock),
                        connectors={"page": connector})
    connector.comment("c1", "2026-11-16T08:00")  # Monday -> Wednesday 16:00
    pipeline.poll("page")
    (case,) = list_cases(store)
    assert (case.policy, case.due) == ("2wd", utc("2026-11-18T16:00"))


# -- closing by the school's reply --------------------------------------------------------------


def test_a_school_reply_before_the_deadline_counts_even_if_seen_late(page, store, clock):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    pipeline.poll("page")
    connector.school_reply("s1", "2026-11-16T10:00", parent="c1")
    clock.set(utc("2026-11-18T12:00"))  # the poll that sees it comes after the deadline
    pipeline.poll("page")
    (case,) = list_cases(store)
    assert (case.state, case.closed_at, case.closed_by, case.closed_how) == (
        "acknowledged", utc("2026-11-16T10:00"), SCHOOL, "platform_reply")
    assert case.breached is False
    audit = store.query("SELECT actor, action, case_id FROM audit_log")
    assert audit == [{"actor": SCHOOL, "action": "acknowledge", "case_id": case.id}]


def test_a_school_reply_after_the_deadline_is_a_breach(page, store, clock):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    pipeline.poll("page")
    clock.set(utc("2026-11-17T09:00"))
    (open_case,) = list_cases(store, open_only=True)
    assert open_case.breached is True  # open past its deadline
    connector.school_reply("s1", "2026-11-17T08:00:01", parent="c1")
    pipeline.poll("page")
    (case,) = list_cases(store)
    assert case.state == "acknowledged" and case.breached is True


def test_comment_and_reply_in_the_same_poll_and_reply_listed_first(page, store):
    pipeline, connector, _ = page
    connector.school_reply("s1", "2026-11-16T08:30", parent="c1")  # platforms do not always sort
    connector.comment("c1", "2026-11-16T08:00")
    connector.comment("c2", "2026-11-16T08:10")
    pipeline.poll("page")
    states = {c.native_id: (c.state, c.closed_at) for c in list_cases(store)}
    assert states == {"c1": ("acknowledged", utc("2026-11-16T08:30")), "c2": ("open", None)}


def test_a_reply_stored_before_its_comment_closes_the_case_when_it_opens(page, store):
    pipeline, connector, _ = page
    connector.school_reply("s1", "2026-11-16T08:30", parent="c1")
    pipeline.poll("page")
    connector.comment("c1", "2026-11-16T08:00")
    pipeline.poll("page")
    (case,) = list_cases(store)
    assert (case.state, case.closed_at, case.closed_how) == ("acknowledged", utc("2026-11-16T08:30"), "platform_reply")


def test_sibling_replies_before_the_school_reply_are_answered_later_ones_are_not(page, store):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    connector.comment("r1", "2026-11-16T08:05", parent="c1", author="B Parent")
    connector.comment("elsewhere", "2026-11-16T08:06", parent="c9")  # another sub-thread
    pipeline.poll("page")
    connector.school_reply("s1", "2026-11-16T08:30", parent="c1")
    connector.comment("r2", "2026-11-16T08:45", parent="c1", author="C Parent")
    pipeline.poll("page")
    states = {c.native_id: c.state for c in list_cases(store)}
    assert states == {"c1": "acknowledged", "r1": "acknowledged", "elsewhere": "open", "r2": "open"}


def test_a_school_comment_under_its_post_answers_no_one_in_particular(page, store):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    connector.comment("c2", "2026-11-16T08:01")
    pipeline.poll("page")
    connector.school_reply("s1", "2026-11-16T09:00", parent="post-1")
    pipeline.poll("page")
    assert {c.state for c in list_cases(store)} == {"open"}


def test_a_reply_to_a_reply_closes_that_reply_only(page, store):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    connector.comment("r1", "2026-11-16T08:05", parent="c1")
    pipeline.poll("page")
    connector.school_reply("s1", "2026-11-16T08:30", parent="r1")
    pipeline.poll("page")
    assert {c.native_id: c.state for c in list_cases(store)} == {"c1": "open", "r1": "acknowledged"}


# -- acknowledging by hand ----------------------------------------------------------------------


def test_acknowledge_and_a_second_acknowledgement_changes_nothing(page, store, clock):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    pipeline.poll("page")
    (case,) = list_cases(store)
    first = acknowledge(store, case.id, by="Ms Patel", how="slack", note="answered by phone")
    assert first.changed and first.case.state == "acknowledged"
    assert (first.case.closed_by, first.case.closed_how, first.case.closed_at) == ("Ms Patel", "slack", clock())
    again = acknowledge(store, case.id, by="Mr Jones", how="cli", at=clock() + timedelta(hours=1))
    assert not again.changed and "already acknowledged by Ms Patel" in again.message
    assert get_case(store, case.id) == first.case
    assert len(store.query("SELECT * FROM audit_log")) == 1


def test_acknowledge_refuses_bad_input(page, store):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    pipeline.poll("page")
    with pytest.raises(ValueError, match="unknown way"):
        acknowledge(store, 1, by="Ms Patel", how="telepathy")
    with pytest.raises(ValueError, match="who"):
        acknowledge(store, 1, by=" ", how="cli")
    with pytest.raises(ValueError, match="naive"):
        acknowledge(store, 1, by="Ms Patel", how="cli", at=datetime(2026, 11, 16, 10))
    with pytest.raises(MonitorError, match="no case 99"):
        acknowledge(store, 99, by="Ms Patel", how="cli")
    assert list_cases(store)[0].state == "open"


def test_mark_removed(page, store, clock):
    pipeline, connector, _ = page
    connector.comment("c1", "2026-11-16T08:00")
    pipeline.poll("page")
    result = mark_removed(store, 1, at=utc("2026-11-16T09:30"))
    assert result.changed and result.case.state == "removed" and result.case.breached is False
    assert not acknowledge(store, 1, by="Ms Patel", how="cli").changed


@pytest.fixture
def cli_config(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    path = tmp_path / "monitor.toml"
    path.write_text('[storage]\npath = "school.db"\n', encoding="utf-8")
    clock = ManualClock(utc("2026-11-16T09:00"))
    store = Store(tmp_path / "school.db", clock=clock)
    config = make_config(sources=[source()])
    connector = ScriptedConnector(config.source("page"), clock=clock)
    pipeline = Pipeline(config=config, store=store, clock=clock, hooks=build_hooks(config, clock),
                        connectors={"page": connector})
    connector.comment("c1", "2026-11-16T08:00", text="Is <b>the</b> trip on?")
    connector.comment("c2", "2026-11-14T08:00")  # listed second, posted first: case 1
    pipeline.poll("page")
    store.close()
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_ack_from_the_command_line(cli_config, capsys):
    code, out, _ = run_cli(capsys, "--config", str(cli_config), "ack", "1", "--by", "Ms Patel", "--note", "phoned")
    assert code == 0 and "case 1 acknowledged by Ms Patel via cli" in out
    code, out, _ = run_cli(capsys, "--config", str(cli_config), "ack", "1", "--by", "Mr Jones")
    assert code == 0 and "already acknowledged by Ms Patel" in out and "unchanged" in out
    code, _, err = run_cli(capsys, "--config", str(cli_config), "ack", "99", "--by", "Mr Jones")
    assert code == 1 and "no case 99" in err
    code, out, _ = run_cli(capsys, "--config", str(cli_config), "cases", "--json")
    cases = json.loads(out)
    assert [(c["id"], c["state"], c["closed_by"], c["closed_how"], c["note"]) for c in cases] == [
        (1, "acknowledged", "Ms Patel", "cli", "phoned"), (2, "open", None, None, None)]
    assert cases[0]["due"] == "2026-11-16T17:00:00.000000+00:00"  # Saturday's comment: Monday 17:00
    assert cases[1]["due"] == "2026-11-17T08:00:00.000000+00:00"
    store = Store(cli_config.parent / "school.db")
    try:
        audit = store.query("SELECT actor, action, case_id, detail FROM audit_log")
    finally:
        store.close()
    assert [(a["actor"], a["action"], a["case_id"]) for a in audit] == [("Ms Patel", "acknowledge", 1)]
    assert json.loads(audit[0]["detail"])["note"] == "phoned"


def test_cases_listing(cli_config, capsys):
    code, out, _ = run_cli(capsys, "--config", str(cli_config), "cases", "--open")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("#1 page open") and "due Mon 16 Nov 2026 17:00" in lines[0]
    assert lines[2].startswith("#2 page open") and "due Tue 17 Nov 2026 08:00" in lines[2]
    assert "Is <b>the</b> trip on?" in lines[3]
    run_cli(capsys, "--config", str(cli_config), "ack", "1", "--by", "Ms Patel")
    code, out, _ = run_cli(capsys, "--config", str(cli_config), "cases", "--open", "--json")
    assert [c["id"] for c in json.loads(out)] == [2]
    code, out, _ = run_cli(capsys, "--config", str(cli_config), "cases")
    # the command runs on the real clock, long after both deadlines
    assert "#1 page acknowledged (breached): " in out and "by Ms Patel via cli" in out


# -- the SLA clock ------------------------------------------------------------------------------


def notify_config(**sla):
    return make_config(
        sources=[{**source(), "leads": ["pe-dept@example.org"]}],
        sla={"remind_before": "4h", "escalate_after": "2h", **sla},
        notify={
            "slack": {"token": "xoxb-test", "channel": "C0123456789"},
            "email": {"host": "127.0.0.1", "sender": "monitor@example.org",
                      "moderators": ["moderator@example.org"], "escalate_to": ["head@example.org"]},
        },
    )


def open_case(store: Store, config, clock, received: str = "2026-11-16T08:00") -> None:
    connector = ScriptedConnector(config.source("page"), clock=clock)
    connector.comment("c1", received, author="A Parent", text="Why was the trip cancelled?")
    Pipeline(config=config, store=store, clock=clock, hooks=build_hooks(config, clock),
             connectors={"page": connector}).poll("page")


def outbox(store: Store) -> list[tuple[str, str | None]]:
    """The SLA clock's rows in the outbox (other hooks write their own alerts at ingest)."""
    rows = store.query(
        "SELECT key, kind FROM alerts WHERE kind IN ('reminder', 'breach', 'escalation') ORDER BY id"
    )
    return [(row["key"], row["kind"]) for row in rows]


def test_reminder_breach_and_escalation_each_once_across_restarts(tmp_path):
    config, path = notify_config(), tmp_path / "monitor.db"
    clock = ManualClock(utc("2026-11-16T09:00"))
    store = Store(path, clock=clock)
    open_case(store, config, clock)  # due Tuesday 08:00 UTC
    assert tick(store, config, utc("2026-11-17T03:59:59")) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-17T04:00")) == {"reminder": 1, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-17T04:01")) == {"reminder": 0, "breach": 0, "escalation": 0}
    store.close()

    store = Store(path, clock=clock)  # the daemon restarted
    assert tick(store, config, utc("2026-11-17T07:59")) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-17T08:00")) == {"reminder": 0, "breach": 1, "escalation": 0}
    store.close()

    store = Store(path, clock=clock)
    assert tick(store, config, utc("2026-11-17T10:00")) == {"reminder": 0, "breach": 0, "escalation": 1}
    for minute in range(5):
        tick(store, config, utc("2026-11-17T10:00") + timedelta(minutes=minute))
    rows = outbox(store)
    # the default routing: reminders and breach notices to the moderators' chat (Slack), the
    # escalation by email to the moderators and the head; the source's lead gets each
    chat = ["slack|C0123456789", "email|pe-dept@example.org"]
    assert rows == (
        [(f"reminder:case:1|{r}", "reminder") for r in chat]
        + [(f"breach:case:1|{r}", "breach") for r in chat]
        + [(f"escalation:case:1|{r}", "escalation")
           for r in ["email|moderator@example.org", "email|pe-dept@example.org", "email|head@example.org"]]
    )
    payload = json.loads(store.query("SELECT payload FROM alerts WHERE key LIKE 'breach:%' LIMIT 1")[0]["payload"])
    assert payload["case_id"] == 1 and payload["source"] == "page"
    assert payload["received"] == "2026-11-16T08:00:00.000000+00:00"
    assert payload["due"] == "2026-11-17T08:00:00.000000+00:00"
    assert payload["item"]["text"] == "Why was the trip cancelled?" and payload["item"]["author"] == "A Parent"
    assert payload["item"]["url"] == "https://social.example/c1" and payload["item"]["case_id"] == 1
    store.close()


def test_a_late_tick_writes_the_breach_alone_and_escalates_after_the_usual_delay(store, clock):
    config = notify_config()  # escalate_after 2h
    open_case(store, config, clock)  # due Tuesday 08:00; the monitor was stopped until Friday
    assert tick(store, config, utc("2026-11-20T12:00")) == {"reminder": 0, "breach": 1, "escalation": 0}
    assert tick(store, config, utc("2026-11-20T12:01")) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-20T13:59")) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-20T14:00")) == {"reminder": 0, "breach": 0, "escalation": 1}
    assert {kind for _, kind in outbox(store)} == {"breach", "escalation"}  # no reminder after the deadline


def test_an_acknowledged_case_gets_no_further_notice(store, clock):
    config = notify_config()
    open_case(store, config, clock)
    tick(store, config, utc("2026-11-17T04:30"))
    acknowledge(store, 1, by="Ms Patel", how="slack", at=utc("2026-11-17T05:00"))
    assert tick(store, config, utc("2026-11-18T12:00")) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert {kind for _, kind in outbox(store)} == {"reminder"}


def test_without_any_channel_notices_are_still_marked_once(store, clock):
    config = make_config(sources=[source()])
    open_case(store, config, clock)
    assert tick(store, config, utc("2026-11-17T04:00")) == {"reminder": 1, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-20T12:00")) == {"reminder": 0, "breach": 1, "escalation": 0}
    assert tick(store, config, utc("2026-11-20T16:00")) == {"reminder": 0, "breach": 0, "escalation": 1}
    assert tick(store, config, utc("2026-11-20T16:01")) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert outbox(store) == []


def test_the_daemon_runs_the_clock_every_minute(store, clock):
    from monitor.app.daemon import build_jobs

    config = notify_config()
    pipeline = build_pipeline(config, store, clock=clock, classifier=NullClassifier())
    (job,) = [job for job in build_jobs(config, store, pipeline, clock) if job.id == "sla-clock"]
    assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == timedelta(seconds=60)
    open_case(store, config, clock)
    clock.set(utc("2026-11-17T04:00"))
    job.func()
    assert {kind for _, kind in outbox(store)} == {"reminder"}
    clock.set(utc("2026-11-17T08:00"))
    job.func()
    assert {kind for _, kind in outbox(store)} == {"reminder", "breach"}


def test_a_comment_gone_from_its_platform_closes_its_case_instead_of_alerting(store, clock):
    config = notify_config()
    open_case(store, config, clock)  # due Tuesday 08:00 UTC
    asked = []

    def gone(source, native_id):
        asked.append((source, native_id))
        return False

    assert tick(store, config, utc("2026-11-17T03:59"), gone) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert asked == []  # nothing due: the platform is not asked
    assert tick(store, config, utc("2026-11-18T12:00"), gone) == {"reminder": 0, "breach": 0, "escalation": 0}
    assert asked == [("page", "c1")]  # asked once, though three notices were due
    case = get_case(store, 1)
    assert (case.state, case.closed_by, case.closed_how, case.note) == ("removed", "monitor", "removed", "no longer on page")
    assert outbox(store) == []
    audit = store.query("SELECT actor, action FROM audit_log WHERE case_id = 1")
    assert [(row["actor"], row["action"]) for row in audit] == [("monitor", "remove")]


@pytest.mark.parametrize("answer", [True, None])
def test_a_comment_still_there_or_a_platform_that_cannot_tell_still_alerts(store, clock, answer):
    config = notify_config()
    open_case(store, config, clock)
    still = lambda source, native_id: answer  # noqa: E731
    assert tick(store, config, utc("2026-11-17T04:00"), still) == {"reminder": 1, "breach": 0, "escalation": 0}
    assert tick(store, config, utc("2026-11-18T12:00"), still) == {"reminder": 0, "breach": 1, "escalation": 0}
    assert tick(store, config, utc("2026-11-18T14:00"), still) == {"reminder": 0, "breach": 0, "escalation": 1}
    assert get_case(store, 1).state == "open"


def test_a_source_that_cannot_answer_is_asked_once_per_tick(store, clock):
    config = notify_config()
    connector = ScriptedConnector(config.source("page"), clock=clock)
    pipeline = Pipeline(config=config, store=store, clock=clock, hooks=build_hooks(config, clock),
                        connectors={"page": connector})
    for n in range(3):
        connector.comment(f"c{n}", "2026-11-16T08:00")
    pipeline.poll("page")
    asked = []

    def hanging(source, native_id):  # as a platform that timed out: "cannot tell"
        asked.append(native_id)
        return None

    assert tick(store, config, utc("2026-11-17T04:00"), hanging)["reminder"] == 3
    assert asked == ["c0"]
    assert tick(store, config, utc("2026-11-17T08:00"), hanging)["breach"] == 3
    assert asked == ["c0", "c0"]  # the next tick asks again


def test_the_daemon_asks_the_source_before_it_alerts(store, clock):
    from monitor.app.daemon import build_jobs

    config = notify_config()
    connector = ScriptedConnector(config.source("page"), clock=clock)
    pipeline = Pipeline(config=config, store=store, clock=clock, hooks=build_hooks(config, clock),
                        connectors={"page": connector})
    connector.comment("kept", "2026-11-16T08:00", text="When is the trip?")
    connector.comment("deleted", "2026-11-16T08:00", text="An abusive comment the moderator deleted")
    pipeline.poll("page")
    connector.deleted.add("deleted")
    (job,) = [job for job in build_jobs(config, store, pipeline, clock) if job.id == "sla-clock"]
    clock.set(utc("2026-11-17T04:00"))
    job.func()
    states = {case.native_id: case.state for case in list_cases(store)}
    assert states == {"kept": "open", "deleted": "removed"}
    assert {key.split("|")[0] for key, _ in outbox(store)} == {"reminder:case:1"}
    clock.set(utc("2026-11-17T08:00"))
    job.func()
    assert connector.asked == ["kept", "deleted", "kept"]  # a removed case is not asked about again


def test_the_first_poll_backlog_opens_cases_only_for_comments_still_in_time(tmp_path):
    """Installing the monitor must not flood the moderator with breaches of last month's comments."""
    from datetime import datetime, timedelta, timezone

    from classifiers.base import NullClassifier
    from monitor.sla.cases import CasesHook
    from monitor.clock import ManualClock
    from monitor.config import parse_config
    from monitor.demo.fakes.rss import FakeFeed
    from monitor.pipeline import Pipeline
    from monitor.store import Store

    now = datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc)  # a Wednesday
    clock = ManualClock(now)
    with FakeFeed() as feed:
        feed.add_comment("Old complaint from last month", at=now - timedelta(days=30))
        feed.add_comment("Question from an hour ago", at=now - timedelta(hours=1))
        source = {**feed.source_config("page"), "official": True}
        config = parse_config({"sources": [source], "storage": {"path": str(tmp_path / "m.db")}})
        store = Store(config.database_path, clock=clock)
        pipeline = Pipeline(config=config, store=store, classifier=NullClassifier(), clock=clock,
                            hooks=[CasesHook(config)])
        assert pipeline.poll("page").new == 2
        cases = store.query("SELECT items.text FROM cases JOIN items ON items.id = cases.item_id")
        assert [c["text"] for c in cases] == ["Question from an hour ago"]
        # later polls open cases for anything new, even if it is found late
        feed.add_comment("Posted while we were not looking", at=now - timedelta(days=3))
        assert pipeline.poll("page").new == 1
        assert store.execute("SELECT count(*) FROM cases").fetchone()[0] == 2
        store.close()
