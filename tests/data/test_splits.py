"""stratified_split and stratified_folds: seeded, class-balanced, disjoint and complete."""

from __future__ import annotations

from collections import Counter

import numpy as np

from textcnn.data.splits import stratified_folds, stratified_split

LABELS = ["a"] * 60 + ["b"] * 30 + ["c"] * 10


def test_same_seed_same_split_and_other_seed_other_split():
    first = stratified_split(LABELS, 0.2, seed=13)
    again = stratified_split(LABELS, 0.2, seed=13)
    other = stratified_split(LABELS, 0.2, seed=14)

    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_is_disjoint_and_complete():
    kept, held = stratified_split(LABELS, 0.2, seed=13)

    assert set(kept.tolist()).isdisjoint(held.tolist())
    assert sorted(kept.tolist() + held.tolist()) == list(range(len(LABELS)))


def test_split_keeps_class_proportions():
    _, held = stratified_split(LABELS, 0.2, seed=13)

    assert Counter(LABELS[i] for i in held) == {"a": 12, "b": 6, "c": 2}


def test_every_class_with_two_members_keeps_one_on_each_side():
    labels = ["a"] * 20 + ["rare"] * 2 + ["single"]

    kept, held = stratified_split(labels, 0.1, seed=13)

    assert Counter(labels[i] for i in held)["rare"] == 1
    assert Counter(labels[i] for i in kept)["rare"] == 1
    assert "single" in {labels[i] for i in kept}


def test_folds_cover_every_text_once_and_keep_class_shares():
    labels = ["a"] * 53 + ["b"] * 31 + ["c"] * 7 + ["d"] * 2
    folds = stratified_folds(labels, 5, seed=12345)
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(len(labels)))  # disjoint and covering
    sizes = [len(fold) for fold in folds]
    assert max(sizes) - min(sizes) <= 1
    for label, total in Counter(labels).items():
        per_fold = [sum(labels[i] == label for i in fold) for fold in folds]
        assert max(per_fold) - min(per_fold) <= 1, (label, per_fold)
        assert sum(per_fold) == total


def test_folds_depend_on_the_seed_only():
    labels = [i % 3 for i in range(60)]
    first = stratified_folds(labels, 4, seed=1)
    again = stratified_folds(labels, 4, seed=1)
    other = stratified_folds(labels, 4, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
