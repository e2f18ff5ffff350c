"""The profanity signal: disguised swear words and slurs are found, innocent words are not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import load_classifier
from classifiers.profanity import _WORDS, FLOOR, _may_hold_stem, mask, profane_words
from monitor.config import ClassifierSettings


@pytest.mark.parametrize(
    "text",
    ["what the f*ck", "fuuuuck off", "that's sh1t", "b!tch please", "you motherfucker", "utter bullshit",
     "a$$hole", "f**k this", "you absolute c*nt", "𝐟𝐮𝐜𝐤 you", "fu\u200bck off"],
)
def test_disguised_profanity_is_found(text):
    assert profane_words(text)


@pytest.mark.parametrize(
    "text",
    ["Scunthorpe United won", "shiitake mushrooms", "class of 2017", "@user thanks", "assessment week",
     "cocktail party", "Charles Dickens", "Arsenal away", "Pakistan tour", "a pricked finger", "", "😀"],
)
def test_innocent_words_are_not_profanity(text):
    assert profane_words(text) == []


@pytest.mark.parametrize(
    "text", ["Mr Davies \U0001f595", "\U0001f595\U0001f3fb to this school", "Mrs Hall \U0001f595\U0001f595"]
)
def test_the_middle_finger_emoji_is_flagged_as_profanity(text):
    classifier = load_classifier(ClassifierSettings())
    (verdict,) = classifier.classify([text])
    assert verdict.flagged and verdict.labels["profanity"] == 1.0
    assert "profanity: \U0001f595" in verdict.reasons


def test_mask_keeps_the_first_letter():
    assert mask("fuck") == "f***"


def test_profanity_lifts_offensive_and_says_why():
    classifier = load_classifier(ClassifierSettings())
    (verdict,) = classifier.classify(["the new timetable is sh1t"])
    assert verdict.labels["profanity"] == 1.0
    assert verdict.labels["offensive"] >= FLOOR
    assert verdict.flagged
    assert "profanity: s***" in verdict.reasons


@pytest.mark.parametrize(
    "text",
    ["Mr Davies is a s h i t teacher", "Mr Davies is a s.h.i.t teacher", "Mr Davies is a s-h-i-t teacher",
     "Mr Davies is a d-i-c-k"],
)
def test_spaced_letters_after_the_article_a_are_flagged(text):
    (verdict,) = load_classifier(ClassifierSettings()).classify([text])
    assert verdict.flagged


def test_quoted_words_are_left_to_the_model():
    assert profane_words('Someone called my daughter a "fat slag" on this page. It has to stop.') == []
    assert profane_words("Someone wrote \u201cstupid bitch\u201d under the photo") == []
    assert profane_words('you are a bitch, "miss"')


@pytest.mark.parametrize("text", ["Mr Hughes is a n0nce", "the governors are tossers", "what a bellend"])
def test_british_insults_are_found(text):
    assert profane_words(text)


# letters of the stems, repeated, run together or apart, with the leetspeak digits and other symbols between
_PIECES = st.sampled_from(["f", "u", "c", "k", "s", "h", "i", "t", "a", "ss", "o", "l", "b", "n", "g", "e", "r",
                           "p", "w", "y", "d", " ", "  ", "\n", "1", "0", "3", "@", "$", "-", ".", "'", "é"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_texts_passed_over_hold_no_profanity(text):
    """The quick look that passes a text over never passes over one the full patterns find a word in."""
    if not _may_hold_stem(text):
        assert not _WORDS.search(text)


@pytest.mark.parametrize("text", ["fuuuck", "bollocks", "piss\n off", "motherfucker", "niggaz", "jackass"])
def test_repeated_letters_and_breaks_still_reach_the_full_patterns(text):
    assert _may_hold_stem(text) and _WORDS.search(text)
