"""The shipped default model: a fine-tuned MiniLM exported to ONNX (int8), run by ONNX Runtime.

A model folder holds ``model.onnx`` (inputs ``input_ids`` and ``attention_mask``, output
``probabilities``, one sigmoid column per label), ``tokenizer.json`` and ``model.json`` (name,
version, labels, per-label thresholds, maximum sequence length). ``classifiers.train`` writes one.
A model whose ``model.json`` lists ``head_labels`` scores those labels with the output layer in
``head.npz`` (refitted by ``python -m classifiers.train --head-only``) and the others with the graph's own.

Speed comes from keeping the work small and every core busy: tweets rarely need more than 64 tokens;
windows are sorted by length and run in small batches, so that little time goes into padding; and the
batches are shared out among worker threads (one per usable CPU) that run the one session at once, each
batch on one thread. One session running each batch on two threads of its own spent about twice the
CPU time per text (its threads spin waiting for work) and was slower on 2 cores in every round of
``benchmarks/classifier_speed.py``.

A text of up to two windows (any tweet) is read in windows that overlap by a quarter. A longer one is
read whole, sentence by sentence: each sentence is scored on its own
(a very short one together with the next, a sentence longer than a window in windows that overlap by
a quarter), and each label takes its highest sentence, which must clear a threshold that rises with
the number of sentences (``OnnxModel.threshold_for``). A long comment is then flagged only when one
of its sentences is clearly abusive on its own: windows that packed several innocent sentences
together ("massacre", "attacking", "filthy" in one window) scored higher than any of them, and one
borderline sentence in forty flagged the whole newsletter.

A comment written without full stops is one long "sentence". It is read in short windows (phrases of
:data:`PHRASE` tokens) that one insult can fill: in whole windows of civil words an insult was
drowned, and the bar, raised for the many windows, was out of its reach. The bar counts every
window read, phrases included.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from classifiers.base import Classifier, Verdict
from classifiers.graph import SKIP_LAYER_NORM_FUSION
from classifiers.head import HEAD_FILE, load_head
from classifiers.scoring import calibrate, headline, is_flagged
from classifiers.text import clean

#: windows per batch: small batches waste little on padding and give each worker one to run (2 and 4
#: were the fastest side by side, 2 the least memory; 8 used more CPU and 20 MiB more with two workers)
BATCH_SIZE = 2
#: tokens of one long text read (about 12,000 characters); a longer text keeps its first and last sentences
MAX_TOKENS = 48 * 62
#: tokens kept from the end of a text longer than :data:`MAX_TOKENS`
TAIL_TOKENS = 2 * 62
#: a sentence shorter than this is read with the next one ("Get a grip." says little on its own)
MIN_SENTENCE = 8
#: the tokens in each window of a sentence longer than a window (see ``_phrases``). On the tune halves'
#: long comments of ``benchmarks/classifier_school.py`` with their punctuation taken out, 16 tokens
#: overlapping by a quarter flagged 39 of 40, 24 overlapping by a third 35, and whole windows 21, none of
#: the controls; it costs about half as much again as whole windows
PHRASE = 16
_SENTENCE_END = frozenset({".", "!", "?", "…"})
#: how far towards 1 a label's threshold moves for a very long text (see ``OnnxModel.threshold_for``)
LONG_MARGIN = 0.5


class OnnxModel(Classifier):
    def __init__(
        self,
        folder: Path,
        *,
        threshold: float = 0.5,
        max_chars: int = 20_000,
        batch_size: int = BATCH_SIZE,
        workers: int | None = None,
        threads: int | None = None,
    ):
        """``workers`` batches are scored at once, each on one thread of the one shared session (default:
        the CPUs this process may use, up to 4). ``threads`` alone keeps the older way: one batch at a
        time on that many ONNX Runtime threads."""
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
        if workers is None:
            workers = 1 if threads else min(usable_cpus(), 4)
        self.workers = max(1, workers)
        # an InferenceSession may be run from several threads at once; ``run`` releases the GIL
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="classifier") if self.workers > 1 else None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or (1 if self.workers > 1 else min(usable_cpus(), 4))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # a graph whose layer norms were split out of SkipLayerNormalization (``classifiers.graph``, faster
        # on a CPU) keeps them split
        self._session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"],
            disabled_optimizers=[SKIP_LAYER_NORM_FUSION],
        )
        #: a model exported with its pooled features and its layer (``classifiers.head``) can be tuned
        self.has_features = any(output.name == "pooled" for output in self._session.get_outputs()) and (
            folder / HEAD_FILE).is_file()
        self.head = None
        #: the labels the head scores (the others keep the graph's own layer); None: all of them
        self._head_columns: list[int] | None = None
        refitted = list(meta.get("head_labels", []))
        if refitted:
            if not self.has_features:
                raise ValueError(f"model.json names refitted labels {refitted} but the model has no pooled output "
                                 f"or no {HEAD_FILE}")
            self.head = load_head(folder / HEAD_FILE)
            self._head_columns = [self.labels.index(label) for label in refitted]

    def use_head(self, head, thresholds: dict[str, float], version: str) -> None:
        """Score with ``head`` (a ``classifiers.head.Head``, e.g. refitted by ``monitor tune``) instead
        of the model's own output layer, with its own decision thresholds."""
        if not self.has_features:
            raise ValueError("this model has no pooled output; retrain or re-export it to use a tuned head")
        self.head = head
        self._head_columns = None
        self.thresholds = {**self.thresholds, **thresholds}
        self.version = version

    def classify(self, texts: Sequence[str]) -> list[Verdict]:
        probabilities, _, windows = self._score(texts)
        verdicts = []
        for row, count in zip(probabilities, windows):
            labels = {
                label: round(calibrate(p, self.threshold_for(label, count)), 4)
                for label, p in zip(self.labels, row)
            }
            score = headline(labels)
            verdicts.append(Verdict(score=score, flagged=is_flagged(score, self.threshold), labels=labels,
                                    model=self.name, model_version=self.version))
        return verdicts

    def threshold_for(self, label: str, windows: int = 1) -> float:
        """``label``'s decision threshold for a long text read in ``windows`` sentences.

        A long comment gives the model one chance of a false alarm per sentence, so the more
        sentences, the surer one must be: the threshold moves towards 1 by up to :data:`LONG_MARGIN`
        of the way (a quarter of it for two sentences, nearly all of it for forty).
        """
        threshold = self.thresholds.get(label, 0.5)
        if windows <= 1:
            return threshold
        return threshold + (1.0 - threshold) * LONG_MARGIN * (1.0 - 1.0 / windows)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Raw per-label probabilities, one row per text (zeros for a text with nothing to read)."""
        return self._score(texts)[0]

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """The pooled features of each text's highest-scoring window (zeros for an empty text)."""
        return self._score(texts, features=True)[1]

    def score(self, texts: Sequence[str], features: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw probabilities and (with ``features``) the pooled features of each text."""
        probabilities, pooled, _ = self._score(texts, features)
        return probabilities, pooled

    def _score(self, texts: Sequence[str], features: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Probabilities (each label's highest window), pooled features, and the sentences read, per text."""
        cleaned = [clean(text, self.max_chars) for text in texts]
        result = np.zeros((len(cleaned), len(self.labels)), dtype=np.float32)
        pooled = None
        owners, windows, counts = self._windows(cleaned)
        if not windows:
            return result, (np.zeros((len(cleaned), 0), dtype=np.float32) if features else None), counts
        scores, window_features = self._run(windows, features or self.head is not None)
        if self.head is not None:
            refitted = self.head.probabilities(window_features).astype(np.float32)
            columns = slice(None) if self._head_columns is None else self._head_columns
            scores[:, columns] = refitted[:, columns]
        best = np.full(len(cleaned), -1.0)
        if features:
            pooled = np.zeros((len(cleaned), window_features.shape[1]), dtype=np.float32)
        for window, (owner, row) in enumerate(zip(owners, scores)):
            np.maximum(result[owner], row, out=result[owner])
            if features and row.max() > best[owner]:
                best[owner] = row.max()
                pooled[owner] = window_features[window]
        return result, pooled, counts

    def _windows(self, texts: list[str]) -> tuple[list[int], list[list[int]], np.ndarray]:
        """The windows to score, the text each belongs to, and how many windows (sentences and phrases)
        each text was read in (1 for a text of up to two windows, read in windows that overlap by a
        quarter, as a tweet is)."""
        owners: list[int] = []
        windows: list[list[int]] = []
        sentences = np.ones(len(texts), dtype=np.int64)
        present = [i for i, text in enumerate(texts) if text]
        # one text at a time: ``encode_batch`` hands a batch to the tokenizer's own thread pool, whose
        # threads spin while they wait (116 against 71 CPU microseconds a tweet, the same wall time)
        encodings = [self._tokenizer.encode(texts[i], add_special_tokens=False) for i in present]
        for index, encoding in zip(present, encodings):
            if not encoding.ids:
                continue
            if len(encoding.ids) <= 2 * self._window:
                pieces = self._split(encoding.ids)
            else:
                pieces = self._pieces(encoding)
                sentences[index] = len(pieces)
            for piece in pieces:
                owners.append(index)
                windows.append([self._cls, *piece, self._sep])
        return owners, windows, sentences

    def _pieces(self, encoding) -> list[list[int]]:
        """The windows of a long text: its sentences, within :data:`MAX_TOKENS` of text read. A
        sentence longer than a window (a stretch written without full stops) is read in phrases."""
        pieces: list[tuple[list[int], int]] = []  # each window, and how many tokens it adds to the text read
        for sentence in _sentences(encoding.ids, encoding.tokens, encoding.offsets):
            if len(sentence) <= self._window:
                pieces.append((sentence, len(sentence)))
            else:
                pieces += _phrases(sentence)
        if sum(fresh for _, fresh in pieces) <= MAX_TOKENS:
            return [piece for piece, _ in pieces]
        head: list[list[int]] = []
        tail: list[list[int]] = []
        used = 0
        for piece, fresh in reversed(pieces):
            if used + fresh > TAIL_TOKENS:
                break
            tail.insert(0, piece)
            used += fresh
        for piece, fresh in pieces[: len(pieces) - len(tail)]:
            if used + fresh > MAX_TOKENS:
                break
            head.append(piece)
            used += fresh
        return head + tail

    def _split(self, ids: list[int]) -> list[list[int]]:
        """A text longer than a window, in windows that overlap by a quarter (a phrase cut by one
        window is whole in the next)."""
        if len(ids) <= self._window:
            return [ids]
        stride = self._window * 3 // 4
        return [ids[start : start + self._window] for start in range(0, len(ids) - self._window + stride, stride)]

    def _run(self, windows: list[list[int]], features: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores (and pooled features) per window: windows sorted by length, in batches spread over
        the workers, so that little time goes into padding and every core has a batch to run."""
        if features and not self.has_features:
            raise ValueError("this model has no pooled output; retrain or re-export it")
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        outputs = ["probabilities", "pooled"] if features else ["probabilities"]
        run = partial(self._run_batch, windows, outputs)
        answers = self._pool.map(run, batches) if self._pool and len(batches) > 1 else map(run, batches)
        scores = np.zeros((len(windows), len(self.labels)), dtype=np.float32)
        pooled = None
        for chosen, answer in zip(batches, answers):
            scores[chosen] = answer[0]
            if features:
                if pooled is None:
                    pooled = np.zeros((len(windows), answer[1].shape[1]), dtype=np.float32)
                pooled[chosen] = answer[1]
        return scores, pooled

    def _run_batch(self, windows: list[list[int]], outputs: list[str], chosen: list[int]) -> list[np.ndarray]:
        width = len(windows[chosen[-1]])
        input_ids = np.zeros((len(chosen), width), dtype=np.int64)
        mask = np.zeros((len(chosen), width), dtype=np.int64)
        for row, index in enumerate(chosen):
            window = windows[index]
            input_ids[row, : len(window)] = window
            mask[row, : len(window)] = 1
        return self._session.run(outputs, {"input_ids": input_ids, "attention_mask": mask})


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity; all of them where that cannot be read)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _phrases(ids: list[int]) -> list[tuple[list[int], int]]:
    """A sentence longer than a window, in windows of :data:`PHRASE` tokens that overlap by a quarter, each
    with the tokens it adds to those before it: written without full stops, one insult among
    civil words fills most of one of them, where a whole window of civil words around it drowned
    it ("… we value the staff enormously the head is a fat ugly cow and a disgrace the packing list …")."""
    stride = PHRASE * 3 // 4
    starts = range(0, max(len(ids) - PHRASE, 0) + stride, stride)
    ends = [min(start + PHRASE, len(ids)) for start in starts]
    return [(ids[start:end], end - previous) for start, end, previous in zip(starts, ends, [0, *ends])]


def _sentences(ids: list[int], tokens: list[str], offsets: list[tuple[int, int]]) -> list[list[int]]:
    """Token ids cut after each ".", "!", "?" or "…" that a space follows ("2.5" and "e.g" stay
    whole); a sentence shorter than :data:`MIN_SENTENCE` tokens joins the next one, the last one
    the one before it."""
    sentences: list[list[int]] = []
    current: list[int] = []
    for position, (token, token_id) in enumerate(zip(tokens, ids)):
        current.append(token_id)
        ends = token in _SENTENCE_END and (
            position + 1 == len(ids) or (tokens[position + 1] not in _SENTENCE_END
                                         and offsets[position + 1][0] > offsets[position][1]))
        if ends and len(current) >= MIN_SENTENCE:
            sentences.append(current)
            current = []
    if current:
        if sentences and len(current) < MIN_SENTENCE:
            sentences[-1] += current
        else:
            sentences.append(current)
    return sentences
