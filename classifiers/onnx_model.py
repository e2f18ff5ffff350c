"""The shipped default model: a fine-tuned MiniLM exported to ONNX (int8), run by ONNX Runtime.

A model folder holds ``model.onnx`` (inputs ``input_ids`` and ``attention_mask``, output
``probabilities``, one sigmoid column per label), ``tokenizer.json`` and ``model.json`` (name,
version, labels, per-label thresholds, maximum sequence length). ``classifiers.train`` writes one.

Speed comes from keeping the work small: tweets rarely need more than 64 tokens, sequences are
sorted by length and run in batches of 8 (measured fastest on 2 cores) so that little time goes
into padding. A long text is read whole, in windows that overlap by a quarter (so a sentence cut
by one window is whole in the next), and each label takes its highest window.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from classifiers.base import Classifier, Verdict
from classifiers.scoring import calibrate, headline, is_flagged
from classifiers.text import clean

#: windows scored for one long text (about 12,000 characters); a longer text keeps its first and last ones
MAX_WINDOWS = 48


class OnnxModel(Classifier):
    def __init__(
        self,
        folder: Path,
        *,
        threshold: float = 0.5,
        max_chars: int = 20_000,
        batch_size: int = 8,
        threads: int | None = None,
    ):
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.folder = folder
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        self.name = str(meta["name"])
        self.version = str(meta["version"])
        self.labels: list[str] = list(meta["labels"])
        self.thresholds: dict[str, float] = {k: float(v) for k, v in meta.get("thresholds", {}).items()}
        self.threshold = threshold
        self.max_chars = max_chars
        self.batch_size = batch_size
        self._window = int(meta.get("max_length", 64)) - 2
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._cls = self._tokenizer.token_to_id("[CLS]")
        self._sep = self._tokenizer.token_to_id("[SEP]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        #: a model exported with its pooled features and its layer (``classifiers.head``) can be tuned
        self.has_features = any(output.name == "pooled" for output in self._session.get_outputs()) and (
            folder / "head.npz").is_file()
        self.head = None

    def use_head(self, head, thresholds: dict[str, float], version: str) -> None:
        """Score with ``head`` (a ``classifiers.head.Head``, e.g. refitted by ``monitor tune``) instead
        of the model's own output layer, with its own decision thresholds."""
        if not self.has_features:
            raise ValueError("this model has no pooled output; retrain or re-export it to use a tuned head")
        self.head = head
        self.thresholds = {**self.thresholds, **thresholds}
        self.version = version

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        probabilities = self.probabilities(texts)
        verdicts = []
        for row in probabilities:
            labels = {
                label: round(calibrate(p, self.thresholds.get(label, 0.5)), 4)
                for label, p in zip(self.labels, row)
            }
            score = headline(labels)
            verdicts.append(Verdict(score=score, flagged=is_flagged(score, self.threshold), labels=labels,
                                    model=self.name, model_version=self.version))
        return verdicts

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Raw per-label probabilities, one row per text (zeros for a text with nothing to read)."""
        return self.score(texts)[0]

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """The pooled features of each text's highest-scoring window (zeros for an empty text)."""
        return self.score(texts, features=True)[1]

    def score(self, texts: Sequence[str], features: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        cleaned = [clean(text, self.max_chars) for text in texts]
        result = np.zeros((len(cleaned), len(self.labels)), dtype=np.float32)
        pooled = None
        owners, windows = self._windows(cleaned)
        if not windows:
            return result, (np.zeros((len(cleaned), 0), dtype=np.float32) if features else None)
        scores, window_features = self._run(windows, features or self.head is not None)
        if self.head is not None:
            scores = self.head.probabilities(window_features).astype(np.float32)
        best = np.full(len(cleaned), -1.0)
        if features:
            pooled = np.zeros((len(cleaned), window_features.shape[1]), dtype=np.float32)
        for window, (owner, row) in enumerate(zip(owners, scores)):
            np.maximum(result[owner], row, out=result[owner])
            if features and row.max() > best[owner]:
                best[owner] = row.max()
                pooled[owner] = window_features[window]
        return result, pooled

    def _windows(self, texts: list[str]) -> tuple[list[int], list[list[int]]]:
        owners: list[int] = []
        windows: list[list[int]] = []
        present = [i for i, text in enumerate(texts) if text]
        encodings = self._tokenizer.encode_batch([texts[i] for i in present], add_special_tokens=False)
        for index, encoding in zip(present, encodings):
            ids = encoding.ids
            if not ids:
                continue
            stride = self._window if len(ids) <= self._window else self._window * 3 // 4
            starts = range(0, max(len(ids) - self._window, 0) + stride, stride)
            pieces = [ids[start : start + self._window] for start in starts]
            if len(pieces) > MAX_WINDOWS:
                pieces = pieces[: MAX_WINDOWS - 2] + pieces[-2:]
            for piece in pieces:
                owners.append(index)
                windows.append([self._cls, *piece, self._sep])
        return owners, windows

    def _run(self, windows: list[list[int]], features: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        scores = np.zeros((len(windows), len(self.labels)), dtype=np.float32)
        pooled = None
        outputs = ["probabilities", "pooled"] if features else ["probabilities"]
        if features and not self.has_features:
            raise ValueError("this model has no pooled output; retrain or re-export it")
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            width = len(windows[chosen[-1]])
            input_ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, index in enumerate(chosen):
                window = windows[index]
                input_ids[row, : len(window)] = window
                mask[row, : len(window)] = 1
            answer = self._session.run(outputs, {"input_ids": input_ids, "attention_mask": mask})
            scores[chosen] = answer[0]
            if features:
                if pooled is None:
                    pooled = np.zeros((len(windows), answer[1].shape[1]), dtype=np.float32)
                pooled[chosen] = answer[1]
        return scores, pooled
