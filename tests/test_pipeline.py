"""The pipeline: a failing source stays alone, is counted, backs off, and recovers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from classifiers.base import Classifier, Verdict
from monitor.app.status import collect_status, format_status
from monitor.config import parse_config
from monitor.demo.fakes.rss import FakeFeed
from monitor.demo.fakes.server import Response
from monitor.pipeline import Pipeline
from monitor.store import Store


@pytest.fixture
def feeds():
    with FakeFeed() as good, FakeFeed() as bad:
        yield good, bad


def pipeline_for(feeds, tmp_path, clock, classifier=None):
    good, bad = feeds
    config = parse_config({
        "sources": [good.source_config("good"), bad.source_config("bad")],
        "storage": {"path": str(tmp_path / "m.db")},
    })
    store = Store(config.database_path, clock=clock)
    kwargs = {"classifier": classifier} if classifier else {}
    return Pipeline(config=config, store=store, clock=clock, **kwargs), store


@pytest.mark.parametrize("fault", [Response(500, "boom"), Response(200, "<<<garbage>>>", {"Content-Type": "text/xml"})])
def test_a_failing_source_leaves_the_others_working(feeds, tmp_path, clock, fault):
    good, bad = feeds
    good.add_comment("Ravens Wood in the news", at=clock())
    bad.add_comment("Never seen", at=clock())
    bad.script(fault, times=100)
    pipeline, store = pipeline_for(feeds, tmp_path, clock)
    results = {name: pipeline.poll(name) for name in ("good", "bad", "good")}
    assert results["good"].ok and store.count_items("good") == 1
    assert not results["bad"].ok
    clock.advance(timedelta(minutes=10))
    pipeline.poll("bad")
    status = {s["name"]: s for s in collect_status(pipeline.config, store, clock)["sources"]}
    assert status["bad"]["health"] == "failing"
    assert status["bad"]["consecutive_failures"] == 2
    assert status["bad"]["last_error"]
    assert status["good"]["health"] == "ok" and status["good"]["items"] == 1
    text = format_status(collect_status(pipeline.config, store, clock), pipeline.config.school.tz)
    assert "bad (rss): failing" in text and "2 failed polls" in text
    store.close()


def test_backoff_grows_and_is_capped(feeds, tmp_path, clock):
    _, bad = feeds
    bad.script(Response(503, "down"), times=1000)
    pipeline, store = pipeline_for(feeds, tmp_path, clock)
    waits = []
    for _ in range(8):
        pipeline.poll("bad")
        waits.append(store.source_state("bad").backoff_until - clock())
        clock.advance(waits[-1])
    assert waits[:4] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)]
    assert max(waits) == timedelta(hours=1)
    store.close()


def test_backoff_is_respected_by_the_scheduler_and_cleared_by_success(feeds, tmp_path, clock):
    _, bad = feeds
    bad.script(Response(500, "x"))
    pipeline, store = pipeline_for(feeds, tmp_path, clock)
    assert not pipeline.poll("bad", respect_backoff=True).ok
    assert pipeline.poll("bad", respect_backoff=True).skipped
    clock.advance(timedelta(minutes=6))
    assert pipeline.poll("bad", respect_backoff=True).ok
    assert store.source_state("bad").backoff_until is None
    store.close()


def test_rate_limit_waits_until_the_platform_says(feeds, tmp_path, clock):
    _, bad = feeds
    bad.script(Response(429, "", {"Retry-After": "900"}))
    pipeline, store = pipeline_for(feeds, tmp_path, clock)
    result = pipeline.poll("bad")
    assert result.error_kind == "rate_limited"
    assert store.source_state("bad").backoff_until == clock() + timedelta(seconds=900)
    store.close()


class Exploding(Classifier):
    name, version = "exploding", "1"

    def classify(self, texts):
        raise RuntimeError("model crashed")


def test_an_unexpected_error_is_recorded_not_raised(feeds, tmp_path, clock):
    good, _ = feeds
    good.add_comment("hello", at=clock())
    pipeline, store = pipeline_for(feeds, tmp_path, clock, classifier=Exploding())
    result = pipeline.poll("good")
    assert result.error_kind == "error" and "model crashed" in result.error
    assert store.count_items() == 0, "nothing is stored without its verdict; the next poll retries"
    store.close()


class Flagger(Classifier):
    name, version = "flagger", "2"

    def classify(self, texts):
        return [Verdict(score=0.9 if "idiot" in t else 0.1, flagged="idiot" in t, labels={"offensive": 0.9},
                        model=self.name, model_version=self.version) for t in texts]


def test_new_items_are_classified_once_with_the_model_version(feeds, tmp_path, clock):
    good, _ = feeds
    good.add_comment("what an idiot", at=clock())
    good.add_comment("lovely concert", at=clock())
    pipeline, store = pipeline_for(feeds, tmp_path, clock, classifier=Flagger())
    result = pipeline.poll("good")
    assert (result.new, result.flagged) == (2, 1)
    good.add_comment("another", at=clock())
    pipeline.poll("good")
    rows = store.query("SELECT i.text, v.flagged, v.model, v.model_version FROM items i JOIN verdicts v ON v.item_id = i.id")
    assert len(rows) == 3
    assert {r["model_version"] for r in rows} == {"2"}
    store.close()
