"""Benchmark of the classifier (not a test): quality, speed, memory, size.

    python benchmarks/classifier.py [--model default] [--data ../shared/data/tweeteval] [--venv PATH]

Prints validation macro-F1 per label (TweetEval validation splits), texts per second at batch 1
and batch 32 (the whole classifier: model plus safeguarding rules), model load time, peak RSS,
the model's size on disk, and the size of a runtime-only virtual environment (built in a
temporary folder with ``pip install .`` unless ``--venv`` names one, or ``--no-venv``).

On 2026-11-30 at 06:30–06:34 UTC, with other jobs keeping both cores busy (load average 10–12),
model version 3 with rules 7 gave 41.5 texts/s at batch 32 and 28.0 at batch 1, 10.74 CPU ms per
text (the model alone 9.89), a load time of 3.43 s, a peak RSS of 142 MiB and 22.5 MiB on disk:
figures of a crowded machine, to be compared only with runs in the same minutes
(``benchmarks/classifier_speed.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "tweeteval"


def read_split(folder: Path, split: str = "val") -> tuple[list[str], list[int]]:
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = [int(v) for v in (folder / f"{split}_labels.txt").read_text().split()]
    return texts[: len(labels)], labels


def macro_f1(truth: list[int], predicted: list[int]) -> float:
    scores = []
    for positive in (0, 1):
        tp = sum(1 for t, p in zip(truth, predicted) if t == p == positive)
        fp = sum(1 for t, p in zip(truth, predicted) if p == positive and t != positive)
        fn = sum(1 for t, p in zip(truth, predicted) if t == positive and p != positive)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


def classify_all(classifier, texts: list[str], batch_size: int):
    verdicts = []
    for start in range(0, len(texts), batch_size):
        verdicts += classifier.classify(texts[start : start + batch_size])
    return verdicts


def quality(classifier, data: Path, threshold: float) -> dict:
    result = {}
    for label in ("offensive", "hate"):
        texts, truth = read_split(data / label)
        verdicts = classify_all(classifier, texts, 64)
        by_label = [int(v.labels.get(label, 0.0) >= threshold) for v in verdicts]
        flagged = [int(v.flagged) for v in verdicts]
        result[label] = {"label_macro_f1": round(macro_f1(truth, by_label), 4),
                         "flagged_macro_f1": round(macro_f1(truth, flagged), 4)}
    return result


def throughput(classifier, texts: list[str], batch_size: int, count: int) -> float:
    return throughput_and_cpu(classifier, texts, batch_size, count)[0]


def throughput_and_cpu(classifier, texts: list[str], batch_size: int, count: int) -> tuple[float, float]:
    """Texts per second of wall time, and CPU milliseconds per text (all threads of this process).

    On a shared machine the wall figure moves with the neighbours' load; the CPU figure moves less
    (2 cores give at most 2000 CPU ms per second, so 2000 / cpu_ms is the ceiling on a quiet host).
    """
    texts = (texts * (count // len(texts) + 1))[:count]
    classify_all(classifier, texts[:batch_size], batch_size)  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    classify_all(classifier, texts, batch_size)
    return count / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / count


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def runtime_venv_size(venv: str | None) -> tuple[str, int]:
    if venv:
        return venv, folder_size(Path(venv))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        subprocess.run([str(target / "bin" / "pip"), "install", "-q", str(REPO)], check=True,
                       stdout=subprocess.DEVNULL)
        return "fresh `pip install .` (no extras)", folder_size(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--venv", help="measure this virtual environment instead of building one")
    parser.add_argument("--no-venv", action="store_true", help="skip the environment size")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    args = parser.parse_args()

    started = time.perf_counter()
    from classifiers import load_classifier
    from classifiers.loader import DEFAULT_MODEL
    from monitor.config import ClassifierSettings

    settings = ClassifierSettings(model=args.model)
    classifier = load_classifier(settings)
    load_seconds = time.perf_counter() - started

    tweets, _ = read_split(args.data / "offensive")
    report = {
        "model": f"{classifier.name} {classifier.version}",
        "load_seconds": round(load_seconds, 2),
        "validation": quality(classifier, args.data, settings.threshold),
        "validation_model_alone": quality(classifier.model, args.data, settings.threshold)
        if hasattr(classifier, "model") else None,
        "texts_per_second_batch_1": round(throughput(classifier, tweets, 1, 300), 1),
        "texts_per_second_batch_32": round(throughput(classifier, tweets, 32, 1024), 1),
        "model_alone_batch_32": [round(v, 2) for v in throughput_and_cpu(classifier.model, tweets, 32, 1024)]
        if hasattr(classifier, "model") else None,
        "cpu_ms_per_text_batch_32": round(throughput_and_cpu(classifier, tweets, 32, 1024)[1], 2),
        "cpu_count": os.cpu_count(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.model == "default":
        report["model_size_mb"] = round(folder_size(DEFAULT_MODEL) / 2**20, 1)
    if not args.no_venv:
        where, size = runtime_venv_size(args.venv)
        report["runtime_venv"] = {"measured": where, "size_mb": round(size / 2**20, 1)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"model                    {report['model']}")
    for label, scores in report["validation"].items():
        print(f"validation macro-F1 {label:<9} {scores['label_macro_f1']:.4f} (its label)  "
              f"{scores['flagged_macro_f1']:.4f} (the flagged decision: any label, profanity, rules)")
    for label, scores in (report["validation_model_alone"] or {}).items():
        print(f"validation macro-F1 {label:<9} {scores['label_macro_f1']:.4f} (the model alone, without the "
              "profanity signal and rules)")
    print(f"texts/s at batch 1       {report['texts_per_second_batch_1']}")
    print(f"texts/s at batch 32      {report['texts_per_second_batch_32']}  ({report['cpu_count']} CPUs)")
    print(f"CPU ms per text, batch 32 {report['cpu_ms_per_text_batch_32']} (whole classifier; 2000 / this is "
          "the ceiling on 2 quiet cores)")
    if report["model_alone_batch_32"]:
        rate, cpu_ms = report["model_alone_batch_32"]
        print(f"model alone, batch 32    {rate:.1f} texts/s, {cpu_ms} CPU ms per text")
    print(f"load time                {report['load_seconds']} s (imports included)")
    print(f"peak RSS                 {report['peak_rss_mb']} MiB")
    if "model_size_mb" in report:
        print(f"model size               {report['model_size_mb']} MiB")
    if "runtime_venv" in report:
        print(f"runtime venv             {report['runtime_venv']['size_mb']} MiB "
              f"({report['runtime_venv']['measured']})")


if __name__ == "__main__":
    main()
