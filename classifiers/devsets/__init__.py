"""Sentences written for this project to measure the classifier as a school meets it.

Each set is split in two files: ``<set>.tune.txt`` may be used to choose thresholds and settings,
``<set>.report.txt`` is only ever measured (the figures in the model card come from it). None of
these sentences is used to train the model. ``benchmarks/classifier_school.py`` prints every row.

| set | what | the goal is that it is |
| --- | --- | --- |
| ``plain_abuse`` | abusive comments about a school, its staff and pupils | flagged |
| ``disguised`` | the same comments disguised (built by :func:`disguise` from ``plain_abuse``), plus ``disguised_emoji`` | flagged |
| ``innocent`` | innocent school posts with trigger words, the school's own contacts | not flagged |
| ``identity`` | neutral or positive statements about identity groups | not flagged |
| ``counter_speech`` | quoting abuse in order to condemn it | not flagged (at most half) |
| ``veiled_threats`` | veiled threats against a named role or person | caught by the threat rule |
| ``civil_complaints`` | sharp but civil complaints | not flagged |
| ``long`` | an insult in the middle of a long letter or newsletter (built by :func:`long_comments` from ``long_filler`` and ``plain_abuse``) | flagged |
| ``long`` controls | the same long letters and newsletters without the insult | not flagged |
"""

from __future__ import annotations

import random
from pathlib import Path

from classifiers.normalise import ABUSE_WORDS

FOLDER = Path(__file__).resolve().parent
HALVES = ("tune", "report")

#: the school's own published contacts, as a school would list them in ``school_contacts``
SCHOOL_CONTACTS = ("01632 960123", "pta@ravenswood.example.sch.uk", "office@ravenswood.example.sch.uk",
                   "14 Station Road")

#: the disguises applied to each abusive comment
DISGUISES = ("asterisks", "dots", "spaced", "leetspeak", "lookalikes", "repeated", "zero_width", "caps")

_LEET = str.maketrans({"i": "1", "e": "3", "a": "4", "o": "0", "s": "$"})
_LOOKALIKE = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "i": "і"})
_TARGETS = ABUSE_WORDS | {"moron", "idiot", "scum", "scumbag", "scumbags", "pervert", "creep", "loser", "useless",
                          "pathetic", "disgusting", "vile", "freak", "slag", "cow", "witch", "hag", "vermin",
                          "clowns", "cowards", "parasites", "weasel", "thugs", "tossers", "chavs", "pig"}


def read(name: str, half: str) -> list[str]:
    lines = (FOLDER / f"{name}.{half}.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def _words_to_disguise(text: str) -> list[str]:
    words = [w.strip(".,!?\"'") for w in text.split()]
    chosen = [w for w in words if w.lower() in _TARGETS]
    return chosen or [max(words, key=len)]


def disguise(text: str, how: str) -> str:
    """``text`` with its abusive words disguised one way (see :data:`DISGUISES`)."""
    if how == "caps":
        return text.upper()
    for word in _words_to_disguise(text):
        if how == "asterisks":
            vowels = [i for i, c in enumerate(word) if c.lower() in "aeiou" and i > 0]
            index = vowels[0] if vowels else len(word) // 2
            new = word[:index] + "*" + word[index + 1 :]
        elif how == "dots":
            new = ".".join(word)
        elif how == "spaced":
            new = " ".join(word)
        elif how == "leetspeak":
            new = word[0] + word[1:].lower().translate(_LEET)
        elif how == "lookalikes":
            new = word.translate(_LOOKALIKE)
        elif how == "repeated":
            index = max(range(len(word)), key=lambda i: word[i].lower() in "aeiouy")
            new = word[:index] + word[index] * 4 + word[index:]
        elif how == "zero_width":
            new = "\u200b".join(word)
        else:
            raise ValueError(f"unknown disguise {how!r}")
        text = text.replace(word, new, 1)
    return text


def disguised(half: str) -> list[tuple[str, str]]:
    """(disguise, text) for every plain abusive comment of ``half`` and every disguise, and the
    hand-written emoji ones."""
    pairs = [(how, disguise(text, how)) for text in read("plain_abuse", half) for how in DISGUISES]
    return pairs + [("emoji", text) for text in read("disguised_emoji", half)]


def long_filler(half: str) -> dict[str, list[str]]:
    """The sections of ``long_filler.<half>.txt`` (``letter openings``, ``letter``, ``letter closings``,
    ``newsletter openings``, ``newsletter``, ``newsletter closings``): what a parent writes in a long
    letter of complaint and what a school writes in a long newsletter."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in read("long_filler", half):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is None:
            raise ValueError(f"long_filler.{half}.txt: {line!r} comes before any [section]")
        else:
            current.append(line)
    return sections


LONG_LENGTH = 4500


def long_comments(half: str, abusive: bool = True) -> list[str]:
    """One long comment (about :data:`LONG_LENGTH` characters) for each plain abusive comment of
    ``half``: a parent's letter or a school newsletter written from ``long_filler``, in paragraphs,
    with the abusive comment as a sentence in the middle (or without it, as the control). Comments
    alternate between letters and newsletters, and each draws its own opening, sentences, order
    and closing; the same ``half`` always gives the same comments."""
    sections = long_filler(half)
    return [_long_comment(sections, ("letter", "newsletter")[index % 2], random.Random(f"{half}:{index}"),
                          insult if insult[-1] in ".!?" else insult + ".", abusive)
            for index, insult in enumerate(read("plain_abuse", half))]


def _long_comment(sections: dict[str, list[str]], kind: str, rng: random.Random, insult: str,
                  abusive: bool) -> str:
    opening = rng.choice(sections[f"{kind} openings"])
    closing = rng.choice(sections[f"{kind} closings"])
    # the room is reckoned with the insult in, so the control draws the very same sentences
    room = LONG_LENGTH - len(opening) - len(closing) - len(insult) - 6
    body: list[str] = []
    for sentence in rng.sample(sections[kind], len(sections[kind])):
        if sum(len(s) + 2 for s in body) + len(sentence) > room:
            break
        body.append(sentence)
    paragraphs: list[list[str]] = []
    while sum(map(len, paragraphs)) < len(body):
        start = sum(map(len, paragraphs))
        paragraphs.append(body[start : start + rng.randint(3, 6)])
    if abusive:
        # before the middle sentence of the body, inside its paragraph
        middle, number = len(body) // 2, 0
        while middle >= len(paragraphs[number]):
            middle -= len(paragraphs[number])
            number += 1
        paragraphs[number].insert(middle, insult)
    return "\n\n".join([opening, *(" ".join(p) for p in paragraphs), closing])
