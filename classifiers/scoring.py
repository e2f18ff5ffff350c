"""Turning per-label probabilities into a verdict, the same way for every model backend."""

from __future__ import annotations

from typing import Mapping

#: the labels that make up the headline "abusive" score
ABUSE_LABELS = ("offensive", "hate")


def calibrate(probability: float, threshold: float) -> float:
    """Map a probability so that the label's own decision threshold lands on 0.5.

    Piecewise linear and monotonic: 0 stays 0, 1 stays 1. The configured ``classifier.threshold``
    (default 0.5) then means the same thing for every label and every model.
    """
    probability = min(max(float(probability), 0.0), 1.0)
    if not 0.0 < threshold < 1.0 or threshold == 0.5:
        return probability
    if probability < threshold:
        return 0.5 * probability / threshold
    return 0.5 + 0.5 * (probability - threshold) / (1.0 - threshold)


def headline(labels: Mapping[str, float]) -> float:
    """The "abusive" score: the highest of the abuse labels."""
    return max((labels.get(name, 0.0) for name in ABUSE_LABELS), default=0.0)


def is_flagged(score: float, threshold: float) -> bool:
    """At or above the threshold; a text with nothing to read (score 0) is never flagged."""
    return score > 0.0 and score >= threshold
