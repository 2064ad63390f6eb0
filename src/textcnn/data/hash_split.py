"""A dev split by hashing: row ``i`` is dev when a hash of ``(i, seed)`` falls under the fraction.

Each row is decided alone, so a file of any size is split as it is read, the same way for a given
seed on every run, with no copy of the file and no pass over it first. The share of dev rows is near
``fraction`` (binomial: within a few tenths of a percent for 100,000 rows), not exact, and it is not
stratified by label (the in-memory ``data.splits.stratified_split`` is).
"""

from __future__ import annotations

import numpy as np

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: 64 well-mixed bits of each uint64."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK


def hashed_dev_rows(start: int, count: int, fraction: float, seed: int) -> np.ndarray:
    """Whether each of rows ``start .. start + count - 1`` (0-based, rows kept by the reader) is dev: (count,) bool."""
    rows = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        keyed = _mix(rows ^ _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0])
    return (keyed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53)) < fraction
