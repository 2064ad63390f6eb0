"""The compact pipeline: tokenize once, build the vocabulary, encode ids per text with truncation of the tail."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from textcnn.data.encoding import build_compact_vocab, choose_max_len, encode_compact, tokenize_compact
from textcnn.data.tokenizers import WordTokenizer, build_tokenizer
from textcnn.data.vocab import PAD, UNK, UNK_ID, Vocab


def _text_ids(encoded, i):
    start = encoded.offsets[i]
    return encoded.ids[start : start + encoded.lengths[i]].tolist()


def _reference_vocab_tokens(token_lists, *, min_freq=1, max_size=None):
    """Most frequent first, ties by first sight; the reserved strings are not counted."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    kept = [token for token, count in counts.most_common() if count >= min_freq and token not in (PAD, UNK)]
    return [PAD, UNK, *kept][:max_size]


def _reference_ids(token_lists, vocab, max_len):
    return [vocab.ids(tokens[:max_len]) for tokens in token_lists]


def test_each_text_gets_its_ids_in_order():
    vocab = Vocab([PAD, UNK, "a", "b", "c"])
    encoded = encode_compact(_compact([["a", "b"], [], ["c", "zzz", "a"]]), vocab, max_len=10)

    assert len(encoded) == 3
    assert _text_ids(encoded, 0) == vocab.ids(["a", "b"])
    assert _text_ids(encoded, 1) == []
    assert _text_ids(encoded, 2) == [vocab.index["c"], UNK_ID, vocab.index["a"]]
    assert encoded.num_truncated == 0
    assert encoded.truncation_note() == ""


def test_truncation_keeps_the_head_and_counts_what_was_cut():
    vocab = Vocab([PAD, UNK, *"abcdefg"])
    encoded = encode_compact(_compact([list("abcdefg"), list("ab"), list("abcd")]), vocab, max_len=3)

    np.testing.assert_array_equal(encoded.lengths, [3, 2, 3])
    assert _text_ids(encoded, 0) == vocab.ids("abc")
    assert encoded.num_truncated == 2
    assert encoded.tokens_cut == 4 + 1
    assert encoded.tokens_total == 13
    assert encoded.truncation_note().startswith("2 of 3 texts were longer than max_len")


def test_choose_max_len_stays_within_floor_and_cap():
    assert choose_max_len(np.array([], dtype=np.int64)) == 16
    assert choose_max_len(np.array([3, 4, 5])) == 16
    assert choose_max_len(np.arange(1, 101)) == 100
    assert choose_max_len(np.array([5000] * 10)) == 400


TOKEN_LISTS = [["b", "a", "c"], ["c", "c", "d"], [], ["a", "<unk>", "e", "b", "b"], ["d"]]


def _compact(token_lists):
    texts = [" ".join(tokens) for tokens in token_lists]
    return tokenize_compact(texts, str.split)


def test_compact_tokens_spell_out_each_text():
    compact = _compact(TOKEN_LISTS)

    assert compact.tokens == ["b", "a", "c", "d", "<unk>", "e"]  # first seen first
    assert [[compact.tokens[j] for j in compact.select(np.array([i])).flat_ids()] for i in range(5)] == TOKEN_LISTS


@pytest.mark.parametrize("min_freq, max_size", [(1, None), (2, None), (1, 4)])
def test_compact_vocab_and_ids_equal_counting_the_token_lists(min_freq, max_size):
    subset = np.array([4, 1, 3])
    compact = _compact(TOKEN_LISTS)

    vocab = build_compact_vocab(compact.select(subset), min_freq=min_freq, max_size=max_size)
    assert vocab.tokens == _reference_vocab_tokens([TOKEN_LISTS[i] for i in subset], min_freq=min_freq, max_size=max_size)
    encoded = encode_compact(compact, vocab, max_len=2)
    assert [_text_ids(encoded, i) for i in range(len(encoded))] == _reference_ids(TOKEN_LISTS, vocab, 2)
    assert (encoded.num_truncated, encoded.tokens_cut, encoded.tokens_total) == (3, 5, 12)


def test_compact_encoding_without_max_len_keeps_whole_texts():
    compact = _compact(TOKEN_LISTS)
    vocab = build_compact_vocab(compact)

    encoded = encode_compact(compact, vocab, max_len=None)
    assert [_text_ids(encoded, i) for i in range(len(encoded))] == _reference_ids(TOKEN_LISTS, vocab, None)
    assert encoded.lengths.tolist() == [len(tokens) for tokens in TOKEN_LISTS]
    assert (encoded.num_truncated, encoded.tokens_cut, encoded.tokens_total) == (0, 0, 12)


def test_concat_compact_keeps_every_text_over_one_table():
    from textcnn.data.encoding import concat_compact

    first, second = _compact(TOKEN_LISTS[:3]), _compact(TOKEN_LISTS[3:])
    whole = _compact(TOKEN_LISTS)
    subset = whole.select(np.array([4, 0]))

    for joined, expected in ((concat_compact(first, second), TOKEN_LISTS), (concat_compact(subset, whole.select(np.array([2, 1]))), [TOKEN_LISTS[i] for i in (4, 0, 2, 1)])):
        assert [[joined.tokens[j] for j in joined.select(np.array([i])).flat_ids()] for i in range(len(joined))] == expected
        assert build_compact_vocab(joined).tokens == _reference_vocab_tokens(expected)


# Texts that test the batched tokenizing: empty and blank texts, NFKC (fullwidth forms, ligatures,
# spacing accents that become a space plus a combining mark, a combining accent), Greek final sigma,
# clitics and quotes, CJK with and without spaces, line breaks and tabs inside a text.
TRICKY_TEXTS = [
    "The film isn't great.", "", "   ", "ΟΔΟΣ Σ σ.", "ΑΣ¨ x", "这家酒店很好，服务 好!", "ｆｕｌｌ　ｗｉｄｔｈ",
    "e\u0301cole café", "a\nb\tc", "😀 emoji's 'quoted'", "we're", "x'", "'s", "l'amour", "１２３ abc",
    "a ¨b ´c", "ﬁne ㎏", "non\u00a0breaking", "我们去公园 hello world",
]


@pytest.mark.parametrize("kind", ["word", "char", "jieba"])
@pytest.mark.parametrize(("lowercase", "case_markers"), [(True, False), (False, False), (True, True)])
def test_batched_tokenizing_equals_tokenizing_one_text_at_a_time(kind, lowercase, case_markers):
    import random

    rng = random.Random(0)
    alphabet = list("ab 'Σς’\u0301这很好，. \n\t1２ÉéX-¨´ﬁ㎏\u3000\u00a0")
    texts = TRICKY_TEXTS + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15))) for _ in range(5000)]
    tokenizer = build_tokenizer(kind, lowercase, case_markers)

    tokenized = tokenize_compact(texts, tokenizer)  # more texts than one batch of pieces (4096)

    for i, text in enumerate(texts):
        start = tokenized.offsets[i]
        ids = tokenized.ids[start : start + tokenized.lengths[i]]
        assert [tokenized.tokens[j] for j in ids] == tokenizer(text), text
    assert len(set(tokenized.tokens)) == len(tokenized.tokens)


def test_texts_holding_the_batch_separator_are_tokenized_one_by_one():
    texts = ["a\x00b c", "d e"]

    tokenized = tokenize_compact(texts, WordTokenizer(), by_pieces=True)

    assert tokenized.lengths.tolist() == [4, 2]
    assert tokenized.tokens == ["a", "\x00", "b", "c", "d", "e"]
