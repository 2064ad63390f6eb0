"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from textcnn.errors import TextcnnError
from textcnn.report.charts import f1_bars, training_curves
from textcnn.report.png import write_pngs
from textcnn.report.tables import confusion_heatmap, facts_table, per_class_table, splits, summary_table, text

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", sans-serif;
       color: #111; margin: 2rem auto; max-width: 980px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
th, td { padding: 0.25rem 0.6rem; border: 1px solid #ddd; text-align: right; font-variant-numeric: tabular-nums; }
th[scope="row"], .facts td { text-align: left; } thead th { background: #f4f4f5; }
.confusion td.cell { min-width: 3rem; text-align: center; }
.note { color: #555; font-style: italic; }
svg.chart { display: block; margin: 0.8rem 0; max-width: 100%; height: auto; }
svg text { font-size: 11px; fill: #333; } svg text.title { font-size: 13px; font-weight: 600; }
svg text.legend { font-size: 12px; } svg text.run { fill: #555; } svg text.refit { fill: #b45309; }
svg line.refit { stroke: #b45309; }
"""


def metrics_section(metrics: Mapping[str, Any]) -> str:
    """The summary table, then per split its per-class table, confusion heat map and F1 bars."""
    parts = ['<section class="metrics"><h2>Metrics</h2>', summary_table(metrics)]
    for name, report in splits(metrics):
        parts += [
            f'<section class="split {text(name)}"><h3>{text(name)}</h3>',
            per_class_table(report, caption=f"{name}: per class"),
            confusion_heatmap(report, caption=f"{name}: confusion matrix"),
            f1_bars(report, title=f"{name}: F1 per class (%)"),
            "</section>",
        ]
    parts.append("</section>")
    return "".join(parts)


def history_section(history: Sequence[Mapping[str, Any]], *, multi_label: bool = False) -> str:
    """The training curves: train loss, dev score and learning rate per epoch, each run marked."""
    return f'<section class="history"><h2>Training</h2>{training_curves(history, multi_label=multi_label)}</section>'


def render_report(
    metrics: Mapping[str, Any], history: Sequence[Mapping[str, Any]], *, title: str = "textcnn report"
) -> str:
    """The whole page: metrics, training curves and the facts of the run."""
    multi_label = any(report.get("multi_label") for _, report in splits(metrics))
    facts = facts_table(metrics)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{text(title)}</h1>"
        + metrics_section(metrics)
        + history_section(history, multi_label=multi_label)
        + (f'<section class="run"><h2>Run</h2>{facts}</section>' if facts else "")
        + "</body></html>\n"
    )


def write_report(bundle: str | Path, out: str | Path, *, png_dir: str | Path | None = None) -> Path:
    """Write the report of the model bundle ``bundle`` to the HTML file ``out``; its path.

    ``png_dir``: also draw the charts as PNG files there, with matplotlib (see ``write_pngs``).
    """
    from textcnn.bundle import load_bundle

    bundle = Path(bundle)
    trained = load_bundle(bundle)
    if png_dir is not None:
        write_pngs(trained.metrics, trained.history, png_dir)
    path = Path(out)
    page = render_report(trained.metrics, trained.history, title=f"textcnn report: {bundle.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise TextcnnError(f"cannot write {path}: {error.strerror or error}") from None
    return path
