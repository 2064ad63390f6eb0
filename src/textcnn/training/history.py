"""The training history as JSON-able rows: one per epoch of every run of every network trained.

A row says which network (``member``: 0, or the ensemble member's index) and which run
(``selection``: trained on train, scored on dev; ``refit``: trained on train + dev, no dev score)
it belongs to, and what the epoch did. Figures that do not exist (the dev score of a refit epoch)
are ``None``, so the rows are valid JSON.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from textcnn.training.trainer import EpochRecord

RUNS = ("selection", "refit")


def _number(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def epoch_rows(records: Sequence[EpochRecord], *, run: str, member: int = 0) -> list[dict[str, Any]]:
    """One row per epoch record of one run."""
    if run not in RUNS:
        raise ValueError(f"run must be one of {', '.join(RUNS)}, got {run!r}")
    return [
        {
            "member": member,
            "run": run,
            "epoch": record.epoch,
            "train_loss": _number(record.train_loss),
            "dev_accuracy": _number(record.dev_accuracy),  # subset accuracy for multi-label models
            "dev_macro_f1": _number(record.dev_macro_f1),
            "seconds": _number(record.seconds),
            "texts_per_second": _number(record.examples_per_second),
            "learning_rate": _number(record.learning_rate),
            "best": bool(record.best),
        }
        for record in records
    ]


def member_history(
    selection: Sequence[EpochRecord], refit: Sequence[EpochRecord] | None, member: int = 0
) -> list[dict[str, Any]]:
    """The rows of one network: its selection run, then its refit (if it had one)."""
    rows = epoch_rows(selection, run="selection", member=member)
    if refit is not None:
        rows += epoch_rows(refit, run="refit", member=member)
    return rows
