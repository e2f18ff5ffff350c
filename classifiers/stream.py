"""Classifying a stream of lines, as ``monitor classify`` does: one JSON-ready record per line."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from classifiers.base import Classifier, Verdict

BATCH_SIZE = 32


def verdict_record(text: str, verdict: Verdict) -> dict[str, Any]:
    """The verdict as one JSON object: ``{"text", "score", "flagged", "labels", "reasons"}``."""
    return {
        "text": text,
        "score": round(float(verdict.score), 4),
        "flagged": bool(verdict.flagged),
        "labels": {name: round(float(score), 4) for name, score in verdict.labels.items()},
        "reasons": list(verdict.reasons),
    }


def classify_lines(classifier: Classifier, lines: Iterable[str], batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """One record per line (line endings removed), in order, classified in batches."""
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\r\n"))
        if len(batch) >= batch_size:
            yield from _records(classifier, batch)
            batch = []
    if batch:
        yield from _records(classifier, batch)


def _records(classifier: Classifier, texts: list[str]) -> Iterator[dict]:
    for text, verdict in zip(texts, classifier.classify(texts)):
        yield verdict_record(text, verdict)
