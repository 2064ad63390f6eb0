"""Vocab and build_compact_vocab: reserved ids, frequency cut-offs, size cap and the JSON form saved in bundles."""

from __future__ import annotations

import json

import pytest

from textcnn.data.encoding import build_compact_vocab, tokenize_compact
from textcnn.data.vocab import PAD, UNK, UNK_ID, Vocab

TOKENS = [["a", "b", "a"], ["c", "a", "b"], ["d"]]  # a:3, b:2, c:1, d:1


def _vocab(token_lists, **options):
    return build_compact_vocab(tokenize_compact([" ".join(tokens) for tokens in token_lists], str.split), **options)


def test_pad_is_zero_and_unk_is_one():
    vocab = _vocab(TOKENS)

    assert vocab.tokens[:2] == ["<pad>", "<unk>"]
    assert vocab.ids(["<pad>", "a", "never-seen"]) == [0, 2, 1]


def test_most_frequent_tokens_come_first():
    assert _vocab(TOKENS).tokens == [PAD, UNK, "a", "b", "c", "d"]


def test_min_freq_drops_rare_tokens():
    vocab = _vocab(TOKENS, min_freq=2)

    assert vocab.tokens == [PAD, UNK, "a", "b"]
    assert vocab.ids(["c"]) == [UNK_ID]


def test_max_size_counts_the_reserved_tokens():
    vocab = _vocab(TOKENS, max_size=4)

    assert len(vocab) == 4
    assert vocab.tokens == [PAD, UNK, "a", "b"]


def test_reserved_strings_in_text_are_not_added_twice():
    vocab = _vocab([["<pad>", "<unk>", "x"]])

    assert vocab.tokens == [PAD, UNK, "x"]


def test_json_round_trip():
    vocab = _vocab([["好", "差", "好"], ["film"]])

    restored = Vocab.from_json(json.loads(json.dumps(vocab.to_json(), ensure_ascii=False)))

    assert restored.tokens == vocab.tokens
    assert restored.index == vocab.index


def test_a_vocabulary_without_reserved_tokens_is_rejected():
    with pytest.raises(ValueError, match="<pad>"):
        Vocab(["a", "b"])
