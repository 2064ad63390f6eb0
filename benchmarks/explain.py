"""Faithfulness and cost of explanations: textcnn's exact ones against LIME and integrated gradients.

On a seeded sample of a set's test texts, each method scores every token for the class the model
predicts; then, as ERASER (DeYoung et al. 2020) measures it, with the top 1/5/10/20/50 % of tokens
by score (at least one token):
- comprehensiveness: p(class | text) - p(class | text without them), averaged over the bins
  (higher: the tokens named matter);
- sufficiency: p(class | text) - p(class | them alone), averaged (lower: they suffice);
- the deletion curve (AOPC): the probability drop after deleting the top 10 %, 20 %, ..., 50 %.
Removed tokens are left out of the token sequence, and every probability is the full model's (the
network and its n-gram model). Methods:
- textcnn: ``TextClassifier.explain`` (exact: contributions + bias = logit), its token scores (each
  network window split exactly over its tokens, each n-gram of the n-gram model evenly);
- lime: ``lime.lime_text.LimeTextExplainer`` at its defaults (5,000 perturbed samples, bag of
  words), over the model's own tokens (joined by spaces, split on spaces);
- ig: Captum's ``LayerIntegratedGradients`` on the embedding layer (its default 50 steps, a
  baseline of padding), of the network's logit for the class; the n-gram model is not
  differentiable, so its share is not attributed.
Time per explanation is the wall time of one text, one thread. Reproduce with:

    python benchmarks/explain.py --sets mr chnsenticorp --texts 100
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import math
import time

import numpy as np
import torch

from _data import load_split, print_header, run_header
from textcnn import TextClassifier

BINS = (0.01, 0.05, 0.10, 0.20, 0.50)
DELETION = (0.1, 0.2, 0.3, 0.4, 0.5)


def _probability(classifier: TextClassifier, token_lists: list[list[str]], column: int) -> np.ndarray:
    predictor = classifier.predictor
    return predictor.proba(predictor.encode_token_lists(token_lists))[:, column]


def _top(scores: np.ndarray, share: float) -> np.ndarray:
    count = max(1, math.ceil(share * len(scores)))
    return np.argsort(-scores, kind="stable")[:count]


def faithfulness(classifier: TextClassifier, tokens: list[str], scores: np.ndarray, column: int) -> dict[str, float]:
    """Comprehensiveness, sufficiency and AOPC of one text's token ``scores`` for class ``column``."""
    keep = lambda chosen: [token for i, token in enumerate(tokens) if i in chosen]  # noqa: E731
    drop = lambda chosen: [token for i, token in enumerate(tokens) if i not in chosen]  # noqa: E731
    bins = [set(_top(scores, share).tolist()) for share in BINS]
    deletions = [set(_top(scores, share).tolist()) for share in DELETION]
    lists = [tokens] + [drop(b) for b in bins] + [keep(b) for b in bins] + [drop(d) for d in deletions]
    p = _probability(classifier, lists, column)
    full, n = p[0], len(BINS)
    return {
        "comprehensiveness": float(np.mean(full - p[1 : 1 + n])),
        "sufficiency": float(np.mean(full - p[1 + n : 1 + 2 * n])),
        "aopc": float(np.mean(full - p[1 + 2 * n :])),
    }


def textcnn_scores(classifier: TextClassifier, text: str, tokens: list[str], label) -> np.ndarray:
    explained = classifier.explain([text], target=label, top=None)[0].explained[0]
    return np.asarray(explained.token_scores)


def lime_scores(classifier: TextClassifier, text: str, tokens: list[str], label) -> np.ndarray:
    from lime.lime_text import LimeTextExplainer

    column = classifier.classes.index(label)
    explainer = LimeTextExplainer(split_expression=r"\s+", random_state=13)
    predictor = classifier.predictor

    def predict(strings: list[str]) -> np.ndarray:
        return predictor.proba(predictor.encode_token_lists([s.split() for s in strings]))

    result = explainer.explain_instance(" ".join(tokens), predict, labels=(column,), num_features=len(tokens))
    weights = dict(result.as_list(label=column))
    return np.asarray([weights.get(token, 0.0) for token in tokens])


def ig_scores(classifier: TextClassifier, text: str, tokens: list[str], label) -> np.ndarray:
    from captum.attr import LayerIntegratedGradients

    model = classifier.model
    column = classifier.classes.index(label)
    encoded = classifier.predictor.encode_token_lists([tokens])  # as the model reads it (max_len)
    ids = torch.tensor(encoded.flat_ids().astype(np.int64)[None])
    lengths = torch.tensor(encoded.lengths)
    embedding = model.members[0].embedding if hasattr(model, "members") else model.embedding
    explainer = LayerIntegratedGradients(lambda x, n: model(x, n), embedding)
    attributions = explainer.attribute(ids, baselines=torch.zeros_like(ids), target=column, additional_forward_args=(lengths,))
    scores = np.zeros(len(tokens))
    read = attributions.sum(dim=2)[0].detach().numpy()
    scores[: len(read)] = read[: len(tokens)]  # tokens past max_len are not read: 0
    return scores


METHODS = {"textcnn": textcnn_scores, "lime": lime_scores, "ig": ig_scores}


def run_set(name: str, texts: int, seed: int) -> list[dict]:
    train, dev, test = (load_split(name, split) for split in ("train", "dev", "test"))
    started = time.perf_counter()
    classifier = TextClassifier(train={"seed": seed}).fit(*train, dev=dev)
    print(f"# {name}: trained in {time.perf_counter() - started:.0f}s", flush=True)
    rng = np.random.default_rng(seed)
    sample = [test[0][i] for i in sorted(rng.choice(len(test[0]), size=min(texts, len(test[0])), replace=False))]
    predicted = classifier.predict(sample)
    rows = []
    for method, scorer in METHODS.items():
        figures, seconds = [], []
        for text, label in zip(sample, predicted):
            tokens = classifier.tokenizer(text)
            if not tokens:
                continue
            began = time.perf_counter()
            scores = scorer(classifier, text, tokens, label)
            seconds.append(time.perf_counter() - began)
            figures.append(faithfulness(classifier, tokens, scores, classifier.classes.index(label)))
        row = {key: float(np.mean([f[key] for f in figures])) for key in figures[0]}
        rows.append({"set": name, "method": method, "texts": len(figures), **row, "ms": 1000 * float(np.median(seconds))})
        print(f"{name:<14} {method:<8} {row['comprehensiveness']:>8.4f} {row['sufficiency']:>8.4f} {row['aopc']:>8.4f} "
              f"{rows[-1]['ms']:>10.2f}", flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["mr", "chnsenticorp"])
    parser.add_argument("--texts", type=int, default=100, help="test texts sampled per set (seeded)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print_header(run_header(args.sets, [args.seed], {"textcnn": {}}))
    print(f"{'set':<14} {'method':<8} {'compreh.':>8} {'suffic.':>8} {'aopc':>8} {'ms/expl.':>10}  (median time per explanation)")
    results = [row for name in args.sets for row in run_set(name, args.texts, args.seed)]
    for name in args.sets:
        by = {row["method"]: row for row in results if row["set"] == name}
        print(f"# {name}: lime / textcnn time {by['lime']['ms'] / by['textcnn']['ms']:.0f}x, ig / textcnn {by['ig']['ms'] / by['textcnn']['ms']:.1f}x")
    print(f"# python benchmarks/explain.py --sets {' '.join(args.sets)} --texts {args.texts} --seed {args.seed}")


if __name__ == "__main__":
    main()
