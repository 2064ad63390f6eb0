"""Per-label thresholds: the F1-best grid value, a floor for labels that F1 cannot place, a fallback label."""

from __future__ import annotations

import numpy as np

from textcnn.inference.thresholds import apply_thresholds, tune_thresholds

GRID = np.array([0.1, 0.3, 0.5, 0.7, 0.9])


def test_each_label_gets_its_f1_best_threshold():
    probabilities = np.array([[0.95, 0.35], [0.6, 0.32], [0.4, 0.1], [0.2, 0.05]])
    targets = np.array([[1, 1], [1, 1], [0, 0], [0, 0]])

    thresholds = tune_thresholds(probabilities, targets, GRID)

    # label 0: 0.5 separates the two positives (0.3 would add the 0.4 negative); label 1: only 0.3 does
    assert thresholds.tolist() == [0.5, 0.3]


def test_a_label_that_f1_cannot_place_gets_a_floor_so_it_is_still_predicted():
    probabilities = np.array([[0.04, 0.2], [0.03, 0.2], [0.02, 0.9], [0.01, 0.2]], dtype=np.float32)
    targets = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])  # label 0: scores below the grid; label 1: no dev text

    thresholds = tune_thresholds(probabilities, targets, GRID)

    assert thresholds[0] == np.float32(0.03)  # its 2nd highest dev score: the top 2 texts are predicted
    assert apply_thresholds(probabilities, thresholds)[:, 0].tolist() == [True, True, False, False]
    assert thresholds[1] == np.float32(0.9)  # no dev positive: its single top-scoring text


def test_a_text_with_no_label_over_threshold_gets_its_most_probable_label():
    probabilities = np.array([[0.2, 0.4, 0.1], [0.9, 0.8, 0.1]])

    predicted = apply_thresholds(probabilities, np.array([0.5, 0.5, 0.5]))

    assert predicted.tolist() == [[False, True, False], [True, True, False]]
