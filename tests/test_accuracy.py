"""Accuracy floors of the default TextClassifier on real benchmark sets (../shared/data, skipped when absent).

The floors sit under recorded runs of the defaults (seed 13, CPU; docs/benchmarks.md: trec 0.884,
chnsenticorp 0.897, mr 0.762), with room for the spread between thread counts and torch builds. Each test trains a default model: about 10 s (trec), 40 s (mr) and 100 s
(chnsenticorp) on a 2-core CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from textcnn import TextClassifier
from textcnn.data.readers import read_records

TREC_MIN_ACCURACY = 0.86
CHNSENTICORP_MIN_ACCURACY = 0.87
MR_MIN_ACCURACY = 0.74

SEED = 13

pytestmark = pytest.mark.slow


def _split(root: Path, name: str, split: str) -> tuple[list[str], list[str]]:
    path = root / name / f"{split}.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    records = read_records(path)
    return records.texts, records.labels


def _test_accuracy(root: Path, name: str, *, with_dev: bool) -> float:
    train = _split(root, name, "train")
    dev = _split(root, name, "dev") if with_dev else None
    test = _split(root, name, "test")
    classifier = TextClassifier(seed=SEED).fit(*train, dev=dev, verbose=False)
    return classifier.evaluate(*test)["accuracy"]


def test_trec_accuracy_with_dev_carved_from_train(shared_data):
    assert _test_accuracy(shared_data, "trec", with_dev=False) >= TREC_MIN_ACCURACY


def test_chnsenticorp_accuracy(shared_data):
    assert _test_accuracy(shared_data, "chnsenticorp", with_dev=True) >= CHNSENTICORP_MIN_ACCURACY


def test_mr_accuracy(shared_data):
    assert _test_accuracy(shared_data, "mr", with_dev=True) >= MR_MIN_ACCURACY
