"""Seeded, stratified splits: train/dev, and K folds for cross-validation."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Hashable, Sequence

import numpy as np


def _shuffled_classes(labels: Sequence[Hashable], seed: int) -> list[np.ndarray]:
    """The indices of each class (classes in label order), each shuffled by one seeded generator."""
    by_class: dict[Hashable, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    rng = np.random.default_rng(seed)
    shuffled = []
    for label in sorted(by_class, key=str):
        members = np.array(by_class[label])
        rng.shuffle(members)
        shuffled.append(members)
    return shuffled


def stratified_split(labels: Sequence[Hashable], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): about ``fraction`` of each class held out, at least one per class of 2+.

    The result depends only on the labels, the fraction and the seed.
    """
    held: list[int] = []
    for members in _shuffled_classes(labels, seed):
        count = int(round(len(members) * fraction))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held.extend(members[:count].tolist())
    held_out = np.array(sorted(held), dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask), held_out


def stratified_folds(labels: Sequence[Hashable], k: int, seed: int) -> list[np.ndarray]:
    """K disjoint, sorted index arrays covering every text, each holding about 1/K of every class.

    Dealt round-robin class after class, so fold sizes differ by at most one text.
    """
    folds: list[list[int]] = [[] for _ in range(k)]
    dealt = 0
    for members in _shuffled_classes(labels, seed):
        for j, index in enumerate(members.tolist()):
            folds[(dealt + j) % k].append(index)
        dealt += len(members)
    return [np.array(sorted(fold), dtype=np.int64) for fold in folds]


def rarest_labels(label_lists: Sequence[Sequence[Hashable]]) -> list[Hashable]:
    """Each multi-label text's rarest label: a stratification key that keeps rare labels in dev."""
    counts = Counter(label for labels in label_lists for label in labels)
    return [min(labels, key=lambda label: (counts[label], str(label))) for labels in label_lists]
