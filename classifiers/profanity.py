"""A profanity and slur signal that survives the usual disguises ("f*ck", "sh1t", "fuuuck", "b!tch"),
and the rude gesture written as an emoji ("Mr Davies 🖕").

Words inside double quotation marks are not counted: a post that quotes abuse is usually reporting or
condemning it (counter-speech), and the model, which reads the whole post, decides.

The model learnt offensiveness from one data set's annotation; swear words and slurs are offensive
in any data set, so a hit lifts the ``offensive`` score to at least ``FLOOR`` (calibrated, so the
text is flagged at the default threshold). Words with innocent senses (ass, cock, dick, hoe, damn)
are left to the model.
"""

from __future__ import annotations

import re

from classifiers.rules import read

#: the offensive score a profane text gets at least (0.5 is the default flagging threshold)
FLOOR = 0.6

_LEET = str.maketrans({"1": "i", "!": "i", "|": "i", "3": "e", "4": "a", "@": "a", "$": "s", "5": "s",
                       "0": "o", "7": "t", "€": "e", "£": "l"})

# (stem, may take a prefix as in "motherfucker"/"bullshit", may take a suffix)
_STEMS = [
    ("fuck", True, True), ("fuk", True, True), ("fck", True, True), ("phuck", True, True),
    ("shit", True, True), ("cunt", False, True), ("bitch", True, True), ("biatch", False, True),
    ("bastard", False, True), ("dickhead", False, True), ("wank", False, True), ("twat", False, True),
    ("prick", False, False), ("asshole", False, True), ("arsehole", False, True), ("arse", False, False),
    ("slut", False, True), ("whore", False, True), ("bollocks", False, False), ("retard", False, True),
    ("faggot", False, True), ("nigger", False, True),
    ("nigga", False, True), ("dyke", False, True), ("tranny", False, False), ("spastic", False, False),
    ("spaz", False, False), ("paki", False, True), ("chink", False, True), ("kike", False, True),
    ("cocksucker", False, True), ("pussy", False, False), ("douche", False, True), ("dumbass", False, True),
    ("jackass", False, False), ("motherfucker", False, True), ("piss off", False, False),
    ("stfu", False, False), ("gtfo", False, False), ("wtf", False, False),
    # British insults: "nonce" (a sex offender) is said of teachers to do them harm
    ("nonce", False, True), ("tosser", False, True), ("bellend", False, True),
]
_STARRED = re.compile(
    r"\b(?:f[*#]+(?:c?k|ck\w*|k\w*)|f[*#]+|sh[*#]+t\w*|b[*#]+tch\w*|c[*#]+nt\w*|a[*#]+hole|"
    r"a[*#]{2}|tw[*#]t|wh[*#]re)(?![*#\w])",
)


def _pattern(stem: str, prefix: bool, suffix: bool) -> str:
    letters = "".join(f"{re.escape(c)}+" if c != " " else r"\s+" for c in stem)
    return (r"\b" if not prefix else r"\b[a-z]{0,8}") + letters + (r"[a-z]*\b" if suffix else r"\b")


_WORDS = re.compile("|".join(_pattern(*stem) for stem in _STEMS))
# ``_WORDS`` tries every stem, with up to 8 letters of prefix, at every word start: most of the signal's
# time on a tweet. A stem it matches ("f+u+c+k+") is in the text once runs of a letter are one letter and
# spaces are gone ("fuuuck" -> "fuck"), so a text holding none of the stems so squeezed is passed over.
_RUN = re.compile(r"([a-z])\1+")
_NOT_LETTER = re.compile(r"[^a-z]+")
_SQUEEZED_STEMS = tuple(dict.fromkeys(_RUN.sub(r"\1", stem.replace(" ", "")) for stem, _, _ in _STEMS))
# Innocent words that the stems above would otherwise catch.
_ALLOWED = {"shitake", "shiitake", "pricked", "prickly", "pricks", "pakistan", "pakistani", "pakistanis",
            "scunthorpe", "arsenal", "arsenic", "dykes", "cocksure", "fagin", "spastics"}


#: the middle finger emoji: said to a person, as rude as the word it stands for
GESTURE = "\U0001f595"

_QUOTED = re.compile(r'"[^"\n]{1,80}"|“[^”\n]{1,80}”')


def profane_words(text: object, reading: str | None = None) -> list[str]:
    """The profane words in a text, as read after normalisation, in order (empty if none).

    ``reading`` is ``rules.read(text)`` when the caller already has it.
    """
    # words in double quotes are reported speech ("someone called her a \"slag\""): left to the model
    prepared = _QUOTED.sub(" ", (read(text) if reading is None else reading).lower())
    found = [m.group(0) for m in _STARRED.finditer(prepared)]
    if GESTURE in prepared:
        found.append(GESTURE)
    folded = prepared.translate(_LEET)
    if _may_hold_stem(folded):
        found += [m.group(0) for m in _WORDS.finditer(folded) if m.group(0) not in _ALLOWED]
    return found


def _may_hold_stem(folded: str) -> bool:
    squeezed = _RUN.sub(r"\1", _NOT_LETTER.sub("", folded))
    return any(stem in squeezed for stem in _SQUEEZED_STEMS)


def mask(word: str) -> str:
    """"fuck" -> "f***": enough for a moderator to know what was said."""
    return word[:1] + "*" * (len(word) - 1)
