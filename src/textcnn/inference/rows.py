"""The rows that ``textcnn predict`` writes, as plain data: one dict per text, or a CSV header and rows.

Pure functions of the predictions, so that the command line and an HTTP server give the same rows.
``top`` holds each text's ``top_k`` most probable (label, probability) pairs, best first (what
``TextClassifier.predict_top_k(texts, top_k)`` returns); ``chosen`` holds, for a multi-label model, each text's
pairs over their thresholds (``predict_scored``). Probabilities are rounded to 6 decimals in dicts
and written with 6 decimals in CSV cells.
"""

from __future__ import annotations

import csv
import json
from typing import Any, Hashable, Literal, Sequence, TextIO

Pairs = Sequence[tuple[Hashable, float]]
RowKind = Literal["csv", "jsonl"]


def _ranked(pairs: Pairs) -> list[dict[str, Any]]:
    return [{"label": label, "probability": round(p, 6)} for label, p in pairs]


def prediction_rows(
    texts: Sequence[str], top: Sequence[Pairs], chosen: Sequence[Pairs] | None = None, top_k: int = 1
) -> list[dict[str, Any]]:
    """One dict per text: ``text``, ``label``, ``probability`` (multi-label: ``labels``, ``probabilities``),
    and with ``top_k`` > 1 a ``top_k`` list of ``{"label", "probability"}``."""
    rows: list[dict[str, Any]] = []
    for index, (text, best) in enumerate(zip(texts, top)):
        if chosen is None:
            row: dict[str, Any] = {"text": text, "label": best[0][0], "probability": round(best[0][1], 6)}
        else:
            pairs = chosen[index]
            row = {"text": text, "labels": [label for label, _ in pairs], "probabilities": [round(p, 6) for _, p in pairs]}
        if top_k > 1:
            row["top_k"] = _ranked(best)
        rows.append(row)
    return rows


def csv_table(
    texts: Sequence[str],
    top: Sequence[Pairs],
    chosen: Sequence[Pairs] | None = None,
    top_k: int = 1,
    label_sep: str = "|",
) -> tuple[list[str], list[list[str]]]:
    """The CSV header and one row of cells per text.

    Single-label: ``text,label,probability`` then ``label_2,probability_2`` ... up to ``top_k``.
    Multi-label: ``text,labels,probabilities`` (joined by ``label_sep``), then with ``top_k`` > 1
    ``label_1,probability_1`` ... ``label_K,probability_K``.
    """
    multi = chosen is not None
    header = ["text", "labels", "probabilities"] if multi else ["text", "label", "probability"]
    if multi:
        ranks = range(1, top_k + 1) if top_k > 1 else range(0)  # the chosen labels come first
    else:
        ranks = range(2, top_k + 1)  # the best label is the `label` column
    for i in ranks:
        header += [f"label_{i}", f"probability_{i}"]
    rows: list[list[str]] = []
    for index, (text, best) in enumerate(zip(texts, top)):
        cells = [text]
        if multi:
            pairs = chosen[index]
            cells += [label_sep.join(str(label) for label, _ in pairs), label_sep.join(f"{p:.6f}" for _, p in pairs)]
        if not multi or top_k > 1:
            for label, p in best:
                cells += [str(label), f"{p:.6f}"]
        rows.append(cells)
    return header, rows


def write_predictions(
    handle: TextIO,
    kind: RowKind,
    texts: Sequence[str],
    top: Sequence[Pairs],
    chosen: Sequence[Pairs] | None = None,
    top_k: int = 1,
    label_sep: str = "|",
) -> None:
    """Write the rows to an open text handle: JSON lines, or CSV (open the file with ``newline=""``)."""
    if kind == "jsonl":
        for row in prediction_rows(texts, top, chosen, top_k):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    header, rows = csv_table(texts, top, chosen, top_k, label_sep)
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows(rows)
