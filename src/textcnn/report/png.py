"""The report's charts as PNG files, drawn by matplotlib (``pip install "textcnn[plots]"``).

The figures are made with ``matplotlib.figure.Figure`` and its Agg canvas, never pyplot, so an
application's matplotlib backend and open figures are left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from textcnn.errors import TextcnnError
from textcnn.report.charts import segments
from textcnn.report.tables import splits


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise TextcnnError('PNG charts need matplotlib: pip install "textcnn[plots]"') from None
    return Figure


def _curve(axes: Any, history: Sequence[Mapping[str, Any]], key: str, name: str, colour: str = "C0") -> None:
    """One line per run (the runs are not joined), in one colour, labelled once."""
    bounds = [start for start, _ in segments(history)] + [len(history)]
    label = name
    for start, stop in zip(bounds, bounds[1:]):
        points = [(i + 1, history[i][key]) for i in range(start, stop) if isinstance(history[i].get(key), (int, float))]
        if points:
            axes.plot(*zip(*points), marker="o", markersize=3, color=colour, label=label)
            label = None


def _training_figure(Figure: Any, history: Sequence[Mapping[str, Any]], multi_label: bool) -> Any:
    """Train loss, dev score and learning rate over the epoch rows, each run's start marked."""
    figure = Figure(figsize=(8, 8), layout="constrained")
    loss, score, rate = figure.subplots(3, 1, sharex=True)
    _curve(loss, history, "train_loss", "train loss")
    _curve(score, history, "dev_accuracy", "dev subset accuracy" if multi_label else "dev accuracy")
    _curve(score, history, "dev_macro_f1", "dev macro-F1", "C1")
    _curve(rate, history, "learning_rate", "learning rate")
    for axes, title in ((loss, "train loss"), (score, "dev score"), (rate, "learning rate")):
        axes.set_title(title, loc="left")
        for start, name in segments(history):
            axes.axvline(start + 0.5, color="#b45309" if name.startswith("refit") else "#666", linestyle="--", linewidth=1)
            axes.annotate(name, (start + 0.6, 1), xycoords=("data", "axes fraction"), va="top", fontsize=8)
        if axes.lines:
            axes.legend(loc="lower left", fontsize=8)
    rate.set_xlabel("epoch row (runs in order)")
    return figure


def _split_figure(Figure: Any, name: str, report: Mapping[str, Any]) -> Any:
    """The confusion heat map (single-label) beside the F1 bars of each class."""
    labels = [str(row["label"]) for row in report["per_class"]]
    confusion = report.get("confusion_matrix")
    figure = Figure(figsize=(10, max(3, 0.4 * len(labels) + 1.5)), layout="constrained")
    heat, bars = figure.subplots(1, 2) if confusion else (None, figure.subplots(1, 1))
    if heat is not None:
        matrix = confusion["matrix"]
        rows = [[count / (sum(row) or 1) for count in row] for row in matrix]
        heat.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        heat.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        heat.set_yticks(range(len(labels)), labels)
        heat.set_xlabel("predicted")
        heat.set_ylabel("true")
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                heat.text(j, i, f"{count:,}", ha="center", va="center", color="white" if rows[i][j] > 0.55 else "black")
        heat.set_title(f"{name}: confusion matrix", loc="left")
    bars.barh(range(len(labels)), [100 * row["f1"] for row in report["per_class"]], color="#2563eb")
    bars.set_yticks(range(len(labels)), labels)
    bars.invert_yaxis()
    bars.set_xlim(0, 100)
    bars.set_title(f"{name}: F1 per class (%)", loc="left")
    return figure


def write_pngs(metrics: Mapping[str, Any], history: Sequence[Mapping[str, Any]], directory: str | Path) -> list[Path]:
    """``training.png`` (when there is a history) and ``dev.png`` / ``test.png`` in ``directory``; their paths."""
    Figure = _figure_class()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    reports = splits(metrics)
    multi_label = any(report.get("multi_label") for _, report in reports)
    figures = [(name, _split_figure(Figure, name, report)) for name, report in reports]
    if history:
        figures.insert(0, ("training", _training_figure(Figure, history, multi_label)))
    written = []
    for name, figure in figures:
        path = directory / f"{name}.png"
        figure.savefig(path, dpi=110)
        written.append(path)
    return written
