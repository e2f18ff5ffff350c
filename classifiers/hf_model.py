"""Any Hugging Face text-classification model, run by transformers (the ``hf`` extra).

``classifier.model`` names a local folder (as written by ``save_pretrained``) or a hub id that is
already in the local cache. ``classifier.label_map`` renames the model's labels to ours, e.g.
``{"toxic" = "offensive", "LABEL_0" = ""}``: an empty name drops a label. Unmapped labels keep
their own (lower-cased) name; the headline score is the highest of ``offensive`` and ``hate``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping, Sequence

from classifiers.base import Classifier, Verdict
from classifiers.scoring import ABUSE_LABELS, headline, is_flagged
from classifiers.text import sanitize

DROP = ("", "ignore", "none")


class TransformersModel(Classifier):
    def __init__(
        self,
        reference: str,
        *,
        threshold: float = 0.5,
        label_map: Mapping[str, str] | None = None,
        max_chars: int = 2000,
        batch_size: int = 16,
    ):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(reference)
        self._model = AutoModelForSequenceClassification.from_pretrained(reference).eval()
        config = self._model.config
        self.name = reference
        self.version = _version(reference, config)
        self.threshold = threshold
        self.max_chars = max_chars
        self.batch_size = batch_size
        self._multi_label = config.problem_type == "multi_label_classification"
        self._max_length = min(int(getattr(self._tokenizer, "model_max_length", 512) or 512), 512)
        self._names = [_map_label(config.id2label[i], label_map or {}) for i in range(config.num_labels)]

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        prepared = [sanitize(text, self.max_chars) for text in texts]
        verdicts: list[Verdict | None] = [None] * len(prepared)
        present = [i for i, text in enumerate(prepared) if text]
        for start in range(0, len(present), self.batch_size):
            chosen = present[start : start + self.batch_size]
            for index, row in zip(chosen, self._probabilities([prepared[i] for i in chosen])):
                verdicts[index] = self._verdict(row)
        empty = self._verdict([0.0] * len(self._names))
        return [verdict or empty for verdict in verdicts]

    def _probabilities(self, texts: list[str]) -> list[list[float]]:
        torch = self._torch
        batch = self._tokenizer(texts, truncation=True, max_length=self._max_length, padding=True,
                                return_tensors="pt")
        with torch.inference_mode():
            logits = self._model(**batch).logits
        probabilities = torch.sigmoid(logits) if self._multi_label else torch.softmax(logits, dim=-1)
        return probabilities.tolist()

    def _verdict(self, row: Sequence[float]) -> Verdict:
        labels = {name: 0.0 for name in ABUSE_LABELS}
        for name, probability in zip(self._names, row):
            if name is not None:
                labels[name] = round(max(labels.get(name, 0.0), float(probability)), 4)
        score = headline(labels)
        return Verdict(score=score, flagged=is_flagged(score, self.threshold), labels=labels,
                       model=self.name, model_version=self.version)


def _map_label(name: str, label_map: Mapping[str, str]) -> str | None:
    mapped = label_map.get(name, label_map.get(name.lower(), name.lower()))
    return None if mapped.strip().lower() in DROP else mapped.strip()


def _version(reference: str, config) -> str:
    """The hub revision if known, else a digest of the folder's configuration and weight files."""
    commit = getattr(config, "_commit_hash", None)
    if commit:
        return str(commit)[:12]
    folder = Path(reference)
    if (folder / "config.json").is_file():
        digest = hashlib.sha256((folder / "config.json").read_bytes())
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return digest.hexdigest()[:12]
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:12]
