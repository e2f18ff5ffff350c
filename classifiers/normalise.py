"""Undo the disguises people use to slip abuse past a filter, before the model and the rules read a post.

``normalise(text)`` returns the text as the classifier reads it; the stored item keeps the original,
which is what a moderator is shown. In order:

1. valid Unicode, NFKC (full-width and "mathematical bold" letters become plain ones);
2. emoji that stand for a weapon or violence become a word ("🔪" → "knife"), so the threat rule can
   read "see you at the gate tomorrow 🔪";
3. zero-width characters, bidi controls and other format characters removed; combining marks on Latin
   letters removed (strike-through and "zalgo" text);
4. Cyrillic and Greek look-alike letters mapped to Latin inside words that are Latin or could be
   ("fuсk" with a Cyrillic "с"), from Unicode's confusables data (``confusable_homoglyphs``);
5. single letters spaced or dotted apart joined when they spell a word ("f.u.c.k", "s h i t"),
   the reading with the most letters in abusive words winning ("is a s h i t" reads "is a shit",
   not "is ash i t"); a run that spells nothing is left alone, so "I a m" and initials are not
   mangled, and acronyms in capitals and dots ("P.S.H.E.", "S.A.T.s") stay unless they spell abuse;
6. inside a word that mixes letters with digits or symbols, leetspeak and masks resolved
   ("sh1t", "@ss", "b!tch", "f*ck", "a**hole") when the result is a known word;
7. runs of a repeated letter shortened when that gives a known word ("fuuuuck", "soooo").

A known word is one of the English vocabulary in ``words.txt`` (the whole words of the shipped
model's WordPiece vocabulary, at least three letters) or of :data:`ABUSE_WORDS`.
``normalise`` never raises on content: a step that fails leaves the text as the earlier steps made it.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import emoji
from confusable_homoglyphs import categories as homoglyph_categories
from confusable_homoglyphs import utils as homoglyph_data

from classifiers.text import to_valid_str

logger = logging.getLogger(__name__)

#: abusive words that a disguise is resolved to even where the general vocabulary lacks them
ABUSE_WORDS = frozenset("""
fuck fucking fuckin fucker fuckers fucked fucks motherfucker motherfucking fuckwit fuckface
shit shits shitty shite bullshit shithead dipshit bitch bitches bitchy cunt cunts twat twats wanker
wankers wank prick pricks dick dicks dickhead cock cocks asshole assholes arsehole arseholes arse
ass bastard bastards slag slags slut sluts whore whores bollocks piss pissed pissing retard
retards retarded faggot faggots fag fags nigger niggers nigga niggas dyke tranny spastic spaz paki
pakis chink kike idiot idiots stupid moron morons loser losers ugly fat kill killing stab stabbing
shoot shooting bomb knife gun hate scum pervert paedo pedo nonce rape rapist kys suicide die dead
""".split())

#: each abusive word with the letters it is written with
_ABUSE_SPELLINGS = [(word, frozenset(word)) for word in sorted(ABUSE_WORDS)]

#: emoji that stand for a weapon or for death, and the word the rules read for them
VIOLENT_EMOJI = {
    ":kitchen_knife:": "knife",
    ":dagger:": "knife",
    ":water_pistol:": "gun",
    ":bomb:": "bomb",
    ":axe:": "axe",
    ":crossed_swords:": "knife",
    ":drop_of_blood:": "blood",
    ":coffin:": "coffin",
    ":headstone:": "grave",
    ":skull_and_crossbones:": "death",
}

# leetspeak: each symbol and the letters it may stand for
_LEET = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "il",
         "|": "il", "+": "t", "€": "e", "£": "l"}
_MASKS = "*#"
_WORD_EDGE = "\"'“”‘’()[]{}<>,.;:?!…"
# "1st", "10am", "5k", "y7", "3pm": numbers with units are not disguises
_NUMBERISH = re.compile(r"^(?:\d+(?:st|nd|rd|th|am|pm|s|k|m|p|x|kg|km|cm|mm|ml|mph|yrs?|hrs?|mins?)|[a-z]\d+)$", re.I)
_URL_OR_EMAIL = re.compile(r"://|^www\.|^[\w.+-]+@[\w-]+\.[\w.]+$", re.I)
# a run of at least three single characters, each apart from the next by a space, a dot, a dash...
_UNIT = r"[A-Za-z0-9@$!*]"
_UNITS = re.compile(_UNIT)
# capitals each followed by a dot ("P.S.H.E.", "G.C.S.E", "S.A.T.s"): an acronym, not a disguise
_ACRONYM = re.compile(r"(?:[A-Z][ \t]*\.[ \t]*)+[A-Z]?\.?s?")
_SPACED = re.compile(rf"(?<![\w@$!*.\-]){_UNIT}(?:(?:[ \t]*[.\-_·•][ \t]*|[ \t]+){_UNIT}){{2,}}\.?(?![\w@$*])")
# a token worth a closer look: a letter beside a leetspeak or mask symbol, or a letter three times
_SYMBOLS = r"0-9@$!|+€£*#"
_DISGUISED = re.compile(rf"[a-zA-Z][{_SYMBOLS}]|(?!@user\b)[{_SYMBOLS}][a-zA-Z]|([a-zA-Z])\1\1")
_REPEAT3 = re.compile(r"([a-z])\1{2,}", re.I)
_REPEAT2 = re.compile(r"([a-z])\1+", re.I)
_SPACE = re.compile(r"[^\S\n]+")
#: texts whose normalised form is kept (``SafeguardedClassifier`` classifies a larger batch in parts this size)
CACHE_SIZE = 256
#: the longest word looked for among spaced letters
_LONGEST = 16


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    words = (Path(__file__).with_name("words.txt")).read_text(encoding="utf-8").split()
    return frozenset(words) | ABUSE_WORDS


@lru_cache(maxsize=1)
def _confusables() -> dict[int, str]:
    """Cyrillic and Greek letters that look like a Latin one, from Unicode's confusables data."""
    table: dict[int, str] = {}
    for char, glyphs in homoglyph_data.load("confusables.json").items():
        if len(char) != 1 or homoglyph_categories.alias(char) not in ("CYRILLIC", "GREEK"):
            continue
        for glyph in glyphs:
            latin = glyph["c"]
            if len(latin) == 1 and latin.isascii() and latin.isalpha():
                # the data pairs capital I-like letters with "l"; in a word they are read as "i"
                if latin == "l" and re.search(r"(?: I|IOTA|PALOCHKA)$", unicodedata.name(char, "")):
                    latin = "i"
                table[ord(char)] = latin
                break
    return table


