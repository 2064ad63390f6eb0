"""The streamed file on disk: the hashed dev split, bounded token counts, the memory-mapped cache entry."""

from __future__ import annotations

import numpy as np
import pytest

from textcnn.data import token_counts
from textcnn.data.encoding import build_compact_vocab, tokenize_compact
from textcnn.data.hash_split import hashed_dev_rows
from textcnn.data.readers import read_records
from textcnn.data.stream_cache import read_streamed
from textcnn.data.stream_encoding import MappedIds, encode_rows, streamed_vocab
from textcnn.data.token_counts import BoundedCounts, vocab_from_counts
from textcnn.data.tokenizers import build_tokenizer


def test_the_hashed_split_is_stable_for_a_seed_and_near_the_fraction():
    rows = hashed_dev_rows(0, 200_000, 0.1, seed=13)

    assert np.array_equal(rows, hashed_dev_rows(0, 200_000, 0.1, seed=13))
    assert abs(rows.mean() - 0.1) < 0.005
    assert abs(hashed_dev_rows(0, 200_000, 0.25, seed=13).mean() - 0.25) < 0.005
    assert 0.75 < (rows == hashed_dev_rows(0, 200_000, 0.1, seed=14)).mean() < 0.9  # another seed, another split


def test_the_hashed_split_of_a_row_does_not_depend_on_the_chunk_it_is_read_in():
    whole = hashed_dev_rows(0, 10_000, 0.2, seed=3)
    pieces = np.concatenate([hashed_dev_rows(start, 1_000, 0.2, seed=3) for start in range(0, 10_000, 1_000)])

    assert np.array_equal(whole, pieces)


def test_bounded_counts_are_exact_until_the_bound_then_drop_the_rarest():
    counts = BoundedCounts(bound=3)
    counts.add(["a", "b", "c"], np.array([5, 1, 2]))
    assert counts.counts == {"a": 5, "b": 1, "c": 2} and counts.min_count == 1

    counts.add(["d", "a"], np.array([1, 1]))

    assert counts.counts == {"a": 6, "c": 2} and counts.min_count == 2 and len(counts) <= 3


def test_vocab_from_counts_is_the_vocab_of_the_texts(english):
    texts, _ = english
    tokenized = tokenize_compact(texts, build_tokenizer("word"))
    counts = np.bincount(tokenized.flat_ids(), minlength=len(tokenized.tokens))

    for min_freq, max_size in ((1, None), (2, None), (1, 8)):
        vocab, lookup = vocab_from_counts(tokenized.tokens, counts, min_freq=min_freq, max_size=max_size)
        expected = build_compact_vocab(tokenized, min_freq=min_freq, max_size=max_size)
        assert vocab.tokens == expected.tokens
        assert [lookup[i] for i in range(len(tokenized.tokens))] == expected.ids(tokenized.tokens)


def _streamed(path, tmp_path, **options):
    return read_streamed(path, cache_dir=tmp_path / "cache", tokenizer="word", **options)


def test_a_streamed_file_holds_the_tokens_and_labels_of_the_file(write_data, english, tmp_path):
    texts, labels = english
    path = write_data("train.csv", texts, labels)

    data = _streamed(path, tmp_path, chunk_rows=7)
    vocab, lookup = streamed_vocab(data, with_dev=False, min_freq=1, max_size=None)
    encoded = encode_rows(data, None, lookup, max_len=None)

    tokenize = build_tokenizer("word")
    assert isinstance(data.ids, np.memmap) and isinstance(encoded.ids, MappedIds)
    for i, text in enumerate(texts):
        row = encoded.ids[encoded.offsets[i] : encoded.offsets[i] + encoded.lengths[i]]
        assert row.tolist() == vocab.ids(tokenize(text))
    assert [data.label_names[code] for code in data.label_codes] == labels
    assert not data.cached and _streamed(path, tmp_path, chunk_rows=7).cached


def test_the_ids_of_a_streamed_file_are_never_read_whole(write_data, english, tmp_path):
    texts, labels = english
    data = _streamed(write_data("train.csv", texts, labels), tmp_path)
    _, lookup = streamed_vocab(data, with_dev=False, min_freq=1, max_size=None)

    with pytest.raises(TypeError, match="batch by batch"):
        np.asarray(encode_rows(data, None, lookup, max_len=None).ids)


def test_a_hashed_split_counts_the_vocabulary_on_train_rows_only(write_data, tmp_path):
    texts = [f"common word{i}" for i in range(400)]
    path = write_data("train.csv", texts, ["a", "b"] * 200)

    data = _streamed(path, tmp_path, split=(0.2, 7), chunk_rows=64)
    dev = data.dev_rows()
    train_vocab, _ = streamed_vocab(data, with_dev=False, min_freq=1, max_size=None)
    all_vocab, _ = streamed_vocab(data, with_dev=True, min_freq=1, max_size=None)

    assert np.array_equal(dev, hashed_dev_rows(0, 400, 0.2, 7))
    assert all(f"word{i}" not in train_vocab for i in np.flatnonzero(dev))
    assert all(f"word{i}" in train_vocab for i in np.flatnonzero(~dev))
    assert len(all_vocab) == 2 + 1 + 400


def test_a_damaged_entry_is_rebuilt(write_data, english, tmp_path):
    texts, labels = english
    path = write_data("train.csv", texts, labels)
    first = np.array(_streamed(path, tmp_path).ids)
    entry = next((tmp_path / "cache").glob("*.stream"))
    ids = np.load(entry / "ids.npy")
    ids[3] = 10**6  # out of the token table
    np.save(entry / "ids.npy", ids)

    rebuilt = _streamed(path, tmp_path)

    assert not rebuilt.cached
    assert np.array_equal(np.asarray(rebuilt.ids), first) and rebuilt.ids[3] != 10**6
    assert sorted(p.name for p in entry.iterdir()) == sorted(
        ["meta.json", "ids.npy", "offsets.npy", "lengths.npy", "labels.npy", "train_counts.npy", "dev_counts.npy"]
    )


def test_tokens_past_the_table_bound_become_unknown(write_data, tmp_path, monkeypatch):
    monkeypatch.setattr(token_counts, "TABLE_BOUND", 4)
    monkeypatch.setattr("textcnn.data.stream_cache.BoundedCounts", lambda: BoundedCounts(bound=4))
    texts = ["the film"] * 5 + [f"rare{i}" for i in range(6)]
    path = write_data("train.csv", texts, ["a", "b"] * 5 + ["a"])

    data = _streamed(path, tmp_path, chunk_rows=2)
    vocab, lookup = streamed_vocab(data, with_dev=False, min_freq=1, max_size=None)

    assert data.min_count > 1 and len(data.tokens) <= 4
    assert {"the", "film"} <= set(vocab.tokens)
    assert encode_rows(data, np.array([10]), lookup, None).flat_ids().tolist() == [1]  # <unk>
    assert read_records(path).texts == texts
