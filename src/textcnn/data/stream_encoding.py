"""Rows of a streamed file (``stream_cache.py``) as ``EncodedTexts`` whose ids stay on disk.

``MappedIds`` looks the memory-mapped table ids up in a vocabulary as they are read: a batch reads
its own tokens from the file and nothing else, so training never holds the whole ids array.
``StreamedTexts`` (``train_rows``) goes further for the training rows: their offsets, lengths and
labels stay memory-mapped too, the hashed dev rows are left out by hashing again rather than by an
index array, and each epoch's order is drawn a window at a time (``stream_order.py``), so what
training holds does not grow with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from textcnn.data.encoding import EncodedTexts
from textcnn.data.hash_split import hashed_dev_rows
from textcnn.data.mapped_rows import FileColumn, release, spans
from textcnn.data.stream_cache import StreamedFile
from textcnn.data.stream_order import Weights, window_batches
from textcnn.data.token_counts import vocab_from_counts
from textcnn.data.vocab import Vocab


class MappedIds:
    """Vocabulary ids of memory-mapped table ids: ``self[i] == lookup[table_ids[i]]``, read when indexed."""

    dtype = np.dtype(np.int32)
    ndim = 1

    def __init__(self, table_ids: np.ndarray, lookup: np.ndarray) -> None:
        self.table_ids = table_ids
        self.lookup = lookup  # (table size + 1,) int32: table id -> vocabulary id

    def __len__(self) -> int:
        return len(self.table_ids)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.table_ids),)

    def __getitem__(self, index: object) -> np.ndarray:
        return self.lookup[self.table_ids[index]]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        raise TypeError("the ids of a streamed file are read batch by batch, never whole")


def streamed_vocab(data: StreamedFile, *, with_dev: bool, min_freq: int, max_size: int | None) -> tuple[Vocab, np.ndarray]:
    """The vocabulary of the train rows (``with_dev``: and the hashed dev rows), and the table -> vocabulary ids."""
    counts = np.asarray(data.train_counts) + (np.asarray(data.dev_counts) if with_dev else 0)
    return vocab_from_counts(data.tokens, counts, min_freq=min_freq, max_size=max_size)


def encode_rows(data: StreamedFile, index: np.ndarray | None, lookup: np.ndarray, max_len: int | None) -> EncodedTexts:
    """Rows ``index`` (None: all) with vocabulary ids, each cut to its first ``max_len`` tokens."""
    offsets = np.asarray(data.offsets) if index is None else data.offsets[index]
    full = np.asarray(data.lengths) if index is None else data.lengths[index]
    lengths = full if max_len is None else np.minimum(full, max_len)
    return EncodedTexts(
        MappedIds(data.ids, lookup),  # type: ignore[arg-type]
        np.array(offsets, dtype=np.int64),
        np.array(lengths, dtype=np.int64),
        num_truncated=int((full > lengths).sum()),
        tokens_cut=int((full - lengths).sum()),
        tokens_total=int(full.sum()),
    )


def class_ids(data: StreamedFile, label_index: dict) -> np.ndarray:
    """(num_rows,) int64 class ids of the rows, from their label codes."""
    remap = np.array([label_index[name] for name in data.label_names], dtype=np.int64)
    return remap[np.asarray(data.label_codes)]


class ClippedLengths:
    """Memory-mapped row lengths cut to ``max_len`` (None: whole), read when indexed."""

    dtype = np.dtype(np.int64)
    ndim = 1

    def __init__(self, column: FileColumn, max_len: int | None) -> None:
        self.column, self.max_len = column, max_len

    def __len__(self) -> int:
        return len(self.column)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.column),)

    def __getitem__(self, index: object) -> np.ndarray:
        values = np.array(self.column[index], dtype=np.int64)
        return values if self.max_len is None else np.minimum(values, self.max_len)

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        raise TypeError("the lengths of a streamed file are read batch by batch, never whole")


def train_mask_of(split: tuple[float, int] | None, start: int, stop: int) -> np.ndarray:
    """(stop - start,) bool: which of those rows are train rows (all of them without ``split``)."""
    if split is None:
        return np.ones(stop - start, dtype=bool)
    return ~hashed_dev_rows(start, stop - start, *split)


@dataclass
class StreamedTexts(EncodedTexts):
    """The train rows of a streamed file: positions (``Batch.index``) are rows of the file; ``len`` counts train rows."""

    split: tuple[float, int] | None = None  # the hashed dev rows of this split are left out
    num_rows: int = 0  # train rows
    codes: FileColumn | None = field(default=None, repr=False)  # the label codes of the rows

    def __len__(self) -> int:
        return self.num_rows

    def num_file_rows(self) -> int:
        return len(self.offsets)

    def train_mask(self, start: int, stop: int) -> np.ndarray:
        return train_mask_of(self.split, start, stop)

    def row_lengths(self, rows: np.ndarray) -> np.ndarray:
        return self.lengths[rows]

    def hold(self, rows: np.ndarray) -> None:
        """Read the offsets, lengths and label codes of ``rows`` at once, for the batches drawn from them."""
        for column in (self.offsets, self.lengths.column, self.codes):
            column.hold(rows)

    def batch_windows(
        self, batch_size: int, *, rng: np.random.Generator, weights: Weights | None = None, start: int = 0
    ) -> Iterator[np.ndarray]:
        """The epoch's shuffled batches, drawn a window of rows at a time (``stream_order.window_batches``)."""
        return window_batches(self, batch_size, rng=rng, weights=weights, start=start)

    def rows(self) -> np.ndarray:
        """The train rows of the file, (len(self),) int64 (a per-row array: for the bounded n-gram sample)."""
        parts = [start + np.flatnonzero(self.train_mask(start, stop)) for start, stop in spans(self.num_file_rows())]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def in_memory(self) -> tuple[EncodedTexts, np.ndarray]:
        """The train rows as plain ``EncodedTexts`` (offsets and lengths in memory, in the order of the file), and the rows."""
        rows = self.rows()
        offsets, lengths = np.array(self.offsets[rows], dtype=np.int64), self.lengths[rows]
        return EncodedTexts(self.ids, offsets, lengths, self.num_truncated, self.tokens_cut, self.tokens_total), rows


