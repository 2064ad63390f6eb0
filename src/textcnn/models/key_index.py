"""A hash index of distinct int64 keys, built and searched in NumPy, all queries at once.

The n-gram model finds each n-gram of the texts among its keys. A binary search
(``np.searchsorted``) takes some 17 dependent steps per query through an array of 100,000+ keys,
most of them cache misses; this open-addressing table (load at most one half, linear probing,
Fibonacci hashing) takes one or two probes. Each round of probing handles every query still
unresolved in one vectorized step: a probe finds the key (its position), an empty slot (absent),
or another key (probe the next slot).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: multiplicative hashing spreads any key pattern
_EMPTY = -1


class KeyIndex:
    """Where each of ``keys`` (distinct int64) lies: ``find(queries)`` gives its position, or ``missing``."""

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        self._probed = np.append(keys, 0)  # the keys; an empty slot (-1) reads the last entry, never a key's place
        self.bits = max(4, int(2 * len(keys)).bit_length())  # at least twice as many slots as keys
        self.mask = (1 << self.bits) - 1
        self.slots = np.full(1 << self.bits, _EMPTY, dtype=np.int64)
        pending = np.arange(len(keys), dtype=np.int64)
        slot = self._hash(keys)
        while len(pending):
            free = self.slots[slot] == _EMPTY
            claimed, first = np.unique(slot[free], return_index=True)  # one key per free slot, this round
            winners = pending[free][first]
            self.slots[claimed] = winners
            placed = np.zeros(len(pending), dtype=bool)
            placed[np.flatnonzero(free)[first]] = True
            pending, slot = pending[~placed], (slot[~placed] + 1) & self.mask

    def find(self, queries: np.ndarray, missing: int) -> np.ndarray:
        """(len(queries),) int64: the position of each query among the keys, ``missing`` where absent."""
        queries = np.asarray(queries, dtype=np.int64)
        found = np.full(len(queries), missing, dtype=np.int64)
        active = np.arange(len(queries), dtype=np.int64)
        slot = self._hash(queries)
        while len(active):
            position = self.slots[slot]
            empty = position == _EMPTY
            hit = ~empty & (self._probed[position] == queries[active])
            found[active[hit]] = position[hit]
            again = ~(empty | hit)
            active, slot = active[again], (slot[again] + 1) & self.mask
        return found

    def find_few(self, queries: list[int], missing: int) -> list[int]:
        """``find`` for a few queries (Python ints), probed one by one: for a text or two, the
        vectorized rounds' dozen array operations cost more than the probes."""
        shift, golden, mask = 64 - self.bits, int(_GOLDEN), self.mask
        slots, probed = self.slots, self._probed
        found = []
        for query in queries:
            slot = ((query * golden) & 0xFFFFFFFFFFFFFFFF) >> shift
            while True:
                position = int(slots[slot])
                if position == _EMPTY or probed[position] == query:
                    found.append(missing if position == _EMPTY else position)
                    break
                slot = (slot + 1) & mask
        return found

    def _hash(self, values: np.ndarray) -> np.ndarray:
        """Each value's first slot: the top ``bits`` bits of its product with ``_GOLDEN`` (mod 2**64)."""
        return ((values.astype(np.uint64) * _GOLDEN) >> np.uint64(64 - self.bits)).astype(np.int64)
