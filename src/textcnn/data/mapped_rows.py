"""Arrays of a streamed file read without keeping their pages: released mappings, or columns read by ``pread``.

A page of a memory-mapped file counts in the process's resident memory from the first read of it
until the mapping is dropped; ``release`` drops the pages (``madvise(MADV_DONTNEED)``: the file's
pages stay in the system's cache, a later read maps them again), so reading a file of any size in
spans keeps the resident memory to about one span. Reads scattered over a file are another matter:
one touch can map a whole large folio (up to megabytes) of it, so the rows of a batch would map far
more than they read. ``FileColumn`` reads those with ``os.pread`` instead, into arrays that go with
the batch.
"""

from __future__ import annotations

import mmap
import os
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


GAP = 64  # wanted values at most this far apart are read in one piece
FEW = 1 << 14  # reads of at most this many values (a batch's) are gathered at once, larger ones a run at a time


class FileColumn:
    """A 1-D array of a ``.npy`` file read with ``os.pread`` where indexed, never mapped: what it read is freed with it.

    Made from the array opened with ``np.load(mmap_mode="r")``. ``hold(rows)`` reads those values once and
    serves later reads among them from memory (a window of rows being trained on).
    """

    ndim = 1

    def __init__(self, array: np.memmap) -> None:
        self.path, self.base, self.dtype, self.length = str(array.filename), int(array.offset), array.dtype, len(array)
        self._fd: int | None = None
        self._held: tuple[np.ndarray, np.ndarray] | None = None  # (sorted rows, their values)

    def __len__(self) -> int:
        return self.length

    @property
    def shape(self) -> tuple[int]:
        return (self.length,)

    def __getitem__(self, index: object) -> np.ndarray:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.length)
            if step == 1:
                return self._range(start, max(start, stop))
            index = np.arange(start, stop, step)
        if isinstance(index, (int, np.integer)):
            return self._range(int(index), int(index) + 1)[0]
        positions = np.asarray(index, dtype=np.int64)
        held = self._from_held(positions)
        return held if held is not None else self.read(positions)

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        raise TypeError("a column of a streamed file is read where indexed, never whole")

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)

    def hold(self, rows: np.ndarray) -> None:
        """Keep the values of ``rows`` in memory (in place of the ones held before)."""
        self._held = None
        rows = np.unique(rows)
        self._held = (rows, self.read(rows))

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The values at ``positions`` (any shape), read in runs of nearby positions."""
        flat = positions.ravel()
        if not len(flat):
            return np.zeros(positions.shape, dtype=self.dtype)
        if int(flat.min()) < 0 or int(flat.max()) >= self.length:
            raise IndexError(f"index out of range for {self.length} values of {self.path}")
        ascending = len(flat) == 1 or bool((flat[1:] > flat[:-1]).all())
        unique, inverse = (flat, None) if ascending else np.unique(flat, return_inverse=True)
        bounds = np.r_[0, np.flatnonzero(np.diff(unique) > GAP) + 1, len(unique)]
        values = self._runs(unique, bounds) if len(unique) <= FEW else self._runs_one_by_one(unique, bounds)
        return (values if inverse is None else values[inverse]).reshape(positions.shape)

    def _runs(self, unique: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """The values at sorted ``unique``, whose runs start at ``bounds``: all runs read, then one gather."""
        firsts, lasts = unique[bounds[:-1]], unique[bounds[1:] - 1]
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        size, base = self.dtype.itemsize, self.base
        read = b"".join([os.pread(self._fd, (b - a + 1) * size, base + a * size) for a, b in zip(firsts.tolist(), lasts.tolist())])
        spans = lasts - firsts + 1
        if len(read) != int(spans.sum()) * size:
            raise OSError(f"{self.path} ended before value {int(lasts[-1])} of {self.length}")
        run = np.repeat(np.arange(len(firsts)), np.diff(bounds))
        return np.frombuffer(read, dtype=self.dtype)[(np.cumsum(spans) - spans)[run] + unique - firsts[run]]

    def _runs_one_by_one(self, unique: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """As ``_runs``, a run at a time: no temporary the size of all of them (a window's rows)."""
        values = np.empty(len(unique), dtype=self.dtype)
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            first = int(unique[start])
            values[start:stop] = self._range(first, int(unique[stop - 1]) + 1)[unique[start:stop] - first]
        return values

    def _from_held(self, positions: np.ndarray) -> np.ndarray | None:
        if self._held is None or not positions.size:
            return None
        rows, values = self._held
        at = np.minimum(np.searchsorted(rows, positions), len(rows) - 1)
        return values[at] if np.array_equal(rows[at], positions) else None

    def _range(self, start: int, stop: int) -> np.ndarray:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        size, offset, pieces = (stop - start) * self.dtype.itemsize, self.base + start * self.dtype.itemsize, []
        while size > 0:
            piece = os.pread(self._fd, min(size, 1 << 30), offset)
            if not piece:
                raise OSError(f"{self.path} ended before value {stop} of {self.length}")
            pieces.append(piece)
            size, offset = size - len(piece), offset + len(piece)
        return np.frombuffer(b"".join(pieces) if len(pieces) != 1 else pieces[0], dtype=self.dtype)
