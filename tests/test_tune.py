"""``monitor tune``: the classifier learns this school's own traffic from what moderators did."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from classifiers.loader import DEFAULT_MODEL
from monitor.actions.slack import Click, SlackActions
from monitor.app.assembly import build_pipeline
from monitor.demo.fakes import fake_platform
from monitor.tune import feedback_examples, tuning_path
from tests.conftest import make_config

# school news, half of which the shipped model flags (stage villains and sporting slang: words of abuse
# said of a part or a match), and abuse that it flags rightly
INNOCENT = [
    "The staff panto villain was absolutely evil, booed off stage",
    "Mr Shah played the wicked stepmother and was properly vile, brilliant",
    "The panto dame was ugly as sin and twice as loud, what a night",
    "The headteacher dressed as a troll for World Book Day, terrifying",
    "That goal from the Year 9 striker was filthy, what a finish",
    "Our rugby girls are savages on the pitch, unbeaten this season",
    "The Year 8 play has the creepiest villain you've ever seen",
    "The drama club's evil queen got the loudest boos of the night",
    "The Year 8 boys slaughtered the staff at dodgeball",
    "Year 10 media are shooting their thriller in the woods behind the sports hall",
    "The under 15s battered Oakfield 6-0, brutal stuff",
    "Mr Shah's leaving do was savage, he roasted every single one of us",
    "Our drama kids murdered the final number at the showcase",
    "Spooky week: the art room is full of fake blood and zombie masks",
    "Year 11 ripped the mock exams to shreds, so proud",
    "Debate club tore the opposition to pieces on the death penalty motion",
    "Knife crime assembly with the police this morning",
    "Our Year 6 war poets made everyone cry",
]
ABUSIVE = [
    "the head is a useless lying cow",
    "Mr Shah is a thick ugly prat",
    "that PE teacher is a disgusting creep",
    "what a bunch of brainless muppets run this place",
    "the receptionist is a stupid miserable witch",
    "your teachers are worthless lazy scum",
    "the deputy head is a pathetic little weasel",
    "this school is a rubbish tip full of idiots",
    "the new maths teacher is a clueless moron",
    "whoever runs this page is a dumb loser",
    "the governors are greedy useless parasites",
    "the head of year 8 is a nasty spiteful hag",
]


# school news the shipped model leaves alone: with the abuse above, nothing for tuning to improve
PLAIN = [
    "Parents evening for Year 9 is on Thursday from 4pm in the main hall",
    "The school will be closed on Monday for staff training",
    "Thank you to everyone who came to the Christmas fair, we raised over 900 pounds",
    "Year 7 trip to the Science Museum letters went home today",
    "Reminder: PE kit is needed on Tuesdays and Thursdays",
    "Well done to our chess team for reaching the county final",
    "The library is open at lunchtime for Year 10 revision",
    "Lost property will be on display in reception until Friday",
    "Our new canteen menu starts after half term, with more vegetarian options",
    "Congratulations to Mrs Green on her retirement after 30 years at the school",
    "Please remember to label your child's uniform",
    "The Year 11 mock exam timetable is now on the website",
    "Applications for the school council close next Wednesday",
    "The choir sang beautifully at the care home this afternoon",
    "Swimming lessons for Year 5 start next week, bring a towel",
]


def grade(tmp_path, store, clock, not_abusive: list[str], abusive: list[str]):
    """The comments polled from a Facebook page and classified by the shipped model; the moderator
    clicked "Not abusive" on ``not_abusive`` and "Escalate" on ``abusive`` in Slack."""
    with fake_platform("facebook")() as facebook:
        config = make_config(tmp_path, sources=[{**facebook.source_config("facebook-page"), "official": True}],
                             notify={"slack": {"token": "xoxb-1", "app_token": "xapp-1", "channel": "C1",
                                               "base_url": "http://127.0.0.1:9/"}})
        for minute, text in enumerate(not_abusive + abusive):
            facebook.add_comment(text, author="Parent", at=clock() - timedelta(minutes=200 - minute))
        assert build_pipeline(config, store, clock=clock).poll("facebook-page").ok
    actions = SlackActions(config, store, notifier=None, clock=clock)
    rows = store.query("SELECT items.id, items.text, verdicts.flagged FROM items JOIN verdicts ON item_id = items.id")
    for row in rows:
        click = Click(action_id="", user_id="U1", name="Ms Moderator", item_id=row["id"], case_id=None,
                      channel="C1", ts="1.0")
        if row["text"] in not_abusive:
            actions.not_abusive(click)
        elif row["text"] in abusive:
            actions.escalate(click)
    (tmp_path / "monitor.toml").write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n', encoding="utf-8")
    return config, rows


@pytest.fixture
def graded(tmp_path, store, clock):
    """A week of comments; the moderator marked the school news "Not abusive" and escalated the abuse."""
    return grade(tmp_path, store, clock, INNOCENT, ABUSIVE)


def run_cli(tmp_path, *args, stdin: str = ""):
    return subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(tmp_path / "monitor.toml"), *args],
                          input=stdin, capture_output=True, text=True, timeout=300)


def test_moderator_decisions_are_the_examples(graded, store):
    examples = feedback_examples(store)
    assert {text for _, text, label in examples if label == 0} == set(INNOCENT)
    # escalated abuse counts whether the model flagged it or missed it
    assert {text for _, text, label in examples if label == 1} == set(ABUSIVE)


def flagged(tmp_path, texts) -> list[bool]:
    done = run_cli(tmp_path, "classify", stdin="\n".join(texts) + "\n")
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["flagged"] for line in done.stdout.splitlines()]


def test_tune_refits_for_this_school_and_classify_uses_it(graded, tmp_path):
    config, _ = graded
    news_before, abuse_before = sum(flagged(tmp_path, INNOCENT)), sum(flagged(tmp_path, ABUSIVE))
    assert news_before >= 5, "the shipped model should flag some of this school's news for tuning to fix"
    done = run_cli(tmp_path, "tune", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kept"] and result["refitted"] == "layer and threshold"
    before, after = result["before"], result["after"]
    assert after["abusive_flagged"] >= before["abusive_flagged"]
    assert after["not_abusive_flagged"] <= before["not_abusive_flagged"]
    assert tuning_path(config.database_path).is_file()
    # this school's kind of news is flagged less, its abuse no less
    assert sum(flagged(tmp_path, INNOCENT)) < news_before
    assert sum(flagged(tmp_path, ABUSIVE)) >= abuse_before

    texts = ["The Year 7 girls battered the staff at netball", "the head is a useless idiot",
             "I'm going to stab the head teacher tomorrow", "ring me on 07700 900123"]
    classified = run_cli(tmp_path, "classify", stdin="\n".join(texts) + "\n")
    records = [json.loads(line) for line in classified.stdout.splitlines()]
    assert [r["flagged"] for r in records] == [False, True, True, True]
    assert "threat" in records[2]["labels"] and "personal_data" in records[3]["labels"]


def test_tune_prints_before_and_after(graded, tmp_path):
    done = run_cli(tmp_path, "tune", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "before (held back): abusive flagged" in done.stdout
    assert "after  (held back): abusive flagged" in done.stdout
    assert "safeguarding rules: unchanged" in done.stdout
    assert not tuning_path(graded[0].database_path).exists()


def test_too_little_feedback_is_a_clear_error(tmp_path):
    (tmp_path / "monitor.toml").write_text(f'[storage]\npath = "{tmp_path / "monitor.db"}"\n', encoding="utf-8")
    done = run_cli(tmp_path, "tune")
    assert done.returncode == 1
    assert "tuning needs at least" in done.stderr


def test_a_tuning_for_another_model_version_is_ignored(graded, tmp_path, caplog):
    from classifiers import load_classifier
    from monitor.config import ClassifierSettings

    config, _ = graded
    path = tuning_path(config.database_path)
    path.write_text(json.dumps({"model": "other", "model_version": "0", "thresholds": {"offensive": 0.99}}))
    classifier = load_classifier(ClassifierSettings(), tuning=path)
    assert "tuned" not in classifier.version
    assert "run monitor tune again" in caplog.text


def assert_refused(tmp_path, config, *expected: str) -> None:
    for args in (("tune",), ("tune", "--dry-run"), ("tune", "--json")):
        done = run_cli(tmp_path, *args)
        assert done.returncode == 1, done.stdout
        assert "tuning needs at least 12 moderator decisions of each kind" in done.stderr
        assert "Nothing was changed" in done.stderr
        for text in expected:
            assert text in done.stderr
        assert done.stdout == ""
    assert not tuning_path(config.database_path).exists()


def test_only_not_abusive_clicks_are_refused(tmp_path, store, clock):
    # a refit on "Not abusive" clicks alone learns to flag nothing: it once raised the threshold to 0.85
    config, _ = grade(tmp_path, store, clock, INNOCENT + PLAIN, [])
    assert_refused(tmp_path, config, "so far 0 abusive and 33 not abusive")


def test_only_escalations_are_refused(tmp_path, store, clock):
    # a refit on abuse alone learns to flag everything: it once lowered the threshold to 0.33
    config, _ = grade(tmp_path, store, clock, [], ABUSIVE + ["the caretaker is a filthy pig",
                                                             "Miss Jones is a vile ugly hag"])
    assert_refused(tmp_path, config, "so far 14 abusive and 0 not abusive")


def test_too_few_of_one_kind_is_refused(tmp_path, store, clock):
    config, _ = grade(tmp_path, store, clock, INNOCENT, ABUSIVE[:5])
    assert_refused(tmp_path, config, "so far 5 abusive and 18 not abusive")


def test_a_refit_with_no_measured_benefit_is_not_kept(tmp_path, store, clock):
    # the shipped model already flags every escalated insult and none of this news
    config, _ = grade(tmp_path, store, clock, PLAIN, ABUSIVE)
    done = run_cli(tmp_path, "tune", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["before"] == {"abusive": 4, "abusive_flagged": 4, "not_abusive": 5, "not_abusive_flagged": 0}
    assert not result["kept"] and result["path"] is None
    assert result["notes"] == ["not kept: it does no better on the held-back examples"]
    assert not tuning_path(config.database_path).exists()
    text = run_cli(tmp_path, "tune")
    assert "not kept: it does no better on the held-back examples" in text.stdout
    assert not tuning_path(config.database_path).exists()


def test_a_kept_tuning_moves_the_threshold_a_little(graded, tmp_path):
    from monitor.tune import MAX_SHIFT

    done = run_cli(tmp_path, "tune", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kept"]
    written = json.loads(tuning_path(graded[0].database_path).read_text(encoding="utf-8"))
    shipped = json.loads((DEFAULT_MODEL / "model.json").read_text(encoding="utf-8"))["thresholds"]
    assert abs(written["thresholds"]["offensive"] - shipped["offensive"]) <= MAX_SHIFT + 1e-9
    assert written["thresholds"]["hate"] == shipped["hate"]


def test_the_threshold_never_moves_far_from_the_shipped_one():
    import numpy as np

    from monitor.tune import MAX_SHIFT, _choose_threshold

    # on this school's examples alone the best cut is 0.81 (all its news under it, its abuse over it)
    probabilities = np.array([0.55] * 5 + [0.8] * 5 + [0.95] * 10)
    y = np.array([0] * 10 + [1] * 10)
    assert _choose_threshold(probabilities, y, 0.5) == pytest.approx(0.56)  # what 0.6 and under can do
    # and here 0.21: the threshold follows this school's abuse down no further than 0.4
    probabilities = np.array([0.05] * 10 + [0.45] * 5 + [0.21] * 5)
    assert _choose_threshold(probabilities, y, 0.5) == pytest.approx(0.45)
    probabilities = np.array([0.05] * 10 + [0.21] * 10)
    assert _choose_threshold(probabilities, y, 0.5) >= 0.5 - MAX_SHIFT


def test_the_help_and_the_readme_state_the_tuning_limits_the_code_uses():
    from pathlib import Path

    from monitor.cli import cli
    from monitor.tune import MAX_SHIFT, MIN_EACH_KIND

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for text in (" ".join(cli.commands["tune"].help.split()), readme):
        assert f"at least {MIN_EACH_KIND} " in text
        assert f"at most {MAX_SHIFT} " in text
