"""Classifying a stream of lines, as ``monitor classify`` does: one JSON-ready record per line."""

from __future__ import annotations

import logging
from typing import Any, BinaryIO, Iterable, Iterator

from classifiers.base import Classifier, Verdict

logger = logging.getLogger(__name__)

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


def read_lines(stream: BinaryIO, name: str = "stdin") -> Iterator[str]:
    """The lines of ``stream`` as UTF-8 text, without their ending: a line ends at "\\n" (or "\\r\\n")
    only, so a lone carriage return inside a comment stays in it. Bytes that are not UTF-8 are read as
    U+FFFD and told once, at WARNING: the line is still classified."""
    told = False
    for number, raw in enumerate(stream, start=1):  # a binary stream splits on b"\\n" alone
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.decode("utf-8", errors="replace")
            if not told:
                logger.warning("%s line %d is not valid UTF-8 (%s): its invalid bytes are read as U+FFFD; "
                               "give the texts as UTF-8", name, number, exc.reason)
                told = True
        yield line.removesuffix("\n").removesuffix("\r")


def classify_lines(classifier: Classifier, lines: Iterable[str], batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """One record per line (line endings removed), in order, classified in batches."""
    batch: list[str] = []
    for line in lines:
        batch.append(line.removesuffix("\n").removesuffix("\r"))
        if len(batch) >= batch_size:
            yield from _records(classifier, batch)
            batch = []
    if batch:
        yield from _records(classifier, batch)


def _records(classifier: Classifier, texts: list[str]) -> Iterator[dict]:
    for text, verdict in zip(texts, classifier.classify(texts)):
        yield verdict_record(text, verdict)
