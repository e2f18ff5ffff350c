"""Learning from the moderator: ``monitor tune`` refits the classifier for this school.

Labelled examples of the school's own traffic come from what moderators already do:

- **not abusive**: items a moderator marked "Not abusive" (Slack button), kept in ``feedback``;
- **abusive**: items a person escalated (audit log ``escalate``: flagged or missed by the model), and
  flagged items whose case closed as ``removed`` (the comment was taken down), unless someone also
  marked them not abusive.

Every third example of each kind (by item id) is held back to measure; the output layer is refitted
on the rest, pulled towards the shipped layer so that a few dozen examples move it a little, and the
decision threshold is chosen on the rest too, no further than :data:`MAX_SHIFT` from the shipped one.
Tuning is refused unless there are at least :data:`MIN_EACH_KIND` examples of each kind: a refit that
has seen only "Not abusive" examples learns to flag nothing, and one with only abusive examples
learns to flag everything, and neither can be measured on the held-back part.

The figures before and after are measured on the held-back examples, and the result is kept only if
it is better there: no fewer of the held-back abusive examples flagged, no more of the not abusive
ones, and at least one of the two improved. The safeguarding rules (threats, self-harm, personal
data) are not tuned: they flag what they flagged before, whatever the model says.

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

#: examples of each kind (abusive, not abusive) needed to tune: a third of them (4) are held back to
#: measure, which tells a lost abusive example from none; the other two thirds (8) are fitted on
MIN_EACH_KIND = 12
#: how far the tuned decision threshold may move from the shipped one. Measured on TweetEval validation
#: (offensive, shipped threshold 0.5: macro-F1 0.782, recall 0.71): between 0.4 and 0.6 macro-F1 stays
#: at 0.77 or more and recall at 0.65 or more; at 0.85, where a school's "Not abusive" clicks alone
#: once moved it, macro-F1 is 0.71 and recall 0.43. A few dozen posts of one school are not enough
#: evidence to go further from a threshold chosen on thousands
MAX_SHIFT = 0.1
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

    def better_than(self, other: "Figures") -> bool:
        """No abusive example fewer flagged, no not abusive one more, and one of the two improved."""
        return (self.abusive_flagged >= other.abusive_flagged and self.not_abusive_flagged <= other.not_abusive_flagged
                and (self.abusive_flagged, self.not_abusive_flagged) != (other.abusive_flagged, other.not_abusive_flagged))

    def line(self) -> str:
        return (f"abusive flagged {self.abusive_flagged}/{self.abusive}, "
                f"not abusive flagged {self.not_abusive_flagged}/{self.not_abusive}")


@dataclass
class TuneResult:
    examples: int
    held_back: int
    refitted: str  # "layer and threshold"
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
    """Refit ``model`` (an ``OnnxModel``, without tuning) on the store's feedback; write the tuning
    only if it measures better on the held-back examples. TuneError when there is too little feedback."""
    from classifiers import rules

    examples = feedback_examples(store)
    fit, held = split_examples(examples)
    if not getattr(model, "has_features", False):
        raise TuneError("this model cannot be tuned (it has no pooled output); use the shipped model")
    texts = [t for _, t, _ in examples]
    probabilities, features = model.score(texts, features=True)
    index = {e[0]: i for i, e in enumerate(examples)}
    fit_rows = np.array([index[e[0]] for e in fit])
    held_rows = np.array([index[e[0]] for e in held])
    y = np.array([label for _, _, label in examples])
    thresholds = {label: model.thresholds.get(label, 0.5) for label in model.labels}
    before = _figures(_decide(probabilities, thresholds, model.labels)[held_rows], y[held_rows])

    fit_y = y[fit_rows]
    head = _refit_layer(model, features[fit_rows], fit_y)
    new_probabilities = head.probabilities(features)
    new_thresholds = dict(thresholds)
    new_thresholds["offensive"] = _choose_threshold(new_probabilities[fit_rows, model.labels.index("offensive")],
                                                    fit_y, thresholds["offensive"])
    after = _figures(_decide(new_probabilities, new_thresholds, model.labels)[held_rows], y[held_rows])
    safeguarding = sum(1 for text in texts if rules.check(text))
    result = TuneResult(examples=len(examples), held_back=len(held), refitted="layer and threshold",
                        before=before, after=after, safeguarding_hits=safeguarding, kept=after.better_than(before))
    if not result.kept:
        result.notes.append(_not_kept(before, after, tuning_path(database_path)))
        return result
    if dry_run:
        return result
    path = tuning_path(database_path)
    document: dict[str, Any] = {
        "model": model.name, "model_version": model.version,
        "tuned_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "examples": len(examples), "held_back": len(held), "refitted": result.refitted,
        "thresholds": new_thresholds, "before": before.as_dict(), "after": after.as_dict(),
        "head": {"weight": head.weight.round(6).tolist(), "bias": head.bias.round(6).tolist()},
    }
    path.write_text(json.dumps(document, allow_nan=False) + "\n", encoding="utf-8")
    result.path = path
    return result


def split_examples(examples: list[tuple[int, str, int]]) -> tuple[list, list]:
    """(fitted on, held back): every third example of each kind, by item id, is held back.
    TuneError unless there are :data:`MIN_EACH_KIND` of each kind."""
    kinds = {label: [e for e in examples if e[2] == label] for label in (1, 0)}
    if min(len(found) for found in kinds.values()) < MIN_EACH_KIND:
        raise TuneError(
            f"tuning needs at least {MIN_EACH_KIND} moderator decisions of each kind, abusive (escalated, or "
            f'removed after an alert) and "Not abusive" clicks, so that a third of each can be held back to '
            f"measure the change; so far {len(kinds[1])} abusive and {len(kinds[0])} not abusive. Nothing was "
            "changed: the model stays as it is")
    held = [e for found in kinds.values() for i, e in enumerate(found) if i % 3 == 2]
    fit = [e for found in kinds.values() for i, e in enumerate(found) if i % 3 != 2]
    return sorted(fit), sorted(held)


def _not_kept(before: Figures, after: Figures, path: Path) -> str:
    if after.abusive_flagged < before.abusive_flagged:
        why = "it would flag fewer of the held-back abusive examples"
    elif after.not_abusive_flagged > before.not_abusive_flagged:
        why = 'it would flag more of the held-back "Not abusive" examples'
    else:
        why = "it does no better on the held-back examples"
    where = (f"; the earlier tuning at {path} is still used (delete it to return to the shipped model)"
             if path.exists() else "")
    return f"not kept: {why}{where}"


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
    """The threshold within :data:`MAX_SHIFT` of the shipped one that gets the most decisions right
    without missing an abusive example that the shipped threshold caught; ties go to the one nearest
    the shipped threshold."""
    caught = np.sum((probabilities >= shipped) & (y == 1))
    best, best_key = shipped, None
    low, high = max(0.01, shipped - MAX_SHIFT), min(0.99, shipped + MAX_SHIFT)
    for threshold in np.round(np.arange(low, high + 1e-9, 0.01), 2):
        flagged = probabilities >= threshold
        if np.sum(flagged & (y == 1)) < caught:
            continue
        key = (int(np.sum(flagged == (y == 1))), -abs(threshold - shipped))
        if best_key is None or key > best_key:
            best, best_key = float(threshold), key
    return best


class TuningInvalid(MonitorError):
    """A tuning file that cannot be used: the model is used without it."""

    def __init__(self, path: Path, what: str):
        super().__init__(f"classifier tuning {path} cannot be used ({what}); the model is used without it: "
                         "delete the file, or run `monitor tune` again")


class TuningDenied(TuningInvalid):
    """A tuning file this user may not read (a command run as another user than the service's)."""


class TuningStale(MonitorError):
    """A tuning file made for another model or version: the model is used without it."""


@dataclass(frozen=True)
class Tuning:
    """A school's tuning, checked against the model it is for."""

    thresholds: dict[str, float]
    head: Any  # a classifiers.head.Head, or None: the model's own layer with these thresholds
    tuned_at: str


def read_tuning(path: Path, model) -> Tuning | None:
    """The tuning at ``path`` for ``model`` (shipped, untuned), or None when there is no file.

    TuningInvalid if it cannot be read or is not what :func:`tune` writes for this model: a JSON
    object, thresholds for the model's labels between 0 and 1 and within :data:`MAX_SHIFT` of the
    shipped ones, and a layer of the model's pooled width by its labels, every number finite.
    TuningStale if it was made for another model or version.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError as exc:
        raise TuningDenied(path, f"{type(exc).__name__}: {exc}") from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise TuningInvalid(path, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(document, dict):
        raise TuningInvalid(path, f"it holds a JSON {_json_type(document)}, not an object")
    if document.get("model") != model.name or document.get("model_version") != model.version:
        raise TuningStale(f"classifier tuning {path} was made for {document.get('model')} "
                          f"{document.get('model_version')}, not {model.name} {model.version}; the model is used "
                          "without it: run monitor tune again")
    try:
        thresholds = _checked_thresholds(document.get("thresholds"), model)
        head = _checked_head(document["head"], model) if "head" in document else None
    except ValueError as exc:
        raise TuningInvalid(path, str(exc)) from None
    return Tuning(thresholds, head, str(document.get("tuned_at", "")))


def _checked_thresholds(found: Any, model) -> dict[str, float]:
    if not isinstance(found, dict):
        raise ValueError(f'"thresholds" is a JSON {_json_type(found)}, not an object of label: threshold')
    thresholds = {}
    for label, value in found.items():
        if label not in model.labels:
            raise ValueError(f'"thresholds" names {label!r}, which the model does not score '
                             f"(it scores {', '.join(model.labels)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f'"thresholds" {label} is {json.dumps(value)}, not a number between 0 and 1')
        shipped = model.thresholds.get(label, 0.5)
        if abs(value - shipped) > MAX_SHIFT + 1e-9:
            raise ValueError(f'"thresholds" {label} is {value}, further than {MAX_SHIFT} from the shipped {shipped}')
        thresholds[label] = float(value)
    return thresholds


def _checked_head(found: Any, model):
    from classifiers.head import HEAD_FILE, Head, load_head

    if not getattr(model, "has_features", False):
        raise ValueError('it has a refitted layer ("head") but this model has no pooled output to use it with')
    if not isinstance(found, dict) or "weight" not in found or "bias" not in found:
        raise ValueError('"head" is not an object with "weight" and "bias"')
    width, labels = load_head(model.folder / HEAD_FILE).weight.shape[0], len(model.labels)
    weight = _finite_array(found["weight"], "weight", (width, labels))
    bias = _finite_array(found["bias"], "bias", (labels,))
    return Head(weight.astype(np.float32), bias.astype(np.float32))


def _finite_array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    expected = " by ".join(str(n) for n in shape)
    try:
        array = np.array(value)
    except ValueError:  # ragged lists
        array = np.array(None)
    if array.shape != shape or array.dtype.kind not in "iuf":
        found = " by ".join(str(n) for n in array.shape) if array.dtype.kind in "iuf" else f"a JSON {_json_type(value)}"
        raise ValueError(f'"head" {name} is {found}, not {expected} numbers (the model\'s pooled width by its labels)')
    if not np.all(np.isfinite(array)):
        raise ValueError(f'"head" {name} holds {int(np.sum(~np.isfinite(array)))} numbers that are NaN or infinite')
    return array


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
