"""The school dev sets: long comments read as one letter or newsletter, with the insult in the middle."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from classifiers import devsets


def _insults(half: str) -> list[str]:
    return [t if t[-1] in ".!?" else t + "." for t in devsets.read("plain_abuse", half)]


@pytest.mark.parametrize("half", devsets.HALVES)
def test_every_long_comment_is_about_4500_characters_with_its_insult_in_the_middle(half):
    texts = devsets.long_comments(half)
    assert len(texts) == len(_insults(half))
    for text, insult in zip(texts, _insults(half)):
        assert 4000 <= len(text) <= 4600
        assert text.count(insult) == 1
        assert 0.35 < text.index(insult) / len(text) < 0.65


@pytest.mark.parametrize("half", devsets.HALVES)
def test_each_control_is_its_long_comment_without_the_insult(half):
    for text, control, insult in zip(devsets.long_comments(half), devsets.long_comments(half, abusive=False),
                                     _insults(half)):
        assert insult not in control
        assert text.replace(insult + " ", "", 1) == control


@pytest.mark.parametrize("half", devsets.HALVES)
def test_long_comments_vary_and_repeat_no_sentence(half):
    controls = devsets.long_comments(half, abusive=False)
    sections = devsets.long_filler(half)
    body = sections["letter"] + sections["newsletter"]
    assert len(body) >= 40
    assert len(set(controls)) == len(controls)
    for sentence in body:
        containing = [text for text in controls if sentence in text]
        assert len(containing) < len(controls) / 2, sentence
        assert all(text.count(sentence) == 1 for text in containing), sentence
    for text in controls:
        assert text.split("\n\n")[0] in sections["letter openings"] + sections["newsletter openings"]
        assert text.split("\n\n")[-1] in sections["letter closings"] + sections["newsletter closings"]


def test_long_comments_are_the_same_in_every_run():
    code = "from classifiers import devsets; print(repr(devsets.long_comments('tune')))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == repr(devsets.long_comments("tune"))
