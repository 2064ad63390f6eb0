"""LabelSet: string and integer labels <-> ids; an unseen label is an error that names it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textcnn.data.labels import LabelSet
from textcnn.errors import DataError


def test_labels_are_sorted_and_encoded_in_that_order():
    labels = LabelSet.from_labels(["pos", "neg", "pos", "neutral"])

    assert labels.labels == ["neg", "neutral", "pos"]
    np.testing.assert_array_equal(labels.encode(["pos", "neg"]), [2, 0])
    assert labels.decode([2, 0]) == ["pos", "neg"]


def test_integer_labels_sort_numerically_and_stay_integers():
    labels = LabelSet.from_labels([10, 2, 1, 2])

    assert labels.labels == [1, 2, 10]
    assert labels.decode([2]) == [10]
    assert all(type(label) is int for label in LabelSet.from_json(json.loads(json.dumps(labels.to_json()))).labels)


def test_a_string_digit_finds_an_integer_label():
    # A CSV gives "1" where the model was fitted on the integer 1.
    labels = LabelSet.from_labels([0, 1])

    np.testing.assert_array_equal(labels.encode(["1", "0"]), [1, 0])


def test_unseen_label_error_names_the_label_and_the_source():
    labels = LabelSet.from_labels(["negative", "positive"])

    with pytest.raises(DataError, match=r"dev\.csv: label 'neutral' \(item 2\) was not seen in training; known labels: negative, positive"):
        labels.encode(["positive", "neutral"], source="dev.csv")


def test_duplicate_labels_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        LabelSet(["a", "a"])


def test_multi_hot_rows_and_unseen_label_names_the_text():
    labels = LabelSet(["anger", "joy", "love"])

    assert labels.encode_multi_hot([["joy", "love"], ["anger"]]).tolist() == [[0, 1, 1], [1, 0, 0]]
    with pytest.raises(DataError, match=r"dev.csv: label 'fear' \(item 2\) was not seen in training"):
        labels.encode_multi_hot([["joy"], ["love", "fear"]], source="dev.csv")
