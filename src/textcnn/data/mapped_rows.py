"""Memory-mapped arrays read a span at a time, their pages handed back to the system after use.

A page of a memory-mapped file counts in the process's resident memory from the first read of it
until the mapping is dropped; ``release`` drops the pages (``madvise(MADV_DONTNEED)``: the file's
pages stay in the system's cache, a later read maps them again), so reading a file of any size in
spans keeps the resident memory to about one span.
"""

from __future__ import annotations

import mmap
from typing import Iterator

import numpy as np

SPAN_ROWS = 1 << 20  # rows read at a time by the passes over every row


def release(*arrays: object) -> None:
    """Drop the resident pages of each memory-mapped array (others are left alone)."""
    for array in arrays:
        mapping = getattr(array, "_mmap", None)
        if mapping is not None and hasattr(mmap, "MADV_DONTNEED") and not mapping.closed:
            mapping.madvise(mmap.MADV_DONTNEED)


def spans(count: int, size: int = SPAN_ROWS) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive spans of at most ``size`` covering ``0 .. count - 1``."""
    for start in range(0, count, size):
        yield start, min(count, start + size)
