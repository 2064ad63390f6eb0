"""Each epoch's batch order over the rows of a streamed file, drawn a window of rows at a time.

A file of at most ``WINDOW_ROWS`` rows is ordered as ``batching.batch_order`` orders texts in memory
(the same draws, so the same batches). A larger one, in memory O(window) rather than O(rows): the
blocks of ``BLOCK_ROWS`` consecutive rows are put in a seeded random order, and each window of
``WINDOW_ROWS // BLOCK_ROWS`` of them has its train rows shuffled (or, with weights, drawn with
replacement in proportion to them), sorted by length within pools of ``pool`` batches, cut into
batches, and its batches shuffled. The rows a window leaves over (fewer than a batch) go on to the
next one, so every batch but one (in the last window) is full and an epoch has ``ceil(rows / batch_size)``
batches, as in memory. Batches are rows of the file.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol

import numpy as np

from textcnn.data.batching import batch_order

BLOCK_ROWS = 4096  # consecutive rows that stay together in a window
WINDOW_ROWS = 1 << 18  # rows ordered together (a file of at most this many rows is ordered as in memory)

Weights = Callable[[np.ndarray], np.ndarray]  # rows of the file -> their sampling weights


class Rows(Protocol):
    """What the order needs of a streamed file's rows (``stream_encoding.StreamedTexts``)."""

    def num_file_rows(self) -> int: ...

    def train_mask(self, start: int, stop: int) -> np.ndarray: ...

    def row_lengths(self, rows: np.ndarray) -> np.ndarray: ...

    def hold(self, rows: np.ndarray) -> None: ...


def window_batches(
    texts: Rows, batch_size: int, *, rng: np.random.Generator, pool: int = 50, weights: Weights | None = None, start: int = 0
) -> Iterator[np.ndarray]:
    """The epoch's batches (rows of the file) from batch ``start`` on; the ones before are drawn and left out."""
    rows_total = texts.num_file_rows()
    if rows_total <= WINDOW_ROWS:
        yield from _in_one(texts, batch_size, rng, pool, weights, start)
        return
    blocks = -(-rows_total // BLOCK_ROWS)
    per_window = max(1, WINDOW_ROWS // BLOCK_ROWS)
    block_order = rng.permutation(blocks)
    carry = np.zeros(0, dtype=np.int64)
    for first in range(0, blocks, per_window):
        rows = np.concatenate([_block_rows(texts, int(block), rows_total) for block in block_order[first : first + per_window]])
        if weights is None:
            rows = rows[rng.permutation(len(rows))]
        elif len(rows):
            drawn = weights(rows)
            rows = rows[rng.choice(len(rows), size=len(rows), replace=True, p=drawn / drawn.sum())]
        rows = np.concatenate([carry, rows])
        keep = len(rows) if first + per_window >= blocks else len(rows) - len(rows) % batch_size
        rows, carry = rows[:keep], rows[keep:]
        texts.hold(rows)  # the window's offsets, lengths and labels read at once
        batches = _pooled(texts.row_lengths(rows), batch_size, pool, rng)
        skipped = min(start, len(batches))
        start -= skipped
        yield from (rows[positions] for positions in batches[skipped:])
        del rows, batches  # before the next window's are made


def _in_one(texts: Rows, batch_size: int, rng: np.random.Generator, pool: int, weights: Weights | None, start: int) -> Iterator[np.ndarray]:
    """All train rows ordered at once, as ``batch_order`` orders texts in memory."""
    rows = np.flatnonzero(texts.train_mask(0, texts.num_file_rows()))
    texts.hold(rows)
    drawn = weights(rows) if weights is not None else None
    order = batch_order(texts.row_lengths(rows), batch_size, shuffle=True, rng=rng, pool=pool, weights=drawn)
    yield from (rows[positions] for positions in order[start:])


def _block_rows(texts: Rows, block: int, rows_total: int) -> np.ndarray:
    begin = block * BLOCK_ROWS
    return begin + np.flatnonzero(texts.train_mask(begin, min(rows_total, begin + BLOCK_ROWS)))


def _pooled(lengths: np.ndarray, batch_size: int, pool: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of positions: pools of ``pool`` batches sorted by length, cut, and the batches shuffled."""
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for begin in range(0, len(lengths), span):
        chunk = np.arange(begin, min(len(lengths), begin + span))
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches
