"""The classifier the monitor runs: a model's verdict, with the profanity signal and the
safeguarding rules on top."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence

from classifiers import normalise, profanity, rules
from classifiers.base import Classifier, Verdict
from classifiers.scoring import headline, is_flagged

logger = logging.getLogger(__name__)


class SafeguardedClassifier(Classifier):
    """Runs ``model``, then the profanity signal and the rules.

    Profanity lifts ``offensive`` to at least ``profanity.FLOOR``; a rule hit adds its label
    (score 1.0) and its reason, and flags the text whatever the scores.
    """

    def __init__(self, model: Classifier, threshold: float = 0.5, school_contacts: Sequence[str] = ()):
        self.model = model
        self.threshold = threshold
        self.contacts = rules.contact_keys(school_contacts)
        self.name = model.name
        self.version = f"{model.version}+rules.{rules.VERSION}"

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        # the model's clean-up and the rules read the same normalised text, computed once and kept in
        # normalise's cache; a larger batch goes in parts that fit it, or each text would be normalised twice
        verdicts = []
        for start in range(0, len(texts), normalise.CACHE_SIZE):
            part = texts[start : start + normalise.CACHE_SIZE]
            verdicts += [self._apply(text, verdict) for text, verdict in zip(part, self.model.classify(part))]
        return verdicts

    def _apply(self, text: str, verdict: Verdict) -> Verdict:
        try:
            reading = rules.read(text)
            words = profanity.profane_words(text, reading)
            hits = rules.check(text, reading, self.contacts)
        except Exception:  # a rule must never cost the model's verdict
            logger.exception("safeguarding rules failed on one text; keeping the model's verdict")
            words, hits = [], []
        labels = dict(verdict.labels)
        reasons = list(verdict.reasons)
        if words:
            labels["offensive"] = max(labels.get("offensive", 0.0), profanity.FLOOR)
            labels["profanity"] = 1.0
        score = headline(labels)
        flagged = is_flagged(score, self.threshold)
        if is_flagged(verdict.score, self.threshold):
            top = max(("offensive", "hate"), key=lambda name: verdict.labels.get(name, 0.0))
            reasons.append(f"model: likely {top} ({verdict.labels.get(top, 0.0):.2f})")
        if words:
            shown = ", ".join(dict.fromkeys(profanity.mask(word) for word in words[:3]))
            reasons.append(f"profanity: {shown}")
        for hit in hits:
            labels[hit.label] = 1.0
            if hit.reason not in reasons:
                reasons.append(hit.reason)
        return replace(verdict, score=score, flagged=flagged or bool(hits), labels=labels,
                       reasons=tuple(reasons), model=self.name, model_version=self.version)
