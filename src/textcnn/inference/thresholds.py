"""Per-label decision thresholds of a multi-label model, tuned on dev probabilities."""

from __future__ import annotations

import numpy as np

# Candidate thresholds tried for every label.
THRESHOLD_GRID = np.round(np.arange(0.01, 0.991, 0.01), 2)


def tune_thresholds(probabilities: np.ndarray, targets: np.ndarray, grid: np.ndarray = THRESHOLD_GRID) -> np.ndarray:
    """The threshold of each label that maximises its F1 on (num_texts, num_labels) dev ``probabilities``.

    Floor: a label whose best F1 is 0 (none of its dev texts found, or none in dev) gets the
    probability of its k-th highest-scoring dev text, k = max(1, its dev positives), so it is
    still predicted for texts that score like its best ones.
    """
    truth = targets.astype(bool)  # (num_texts, num_labels)
    thresholds = np.empty(probabilities.shape[1], dtype=np.float64)
    for j in range(probabilities.shape[1]):
        predicted = probabilities[:, j, None] >= grid[None, :]  # (num_texts, grid)
        true_positive = (predicted & truth[:, j, None]).sum(axis=0)
        f1 = 2 * true_positive / np.maximum(1, predicted.sum(axis=0) + truth[:, j].sum())
        best = int(f1.argmax())
        if f1[best] > 0:
            thresholds[j] = grid[best]
        else:
            k = max(1, int(truth[:, j].sum()))
            thresholds[j] = float(np.sort(probabilities[:, j])[-min(k, len(probabilities))]) if len(probabilities) else 0.5
    return thresholds


def apply_thresholds(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Multi-hot predictions: every label at or over its threshold; a text with none gets its most probable label."""
    predicted = probabilities >= thresholds[None, :]  # (num_texts, num_labels)
    empty = ~predicted.any(axis=1)
    predicted[np.flatnonzero(empty), probabilities[empty].argmax(axis=1)] = True
    return predicted
