"""The classifier the monitor runs: a model's verdict, with the safeguarding rules on top."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence

from classifiers import rules
from classifiers.base import Classifier, Verdict

logger = logging.getLogger(__name__)


class SafeguardedClassifier(Classifier):
    """Runs ``model`` and the rules; a rule hit adds its label (score 1.0) and reason, and flags."""

    def __init__(self, model: Classifier):
        self.model = model
        self.name = model.name
        self.version = f"{model.version}+rules.{rules.VERSION}"

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        verdicts = self.model.classify(texts)
        return [self._apply_rules(text, verdict) for text, verdict in zip(texts, verdicts)]

    def _apply_rules(self, text: str, verdict: Verdict) -> Verdict:
        try:
            hits = rules.check(text)
        except Exception:  # a rule must never cost the model's verdict
            logger.exception("safeguarding rules failed on one text; keeping the model's verdict")
            hits = []
        reasons = list(verdict.reasons)
        if verdict.flagged:
            reasons.append(_model_reason(verdict))
        labels = dict(verdict.labels)
        for hit in hits:
            labels[hit.label] = 1.0
            if hit.reason not in reasons:
                reasons.append(hit.reason)
        return replace(verdict, flagged=verdict.flagged or bool(hits), labels=labels,
                       reasons=tuple(reasons), model=self.name, model_version=self.version)


def _model_reason(verdict: Verdict) -> str:
    label, score = max(verdict.labels.items(), key=lambda item: item[1], default=("abusive", verdict.score))
    return f"model: likely {label} ({score:.2f})"
