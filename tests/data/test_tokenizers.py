"""Tokenizers: word (with contractions), char, jieba (same cut as jieba), and `auto` detection."""

from __future__ import annotations

import unicodedata

import pytest

from textcnn.data.tokenizers import (
    CharTokenizer,
    JiebaTokenizer,
    WordTokenizer,
    build_tokenizer,
    resolve_tokenizer_kind,
)


def test_word_tokenizer_lowercases_and_splits_punctuation():
    assert WordTokenizer()("The film was GREAT, wasn't it?") == ["the", "film", "was", "great", ",", "wasn't", "it", "?"]


def test_word_tokenizer_can_keep_case():
    assert WordTokenizer(lowercase=False)("Paris in May") == ["Paris", "in", "May"]


def test_case_markers_put_case_before_lowercased_words():
    tokens = WordTokenizer(case_markers=True)("What is NASA's budget in Paris, said iPhone's maker")
    assert tokens == [
        "<maj>", "what", "is", "<up>", "nasa's", "budget", "in", "<maj>", "paris", ",", "said", "iphone's", "maker",
    ]


def test_case_markers_cannot_be_forged_by_text_and_need_lowercase():
    assert WordTokenizer(case_markers=True)("<maj> x") == ["<", "maj", ">", "x"]
    assert WordTokenizer(lowercase=False, case_markers=True)("Paris") == ["Paris"]


def test_case_markers_reach_word_only():
    assert build_tokenizer("word", case_markers=True)("Hi") == ["<maj>", "hi"]
    assert build_tokenizer("char", case_markers=True)("Hi") == ["h", "i"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("this isn't bad", ["this", "isn't", "bad"]),
        ("it's fine", ["it's", "fine"]),
        # Penn-Treebank style input (SST, MR) already splits clitics off: keep them whole.
        ("it wo n't work", ["it", "wo", "n't", "work"]),
        ("the film 's ending", ["the", "film", "'s", "ending"]),
        ("they 're here", ["they", "'re", "here"]),
        ("don\u2019t stop", ["don\u2019t", "stop"]),
    ],
)
def test_word_tokenizer_keeps_contractions_together(text, tokens):
    assert WordTokenizer()(text) == tokens


def test_word_tokenizer_splits_cjk_into_characters():
    assert WordTokenizer()("ok 很好") == ["ok", "很", "好"]


def test_char_tokenizer_drops_whitespace():
    tokens = CharTokenizer()("很 好\t吃\nA")

    assert tokens == ["很", "好", "吃", "a"]
    assert not any(token.isspace() for token in tokens)


CHINESE_SENTENCES = [
    "我们在北京天安门广场看升旗",
    "这家酒店的服务态度非常好",
    "南京市长江大桥",
    "他来到了网易杭研大厦",
    "质量很差，再也不买了！",
]


@pytest.mark.parametrize("sentence", CHINESE_SENTENCES)
def test_jieba_tokenizer_matches_jieba_without_hmm(sentence):
    jieba = pytest.importorskip("jieba")
    # The tokenizer applies NFKC first (full-width "，" becomes ","), so compare on the same text.
    normalized = unicodedata.normalize("NFKC", sentence)

    assert JiebaTokenizer()(sentence) == jieba.lcut(normalized, HMM=False)


def test_jieba_tokenizer_makes_words_not_characters():
    tokens = JiebaTokenizer()("这家酒店的服务态度非常好")

    assert "酒店" in tokens
    assert "".join(tokens) == "这家酒店的服务态度非常好"


@pytest.mark.parametrize(
    ("texts", "kind"),
    [
        (["这家酒店很好", "服务太差了"], "char"),
        (["这家酒店很好 ok", "服务太差了!"], "char"),
        (["a great film", "an awful meal"], "word"),
        (["great 好", "awful meal"], "word"),
    ],
)
def test_auto_picks_char_for_chinese_and_word_otherwise(texts, kind):
    assert resolve_tokenizer_kind("auto", texts) == kind


def test_explicit_kind_is_kept():
    assert resolve_tokenizer_kind("jieba", ["a great film"]) == "jieba"
    assert resolve_tokenizer_kind("word", ["这家酒店很好"]) == "word"


def test_build_tokenizer_by_name_and_unknown_name():
    assert build_tokenizer("char")("ab") == ["a", "b"]
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'"):
        build_tokenizer("bpe")
