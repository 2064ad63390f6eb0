"""Shared helpers for the benchmark scripts: where ../shared/data is and how to read a set."""

from __future__ import annotations

import os
from pathlib import Path

from textcnn.data.readers import read_records

DATA_ROOT = Path(os.environ.get("TEXTCNN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SETS = ("mr", "sst2", "trec", "chnsenticorp", "thucnews")


def split_path(name: str, split: str) -> Path | None:
    path = DATA_ROOT / name / f"{split}.csv"
    return path if path.exists() else None


def load_split(name: str, split: str):
    path = split_path(name, split)
    if path is None:
        return None
    records = read_records(path)
    return records.texts, records.labels
