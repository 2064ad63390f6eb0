"""Inline SVG charts: per-class F1 bars and the training curves (train loss, dev score, learning rate).

Each function returns an ``<svg>`` element as a string (no script, no external reference); labels
and tooltips are escaped. The curves lay the epochs of every run side by side, in the order of the
history (selection run, refit, next ensemble member ...), and mark where each run begins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from textcnn.report.tables import text

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36  # the plot area's margins
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")


@dataclass(frozen=True)
class Series:
    """One curve: a value (or None: no point) per epoch row."""

    name: str
    values: tuple[float | None, ...]


def f1_bars(report: Mapping[str, Any], *, title: str = "F1 per class") -> str:
    """A horizontal bar per class, its F1 in percent, in the order of the report."""
    rows = report.get("per_class", [])
    bar_height, label_width = 22, 160
    height = TOP + bar_height * len(rows) + 8
    span = WIDTH - label_width - 70
    parts = [_svg_open(WIDTH, height, "f1-bars", title)]
    for index, row in enumerate(rows):
        y = TOP + index * bar_height
        f1 = float(row["f1"])
        name = str(row["label"])
        label, shown = text(name), text(name if len(name) <= 24 else name[:23] + "…")
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" class="label">{shown}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{span * f1:.1f}" height="{bar_height - 6}" '
            f'fill="{COLOURS[0]}"><title>{label}: F1 {100 * f1:.2f}%</title></rect>'
            f'<text x="{label_width + span * f1 + 6:.1f}" y="{y + 15}" class="value">{100 * f1:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, css: str, title: str) -> str:
    return (
        f'<svg class="chart {css}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{text(title)}">'
        f'<text x="{LEFT}" y="16" class="title">{text(title)}</text>'
    )


def segments(history: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(first row index, name) of each run in ``history``: rows in a row with the same member and run."""
    found: list[tuple[int, str]] = []
    members = {row.get("member", 0) for row in history}
    previous = None
    for index, row in enumerate(history):
        key = (row.get("member", 0), row.get("run", "selection"))
        if key != previous:
            name = str(key[1]) + (f" (member {key[0] + 1})" if len(members) > 1 else "")
            found.append((index, name))
            previous = key
    return found


def _range(series: Sequence[Series], floor: float | None, ceiling: float | None = None) -> tuple[float, float]:
    values = [value for item in series for value in item.values if value is not None and math.isfinite(value)]
    if not values:
        return 0.0, 1.0
    low = min(values) if floor is None else min(floor, min(values))
    high = max(values)
    if high - low < 1e-12:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    pad = 0.05 * (high - low)
    low, high = (low if floor is not None else low - pad), high + pad
    return low, (high if ceiling is None else min(ceiling, high))


def _axes(count: int, low: float, high: float, history: Sequence[Mapping[str, Any]]) -> list[str]:
    """Frame, y ticks, x ticks (epoch numbers) and the marks where each run begins."""
    x, y = _scales(count, low, high)
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" fill="none" stroke="#999"/>']
    for step in range(5):
        value = low + (high - low) * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="tick">{value:.3g}</text>'
        )
    every = max(1, math.ceil(count / 20))
    for index in range(0, count, every):
        parts.append(f'<text x="{x(index):.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">{history[index].get("epoch", index + 1)}</text>')
    parts.append(f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 4}" text-anchor="middle" class="axis">epoch</text>')
    for start, name in segments(history):
        edge = x(start - 0.5) if start else LEFT
        css = "run refit" if name.startswith("refit") else "run"
        parts.append(
            f'<line class="{css}" x1="{edge:.1f}" x2="{edge:.1f}" y1="{TOP}" y2="{bottom}" stroke="#666" stroke-dasharray="4 3"/>'
            f'<text x="{edge + 4:.1f}" y="{TOP + 12}" class="{css}">{text(name)}</text>'
        )
    return parts


def _scales(count: int, low: float, high: float):
    """Pixel position of a row index and of a value."""
    width, height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: float) -> float:
        return LEFT + width * (index + 0.5) / max(1, count)

    def y(value: float) -> float:
        return TOP + height * (1 - (value - low) / (high - low))

    return x, y


def line_chart(
    history: Sequence[Mapping[str, Any]], series: Sequence[Series], *, title: str, css: str,
    floor: float | None = None, ceiling: float | None = None,
) -> str:
    """Curves over the epoch rows of ``history``: a line per run and series, a point (with a tooltip) per value.

    The y axis spans the values (from ``floor`` when given, at most up to ``ceiling``).
    """
    count = len(history)
    low, high = _range(series, floor, ceiling)
    x, y = _scales(count, low, high)
    parts = [_svg_open(WIDTH, HEIGHT, css, title), *_axes(count, low, high, history)]
    bounds = [start for start, _ in segments(history)] + [count]
    for number, item in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        for start, stop in zip(bounds, bounds[1:]):
            points = [(i, item.values[i]) for i in range(start, stop) if item.values[i] is not None]
            if len(points) > 1:
                path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for index, value in enumerate(item.values):
            if value is None:
                continue
            row = history[index]
            tip = f"{item.name}, {row.get('run', 'selection')} epoch {row.get('epoch', index + 1)}: {value:.4g}"
            parts.append(
                f'<circle class="point" cx="{x(index):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{text(tip)}</title></circle>"
            )
        parts.append(f'<text x="{LEFT + 150 + 160 * number}" y="16" class="legend" fill="{colour}">■ {text(item.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _values(history: Sequence[Mapping[str, Any]], key: str) -> tuple[float | None, ...]:
    values = []
    for row in history:
        value = row.get(key)
        values.append(float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None)
    return tuple(values)


def training_curves(history: Sequence[Mapping[str, Any]], *, multi_label: bool = False) -> str:
    """Three charts over the epochs: train loss, dev score (accuracy and macro-F1), learning rate."""
    if not history:
        return '<p class="note">The bundle holds no training history (it was saved before textcnn recorded one).</p>'
    accuracy = "dev subset accuracy" if multi_label else "dev accuracy"
    return "".join((
        line_chart(history, [Series("train loss", _values(history, "train_loss"))], title="train loss", css="train-loss", floor=0.0),
        line_chart(
            history, [Series(accuracy, _values(history, "dev_accuracy")), Series("dev macro-F1", _values(history, "dev_macro_f1"))],
            title="dev score", css="dev-score", ceiling=1.0,
        ),
        line_chart(history, [Series("learning rate", _values(history, "learning_rate"))], title="learning rate", css="learning-rate", floor=0.0),
    ))  # fmt: skip
