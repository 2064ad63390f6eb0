"""HTML tables of evaluation reports: the summary of each split, per-class figures, the confusion heat map.

Each function takes reports in the shape of ``metrics.json`` (see ``textcnn.evaluation``) and returns
an HTML fragment; every label and text in it is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable, Mapping

SPLITS = ("dev", "test")  # the reports of metrics.json, in the order shown

SINGLE_LABEL_COLUMNS = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("weighted_f1", "weighted-F1"))
MULTI_LABEL_COLUMNS = (
    ("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("samples_f1", "samples-F1"),
    ("subset_accuracy", "subset accuracy"),
)  # fmt: skip


def text(value: Any) -> str:
    """``value`` as escaped HTML text (labels may be numbers or strings)."""
    return escape(str(value), quote=True)


def percent(value: Any) -> str:
    """A fraction as a percentage with two decimals; a dash where there is none."""
    return "–" if value is None else f"{100 * float(value):.2f}"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], *, caption: str = "", css: str = "") -> str:
    """A table of cells that are HTML already; the first column is the row's header."""
    parts = [f'<table class="{text(css)}">' if css else "<table>"]
    if caption:
        parts.append(f"<caption>{text(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f'<th scope="col">{cell}</th>' for cell in head) + "</tr></thead><tbody>")
    for row in rows:
        cells = list(row)
        parts.append(f'<tr><th scope="row">{cells[0]}</th>' + "".join(f"<td>{cell}</td>" for cell in cells[1:]) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def splits(metrics: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, report) of each split that ``metrics`` holds a report of: dev, then test."""
    return [(name, metrics[name]) for name in SPLITS if isinstance(metrics.get(name), dict) and "per_class" in metrics[name]]


def summary_table(metrics: Mapping[str, Any]) -> str:
    """One row per split (dev, test): texts and the headline figures, in percent."""
    reports = splits(metrics)
    if not reports:
        return '<p class="note">The bundle holds no dev or test report.</p>'
    multi_label = any(report.get("multi_label") for _, report in reports)
    columns = MULTI_LABEL_COLUMNS if multi_label else SINGLE_LABEL_COLUMNS
    head = ["split", "texts", *(f"{text(title)} %" for _, title in columns)]
    if multi_label:
        head.append("hamming loss")
    rows = []
    for name, report in reports:
        row = [text(name), f"{int(report.get('num_examples', 0)):,}", *(percent(report.get(key)) for key, _ in columns)]
        if multi_label:
            row.append("–" if report.get("hamming_loss") is None else f"{float(report['hamming_loss']):.4f}")
        rows.append(row)
    return _table(head, rows, caption="summary", css="summary")


def per_class_table(report: Mapping[str, Any], *, caption: str = "per class") -> str:
    """Precision, recall and F1 (percent) and support of each class; multi-label: each label's threshold too."""
    per_class = report.get("per_class", [])
    thresholds = any("threshold" in row for row in per_class)
    head = ["label", "precision %", "recall %", "F1 %", "support", *(["threshold"] if thresholds else [])]
    rows = [
        [
            text(row["label"]), percent(row["precision"]), percent(row["recall"]), percent(row["f1"]),
            f"{int(row['support']):,}", *([f"{float(row['threshold']):.3f}"] if thresholds else []),
        ]
        for row in per_class
    ]  # fmt: skip
    return _table(head, rows, caption=caption, css="per-class")


def _cell(count: int, row_total: int, true_label: str, predicted: str) -> str:
    """One cell of the heat map: shaded by the share of its row (the true class) it holds."""
    share = count / row_total if row_total else 0.0
    colour = "#fff" if share > 0.55 else "#111"
    tip = f"true {true_label}, predicted {predicted}: {count:,} ({100 * share:.1f}% of the row)"
    return (
        f'<td class="cell" style="background: rgba(37, 99, 235, {share:.3f}); color: {colour}" '
        f'title="{text(tip)}">{count:,}</td>'
    )


def confusion_heatmap(report: Mapping[str, Any], *, caption: str = "confusion matrix") -> str:
    """The confusion matrix as a table shaded by row share (rows: true class, columns: predicted)."""
    confusion = report.get("confusion_matrix")
    if not confusion:
        return '<p class="note">No confusion matrix: each label of a multi-label model is decided on its own.</p>'
    labels = [str(label) for label in confusion["labels"]]
    parts = [f'<table class="confusion"><caption>{text(caption)} (rows: true, columns: predicted)</caption>']
    parts.append('<thead><tr><th scope="col">true \\ predicted</th>')
    parts += [f'<th scope="col">{text(label)}</th>' for label in labels]
    parts.append("</tr></thead><tbody>")
    for label, counts in zip(labels, confusion["matrix"]):
        total = sum(counts)
        cells = "".join(_cell(int(count), total, label, predicted) for count, predicted in zip(counts, labels))
        parts.append(f'<tr><th scope="row">{text(label)}</th>{cells}</tr>')
    parts.append("</tbody></table>")
    return "".join(parts)


def facts_table(metrics: Mapping[str, Any]) -> str:
    """The facts of the run (seed, device, versions, refit, ensemble) as a two-column table of scalars."""
    facts: list[tuple[str, Any]] = []
    run = metrics.get("run")
    if isinstance(run, dict):
        facts += [(key, value) for key, value in run.items() if isinstance(value, (str, int, float, bool))]
    for section in ("refit", "ensemble", "naive_bayes"):
        values = metrics.get(section)
        if isinstance(values, dict):
            facts += [(f"{section}.{key}", value) for key, value in values.items() if not isinstance(value, dict)]
    if not facts:
        return ""
    rows = [[text(key), text(", ".join(map(str, value)) if isinstance(value, list) else value)] for key, value in facts]
    return _table(["fact", "value"], rows, caption="run", css="facts")
