"""classification_report: the figures of `evaluate --json` on a case worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textcnn.evaluation import classification_report, confusion_matrix, render_report

LABELS = ["bird", "cat", "dog"]
TARGETS = np.array([0, 0, 1, 1, 1, 2])
PREDICTIONS = np.array([0, 1, 1, 1, 2, 2])


def test_confusion_rows_are_true_and_columns_predicted():
    assert confusion_matrix(TARGETS, PREDICTIONS, 3).tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]


def test_report_figures():
    report = classification_report(TARGETS, PREDICTIONS, LABELS)

    assert report["num_examples"] == 6
    assert report["accuracy"] == pytest.approx(4 / 6)
    bird, cat, dog = report["per_class"]
    assert (bird["label"], bird["precision"], bird["recall"], bird["support"]) == ("bird", 1.0, 0.5, 2)
    assert cat["precision"] == pytest.approx(2 / 3)
    assert cat["recall"] == pytest.approx(2 / 3)
    assert dog["precision"] == pytest.approx(0.5)
    assert dog["f1"] == pytest.approx(2 / 3)
    f1s = [2 / 3, 2 / 3, 2 / 3]
    assert report["macro_f1"] == pytest.approx(np.mean(f1s))
    assert report["confusion_matrix"] == {"labels": LABELS, "matrix": [[1, 1, 0], [0, 2, 1], [0, 0, 1]]}


def test_a_class_never_predicted_scores_zero_without_warnings():
    with np.errstate(all="raise"):
        report = classification_report(np.array([0, 1]), np.array([0, 0]), ["a", "b"])

    assert report["per_class"][1] == {"label": "b", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_report_is_json_serialisable_with_integer_labels():
    report = classification_report(np.array([0, 1]), np.array([0, 1]), [3, 7])

    assert json.loads(json.dumps(report))["confusion_matrix"]["labels"] == [3, 7]


def test_render_report_summarises_the_figures():
    head, per_class, confusion = render_report(classification_report(TARGETS, PREDICTIONS, LABELS), title="test.csv")

    assert head.startswith("test.csv: accuracy 66.67%")
    assert per_class.row_count == 3
    assert confusion.row_count == 3


def test_multilabel_report_figures_worked_out_by_hand():
    from textcnn.evaluation import multilabel_report

    targets = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1], [0, 0, 1]])
    predictions = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 1], [1, 0, 0]])

    report = multilabel_report(targets, predictions, LABELS, thresholds=np.array([0.5, 0.3, 0.4]))

    # bird: TP 2, FP 1, FN 0; cat: TP 1, FP 0, FN 1; dog: TP 1, FP 1, FN 1
    f1 = [2 * 2 / (3 + 2), 2 * 1 / (1 + 2), 2 * 1 / (2 + 2)]
    assert report["macro_f1"] == pytest.approx(np.mean(f1))
    assert report["micro_f1"] == pytest.approx(2 * 4 / (6 + 6))
    assert report["samples_f1"] == pytest.approx(np.mean([2 / 3, 2 / 3, 1.0, 0.0]))
    assert report["subset_accuracy"] == pytest.approx(1 / 4)
    assert report["hamming_loss"] == pytest.approx(4 / 12)
    assert report["per_class"][0] == {
        "label": "bird", "precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(f1[0]), "support": 2,
        "threshold": 0.5,
    }
    head, per_label = render_report(report, title="test.csv")
    assert head.startswith("test.csv: micro-F1 66.67%  macro-F1")
    assert per_label.row_count == 3
    assert json.loads(json.dumps(report))["multi_label"] is True


def test_multilabel_report_agrees_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    from textcnn.evaluation import multilabel_report

    rng = np.random.default_rng(0)
    targets, predictions = rng.random((50, 4)) < 0.3, rng.random((50, 4)) < 0.3
    targets[:, 0] = targets[:, 0] | predictions[:, 0]  # every label present

    report = multilabel_report(targets, predictions, ["a", "b", "c", "d"])

    assert report["micro_f1"] == pytest.approx(metrics.f1_score(targets, predictions, average="micro"))
    assert report["macro_f1"] == pytest.approx(metrics.f1_score(targets, predictions, average="macro"))
    assert report["samples_f1"] == pytest.approx(metrics.f1_score(targets, predictions, average="samples", zero_division=0))
    assert report["hamming_loss"] == pytest.approx(metrics.hamming_loss(targets, predictions))
    assert report["subset_accuracy"] == pytest.approx(metrics.accuracy_score(targets, predictions))
