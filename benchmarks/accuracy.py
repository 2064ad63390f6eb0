"""Test accuracy of textcnn's defaults (and optional peers) on every set in ../shared/data.

Prints one table: test accuracy and macro-F1 (%), train seconds, per system and set, and for
textcnn the mean and spread over the seeds given. On a multi-label set (goemotions) the first
column is micro-F1 instead of accuracy, and every system predicts the labels whose probability
reaches a per-label threshold tuned on the dev split in the same way (textcnn's
``tune_thresholds``: best F1 on a grid, floored; a text with none gets its most probable label).
Reproduce with:

    python benchmarks/accuracy.py --sets mr sst2 trec chnsenticorp thucnews --seeds 13
    python benchmarks/accuracy.py --peers tfidf fasttext     # peers need `pip install -e ".[bench]"`
    python benchmarks/accuracy.py --sets goemotions --peers tfidf fasttext
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

import numpy as np
import yaml

from _data import SETS, load_split, split_path
from textcnn import TextClassifier, __version__
from textcnn.data.tokenizers import cjk_share
from textcnn.evaluation import classification_report, multilabel_report
from textcnn.training.thresholds import apply_thresholds, tune_thresholds


def run_textcnn(name: str, seed: int, overrides: dict) -> dict:
    train, dev, test = (load_split(name, s) for s in ("train", "dev", "test"))
    started = time.perf_counter()
    clf = TextClassifier(**{**overrides, "train.seed": seed})
    clf.fit(*train, dev=dev, verbose=False)
    seconds = time.perf_counter() - started
    report = clf.evaluate(*test)
    return {**_figures(report), "seconds": seconds,
            "best_epoch": clf.fit_result.best_epoch, "tokenizer": clf.config.tokenizer.kind,
            "max_len": clf.config.tokenizer.max_len}


def _figures(report: dict) -> dict:
    """accuracy (micro-F1 for a multi-label report) and macro-F1."""
    if report.get("multi_label"):
        return {"accuracy": report["micro_f1"], "macro_f1": report["macro_f1"], "subset_accuracy": report["subset_accuracy"]}
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _multilabel_scores(dev_probabilities, test_probabilities, dev_y, test_y, labels) -> dict:
    """Test figures of per-label probabilities, thresholds tuned on dev as textcnn does."""
    index = {label: i for i, label in enumerate(labels)}

    def multi_hot(label_lists):
        rows = np.zeros((len(label_lists), len(labels)), dtype=np.float32)
        for i, items in enumerate(label_lists):
            rows[i, [index[label] for label in items]] = 1.0
        return rows

    thresholds = tune_thresholds(dev_probabilities, multi_hot(dev_y))
    report = multilabel_report(multi_hot(test_y), apply_thresholds(test_probabilities, thresholds), labels)
    return _figures(report)


def _is_multilabel(labels) -> bool:
    return isinstance(labels[0], list)


def run_tfidf(name: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    (train_x, train_y), (test_x, test_y) = load_split(name, "train"), load_split(name, "test")
    chinese = cjk_share(train_x) >= 0.3
    multi = _is_multilabel(train_y)
    started = time.perf_counter()
    if chinese:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    features = vectorizer.fit_transform(train_x)
    if multi:
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.preprocessing import MultiLabelBinarizer

        binarizer = MultiLabelBinarizer()
        binary = LogisticRegression(C=4.0, max_iter=2000, solver="liblinear")  # one binary problem per label
        model = OneVsRestClassifier(binary).fit(features, binarizer.fit_transform(train_y))
        seconds = time.perf_counter() - started
        dev_x, dev_y = load_split(name, "dev")
        scores = _multilabel_scores(
            model.predict_proba(vectorizer.transform(dev_x)), model.predict_proba(vectorizer.transform(test_x)),
            dev_y, test_y, list(binarizer.classes_),
        )
        return {**scores, "seconds": seconds}
    model = LogisticRegression(C=4.0, max_iter=2000).fit(features, train_y)
    seconds = time.perf_counter() - started
    predicted = model.predict(vectorizer.transform(test_x))
    labels = sorted(set(train_y))
    index = {label: i for i, label in enumerate(labels)}
    report = classification_report([index[y] for y in test_y], [index[y] for y in predicted], labels)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "seconds": seconds}


def run_fasttext(name: str) -> dict:
    import os
    import tempfile

    import fasttext
    import rjieba

    (train_x, train_y), (test_x, test_y) = load_split(name, "train"), load_split(name, "test")
    chinese = cjk_share(train_x) >= 0.3
    multi = _is_multilabel(train_y)

    def prepare(text: str) -> str:
        text = text.replace("\n", " ")
        return " ".join(w for w in rjieba.cut(text, False) if w.strip()) if chinese else text.lower()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.txt")
        with open(path, "w", encoding="utf-8") as handle:
            for text, label in zip(train_x, train_y):
                tags = " ".join(f"__label__{item}" for item in (label if multi else [label]))
                handle.write(f"{tags} {prepare(text)}\n")
        started = time.perf_counter()
        loss = "ova" if multi else "softmax"
        model = fasttext.train_supervised(path, wordNgrams=2, epoch=25, verbose=0, seed=13, thread=2, loss=loss)
        seconds = time.perf_counter() - started
    if multi:
        labels = sorted({item for items in train_y for item in items})
        column = {f"__label__{label}": j for j, label in enumerate(labels)}

        def probabilities(texts):
            out = np.zeros((len(texts), len(labels)), dtype=np.float32)
            for i, text in enumerate(texts):
                names, probs = model.predict(prepare(text), k=-1, threshold=0.0)
                out[i, [column[n] for n in names]] = probs
            return out

        dev_x, dev_y = load_split(name, "dev")
        return {**_multilabel_scores(probabilities(dev_x), probabilities(test_x), dev_y, test_y, labels), "seconds": seconds}
    labels = sorted(set(train_y))
    index = {label: i for i, label in enumerate(labels)}
    predicted = [model.predict(prepare(t))[0][0][len("__label__"):] for t in test_x]
    report = classification_report([index[y] for y in test_y], [index[y] for y in predicted], labels)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[13])
    parser.add_argument("--peers", nargs="*", default=[], choices=["tfidf", "fasttext"])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: immune to other busy processes)")
    parser.add_argument("--set", dest="sets_", action="append", default=[], metavar="KEY=VALUE",
                        help="a textcnn setting, e.g. train.class_weight=balanced (repeatable)")
    args = parser.parse_args()
    overrides = {key: yaml.safe_load(value) for key, _, value in (item.partition("=") for item in args.sets_)}
    torch.set_num_threads(args.threads)
    sets = [s for s in args.sets if split_path(s, "train") and split_path(s, "test")]
    print(f"# textcnn {__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads; seeds {args.seeds}", flush=True)
    print(f"{'system':<10} {'set':<14} {'test_acc':>9} {'macro_f1':>9} {'train_s':>8}  notes "
          f"(multi-label sets: micro-F1 in test_acc){'; textcnn ' + str(overrides) if overrides else ''}", flush=True)
    results: dict = {}
    for name in sets:
        runs = []
        for seed in args.seeds:
            result = run_textcnn(name, seed, overrides)
            runs.append(result)
            print(f"{'textcnn':<10} {name:<14} {100 * result['accuracy']:9.2f} {100 * result['macro_f1']:9.2f} "
                  f"{result['seconds']:8.1f}  seed {seed}, best epoch {result['best_epoch']}, "
                  f"{result['tokenizer']}, max_len {result['max_len']}", flush=True)
        accuracies = [100 * r["accuracy"] for r in runs]
        if len(runs) > 1:
            print(f"{'textcnn':<10} {name:<14} {statistics.mean(accuracies):9.2f} "
                  f"{statistics.mean(100 * r['macro_f1'] for r in runs):9.2f} "
                  f"{statistics.mean(r['seconds'] for r in runs):8.1f}  mean of {len(runs)} seeds, "
                  f"std {statistics.stdev(accuracies):.2f}, range {min(accuracies):.2f}-{max(accuracies):.2f}", flush=True)
        results[name] = {"textcnn": runs}
        for peer in args.peers:
            result = run_tfidf(name) if peer == "tfidf" else run_fasttext(name)
            results[name][peer] = result
            print(f"{peer:<10} {name:<14} {100 * result['accuracy']:9.2f} {100 * result['macro_f1']:9.2f} "
                  f"{result['seconds']:8.1f}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
