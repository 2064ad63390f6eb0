"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix;
for multi-label data micro/macro/samples-F1, subset accuracy, hamming loss and per-label figures.

A report is a plain JSON-able dict (the shape of ``textcnn evaluate --json`` and ``metrics.json``);
``render_report`` turns it into tables for a terminal.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts; rows are true classes, columns predicted ones."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return matrix


def classification_report(targets: np.ndarray, predictions: np.ndarray, labels: Sequence[Hashable]) -> dict[str, Any]:
    """Every single-label metric textcnn reports, as a JSON-able dict (fractions in [0, 1])."""
    matrix = confusion_matrix(targets, predictions, len(labels))
    true_positive = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    total = int(support.sum())
    present = support > 0
    return {
        "num_examples": total,
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
        "per_class": [
            {
                "label": label,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        ],
        "confusion_matrix": {"labels": list(labels), "matrix": matrix.tolist()},
    }


def _f1(true_positive: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    denominator = predicted + actual
    return np.divide(2 * true_positive, denominator, out=np.zeros(np.shape(true_positive)), where=denominator > 0)


def multilabel_report(
    targets: np.ndarray, predictions: np.ndarray, labels: Sequence[Hashable], thresholds: np.ndarray | None = None
) -> dict[str, Any]:
    """Every multi-label metric, from (num_texts, num_labels) 0/1 ``targets`` and ``predictions``.

    macro-F1 averages the labels present in ``targets``; samples-F1 averages the texts.
    """
    truth, predicted = np.asarray(targets, dtype=bool), np.asarray(predictions, dtype=bool)
    hits = truth & predicted
    true_positive, support, predicted_count = hits.sum(axis=0), truth.sum(axis=0), predicted.sum(axis=0)
    precision = np.divide(true_positive, predicted_count, out=np.zeros(len(labels)), where=predicted_count > 0)
    recall = np.divide(true_positive, support, out=np.zeros(len(labels)), where=support > 0)
    f1 = _f1(true_positive, predicted_count, support)
    present = support > 0
    total = len(truth)
    per_text_f1 = _f1(hits.sum(axis=1), predicted.sum(axis=1), truth.sum(axis=1))
    per_class = [
        {"label": label, "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
         "support": int(support[i])}
        for i, label in enumerate(labels)
    ]
    if thresholds is not None:
        for row, threshold in zip(per_class, thresholds):
            row["threshold"] = float(threshold)
    return {
        "multi_label": True,
        "num_examples": total,
        "micro_f1": float(_f1(true_positive.sum(), predicted_count.sum(), support.sum())),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "samples_f1": float(per_text_f1.mean()) if total else 0.0,
        "subset_accuracy": float((truth == predicted).all(axis=1).mean()) if total else 0.0,
        "hamming_loss": float((truth != predicted).mean()) if truth.size else 0.0,
        "per_class": per_class,
    }


def summarize_report(report: dict[str, Any], title: str = "") -> str:
    """The headline figures of a report on one line."""
    prefix = f"{title + ': ' if title else ''}"
    if report.get("multi_label"):
        return (
            f"{prefix}micro-F1 {100 * report['micro_f1']:.2f}%  macro-F1 {100 * report['macro_f1']:.2f}%  "
            f"samples-F1 {100 * report['samples_f1']:.2f}%  subset accuracy {100 * report['subset_accuracy']:.2f}%  "
            f"hamming loss {report['hamming_loss']:.4f}  ({report['num_examples']:,} texts)"
        )
    return (
        f"{prefix}accuracy {100 * report['accuracy']:.2f}%  "
        f"macro-F1 {100 * report['macro_f1']:.2f}%  ({report['num_examples']:,} texts)"
    )


def render_report(report: dict[str, Any], title: str = "") -> list:
    """Rich renderables (summary line, per-class table, confusion table when single-label) for ``report``."""
    from rich.table import Table

    head = summarize_report(report, title)
    has_thresholds = any("threshold" in row for row in report["per_class"])
    per_class = Table(title="per label" if report.get("multi_label") else "per class", title_justify="left")
    for column in ("label", "precision", "recall", "F1", "support") + (("threshold",) if has_thresholds else ()):
        per_class.add_column(column, justify="left" if column == "label" else "right")
    for row in report["per_class"]:
        per_class.add_row(
            str(row["label"]),
            f"{100 * row['precision']:.2f}",
            f"{100 * row['recall']:.2f}",
            f"{100 * row['f1']:.2f}",
            f"{row['support']:,}",
            *((f"{row['threshold']:.3f}",) if has_thresholds else ()),
        )
    if report.get("multi_label"):
        return [head, per_class]
    confusion = Table(title="confusion (rows: true, columns: predicted)", title_justify="left")
    labels = [str(label) for label in report["confusion_matrix"]["labels"]]
    confusion.add_column("true \\ pred")
    for label in labels:
        confusion.add_column(label, justify="right")
    for label, counts in zip(labels, report["confusion_matrix"]["matrix"]):
        confusion.add_row(label, *(f"{c:,}" for c in counts))
    return [head, per_class, confusion]
