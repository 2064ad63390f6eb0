"""The cross-validation folds of benchmarks/tune.py: disjoint, covering, stratified."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def tune():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import tune as module
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_folds_cover_every_text_once_and_keep_class_shares(tune):
    labels = ["a"] * 53 + ["b"] * 31 + ["c"] * 7 + ["d"] * 2
    folds = tune.stratified_folds(labels, 5, seed=12345)
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(len(labels)))  # disjoint and covering
    sizes = [len(fold) for fold in folds]
    assert max(sizes) - min(sizes) <= 1
    for label, total in Counter(labels).items():
        per_fold = [sum(labels[i] == label for i in fold) for fold in folds]
        assert max(per_fold) - min(per_fold) <= 1, (label, per_fold)
        assert sum(per_fold) == total


def test_folds_depend_on_the_seed_only(tune):
    labels = [i % 3 for i in range(60)]
    first = tune.stratified_folds(labels, 4, seed=1)
    again = tune.stratified_folds(labels, 4, seed=1)
    other = tune.stratified_folds(labels, 4, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
