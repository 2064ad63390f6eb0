"""Vocab: reserved ids, frequency cut-offs, size cap and the JSON form saved in bundles."""

from __future__ import annotations

import json

import pytest

from textcnn.data.vocab import PAD, PAD_ID, UNK, UNK_ID, Vocab, build_vocab

TOKENS = [["a", "b", "a"], ["c", "a", "b"], ["d"]]  # a:3, b:2, c:1, d:1


def test_pad_is_zero_and_unk_is_one():
    vocab = build_vocab(TOKENS)

    assert (PAD_ID, UNK_ID) == (0, 1)
    assert vocab.tokens[:2] == [PAD, UNK]
    assert vocab.ids(["a", "never-seen"]) == [vocab.index["a"], UNK_ID]


def test_most_frequent_tokens_come_first():
    assert build_vocab(TOKENS).tokens == [PAD, UNK, "a", "b", "c", "d"]


def test_min_freq_drops_rare_tokens():
    vocab = build_vocab(TOKENS, min_freq=2)

    assert vocab.tokens == [PAD, UNK, "a", "b"]
    assert vocab.ids(["c"]) == [UNK_ID]


def test_max_size_counts_the_reserved_tokens():
    vocab = build_vocab(TOKENS, max_size=4)

    assert len(vocab) == 4
    assert vocab.tokens == [PAD, UNK, "a", "b"]


def test_reserved_strings_in_text_are_not_added_twice():
    vocab = build_vocab([["<pad>", "<unk>", "x"]])

    assert vocab.tokens == [PAD, UNK, "x"]


def test_json_round_trip():
    vocab = build_vocab([["好", "差", "好"], ["film"]])

    restored = Vocab.from_json(json.loads(json.dumps(vocab.to_json(), ensure_ascii=False)))

    assert restored.tokens == vocab.tokens
    assert restored.index == vocab.index


def test_a_vocabulary_without_reserved_tokens_is_rejected():
    with pytest.raises(ValueError, match="<pad>"):
        Vocab(["a", "b"])
