"""The classifier interface and the ``Verdict`` record.

A classifier scores a batch of texts::

    verdicts = classifier.classify(["text", ...])   # one Verdict per text, same order

It accepts any text (empty, emoji only, control characters, right-to-left scripts, 100 KB long)
and always returns a verdict: it never raises on content.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Mapping, Sequence


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What a classifier concluded about one text.

    ``score`` (0..1) is the headline "abusive" score; ``labels`` maps label names (at least
    ``offensive`` and ``hate``) to scores; ``reasons`` are human-readable, for the moderator.

    Label names are stable (alerts are headed by them): ``offensive`` and ``hate`` from the model,
    ``profanity`` (1.0) from the profanity signal, and ``threat``, ``self_harm``, ``personal_data``
    (1.0) from the safeguarding rules (``classifiers.rules``). A label that did not fire is absent,
    except ``offensive`` and ``hate``, which are always there.
    """

    score: float
    flagged: bool
    labels: Mapping[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    model: str = ""
    model_version: str = ""


class Classifier(ABC):
    """Scores batches of texts. Implementations set ``name`` and ``version``."""

    name: str = ""
    version: str = ""

    @abstractmethod
    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text, in order. Never raises on the content of a text."""


class NullClassifier(Classifier):
    """Flags nothing. Used where no classifier is configured (and in tests that don't need one)."""

    name = "none"
    version = "0"

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        return [
            Verdict(score=0.0, flagged=False, labels={}, model=self.name, model_version=self.version)
            for _ in texts
        ]
