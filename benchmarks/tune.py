"""Dev-split study of settings: trains each configuration on each set and prints dev accuracy.

Only dev splits are scored (trec has none: a stratified, seeded 10% of train is held out, as
`textcnn train` does). Test splits are never read here. On a multi-label set the dev_acc column is
micro-F1.

    python benchmarks/tune.py --sets mr sst2 trec --config base= --config wide=model.num_filters=256

`--cv K` scores single-label sets by K-fold cross-validation instead: train (and dev.csv, where there is
one) are pooled and cut into K stratified folds (seed 12345); each fold is scored by a classifier
given the other folds only (it carves its own dev and refits, as `textcnn train` without --dev), and
the row reports accuracy and macro-F1 over all the out-of-fold predictions, K times as many texts as
one dev split holds, at K times the training time:

    python benchmarks/tune.py --cv 5 --sets trec mr --config base= --config kmax=model.pooling=kmax

`--read NAME=key=value` also scores every trained model on dev with other tokenizer settings (e.g.
`--read windows=tokenizer.long_text=windows`: trained on truncated texts, read in windows); its row is
named CONFIG>NAME. The header states versions, device, threads, seeds and the sha256 of every split.
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import random
import time

import numpy as np
import torch

from _data import load_split, parse_config, print_header, reading, run_header
from textcnn import TextClassifier
from textcnn.data.splits import stratified_folds, stratified_split
from textcnn.evaluation import classification_report


def cross_validate(overrides: dict, texts: list, labels: list, k: int, seed: int) -> tuple[dict, list[int]]:
    """Out-of-fold report over all texts (single-label) and each fold's best epoch."""
    classes = sorted(set(labels), key=str)
    index = {label: i for i, label in enumerate(classes)}
    predictions = np.empty(len(texts), dtype=np.int64)
    epochs = []
    for fold in stratified_folds(labels, k, seed=12345):
        held = set(fold.tolist())
        keep = [i for i in range(len(texts)) if i not in held]
        clf = TextClassifier(**{**overrides, "train.seed": seed})
        clf.fit([texts[i] for i in keep], [labels[i] for i in keep], verbose=False)
        predictions[fold] = [index[label] for label in clf.predict([texts[i] for i in fold])]
        epochs.append(clf.fit_result.best_epoch)
    targets = np.array([index[label] for label in labels])
    return classification_report(targets, predictions, classes), epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["mr", "sst2", "trec", "chnsenticorp"])
    parser.add_argument("--config", action="append", required=True, help="NAME=key=value,,key=value")
    parser.add_argument("--seeds", type=int, nargs="+", default=[13])
    parser.add_argument("--subsample", type=int, default=0, help="use at most this many training rows")
    parser.add_argument(
        "--no-dev", action="store_true",
        help="give the classifier TRAIN only (it carves its own dev, as `textcnn train` without --dev) and "
        "score on dev.csv; a set without dev.csv is scored on a stratified 10%% of train held out first",
    )
    parser.add_argument("--cv", type=int, default=0, help="K-fold cross-validation on train + dev (single-label sets)")
    parser.add_argument("--read", action="append", default=[], help="NAME=key=value,,...: also score on dev read so")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: immune to other busy processes)")
    args = parser.parse_args()
    if args.cv and (args.no_dev or args.subsample or args.read):
        parser.error("--cv scores out-of-fold texts of train + dev: it takes none of --no-dev, --subsample, --read")
    torch.set_num_threads(args.threads)
    configs = [parse_config(spec) for spec in args.config]
    reads = [parse_config(spec) for spec in args.read]
    print_header(run_header(args.sets, args.seeds, dict(configs)))
    print(f"{'config':<24} {'set':<14} {'seed':>5} {'dev_acc':>8} {'dev_f1':>8} {'epoch':>5} {'secs':>6}", flush=True)
    for name, overrides in configs:
        for set_name in args.sets:
            texts, labels = load_split(set_name, "train")
            dev = load_split(set_name, "dev")
            if args.cv:
                if any(isinstance(label, (list, tuple)) for label in labels):
                    parser.error(f"--cv scores single-label sets only; {set_name} is multi-label")
                if dev is not None:
                    texts, labels = texts + dev[0], labels + dev[1]
                for seed in args.seeds:
                    started = time.perf_counter()
                    report, epochs = cross_validate(overrides, texts, labels, args.cv, seed)
                    print(
                        f"{name:<24} {set_name:<14} {seed:>5} {100 * report['accuracy']:8.2f} {100 * report['macro_f1']:8.2f} "
                        f"{sum(epochs) / len(epochs):5.1f} {time.perf_counter() - started:6.1f}",
                        flush=True,
                    )
                continue
            if dev is None and args.no_dev:  # score on an outer held-out part of train
                keep, held = stratified_split(labels, 0.1, seed=12345)
                dev = [texts[i] for i in held], [labels[i] for i in held]
                texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
            if args.subsample and len(texts) > args.subsample:
                pick = random.Random(0).sample(range(len(texts)), args.subsample)
                texts, labels = [texts[i] for i in pick], [labels[i] for i in pick]
            for seed in args.seeds:
                started = time.perf_counter()
                clf = TextClassifier(**{**overrides, "train.seed": seed})
                clf.fit(texts, labels, dev=None if args.no_dev else dev, verbose=False)
                report = clf.evaluate(*dev) if args.no_dev else clf.metrics["dev"]
                seconds = time.perf_counter() - started
                rows = [(name, report)]
                rows += [(f"{name}>{read}", reading(clf, changes).evaluate(*dev)) for read, changes in reads if dev]
                for row_name, row in rows:
                    print(
                        f"{row_name:<24} {set_name:<14} {seed:>5} {100 * row.get('accuracy', row.get('micro_f1')):8.2f} "
                        f"{100 * row['macro_f1']:8.2f} {clf.fit_result.best_epoch:5d} {seconds:6.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