@lru_cache(maxsize=1)
def _confusable_pattern() -> re.Pattern:
    return re.compile("[" + "".join(re.escape(chr(c)) for c in _confusables()) + "]")


def is_word(word: str) -> bool:
    return len(word) >= 3 and word.lower() in vocabulary()


def normalise(text: object) -> str:
    """The text as the classifier reads it (see the module's docstring)."""
    return _normalise(to_valid_str(text))


@lru_cache(maxsize=CACHE_SIZE)  # the model and the rules read the same batch: normalise each text once
def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for step in (_violent_emoji, _strip_invisible, _map_confusables, _join_spaced, _resolve_tokens):
        try:
            text = step(text)
        except Exception:  # a disguise left unresolved must not cost the verdict
            logger.exception("normalisation step %s failed on one text; skipping it", step.__name__)
    return text


@lru_cache(maxsize=1)
def _violent_pattern() -> tuple[re.Pattern, dict[str, str]]:
    """Every spelling of the violent emoji (with or without the emoji variation selector)."""
    words = {}
    for symbol, data in emoji.EMOJI_DATA.items():
        word = VIOLENT_EMOJI.get(data.get("en", ""))
        if word:
            words[symbol] = word
            words[symbol.replace("\ufe0f", "")] = word
    alternatives = sorted(words, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) + "\ufe0f?" for a in alternatives)), words


def violent_emoji(text: str) -> list[str]:
    """The words for the violent emoji in ``text`` ("🔪" → "knife"), in order."""
    if text.isascii():
        return []
    pattern, words = _violent_pattern()
    return [words[m.group(0).replace(chr(0xFE0F), "")] for m in pattern.finditer(text)]


