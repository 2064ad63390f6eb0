"""The JSON files beside the weights: vocab.json, labels.json, thresholds.json, history.json, metrics.json."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Hashable

from textcnn.bundle_checks.limits import MAX_LABELS, MAX_VOCAB_SIZE
from textcnn.data.vocab import PAD, UNK
from textcnn.errors import BundleError


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _first_duplicate(items: list[Hashable]) -> tuple[int, int] | None:
    """The ids of the first item that appears twice (first and second place), if any."""
    if len(set(items)) == len(items):  # the common case, at the speed of a set
        return None
    seen: dict[Hashable, int] = {}
    for i, item in enumerate(items):
        if item in seen:
            return seen[item], i
        seen[item] = i
    return None


def check_vocab(path: Path, tokens: Any, expected_size: int) -> list[str]:
    """The tokens of vocab.json: distinct strings, ``<pad>`` and ``<unk>`` first, as many as config.json says."""
    if not isinstance(tokens, list):
        raise BundleError(f"expected a list of tokens, got a {_type_name(tokens)}", path=path)
    if len(tokens) > MAX_VOCAB_SIZE:
        raise BundleError(f"holds {len(tokens):,} tokens, more than any real vocabulary (limit {MAX_VOCAB_SIZE:,})", path=path)
    wrong = next((i for i, token in enumerate(tokens) if not isinstance(token, str)), None)
    if wrong is not None:
        raise BundleError(f"token {wrong} is a {_type_name(tokens[wrong])}, not a string", path=path)
    if tokens[:2] != [PAD, UNK]:
        raise BundleError(f"a vocabulary starts with {PAD!r}, {UNK!r}", path=path)
    twice = _first_duplicate(tokens)
    if twice is not None:
        raise BundleError(f"token {tokens[twice[0]]!r} appears twice (ids {twice[0]} and {twice[1]})", path=path)
    if len(tokens) != expected_size:
        raise BundleError(f"holds {len(tokens):,} tokens, config.json says vocab_size {expected_size:,}", path=path)
    return tokens


def check_labels(path: Path, labels: Any, expected_size: int) -> list[str | int]:
    """The labels of labels.json: distinct strings or integers, as many as config.json says."""
    if not isinstance(labels, list) or not labels:
        raise BundleError(f"expected a non-empty list of labels, got {_type_name(labels)} {labels!r:.40}", path=path)
    if len(labels) > MAX_LABELS:
        raise BundleError(f"holds {len(labels):,} labels, more than any real model (limit {MAX_LABELS:,})", path=path)
    wrong = next((i for i, label in enumerate(labels) if isinstance(label, bool) or not isinstance(label, (str, int))), None)
    if wrong is not None:
        raise BundleError(f"label {wrong} is a {_type_name(labels[wrong])}, not a string or an integer", path=path)
    twice = _first_duplicate(labels)
    if twice is not None:
        raise BundleError(f"label {labels[twice[0]]!r} appears twice (ids {twice[0]} and {twice[1]})", path=path)
    if len(labels) != expected_size:
        raise BundleError(f"holds {len(labels):,} labels, config.json says num_classes {expected_size:,}", path=path)
    return labels


def check_thresholds(path: Path, thresholds: Any, labels: list[str | int]) -> list[float]:
    """One decision threshold per label, each a number in [0, 1]."""
    if not isinstance(thresholds, list) or len(thresholds) != len(labels):
        raise BundleError(f"expected a list of {len(labels)} thresholds, one per label", path=path)
    for i, value in enumerate(thresholds):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise BundleError(f"threshold {i} (label {labels[i]!r}) is {value!r:.40}, not a number in [0, 1]", path=path)
    return [float(value) for value in thresholds]


def check_history(path: Path, rows: Any) -> tuple[dict[str, Any], ...]:
    """history.json: a list of objects, one per epoch."""
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BundleError("expected a list of objects, one per epoch", path=path)
    return tuple(rows)


def check_metrics(path: Path, metrics: Any) -> dict[str, Any]:
    """metrics.json: an object (of reports)."""
    if not isinstance(metrics, dict):
        raise BundleError(f"expected an object of reports, got a {_type_name(metrics)}", path=path)
    return metrics
