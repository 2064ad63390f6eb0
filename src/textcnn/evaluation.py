"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix.

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


def render_report(report: dict[str, Any], title: str = "") -> list:
    """Rich renderables (summary line, per-class table, confusion table) for ``report``."""
    from rich.table import Table

    head = (
        f"{title + ': ' if title else ''}accuracy {100 * report['accuracy']:.2f}%  "
        f"macro-F1 {100 * report['macro_f1']:.2f}%  ({report['num_examples']:,} texts)"
    )
    per_class = Table(title="per class", title_justify="left")
    for column in ("label", "precision", "recall", "F1", "support"):
        per_class.add_column(column, justify="left" if column == "label" else "right")
    for row in report["per_class"]:
        per_class.add_row(
            str(row["label"]),
            f"{100 * row['precision']:.2f}",
            f"{100 * row['recall']:.2f}",
            f"{100 * row['f1']:.2f}",
            f"{row['support']:,}",
        )
    confusion = Table(title="confusion (rows: true, columns: predicted)", title_justify="left")
    labels = [str(label) for label in report["confusion_matrix"]["labels"]]
    confusion.add_column("true \\ pred")
    for label in labels:
        confusion.add_column(label, justify="right")
    for label, counts in zip(labels, report["confusion_matrix"]["matrix"]):
        confusion.add_row(label, *(f"{c:,}" for c in counts))
    return [head, per_class, confusion]
