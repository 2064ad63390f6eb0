"""pad_batch / batch_order / iter_batches: right padding with <pad>=0, every text exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from textcnn.data.batching import batch_order, iter_batches, pad_batch
from textcnn.data.encoding import build_compact_vocab, encode_compact, tokenize_compact
from textcnn.data.vocab import PAD_ID

TOKENS = [list("abc"), list("a"), [], list("abcde"), list("ba")]


@pytest.fixture
def encoded():
    compact = tokenize_compact([" ".join(tokens) for tokens in TOKENS], str.split)
    return encode_compact(compact, build_compact_vocab(compact), max_len=10)


def test_pad_batch_pads_on_the_right_with_zero(encoded):
    ids, lengths = pad_batch(encoded, np.array([0, 1, 2, 3]))

    np.testing.assert_array_equal(lengths, [3, 1, 0, 5])
    assert ids.shape == (4, 5)
    assert ids.dtype == np.int64
    for row, length in zip(ids, lengths):
        assert (row[:length] != PAD_ID).all()
        assert (row[length:] == PAD_ID).all()
    start = encoded.offsets[3]
    np.testing.assert_array_equal(ids[3], encoded.ids[start : start + 5])


def test_pad_batch_honours_min_len(encoded):
    ids, _ = pad_batch(encoded, np.array([1]), min_len=4)

    assert ids.shape == (1, 4)
    assert (ids[0, 1:] == PAD_ID).all()


def test_pad_batch_of_empty_texts_is_all_padding(encoded):
    ids, lengths = pad_batch(encoded, np.array([2, 2]))

    assert ids.shape == (2, 1)
    assert (ids == PAD_ID).all()
    np.testing.assert_array_equal(lengths, [0, 0])


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3, 8, 200])
def test_batch_order_covers_every_index_exactly_once(shuffle, batch_size):
    lengths = np.random.default_rng(0).integers(0, 50, size=137)

    batches = batch_order(lengths, batch_size, shuffle=shuffle, rng=np.random.default_rng(1), pool=2)

    assert all(1 <= len(batch) <= batch_size for batch in batches)
    assert sorted(np.concatenate(batches).tolist()) == list(range(137))


def test_batch_order_without_shuffle_sorts_by_length():
    lengths = np.array([5, 1, 3, 2, 4])

    batches = batch_order(lengths, 2, shuffle=False)

    assert [b.tolist() for b in batches] == [[1, 3], [2, 4], [0]]


def test_shuffled_order_depends_only_on_the_seed():
    lengths = np.arange(100) % 7

    first = batch_order(lengths, 8, shuffle=True, rng=np.random.default_rng(5))
    again = batch_order(lengths, 8, shuffle=True, rng=np.random.default_rng(5))

    assert [b.tolist() for b in first] == [b.tolist() for b in again]


def test_iter_batches_carries_targets_of_the_same_texts(encoded):
    targets = np.array([10, 11, 12, 13, 14])

    seen = []
    for batch in iter_batches(encoded, 2, targets=targets, shuffle=True, rng=np.random.default_rng(0)):
        assert batch.targets.tolist() == (targets[batch.index]).tolist()
        assert batch.lengths.tolist() == encoded.lengths[batch.index].tolist()
        seen += batch.index.tolist()

    assert sorted(seen) == list(range(5))


def test_balanced_sampler_draws_classes_about_equally_often():
    from textcnn.data.batching import balanced_sample_weights

    targets = np.array([0] * 900 + [1] * 90 + [2] * 10)
    lengths = np.random.default_rng(0).integers(1, 30, size=len(targets))
    weights = balanced_sample_weights(targets)

    batches = batch_order(lengths, 16, shuffle=True, rng=np.random.default_rng(1), weights=weights)

    drawn = np.concatenate(batches)
    assert len(drawn) == len(targets)  # an epoch is as long as before
    counts = np.bincount(targets[drawn], minlength=3)
    assert counts.min() > 0.8 * len(targets) / 3 and counts.max() < 1.2 * len(targets) / 3
    spans = [lengths[b].max() - lengths[b].min() for b in batches]
    assert np.mean(spans) < 5  # still bucketed by length (random batches of 16 span ~25)


def test_multilabel_sample_weight_is_that_of_the_rarest_label():
    from textcnn.data.batching import balanced_sample_weights

    targets = np.array([[1, 0], [1, 0], [1, 0], [1, 1]], dtype=np.float32)  # label 0: 4 texts, label 1: 1

    assert balanced_sample_weights(targets).tolist() == [0.25, 0.25, 0.25, 1.0]