def train_rows(data: StreamedFile, split: tuple[float, int] | None, lookup: np.ndarray, max_len: int | None) -> StreamedTexts:
    """The rows of ``data`` that are not dev under ``split`` (None: all), each cut to its first ``max_len`` tokens."""
    rows = truncated = cut = total = 0
    for start, stop in spans(len(data)):
        full = np.asarray(data.lengths[start:stop])[train_mask_of(split, start, stop)]
        kept = full if max_len is None else np.minimum(full, max_len)
        rows, truncated = rows + len(full), truncated + int((full > kept).sum())
        cut, total = cut + int((full - kept).sum()), total + int(full.sum())
        release(data.lengths)
    return StreamedTexts(
        MappedIds(FileColumn(data.ids), lookup), FileColumn(data.offsets), ClippedLengths(FileColumn(data.lengths), max_len),  # type: ignore[arg-type]
        truncated, cut, total, split=split, num_rows=rows, codes=FileColumn(data.label_codes),
    )  # fmt: skip


def read_rows(data: StreamedFile, index: np.ndarray, lookup: np.ndarray, max_len: int | None) -> EncodedTexts:
    """Rows ``index`` of ``data`` (the hashed dev rows) as ``EncodedTexts``, read with ``pread`` (no pages of the file kept)."""
    full = np.array(FileColumn(data.lengths)[index], dtype=np.int64)
    lengths = full if max_len is None else np.minimum(full, max_len)
    return EncodedTexts(
        MappedIds(FileColumn(data.ids), lookup), np.array(FileColumn(data.offsets)[index], dtype=np.int64), lengths,  # type: ignore[arg-type]
        num_truncated=int((full > lengths).sum()), tokens_cut=int((full - lengths).sum()), tokens_total=int(full.sum()),
    )  # fmt: skip


def train_length_counts(data: StreamedFile, split: tuple[float, int] | None) -> np.ndarray:
    """How many train rows have each length: ``counts[k]`` rows of ``k`` tokens (a histogram, not a per-row array)."""
    counts = np.zeros(1, dtype=np.int64)
    for start, stop in spans(len(data)):
        chunk = np.bincount(np.asarray(data.lengths[start:stop])[train_mask_of(split, start, stop)])
        if len(chunk) > len(counts):
            counts = np.pad(counts, (0, len(chunk) - len(counts)))
        counts[: len(chunk)] += chunk
        release(data.lengths)
    return counts


def max_len_of_counts(counts: np.ndarray, *, percentile: float = 99.0, floor: int = 16, cap: int = 400) -> int:
    """``encoding.choose_max_len`` of the lengths whose histogram is ``counts`` (NumPy's linear percentile)."""
    total = int(counts.sum())
    if not total:
        return floor
    cumulative = np.cumsum(counts)
    virtual = (total - 1) * np.true_divide(percentile, 100)
    below = int(np.floor(virtual))
    a, b = (float(np.searchsorted(cumulative, rank, side="right")) for rank in (below, min(below + 1, total - 1)))
    t = virtual - below
    value = b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t
    return int(min(cap, max(floor, np.ceil(value))))


class MappedTargets:
    """Class ids of the rows of a streamed file, from its memory-mapped label codes: ``self[rows]``, read when indexed.

    ``len`` and ``class_counts`` are of the train rows (those not dev under ``split``).
    """

    dtype = np.dtype(np.int64)
    ndim = 1

    def __init__(self, codes: FileColumn, label_names: list, label_index: dict, split: tuple[float, int] | None, num_rows: int) -> None:
        self.codes, self.split, self.num_rows = codes, split, num_rows
        self.remap = np.array([label_index[name] for name in label_names], dtype=np.int64)
        self._counts: np.ndarray | None = None

    def __len__(self) -> int:
        return self.num_rows

    def __getitem__(self, rows: object) -> np.ndarray:
        return self.remap[self.codes[rows]]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        raise TypeError("the labels of a streamed file are read batch by batch, never whole")

    def class_counts(self, num_classes: int) -> np.ndarray:
        """(num_classes,) int64: train rows of each class."""
        if self._counts is None:  # train rows of each label code
            self._counts = np.zeros(len(self.remap), dtype=np.int64)
            for start, stop in spans(len(self.codes)):
                codes = self.codes[start:stop][train_mask_of(self.split, start, stop)]
                self._counts += np.bincount(codes, minlength=len(self.remap))
        return np.bincount(self.remap, weights=self._counts, minlength=num_classes).astype(np.int64)

    def row_weights(self) -> Weights:
        """Rows -> 1 / the train count of their class (``batching.balanced_sample_weights`` of the train rows)."""
        counts = self.class_counts(int(self.remap.max()) + 1 if len(self.remap) else 0)
        return lambda rows: 1.0 / counts[self[rows]]