def _violent_emoji(text: str) -> str:
    if text.isascii():
        return text
    pattern, words = _violent_pattern()
    return pattern.sub(lambda m: f" {words[m.group(0).replace(chr(0xFE0F), '')]} ", text)


def _strip_invisible(text: str) -> str:
    if text.isascii():
        return text
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cf", "Cs", "Co"):
            continue  # zero-width joiners and spaces, bidi controls, soft hyphens
        if category in ("Mn", "Me") and out and out[-1].isascii() and out[-1].isalpha():
            continue  # "f̶u̶c̶k̶": marks laid over Latin letters
        out.append(char)
    return "".join(out)


def _map_confusables(text: str) -> str:
    if text.isascii():
        return text
    table = _confusables()
    if not _confusable_pattern().search(text):
        return text
    tokens = text.split(" ")
    for index, token in enumerate(tokens):
        if not any(ord(c) in table for c in token):
            continue
        letters = [c for c in token if c.isalpha()]
        latin = any(c.isascii() for c in letters)
        if latin or all(ord(c) in table for c in letters):
            tokens[index] = token.translate(table)
    return " ".join(tokens)


def _join_spaced(text: str) -> str:
    return _SPACED.sub(_join_run, text)


def _join_run(match: re.Match) -> str:
    """A run of single letters as the words it spells, or as it was.

    Every way of cutting the run into known words and letters left alone is weighed, and the one
    spelling the most letters of abusive words, then of known words, wins: "is a s h i t" is "a shit"
    and not "ash i t". A reading made only of harmless words must spell at least three letters in
    words for each letter it leaves alone, "a" and "I" aside ("h a i k u" stays, not "hai k u";
    "u s e l e s s t o s s e r s" reads "useless toss e r s"), and an acronym in capitals and dots ("P.S.H.E.", "S.A.T.s",
    "K.I.S.S.") is joined only into an abusive word.
    """
    run = match.group(0)
    units = _UNITS.findall(run)
    if sum(c.isalpha() for c in units) < 2 or len(units) > 200:  # a long run is noise, not a word
        return run
    words = _best_reading(units)
    if words is None:
        return run
    abusive = any(len(w) > 1 and w in ABUSE_WORDS for w in words)
    if not abusive:
        if _ACRONYM.fullmatch(run.strip()):
            return run
        alone = sum(len(w) == 1 and w.lower() not in ("a", "i") for w in words)
        if alone * 3 > sum(len(w) for w in words if len(w) > 1):
            return run
    return " ".join(words)


def _best_reading(units: list[str]) -> list[str] | None:
    """The words and lone letters that ``units`` read as best (see ``_join_run``); None when no
    word of three letters or more is in them."""
    # best[i]: (letters in abusive words, letters in known words, -pieces) for units[:i], and its cut
    best: list[tuple[tuple[int, int, int], list[str]] | None] = [None] * (len(units) + 1)
    best[0] = ((0, 0, 0), [])
    for start in range(len(units)):
        if best[start] is None:
            continue
        (abuse, known, pieces), words = best[start]
        options = [((abuse, known, pieces - 1), words + [units[start]], start + 1)]
        if units[start].isalpha():
            for end in range(start + 3, min(len(units), start + _LONGEST) + 1):
                if not units[end - 1].isalpha():
                    continue
                word = resolve_token("".join(units[start:end]))
                if word is not None and is_word(word):
                    size = end - start
                    score = (abuse + (size if word in ABUSE_WORDS else 0), known + size, pieces - 1)
                    options.append((score, words + [word], end))
        for score, cut, end in options:
            if best[end] is None or score > best[end][0]:
                best[end] = (score, cut)
    score, words = best[len(units)]
    return words if score[1] else None


