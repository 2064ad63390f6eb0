"""Token counts in bounded memory, as fastText keeps them, and the vocabulary they give.

``BoundedCounts`` counts tokens in a dict that never holds more than ``bound`` of them: when it grows
past that, the rarest are dropped and the count a token needs to stay is raised by one (fastText's
``Dictionary::threshold``), so a file of any size is counted in the memory of ``bound`` tokens. The
counts of the tokens kept are then a lower bound of their true counts (a dropped token that comes
back starts again from zero); nothing is dropped while the table stays within ``bound``.
"""

from __future__ import annotations

import numpy as np

from textcnn.data.vocab import PAD, UNK, UNK_ID, Vocab

TABLE_BOUND = 2_000_000  # distinct tokens a streamed file's counts keep (some 200 MB of Python strings)


class BoundedCounts:
    """token -> count, in order of first sight, never more than ``bound`` tokens."""

    def __init__(self, bound: int = TABLE_BOUND) -> None:
        self.bound = bound
        self.counts: dict[str, int] = {}
        self.min_count = 1  # the count a token needed to survive the last pruning
        self.prunings = 0

    def __len__(self) -> int:
        return len(self.counts)

    def add(self, tokens: list[str], counts: np.ndarray) -> None:
        """Add ``counts[i]`` occurrences of ``tokens[i]`` (zero counts are ignored)."""
        table = self.counts
        get = table.get
        for i in np.flatnonzero(counts).tolist():
            token = tokens[i]
            table[token] = get(token, 0) + int(counts[i])
        while len(table) > self.bound:
            self.min_count += 1
            self.prunings += 1
            table = self.counts = {token: count for token, count in table.items() if count >= self.min_count}


def vocab_from_counts(tokens: list[str], counts: np.ndarray, *, min_freq: int = 1, max_size: int | None = None) -> tuple[Vocab, np.ndarray]:
    """The vocabulary of ``data.encoding.build_compact_vocab`` from a table of tokens and their counts
    (ties by table order), and each table id's vocabulary id (``<unk>`` for the tokens left out; one
    more entry, the last, for tokens outside the table)."""
    order = np.lexsort((np.arange(len(tokens)), -counts))  # count descending, then table order
    order = order[counts[order] >= max(1, min_freq)]
    kept = [int(i) for i in order if tokens[i] not in (PAD, UNK)]
    if max_size is not None:
        kept = kept[: max(0, max_size - 2)]
    vocab = Vocab([PAD, UNK, *(tokens[i] for i in kept)])
    lookup = np.full(len(tokens) + 1, UNK_ID, dtype=np.int32)
    lookup[np.asarray(kept, dtype=np.int64)] = np.arange(2, 2 + len(kept), dtype=np.int32)
    return vocab, lookup
