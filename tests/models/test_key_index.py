"""The n-gram model's hash index finds every key at its position and reports every other value
missing, for any set of keys: none, one, patterned ones that share low or high bits, the int64 range."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from textcnn.models.key_index import KeyIndex

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def expected_positions(keys: np.ndarray, queries: np.ndarray, missing: int) -> np.ndarray:
    where = {int(key): i for i, key in enumerate(keys)}
    return np.array([where.get(int(q), missing) for q in queries], dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(keys=st.sets(INT64, max_size=300), others=st.lists(INT64, max_size=100))
def test_every_key_is_found_at_its_position_and_nothing_else_is(keys, others):
    keys = np.array(sorted(keys), dtype=np.int64)
    queries = np.concatenate([keys[::-1], np.array(others, dtype=np.int64), keys[: len(keys) // 2]])
    index = KeyIndex(keys)
    np.testing.assert_array_equal(index.find(queries, missing=-7), expected_positions(keys, queries, -7))
    assert index.find_few(queries.tolist(), missing=-7) == expected_positions(keys, queries, -7).tolist()  # one by one


def test_keys_that_share_their_low_or_high_bits_are_all_found():
    for keys in (np.arange(5000, dtype=np.int64) << 20, (np.arange(5000, dtype=np.int64) << 43) + 1, np.arange(5000, dtype=np.int64)):
        index = KeyIndex(keys)
        queries = np.concatenate([keys, keys + 1, keys - 1])
        np.testing.assert_array_equal(index.find(queries, missing=len(keys)), expected_positions(keys, queries, len(keys)))
        assert index.find_few(queries[::97].tolist(), missing=len(keys)) == expected_positions(keys, queries[::97], len(keys)).tolist()
        assert (index.slots >= 0).sum() == len(keys) and len(index.slots) >= 2 * len(keys)  # each key once, load at most 1/2


def test_an_index_of_no_keys_finds_nothing():
    np.testing.assert_array_equal(KeyIndex(np.zeros(0, dtype=np.int64)).find(np.array([0, 5]), missing=0), [0, 0])
