"""Replies, hides and deletes on the platform, each made exactly once (real HTTP to the fake Graph API).

Also through the command line, with a SIGKILL between the write and its receipt.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import timedelta

import pytest

from connectors import connector_class
from monitor.actions.platform import ActionRefused, act, request_action, resume
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes import fake_platform
from monitor.errors import ConfigError
from monitor.sla.cases import get_case
from monitor.store import Store
from tests.conftest import cli, make_config, write_source_config
from tests.test_alerting import KeywordClassifier

ACK = "Thank you, we have your message and will reply properly soon."


#: each platform's write permission, and what its refusal for want of it says
PLATFORMS = {"facebook": ("pages_manage_engagement", "(#200)"), "instagram": ("instagram_manage_comments", "(#200)"),
             "youtube": ("https://www.googleapis.com/auth/youtube.force-ssl", "insufficientPermissions"),
             "x": ("Read and write", "oauth1 app permissions")}


def can(fake, action) -> bool:
    """Whether the platform offers ``action`` (X deletes only the account's own posts: no delete)."""
    return action in connector_class(fake.type).supported_actions


def writing_source(fake, name="facebook-page", actions=("reply", "hide", "delete")):
    """The fake's source with the credentials its writes need (YouTube: OAuth as the channel owner;
    X: the school account's OAuth 1.0a keys), opted into the ``actions`` the platform offers."""
    config = {"youtube": getattr(fake, "oauth_config", None), "x": getattr(fake, "user_config", None)}.get(fake.type)
    config = config(name) if config else fake.source_config(name)
    return {**config, "official": True, "actions": [a for a in actions if can(fake, a)]}


def follow_clock(fake, clock) -> None:
    """The fake platform's own time (what it stamps a write with) is the test's clock."""
    fake.default_time = lambda: clock().replace(microsecond=0)
    if fake.type == "youtube":
        fake.clock = clock


def school_replies(fake, comment):
    """The school account's replies in the comment's thread, on the fake platform."""
    if fake.type == "youtube":
        return [{"id": c.id, "text": c.text} for c in fake.school_replies(comment)]
    if fake.type == "x":
        return [t for t in fake.replies_to(comment) if t["author_id"] == fake.school["id"]]
    if fake.type == "instagram":
        return [r for r in fake.replies_to(comment) if r.get("username") == fake.username]
    return [c for c in fake.replies_to(comment) if c.get("from", {}).get("id") == fake.page_id]


def hidden(fake, comment) -> bool:
    if fake.type == "youtube":
        return fake.status_of(comment) == "heldForReview"  # in the channel's review queue
    if fake.type == "x":
        return fake.node(comment).get("_hidden") is True
    return fake.node(comment)[1]["hidden" if fake.type == "instagram" else "is_hidden"] is True


def removed(fake, comment) -> bool:
    """Deleted; on YouTube, rejected (the removal of another user's comment, see connectors/youtube.py)."""
    return fake.status_of(comment) == "rejected" if fake.type == "youtube" else fake.node(comment) is None


#: the platforms whose connector posts the removal notice ("Tell the audience")
NOTICE_PLATFORMS = ("facebook", "instagram", "youtube")


def opened_world(platform, tmp_path, store, clock):
    with fake_platform(platform)() as facebook:
        follow_clock(facebook, clock)
        config = make_config(tmp_path, sources=[writing_source(facebook)])
        comment = facebook.add_comment("you idiot, when is the trip?", author="Troll", at=clock() - timedelta(minutes=9))
        assert not school_replies(facebook, comment)
        assert build_pipeline(config, store, clock=clock, classifier=KeywordClassifier()).poll("facebook-page").ok
        [case] = store.query("SELECT * FROM cases")
        yield config, facebook, comment, case


@pytest.fixture(params=sorted(PLATFORMS))
def world(request, tmp_path, store, clock):
    yield from opened_world(request.param, tmp_path, store, clock)


@pytest.fixture(params=NOTICE_PLATFORMS)
def notice_world(request, tmp_path, store, clock):
    yield from opened_world(request.param, tmp_path, store, clock)


def test_a_reply_is_posted_once_and_closes_the_case_as_met_at_its_platform_time(world, store, clock):
    config, facebook, comment, case = world
    clock.advance(300)
    outcome = act(store, config, action="reply", item_id=case["item_id"], by="Jane Smith", how="cli", text=ACK,
                  clock=clock)
    assert (outcome.state, outcome.message) == ("done", "Replied by Jane Smith")
    again = act(store, config, action="reply", item_id=case["item_id"], by="Jane Smith", how="cli", text=ACK,
                clock=clock)
    assert again.state == "done" and not again.changed and "already" in again.message
    [reply] = school_replies(facebook, comment)
    assert reply.get("message", reply.get("text")) == ACK and reply["id"] == outcome.receipt["native_id"]
    closed = get_case(store, case["id"])
    assert (closed.state, closed.closed_by, closed.closed_how, closed.breached) == ("acknowledged", "Jane Smith", "cli", False)
    assert closed.closed_at == clock()
    assert [a["action"] for a in store.query("SELECT action FROM audit_log ORDER BY id")] == ["reply", "acknowledge"]


def test_an_in_doubt_reply_is_found_on_the_platform_and_not_posted_again(world, store, clock):
    config, facebook, comment, case = world
    facebook.write_delay = 30  # the reply is made, its answer never arrives in time
    connector_config = make_config(store.path.parent, sources=[
        {**writing_source(facebook, actions=["reply"]), "timeout": "1s", "request_deadline": "1s"}])
    outcome = act(store, connector_config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK,
                  clock=clock)
    assert outcome.state == "in_doubt" and len(school_replies(facebook, comment)) == 1
    facebook.write_delay = 0
    [done] = resume(store, config, clock=clock)
    assert done.state == "done" and done.receipt["native_id"] == school_replies(facebook, comment)[0]["id"]
    assert len(school_replies(facebook, comment)) == 1
    assert get_case(store, case["id"]).state == "acknowledged"


def test_hide_then_delete_close_the_case_as_removed(world, store, clock):
    config, facebook, comment, case = world
    outcome = act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert outcome.state == "done" and hidden(facebook, comment)
    closed = get_case(store, case["id"])
    assert (closed.state, closed.closed_how, closed.closed_by) == ("removed", "removed", "Jane")
    if not can(facebook, "delete"):
        return
    assert act(store, config, action="delete", item_id=case["item_id"], by="Jane", how="cli", clock=clock).state == "done"
    assert removed(facebook, comment)


def test_without_the_write_permission_the_write_is_refused_with_the_permission_named(world, store, clock):
    config, facebook, comment, case = world
    facebook.permissions.discard(PLATFORMS[facebook.type][0])
    outcome = act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert outcome.state == "refused"
    scope = PLATFORMS[facebook.type][0]
    assert PLATFORMS[facebook.type][1] in outcome.message and f"needs the {scope} permission" in outcome.message
    assert not hidden(facebook, comment) and get_case(store, case["id"]).state == "open"
    facebook.permissions.add(scope)  # granted since: asking again works
    assert act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock).state == "done"


