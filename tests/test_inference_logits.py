"""predict_logits / pool_windows: windows of a text pool into one row per text."""

from __future__ import annotations

import numpy as np
import pytest

from textcnn.inference.logits import pool_windows

LOGITS = np.array([[1.0, 5.0], [3.0, -1.0], [2.0, 2.0], [0.0, 4.0], [7.0, 1.0]], dtype=np.float32)
WINDOW_TEXT = np.array([0, 0, 0, 1, 2])


def test_max_pooling_takes_each_class_best_window():
    np.testing.assert_array_equal(pool_windows(LOGITS, WINDOW_TEXT, "max"), [[3.0, 5.0], [0.0, 4.0], [7.0, 1.0]])


def test_mean_pooling_averages_a_text_windows():
    np.testing.assert_allclose(pool_windows(LOGITS, WINDOW_TEXT, "mean"), [[2.0, 2.0], [0.0, 4.0], [7.0, 1.0]])


def test_one_window_per_text_is_returned_unchanged():
    for pool in ("max", "mean"):
        np.testing.assert_array_equal(pool_windows(LOGITS, np.arange(5), pool), LOGITS)


def test_unknown_pool_is_refused():
    with pytest.raises(ValueError, match="max or mean"):
        pool_windows(LOGITS, WINDOW_TEXT, "sum")
