"""Learning from the moderator: ``monitor tune`` refits the classifier for this school.

Labelled examples of the school's own traffic come from what moderators already do:

- **not abusive**: items a moderator marked "Not abusive" (Slack button), kept in ``feedback``;
- **abusive**: items a person escalated (audit log ``escalate``: flagged or missed by the model), and
  flagged items whose case closed as ``removed`` (the comment was taken down), unless someone also
  marked them not abusive.

Every third example (by item id) is held back. On the rest, the model's output layer is refitted
when there is enough of both kinds (:data:`MIN_EACH` each), pulled towards the shipped layer so that a
few dozen examples move it a little; with less, only the decision threshold is refitted. The
figures before and after are measured on the held-back examples, and the result is kept only if it
flags no fewer of the held-back abusive examples than before. The safeguarding rules (threats,
self-harm, personal data) are not tuned: they flag what they flagged before, whatever the model says.

The result is a small JSON file beside the database (:func:`tuning_path`), read by
``classifiers.load_classifier``; deleting it returns to the shipped model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import MonitorError

logger = logging.getLogger(__name__)

#: examples of each kind needed to refit the output layer (fewer: the threshold only)
MIN_EACH = 8
#: examples in all needed to tune anything
MIN_EXAMPLES = 6
#: how strongly the refitted layer is pulled towards the shipped one
PULL = 20.0


class TuneError(MonitorError):
    """Not enough feedback, or a model that cannot be tuned."""


@dataclass
class Figures:
    """How the model's decision does on the held-back examples."""

    abusive: int = 0
    abusive_flagged: int = 0
    not_abusive: int = 0
    not_abusive_flagged: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def line(self) -> str:
        return (f"abusive flagged {self.abusive_flagged}/{self.abusive}, "
                f"not abusive flagged {self.not_abusive_flagged}/{self.not_abusive}")


@dataclass
class TuneResult:
    examples: int
    held_back: int
    refitted: str  # "layer and threshold", "threshold", or "nothing"
    before: Figures
    after: Figures
    safeguarding_hits: int
    kept: bool
    path: Path | None = None
    notes: list[str] = field(default_factory=list)


def tuning_path(database_path: Path) -> Path:
    """Where the school's tuning lives: beside its database."""
    return database_path.with_name(database_path.stem + ".tuning.json")


def feedback_examples(store) -> list[tuple[int, str, int]]:
    """(item id, text, 1 abusive / 0 not abusive) from the moderators' actions, one per item."""
    not_abusive = {row["item_id"]: row["text"] for row in store.query(
        "SELECT item_id, text FROM feedback WHERE label = 'not_abusive' AND item_id IS NOT NULL")}
    abusive = {row["id"]: row["text"] for row in store.query(
        """SELECT items.id, items.text FROM items LEFT JOIN verdicts ON verdicts.item_id = items.id
           WHERE items.id IN (SELECT item_id FROM audit_log WHERE action = 'escalate' AND item_id IS NOT NULL)
              OR (verdicts.flagged = 1 AND items.id IN (SELECT item_id FROM cases WHERE state = 'removed'))""")}
    examples = [(item, text, 0) for item, text in not_abusive.items() if text]
    examples += [(item, text, 1) for item, text in abusive.items() if text and item not in not_abusive]
    return sorted(examples)