def _resolve_tokens(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for hint in _DISGUISED.finditer(text):
        if hint.start() < done:
            continue  # inside a token already looked at
        start = max(text.rfind(" ", 0, hint.start()), text.rfind("\n", 0, hint.start())) + 1
        end = len(text)
        for space in (" ", "\n", "\t"):
            found = text.find(space, hint.end())
            if found != -1:
                end = min(end, found)
        pieces += [text[done:start], _resolve_word(text[start:end])]
        done = end
    return "".join(pieces) + text[done:] if pieces else text


def _resolve_word(token: str) -> str:
    core_start = len(token) - len(token.lstrip(_WORD_EDGE.replace("!", "")))
    core_end = len(token.rstrip(_WORD_EDGE))
    core = token[core_start:core_end]
    if len(core) < 3 or not any(c.isalpha() for c in core):
        return token
    resolved = resolve_token(core)
    if resolved is None or resolved == core.lower():
        return token
    return token[:core_start] + resolved + token[core_end:]


@lru_cache(maxsize=8192)
def resolve_token(token: str) -> str | None:
    """The known word a disguised token stands for (lower case), or None when there is none.

    A plain known word resolves to itself; a token with nothing to resolve returns None.
    """
    lowered = token.lower()
    if lowered.isalpha():
        if lowered in vocabulary() or not _REPEAT3.search(lowered):
            return lowered if lowered in vocabulary() else None
        return _shorten(lowered)
    if _URL_OR_EMAIL.search(lowered) or _NUMBERISH.match(lowered):
        return None
    if any(c.isdigit() and c not in _LEET for c in lowered):
        return None  # "covid19", "gr8": digits that are not letters
    letters = sum(c.isalpha() for c in lowered)
    if any(c in _MASKS for c in lowered):
        return _unmask(lowered) if letters >= 1 else None
    if letters < 2 or not any(c in _LEET for c in lowered):
        return None
    if not all(c.isalpha() or c in _LEET or c in "'-" for c in lowered):
        return None
    mention = lowered.startswith("@")
    for candidate in _leet_readings(lowered.replace("'", "").replace("-", "")):
        word = candidate if candidate in vocabulary() else _shorten(candidate)
        if word and (word in ABUSE_WORDS or (not mention and is_word(word))):
            return word
    return None


def _shorten(word: str) -> str | None:
    """"fuuuuck" → "fuck", "sooooo" → "so", "goood" → "good": the first known word, or None."""
    for pattern, replacement in ((_REPEAT3, r"\1\1"), (_REPEAT2, r"\1"), (_REPEAT3, r"\1")):
        shorter = pattern.sub(replacement, word)
        if shorter in vocabulary():
            return shorter
    return None


def _leet_readings(token: str, limit: int = 32):
    options = [_LEET.get(c, c) if not c.isalpha() else c for c in token]
    for count, letters in enumerate(itertools.product(*options)):
        if count >= limit:
            return
        yield "".join(letters)


@lru_cache(maxsize=4096)
def _unmask(token: str) -> str | None:
    """"f*ck" → "fuck", "a**hole" → "asshole", "f***" → "fuck": an abusive word that fits the mask."""
    pattern = ""
    shortest = longest = 0
    for symbol, group in itertools.groupby(token):
        size = len(list(group))
        if symbol in _MASKS:
            pattern += f"[a-z]{{1,{size + 1}}}"
            shortest, longest = shortest + 1, longest + size + 1
        elif symbol in _LEET:
            pattern += f"[{re.escape(_LEET[symbol])}]" * size
            shortest, longest = shortest + size, longest + size
        elif symbol.isalpha():
            pattern += re.escape(symbol) * size
            shortest, longest = shortest + size, longest + size
        else:
            return None
    # only words of a length the mask allows, holding all its letters, are worth compiling it for
    # (a hashtag, "#" being a mask, rarely is one: compiling a pattern per hashtag was most of the cost)
    letters = {c for c in token if c.isalpha()}
    candidates = [word for word, spelt in _ABUSE_SPELLINGS if shortest <= len(word) <= longest and letters <= spelt]
    if not candidates:
        return None
    compiled = re.compile(pattern)
    matches = sorted((w for w in candidates if compiled.fullmatch(w)), key=lambda w: (abs(len(w) - len(token)), w))
    return matches[0] if matches else None


def squeeze(text: str) -> str:
    """Runs of spaces made by the steps above, as one space (line breaks kept)."""
    return _SPACE.sub(" ", text).strip()
