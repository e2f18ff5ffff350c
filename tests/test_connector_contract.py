"""The contract every connector passes, run against each platform's fake server.

- a second poll returns nothing new;
- a crash between fetch and commit repeats nothing and loses nothing;
- a malformed record is skipped and the rest kept;
- an authentication failure is an AuthError that the pipeline records and status reports;
- a reply by the school's own account is marked as such and points at the comment it answers;
- a comment deleted on the platform is reported gone, where the platform can tell (not RSS, Reddit;
  not Instagram, where a restricted account's comment answers the same).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from connectors import connector_class
from monitor.app.status import collect_status
from monitor.config import parse_config
from monitor.demo.fakes import PLATFORMS, fake_platform
from monitor.demo.fakes.server import Response
from monitor.errors import AuthError
from monitor.pipeline import Pipeline, PipelineHook
from monitor.store import Store


class Crash(Exception):
    pass


class CrashOnce(PipelineHook):
    """Fails inside the poll's transaction, as a power cut between fetch and commit would."""

    def __init__(self) -> None:
        self.armed = True

    def on_ingest(self, store, batch) -> None:
        if self.armed:
            self.armed = False
            raise Crash("simulated crash before commit")


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request):
    with fake_platform(request.param)() as fake:
        yield fake


@pytest.fixture
def times():
    """Increasing timestamps in the recent past, as platforms report them."""
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    steps = count(1)
    return lambda: start + timedelta(seconds=next(steps) * 30)


def make_pipeline(platform, tmp_path, hooks=()):
    raw = platform.source_config("contract")
    raw["official"] = platform.has_threads
    config = parse_config({"sources": [raw], "storage": {"path": str(tmp_path / "m.db")}})
    store = Store(config.database_path)
    return Pipeline(config=config, store=store, hooks=list(hooks)), store


def stored_ids(store: Store) -> list[str]:
    return [row["native_id"] for row in store.query("SELECT native_id FROM items WHERE source = 'contract'")]


def stored_records(store: Store) -> list[tuple[str, str, str]]:
    rows = store.query("SELECT native_id, text, created_at FROM items WHERE source = 'contract'")
    return [(row["native_id"], row["text"], row["created_at"]) for row in rows]


def test_second_poll_returns_nothing_new(platform, tmp_path, times):
    posted = [platform.add_comment(f"Comment number {n} 👍", at=times()) for n in range(3)]
    pipeline, store = make_pipeline(platform, tmp_path)
    first = pipeline.poll("contract")
    assert first.ok, first.error
    assert set(posted) <= set(stored_ids(store))
    second = pipeline.poll("contract")
    assert second.ok, second.error
    assert second.new == 0
    ids = stored_ids(store)
    assert len(ids) == len(set(ids))
    store.close()


def test_crash_between_fetch_and_commit_loses_and_repeats_nothing(platform, tmp_path, times):
    posted = [platform.add_comment(f"Before the crash {n}", at=times()) for n in range(3)]
    crash = CrashOnce()
    pipeline, store = make_pipeline(platform, tmp_path, hooks=[crash])
    cursor_before = store.source_state("contract").cursor
    crashed = pipeline.poll("contract")
    assert not crashed.ok and "simulated crash" in crashed.error
    assert stored_ids(store) == []
    assert store.source_state("contract").cursor == cursor_before

    again = pipeline.poll("contract")
    assert again.ok, again.error
    ids = stored_ids(store)
    assert set(posted) <= set(ids) and len(ids) == len(set(ids))

    later = platform.add_comment("After the crash", at=times())
    third = pipeline.poll("contract")
    assert third.ok, third.error
    assert later in stored_ids(store)
    assert third.new == 1
    store.close()


def test_malformed_record_is_skipped_and_the_rest_kept(platform, tmp_path, times):
    good = [platform.add_comment("Good before", at=times())]
    platform.add_malformed()
    good.append(platform.add_comment("Good after", at=times()))
    pipeline, store = make_pipeline(platform, tmp_path)
    result = pipeline.poll("contract")
    assert result.ok, result.error
    assert set(good) <= set(stored_ids(store))
    store.close()


def test_auth_failure_is_reported_and_recovers(platform, tmp_path, times):
    platform.add_comment("Before expiry", at=times())
    pipeline, store = make_pipeline(platform, tmp_path)
    assert pipeline.poll("contract").ok
    platform.expire_credentials()
    with pytest.raises(AuthError):
        pipeline.connector("contract").fetch(store.source_state("contract").cursor)
    failed = pipeline.poll("contract")
    assert failed.error_kind == "auth"
    status = collect_status(pipeline.config, store)["sources"][0]
    assert status["health"].startswith("blind")
    assert status["consecutive_failures"] == 1 and status["last_error"]
    platform.renew_credentials()
    waiting = platform.add_comment("While blind", at=times())
    assert pipeline.poll("contract").ok
    assert waiting in stored_ids(store)
    assert collect_status(pipeline.config, store)["sources"][0]["health"] == "ok"
    store.close()


