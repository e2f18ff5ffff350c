"""Side-by-side speed of ways to run the shipped classifier (not a test).

    python benchmarks/classifier_speed.py [--rounds 8] [--texts 2000] [--batch 32] [--only NAME ...]

A shared virtual machine's speed moves from minute to minute, so one figure per way means little:
the ways are run in turns, round after round (the order rotating each round), each over the same
TweetEval validation texts at the same batch size, and each round is printed. The medians over the
rounds compare the ways; the CPU time per text (all threads of this process) moves less with the
neighbours' load than texts per second. Every way is the whole classifier (clean-up and
normalisation, the model, the profanity signal and the rules).

The "layer norms split" ways rewrite the shipped graph into a temporary folder first
(``python -m classifiers.graph``, which needs ``onnx``). On 2026-11-30 (06:07–06:16 UTC, load average
8–10 from other jobs, 8 rounds of 1000 texts) the split graph took 8.67 CPU ms per text against 9.07
for the shipped one (median; lower in 7 rounds of 8), 39.0 against 35.2 texts/s.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.classifier import DEFAULT_DATA, classify_all, read_split
from classifiers.loader import DEFAULT_MODEL
from classifiers.onnx_model import OnnxModel, usable_cpus
from classifiers.safeguarded import SafeguardedClassifier


class SessionPerWorker(OnnxModel):
    """Each thread that runs batches with its own single-threaded session (more memory)."""

    def __init__(self, folder: Path, **options):
        super().__init__(folder, **options)
        self._local = threading.local()

    def _run_batch(self, windows, outputs, chosen):
        session = getattr(self._local, "session", None)
        if session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = self._local.session = onnxruntime.InferenceSession(
                str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        width = len(windows[chosen[-1]])
        input_ids = np.zeros((len(chosen), width), dtype=np.int64)
        mask = np.zeros((len(chosen), width), dtype=np.int64)
        for row, index in enumerate(chosen):
            input_ids[row, : len(windows[index])] = windows[index]
            mask[row, : len(windows[index])] = 1
        return session.run(outputs, {"input_ids": input_ids, "attention_mask": mask})


def split_layer_norms(**options) -> OnnxModel:
    """The shipped model with its fused layer norms split (``python -m classifiers.graph``; needs onnx)."""
    import tempfile

    from classifiers.graph import rewrite_folder

    folder = Path(tempfile.mkdtemp(prefix="classifier-graph-")) / "model"
    rewrite_folder(DEFAULT_MODEL, folder)
    return OnnxModel(folder, **options)


#: name -> how the model is built; the first is how it shipped until workers came in
WAYS = {
    "1 session x 2 ORT threads, batch 8": lambda: OnnxModel(DEFAULT_MODEL, workers=1, threads=2, batch_size=8),
    "1 session, 2 workers, batch 2": lambda: OnnxModel(DEFAULT_MODEL, workers=2, batch_size=2),
    "1 session, 2 workers, batch 4": lambda: OnnxModel(DEFAULT_MODEL, workers=2, batch_size=4),
    "1 session, 2 workers, batch 8": lambda: OnnxModel(DEFAULT_MODEL, workers=2, batch_size=8),
    "2 sessions, 2 workers, batch 4": lambda: SessionPerWorker(DEFAULT_MODEL, workers=2, batch_size=4),
    "2 sessions, 2 workers, batch 2": lambda: SessionPerWorker(DEFAULT_MODEL, workers=2, batch_size=2),
    "default (workers from CPUs)": lambda: OnnxModel(DEFAULT_MODEL),
    "layer norms split (classifiers.graph)": split_layer_norms,
    "layer norms split, batch 4": lambda: split_layer_norms(batch_size=4),
}


def measure(classifier, texts: list[str], batch: int) -> tuple[float, float]:
    """Texts per second (wall clock) and CPU milliseconds per text."""
    started, cpu = time.perf_counter(), time.process_time()
    classify_all(classifier, texts, batch)
    return len(texts) / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--only", nargs="+", choices=list(WAYS), help="compare only these ways")
    args = parser.parse_args()

    texts = (read_split(args.data / "offensive")[0] + read_split(args.data / "hate")[0])[: args.texts]
    names = args.only or list(WAYS)
    classifiers = {name: SafeguardedClassifier(WAYS[name]()) for name in names}
    for classifier in classifiers.values():
        classify_all(classifier, texts[:128], args.batch)  # warm-up: caches, the session's first runs
    default = classifiers.get("default (workers from CPUs)")
    print(f"{len(texts)} TweetEval validation texts at batch {args.batch}, {args.rounds} rounds; "
          f"{usable_cpus()} usable CPUs" + (f", default workers {default.model.workers}" if default else ""))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[: round_ % len(names)]
        for name in order:
            results[name].append(measure(classifiers[name], texts, args.batch))
        print(f"round {round_ + 1}: " + "; ".join(
            f"{name}: {results[name][-1][0]:.0f}/s {results[name][-1][1]:.2f} ms" for name in names), flush=True)
    print(f"\n{'way':<38} {'median texts/s':>15} {'median CPU ms/text':>19}   texts/s each round")
    for name in names:
        rates = [rate for rate, _ in results[name]]
        cpu = [ms for _, ms in results[name]]
        print(f"{name:<38} {statistics.median(rates):>15.1f} {statistics.median(cpu):>19.2f}   "
              + " ".join(f"{rate:.0f}" for rate in rates))
    print(f"\npeak RSS of this process (all ways loaded): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