def tune(store, model, database_path: Path, *, dry_run: bool = False) -> TuneResult:
    """Refit ``model`` (an ``OnnxModel``, without tuning) on the store's feedback; write the tuning."""
    from classifiers import rules

    examples = feedback_examples(store)
    if len(examples) < MIN_EXAMPLES:
        raise TuneError(f"only {len(examples)} moderator decisions so far; tuning needs at least {MIN_EXAMPLES} "
                        '("Not abusive" clicks, escalations, removed comments)')
    if not getattr(model, "has_features", False):
        raise TuneError("this model cannot be tuned (it has no pooled output); use the shipped model")
    held = [e for e in examples if e[0] % 3 == 0]
    fit = [e for e in examples if e[0] % 3 != 0]
    if not held or not fit:
        held, fit = examples[::3], [e for i, e in enumerate(examples) if i % 3]
    texts = [t for _, t, _ in examples]
    probabilities, features = model.score(texts, features=True)
    index = {e[0]: i for i, e in enumerate(examples)}
    fit_rows = np.array([index[e[0]] for e in fit])
    held_rows = np.array([index[e[0]] for e in held])
    y = np.array([label for _, _, label in examples])
    thresholds = {label: model.thresholds.get(label, 0.5) for label in model.labels}
    shipped = _decide(probabilities, thresholds, model.labels)
    before = _figures(shipped[held_rows], y[held_rows])

    fit_y = y[fit_rows]
    refitted, head = "threshold", None
    new_probabilities = probabilities
    if min(np.sum(fit_y == 1), np.sum(fit_y == 0)) >= MIN_EACH:
        head = _refit_layer(model, features[fit_rows], fit_y)
        new_probabilities = head.probabilities(features)
        refitted = "layer and threshold"
    new_thresholds = dict(thresholds)
    new_thresholds["offensive"] = _choose_threshold(new_probabilities[fit_rows, model.labels.index("offensive")],
                                                    fit_y, thresholds["offensive"])
    after = _figures(_decide(new_probabilities, new_thresholds, model.labels)[held_rows], y[held_rows])
    safeguarding = sum(1 for text in texts if rules.check(text))
    kept = after.abusive_flagged >= before.abusive_flagged
    result = TuneResult(examples=len(examples), held_back=len(held), refitted=refitted, before=before,
                        after=after, safeguarding_hits=safeguarding, kept=kept)
    if not kept:
        result.notes.append("the refit would flag fewer of the held-back abusive examples: not kept")
        return result
    if dry_run:
        return result
    path = tuning_path(database_path)
    document: dict[str, Any] = {
        "model": model.name, "model_version": model.version,
        "tuned_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "examples": len(examples), "held_back": len(held), "refitted": refitted,
        "thresholds": new_thresholds, "before": before.as_dict(), "after": after.as_dict(),
    }
    if head is not None:
        document["head"] = {"weight": head.weight.round(6).tolist(), "bias": head.bias.round(6).tolist()}
    path.write_text(json.dumps(document) + "\n", encoding="utf-8")
    result.path = path
    return result


def _decide(probabilities: np.ndarray, thresholds: dict[str, float], labels: list[str]) -> np.ndarray:
    columns = [labels.index(name) for name in ("offensive", "hate") if name in labels]
    return np.any([probabilities[:, c] >= thresholds[labels[c]] for c in columns], axis=0)


def _figures(flagged: np.ndarray, y: np.ndarray) -> Figures:
    return Figures(abusive=int(np.sum(y == 1)), abusive_flagged=int(np.sum(flagged & (y == 1))),
                   not_abusive=int(np.sum(y == 0)), not_abusive_flagged=int(np.sum(flagged & (y == 0))))


def _refit_layer(model, features: np.ndarray, y: np.ndarray):
    from classifiers.head import HEAD_FILE, Head, fit_logistic, load_head

    prior = load_head(model.folder / HEAD_FILE)
    weight, bias = prior.weight.copy(), prior.bias.copy()
    column = model.labels.index("offensive")
    weight[:, column], bias[column] = fit_logistic(
        features, y, l2=PULL, prior_w=prior.weight[:, column], prior_b=float(prior.bias[column]))
    if "hate" in model.labels:  # a "not abusive" item is not hateful either; abusive ones may not be hate
        column = model.labels.index("hate")
        weight[:, column], bias[column] = fit_logistic(
            features, np.zeros(len(y)), np.where(y == 0, 1.0, 0.0), l2=PULL,
            prior_w=prior.weight[:, column], prior_b=float(prior.bias[column]))
    return Head(weight, bias)


def _choose_threshold(probabilities: np.ndarray, y: np.ndarray, shipped: float) -> float:
    """The threshold that gets the most decisions right without missing an abusive example that the
    shipped threshold caught; ties go to the one nearest the shipped threshold."""
    caught = np.sum((probabilities >= shipped) & (y == 1))
    best, best_key = shipped, None
    for threshold in np.round(np.arange(0.2, 0.91, 0.01), 2):
        flagged = probabilities >= threshold
        if np.sum(flagged & (y == 1)) < caught:
            continue
        key = (int(np.sum(flagged == (y == 1))), -abs(threshold - shipped))
        if best_key is None or key > best_key:
            best, best_key = float(threshold), key
    return best


def load_tuning(path: Path) -> dict | None:
    """The tuning document at ``path``, or None when there is none (or it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.error("classifier tuning at %s cannot be read (%s); using the shipped model", path, exc)
        return None