def test_school_reply_points_at_the_comment(platform, tmp_path, times):
    if not platform.has_threads:
        pytest.skip(f"{platform.type} has no threads the school replies in")
    comment = platform.add_comment("When is the parents' evening?", at=times())
    pipeline, store = make_pipeline(platform, tmp_path)
    assert pipeline.poll("contract").ok
    reply = platform.add_school_reply(comment, "Thursday at 6pm, see the newsletter.", at=times())
    assert pipeline.poll("contract").ok
    rows = {r["native_id"]: r for r in store.query("SELECT * FROM items WHERE source = 'contract'")}
    assert rows[reply]["by_school"] == 1
    assert rows[reply]["parent_id"] == comment
    assert rows[comment]["by_school"] == 0
    store.close()


#: platforms whose connector cannot tell whether one record still exists
CANNOT_TELL = {"rss", "reddit"}
#: platforms where a deleted comment answers as one still there but hidden from the school (Instagram:
#: a comment by an account the school restricted is not returned either): not proof of a deletion
DELETION_UNPROVEN = {"instagram"}
#: platforms whose lookup needs none of the school's credentials (Bluesky asks the author's PDS)
LOOKUP_WITHOUT_CREDENTIALS = {"bluesky"}


def test_a_deleted_comment_is_reported_gone(platform, tmp_path, times):
    kept = platform.add_comment("Thank you for the lovely concert", at=times())
    deleted = platform.add_comment("an abusive comment the moderator deleted", at=times())
    pipeline, store = make_pipeline(platform, tmp_path)
    assert pipeline.poll("contract").ok
    platform.remove(deleted)
    answers = (pipeline.still_there("contract", kept), pipeline.still_there("contract", deleted))
    if platform.type in CANNOT_TELL:
        assert answers == (None, None)
    else:
        assert answers == (True, None if platform.type in DELETION_UNPROVEN else False)
    store.close()


def test_a_failed_existence_check_cannot_tell(platform, tmp_path, times):
    comment = platform.add_comment("Is the school open tomorrow?", at=times())
    pipeline, store = make_pipeline(platform, tmp_path)
    assert pipeline.poll("contract").ok
    platform.remove(comment)
    platform.expire_credentials()  # the question fails: the answer must not be "gone"
    if platform.type in LOOKUP_WITHOUT_CREDENTIALS:
        platform.script(Response(503, "<html>Service Unavailable</html>"), times=10)  # so it fails otherwise
    assert pipeline.still_there("contract", comment) is None
    assert pipeline.still_there("no-such-source", comment) is None
    store.close()


def test_every_fake_platform_has_a_connector():
    for type_name in PLATFORMS:
        assert connector_class(type_name).type == type_name


def test_an_answer_cut_short_anywhere_in_a_poll_loses_nothing(platform, tmp_path, times):
    """Whatever request of a poll is cut short (a feed, a page in the middle of a listing, a login),
    no cursor, page token or validator moves past what was not read: the next poll stores it all,
    each comment once, under its own id (not a second time under what the cut left of it)."""
    posted = [platform.add_comment(f"Comment number {n}\nand the rest of what it says", at=times()) for n in range(12)]
    probe, probe_store = make_pipeline(platform, tmp_path / "probe")
    before = len(platform.requests)
    assert probe.poll("contract").ok
    requests = len(platform.requests) - before
    whole = stored_records(probe_store)  # what a poll read whole stores (the comments, a school's post...)
    probe_store.close()
    for cut in range(requests):
        pipeline, store = make_pipeline(platform, tmp_path / f"cut-{cut}")
        platform.cut_short(after=cut)
        pipeline.connector("contract")  # a fresh connector logs in again, as the probe did
        pipeline.poll("contract")
        recovered = pipeline.poll("contract")
        assert recovered.ok, (cut, recovered.error)
        missing = set(posted) - set(stored_ids(store))
        assert not missing, f"request {cut} of {requests} cut short: {len(missing)} comments never stored"
        extra = sorted(set(stored_records(store)) - set(whole))
        assert not extra, f"request {cut} of {requests} cut short: stored twice or in part as {extra}"
        store.close()
