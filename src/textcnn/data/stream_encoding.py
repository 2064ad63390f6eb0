"""Rows of a streamed file (``stream_cache.py``) as ``EncodedTexts`` whose ids stay on disk.

``MappedIds`` looks the memory-mapped table ids up in a vocabulary as they are read: a batch reads
its own tokens from the file and nothing else, so training never holds the whole ids array.
"""

from __future__ import annotations

import numpy as np

from textcnn.data.encoding import EncodedTexts
from textcnn.data.stream_cache import StreamedFile
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
