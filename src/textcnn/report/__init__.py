"""The report of a model bundle as HTML: tables and inline SVG charts, as strings a page can embed.

``write_report`` writes the self-contained page of a bundle (``textcnn report``); the functions that
build it take the bundle's metrics and history (plain JSON values) and return HTML fragments.
``write_pngs`` draws the same charts as PNG files (needs matplotlib: the ``plots`` extra).
"""

from textcnn.report.charts import Series, f1_bars, line_chart, training_curves
from textcnn.report.page import STYLE, history_section, metrics_section, render_report, write_report
from textcnn.report.png import write_pngs
from textcnn.report.tables import confusion_heatmap, facts_table, per_class_table, summary_table

__all__ = [
    "STYLE", "Series", "confusion_heatmap", "f1_bars", "facts_table", "history_section", "line_chart",
    "metrics_section", "per_class_table", "render_report", "summary_table", "training_curves", "write_pngs",
    "write_report",
]  # fmt: skip
