"""Class imbalance: train with class_weight none / balanced and sampler balanced on skewed sets.

Sets: trec (ABBR is 1.6% of train; no dev file, so textcnn holds out a stratified 10% of train as
dev and refits on all of train) and a skewed copy of a balanced set, made here in memory: a seeded
10% of one class's training rows are kept (dev and test stay as they are). Prints dev and test
accuracy, macro-F1 and the minority class's F1 (%). Settings are chosen on dev; test is reported.

    python benchmarks/imbalance.py --sets trec sst2 --seeds 13 14 15
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from _data import load_split
from textcnn import TextClassifier, __version__

CONFIGS = {
    "none": {},
    "class_weight": {"train.class_weight": "balanced"},
    "sampler": {"train.sampler": "balanced"},
}
MINORITY = {"trec": "ABBR", "sst2": "negative", "mr": "negative"}


def skewed(texts: list[str], labels: list[str], minority: str, keep: float, seed: int) -> tuple[list[str], list[str]]:
    """The rows of ``minority`` thinned to a seeded ``keep`` share; the other rows unchanged."""
    rng = np.random.default_rng(seed)
    kept = [i for i, label in enumerate(labels) if label != minority or rng.random() < keep]
    return [texts[i] for i in kept], [labels[i] for i in kept]


def _f1_of(report: dict, label: str) -> float:
    return next(row["f1"] for row in report["per_class"] if row["label"] == label)


def run(name: str, config: dict, seed: int, keep: float) -> dict:
    train, dev, test = (load_split(name, split) for split in ("train", "dev", "test"))
    minority = MINORITY[name]
    if name != "trec":
        train = skewed(*train, minority, keep, seed=0)  # the same skewed copy for every run
    started = time.perf_counter()
    classifier = TextClassifier(**{**config, "train.seed": seed}).fit(*train, dev=dev, verbose=False)
    seconds = time.perf_counter() - started
    dev_report, test_report = classifier.metrics["dev"], classifier.evaluate(*test)
    return {
        "train_share": train[1].count(minority) / len(train[1]),
        "dev": (dev_report["accuracy"], dev_report["macro_f1"], _f1_of(dev_report, minority)),
        "test": (test_report["accuracy"], test_report["macro_f1"], _f1_of(test_report, minority)),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["trec", "sst2"], choices=sorted(MINORITY))
    parser.add_argument("--seeds", type=int, nargs="+", default=[13])
    parser.add_argument("--keep", type=float, default=0.1, help="share of the minority class's training rows kept")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# textcnn {__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads; seeds {args.seeds}; figures in %, mean over the seeds", flush=True)
    print(f"{'set':<6} {'minority':<9} {'share':>6} {'config':<13} {'dev_acc':>8} {'dev_mF1':>8} {'dev_min':>8} "
          f"{'test_acc':>8} {'test_mF1':>8} {'test_min':>8} {'train_s':>8}", flush=True)
    for name in args.sets:
        for config_name, config in CONFIGS.items():
            runs = [run(name, config, seed, args.keep) for seed in args.seeds]
            mean = lambda split, k: 100 * statistics.mean(r[split][k] for r in runs)  # noqa: E731
            print(f"{name:<6} {MINORITY[name]:<9} {100 * runs[0]['train_share']:6.1f} {config_name:<13} "
                  f"{mean('dev', 0):8.2f} {mean('dev', 1):8.2f} {mean('dev', 2):8.2f} "
                  f"{mean('test', 0):8.2f} {mean('test', 1):8.2f} {mean('test', 2):8.2f} "
                  f"{statistics.mean(r['seconds'] for r in runs):8.1f}", flush=True)


if __name__ == "__main__":
    main()
