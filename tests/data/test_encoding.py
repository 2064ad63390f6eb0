"""encode_tokens / encode_texts: ids per text, truncation of the tail, and what was cut."""

from __future__ import annotations

import numpy as np

from textcnn.data.encoding import choose_max_len, encode_texts, encode_tokens
from textcnn.data.tokenizers import WordTokenizer
from textcnn.data.vocab import UNK_ID, build_vocab


def _text_ids(encoded, i):
    start = encoded.offsets[i]
    return encoded.ids[start : start + encoded.lengths[i]].tolist()


def test_each_text_gets_its_ids_in_order():
    vocab = build_vocab([["a", "b", "c"]])
    encoded = encode_tokens([["a", "b"], [], ["c", "zzz", "a"]], vocab, max_len=10)

    assert len(encoded) == 3
    assert _text_ids(encoded, 0) == vocab.ids(["a", "b"])
    assert _text_ids(encoded, 1) == []
    assert _text_ids(encoded, 2) == [vocab.index["c"], UNK_ID, vocab.index["a"]]
    assert encoded.num_truncated == 0
    assert encoded.truncation_note() == ""


def test_truncation_keeps_the_head_and_counts_what_was_cut():
    vocab = build_vocab([list("abcdefg")])
    encoded = encode_tokens([list("abcdefg"), list("ab"), list("abcd")], vocab, max_len=3)

    np.testing.assert_array_equal(encoded.lengths, [3, 2, 3])
    assert _text_ids(encoded, 0) == vocab.ids("abc")
    assert encoded.num_truncated == 2
    assert encoded.tokens_cut == 4 + 1
    assert encoded.tokens_total == 13
    assert encoded.truncation_note().startswith("2 of 3 texts were longer than max_len")


def test_encode_texts_tokenizes_then_encodes():
    tokenizer = WordTokenizer()
    vocab = build_vocab([tokenizer("a great film")])

    encoded = encode_texts(["A GREAT film!"], tokenizer, vocab, max_len=16)

    assert _text_ids(encoded, 0) == vocab.ids(["a", "great", "film"]) + [UNK_ID]


def test_choose_max_len_stays_within_floor_and_cap():
    assert choose_max_len(np.array([], dtype=np.int64)) == 16
    assert choose_max_len(np.array([3, 4, 5])) == 16
    assert choose_max_len(np.arange(1, 101)) == 100
    assert choose_max_len(np.array([5000] * 10)) == 400
