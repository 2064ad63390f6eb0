"""The embedding table's update, `train.embedding_updates`: `rows` (the default: Adam without momentum
on the table, each step writing its batch's rows alone) against `dense` (Adam with momentum over every
row at every step), on the default run of each set.

Each set and seed trains both ways in this process, one thread, and prints seconds (the whole run:
reading, every epoch, the refit, the n-gram model), epochs, dev and test accuracy; then the mean of
each over the seeds, and the difference of the test accuracies against their spread over the seeds::

    python benchmarks/embedding_updates.py --sets mr sst2 trec chnsenticorp --seeds 13 14
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import json
import statistics
import time

import torch

from _data import split_path
from textcnn.config import build_config
from textcnn.workflows import train_on_files

MODES = ("rows", "dense")


def run(name: str, seed: int, mode: str) -> dict:
    config = build_config(None, {"train.seed": seed, "train.threads": 1, "train.embedding_updates": mode})
    started = time.perf_counter()
    classifier = train_on_files(config, split_path(name, "train"), dev_path=split_path(name, "dev"), test_path=split_path(name, "test"))
    seconds = time.perf_counter() - started
    metrics = classifier.metrics
    return {"set": name, "mode": mode, "seed": seed, "seconds": round(seconds, 1), "epochs": len(classifier.history),
            "dev": round(100 * metrics["dev"]["accuracy"], 2), "test": round(100 * metrics["test"]["accuracy"], 2)}  # fmt: skip


def summary(results: list[dict]) -> None:
    print(f"{'set':<14}{'mode':<7}{'seconds':>9}{'epochs':>8}{'dev':>8}{'test':>8}{'test sd':>9}")
    for name in dict.fromkeys(r["set"] for r in results):
        for mode in MODES:
            rows = [r for r in results if r["set"] == name and r["mode"] == mode]
            tests = [r["test"] for r in rows]
            spread = statistics.stdev(tests) if len(tests) > 1 else float("nan")
            means = [statistics.mean(r[key] for r in rows) for key in ("seconds", "epochs", "dev", "test")]
            print(f"{name:<14}{mode:<7}{means[0]:>9.1f}{means[1]:>8.1f}{means[2]:>8.2f}{means[3]:>8.2f}{spread:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["mr", "sst2", "trec", "chnsenticorp"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[13])
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    for name in args.sets:
        for seed in args.seeds:
            for mode in MODES:
                results.append(run(name, seed, mode))
                print(json.dumps(results[-1]), flush=True)
    summary(results)
    print(f"# reproduce: python benchmarks/embedding_updates.py --sets {' '.join(args.sets)} --seeds {' '.join(map(str, args.seeds))}")


if __name__ == "__main__":
    main()
