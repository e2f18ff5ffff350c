"""Benchmark of the classifier as a school meets it (not a test): one row per kind of post.

    python benchmarks/classifier_school.py [--model default] [--half report|tune] [--show]

Reads the sets in ``classifiers/devsets`` (written for this project; ``report`` halves by default,
which nothing was tuned on) and prints, for each row, how many posts the whole classifier
(normalisation, model, profanity signal, rules) flags, and the goal. ``--show`` lists the posts
that miss their goal. The school's own contacts are configured as a school would
(``classifier.school_contacts``). The long rows are parents' letters and school newsletters of about
4,500 characters written from ``long_filler``, one per plain abusive comment, which sits in the middle;
the controls are the same letters without it; two more rows read them with their sentence
punctuation taken out (one long "sentence" each).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers import devsets  # noqa: E402


def rows(half: str) -> list[tuple[str, str, list[str], str, float]]:
    """(row, kind of goal, texts, unit, goal): "flagged" rows aim high, "clean" rows aim low."""
    return [
        ("plain abusive comments", "flagged", devsets.read("plain_abuse", half), "flagged", 0.975),
        ("disguised abusive comments", "flagged", [t for _, t in devsets.disguised(half)], "flagged", 0.95),
        ("innocent school posts with trigger words", "clean", devsets.read("innocent", half), "flagged", 0.05),
        ("neutral or positive identity statements", "clean", devsets.read("identity", half), "flagged", 0.10),
        ("counter-speech quoting abuse", "clean", devsets.read("counter_speech", half), "flagged", 0.50),
        ("veiled threats (threat rule)", "threat", devsets.read("veiled_threats", half), "threat rule", 1.0),
        ("sharp but civil complaints", "clean", devsets.read("civil_complaints", half), "flagged", 0.0),
        ("insult in the middle of a 4,500-character comment", "flagged", devsets.long_comments(half),
         "flagged", 1.0),
        ("the same long comments without the insult", "clean", devsets.long_comments(half, abusive=False),
         "flagged", 0.0),
        ("insult in the middle, no full stops or commas", "flagged",
         [unpunctuated(t) for t in devsets.long_comments(half)], "flagged", 1.0),
        ("the same without the insult, no full stops or commas", "clean",
         [unpunctuated(t) for t in devsets.long_comments(half, abusive=False)], "flagged", 0.0),
    ]


def unpunctuated(text: str) -> str:
    """``text`` as some people write: no full stops, commas or other sentence punctuation, on one line."""
    return " ".join(re.sub(r"[.,;:!?…]", " ", text).split())


def hit(kind: str, verdict) -> bool:
    return "threat" in verdict.labels if kind == "threat" else verdict.flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--half", choices=devsets.HALVES, default="report")
    parser.add_argument("--show", action="store_true", help="list the posts that miss their goal")
    args = parser.parse_args()

    from classifiers import load_classifier
    from monitor.config import ClassifierSettings

    classifier = load_classifier(ClassifierSettings(model=args.model, school_contacts=list(devsets.SCHOOL_CONTACTS)))
    print(f"model {classifier.name} {classifier.version}; sets: {args.half} halves")
    print(f"{'row':<52} {'n':>4} {'result':>8}  goal")
    for name, kind, texts, unit, goal in rows(args.half):
        verdicts = classifier.classify(texts)
        hits = [hit(kind, v) for v in verdicts]
        share = sum(hits) / len(texts)
        sign = "≤" if kind == "clean" else "≥"
        met = share <= goal if kind == "clean" else share >= goal
        print(f"{name:<52} {len(texts):>4} {share:>7.1%}  {unit} {sign} {goal:.1%} {'met' if met else 'NOT met'}")
        if name.startswith("disguised"):
            by_kind: dict[str, list[bool]] = defaultdict(list)
            for (how, _), flagged in zip(devsets.disguised(args.half), hits):
                by_kind[how].append(flagged)
            print("    " + ", ".join(f"{how} {sum(v) / len(v):.0%}" for how, v in by_kind.items()))
        if args.show:
            for text, verdict, flagged in zip(texts, verdicts, hits):
                if flagged != (kind != "clean"):
                    print(f"    miss: {text[:110]!r} score {verdict.score:.2f} {list(verdict.reasons)}")


if __name__ == "__main__":
    main()