def test_a_source_that_did_not_opt_in_refuses_and_config_checks_support(tmp_path, world, store, clock):
    config, facebook, comment, case = world
    plain = make_config(tmp_path, sources=[writing_source(facebook, actions=())])
    with pytest.raises(ActionRefused, match='add "reply" to its actions'):
        request_action(store, plain, action="reply", item_id=case["item_id"], by="Jane", how="cli", text=ACK)
    with pytest.raises(ActionRefused, match="empty"):
        request_action(store, config, action="reply", item_id=case["item_id"], by="Jane", how="cli", text="  ")
    with pytest.raises(ConfigError, match=r"a rss source cannot reply from the monitor \(it can: nothing\)"):
        make_config(tmp_path, sources=[{"name": "n", "type": "rss", "url": "https://e.example/f", "actions": ["reply"]}])
    with pytest.raises(ConfigError, match="actions"):
        make_config(tmp_path, sources=[{**facebook.source_config("f"), "actions": ["block"]}])


def write_config(tmp_path, facebook) -> str:
    source = writing_source(facebook)
    return write_source_config(tmp_path, source)


def test_cli_reply_killed_between_the_write_and_its_receipt_posts_once(world, store, clock, tmp_path):
    config, facebook, comment, case = world
    path = write_config(tmp_path, facebook)
    facebook.write_delay = 60
    process = subprocess.Popen(cli(path, "reply", str(case["id"]), "--text", ACK, "--by", "Jane Smith"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not school_replies(facebook, comment) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert len(school_replies(facebook, comment)) == 1
    assert store.query("SELECT state FROM platform_actions")[0]["state"] == "sending"  # in doubt
    facebook.write_delay = 0
    again = subprocess.run(cli(path, "reply", str(case["id"]), "--text", ACK, "--by", "Jane Smith"),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Replied by Jane Smith" in again.stdout
    assert len(school_replies(facebook, comment)) == 1
    reopened = Store(store.path, clock=clock)
    try:
        closed = get_case(reopened, case["id"])
    finally:
        reopened.close()
    assert (closed.state, closed.closed_how, closed.breached) == ("acknowledged", "cli", False)


def test_cli_hide_and_an_unknown_item(world, tmp_path):
    config, facebook, comment, case = world
    path = write_config(tmp_path, facebook)
    done = subprocess.run(cli(path, "hide", str(case["item_id"]), "--by", "Jane"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "Hidden by Jane" in done.stdout, done.stderr
    assert hidden(facebook, comment)
    missing = subprocess.run(cli(path, "delete", "999"), capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no item 999" in missing.stderr


def test_status_says_which_write_was_refused_and_why(world, store, clock):
    from monitor.app.status import collect_status, format_status

    config, facebook, comment, case = world
    facebook.permissions.discard(PLATFORMS[facebook.type][0])
    action = "delete" if can(facebook, "delete") else "hide"
    act(store, config, action=action, item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    text = format_status(collect_status(config, store, clock), config.school.tz)
    assert f"refused: {action} of item {case['item_id']} on facebook-page by Jane" in text and PLATFORMS[facebook.type][0] in text


def test_check_config_names_the_permission_the_actions_need(world):
    from monitor.app.checks import check_configuration

    config, facebook, comment, case = world
    warnings, notes = check_configuration(config)
    scope = PLATFORMS[facebook.type][0]
    actions = ", ".join(config.sources[0].actions)
    assert any(f"facebook-page: {actions} from the monitor need {scope}" in n for n in notes)
    assert any("without notify.slack.app_token there are no Slack buttons" in w for w in warnings)


NOTICE = "A comment on this post was removed by {school} because it broke our community rules."


def school_notices(fake, thread):
    """The school account's own top-level comments on a post, media or video, on the fake platform."""
    if fake.type == "youtube":
        return [{"id": c.id, "text": c.text} for c in fake.school_threads(thread)]
    if fake.type == "instagram":
        return [c for c in fake.comments_on(thread) if c.get("username") == fake.username]
    return [c for c in fake.replies_to(thread) if c.get("from", {}).get("id") == fake.page_id]


def thread_of(store, item_id) -> str:
    return store.query("SELECT thread_id FROM items WHERE id = ?", (item_id,))[0]["thread_id"]


def with_notice(tmp_path, facebook, **source):
    return make_config(tmp_path, school={"name": "Ravens Wood School"}, replies={"removal_notice": NOTICE},
                       sources=[{**writing_source(facebook), **source}])


def test_after_a_removal_the_notice_is_posted_once_on_the_thread_and_the_case_stays_removed(notice_world, store, clock, tmp_path):
    config, facebook, comment, case = notice_world
    config = with_notice(tmp_path, facebook)
    with pytest.raises(ActionRefused, match="hide or delete it first"):
        request_action(store, config, action="notice", item_id=case["item_id"], by="Jane", how="cli")
    act(store, config, action="delete", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    thread = thread_of(store, case["item_id"])
    outcome = act(store, config, action="notice", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert (outcome.state, outcome.message) == ("done", "Removal notice posted by Jane")
    again = act(store, config, action="notice", item_id=case["item_id"], by="Jane", how="cli", text="other", clock=clock)
    assert again.state == "done" and not again.changed
    [notice] = school_notices(facebook, thread)
    assert notice.get("message", notice.get("text")) == NOTICE.format(school="Ravens Wood School")
    assert notice["id"] == outcome.receipt["native_id"]
    closed = get_case(store, case["id"])
    assert (closed.state, closed.closed_by) == ("removed", "Jane")
    assert [a["action"] for a in store.query("SELECT action FROM audit_log ORDER BY id")][-1] == "notice"


def test_an_in_doubt_notice_is_found_on_the_thread_and_not_posted_again(notice_world, store, clock, tmp_path):
    config, facebook, comment, case = notice_world
    config = with_notice(tmp_path, facebook)
    act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    facebook.write_delay = 30  # the notice is posted, its answer never arrives in time
    slow = with_notice(tmp_path, facebook, timeout="1s", request_deadline="1s")
    outcome = act(store, slow, action="notice", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    thread = thread_of(store, case["item_id"])
    assert outcome.state == "in_doubt" and len(school_notices(facebook, thread)) == 1
    facebook.write_delay = 0
    [done] = resume(store, config, clock=clock)
    assert done.state == "done" and done.receipt["native_id"] == school_notices(facebook, thread)[0]["id"]
    assert len(school_notices(facebook, thread)) == 1


def test_a_notice_is_refused_without_a_template_without_replies_or_without_a_thread(notice_world, store, clock, tmp_path):
    config, facebook, comment, case = notice_world
    act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    with pytest.raises(ActionRefused, match=r"set \[replies\] removal_notice"):
        request_action(store, config, action="notice", item_id=case["item_id"], by="Jane", how="cli")
    no_replies = make_config(tmp_path, replies={"removal_notice": NOTICE}, sources=[
        writing_source(facebook, actions=["hide"])])
    with pytest.raises(ActionRefused, match='add "reply" to its actions'):
        request_action(store, no_replies, action="notice", item_id=case["item_id"], by="Jane", how="cli")
    store.execute("UPDATE items SET thread_id = native_id WHERE id = ?", (case["item_id"],))
    with pytest.raises(ActionRefused, match="no thread under it"):
        request_action(store, with_notice(tmp_path, facebook), action="notice", item_id=case["item_id"], by="Jane",
                       how="cli")
    assert not store.query("SELECT * FROM platform_actions WHERE action = 'notice'")


def test_without_the_permission_the_notice_is_refused_naming_it(notice_world, store, clock, tmp_path):
    config, facebook, comment, case = notice_world
    config = with_notice(tmp_path, facebook)
    act(store, config, action="hide", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    facebook.permissions.discard(PLATFORMS[facebook.type][0])
    outcome = act(store, config, action="notice", item_id=case["item_id"], by="Jane", how="cli", clock=clock)
    assert outcome.state == "refused" and PLATFORMS[facebook.type][0] in outcome.message
    assert "refused to post the removal notice" in outcome.message
    assert not school_notices(facebook, thread_of(store, case["item_id"]))


def test_cli_tell_audience_posts_the_configured_notice_once(notice_world, store, clock, tmp_path):
    config, facebook, comment, case = notice_world
    path = write_config(tmp_path, facebook)
    with open(path, "a", encoding="utf-8") as file:
        file.write(f'[school]\nname = "Ravens Wood School"\n[replies]\nremoval_notice = {json.dumps(NOTICE)}\n')
    before = subprocess.run(cli(path, "tell-audience", str(case["item_id"])), capture_output=True, text=True, timeout=120)
    assert before.returncode == 1 and "hide or delete it first" in before.stderr
    assert subprocess.run(cli(path, "delete", str(case["item_id"]), "--by", "Jane"), capture_output=True,
                          timeout=120).returncode == 0
    for _ in range(2):
        told = subprocess.run(cli(path, "tell-audience", str(case["item_id"]), "--by", "Jane"), capture_output=True,
                              text=True, timeout=120)
        assert told.returncode == 0 and "Removal notice posted by Jane" in told.stdout, told.stderr
    [notice] = school_notices(facebook, thread_of(store, case["item_id"]))
    assert notice.get("message", notice.get("text")) == NOTICE.format(school="Ravens Wood School")
