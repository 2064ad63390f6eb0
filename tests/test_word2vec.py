"""train_word2vec: gensim word2vec on unlabelled text, written in the format --vectors reads."""

from __future__ import annotations

import sys

import pytest

from textcnn.data.vectors import read_vectors
from textcnn.data.vocab import Vocab
from textcnn.errors import DataError, TextcnnError
from textcnn.word2vec import train_word2vec


@pytest.fixture
def unlabelled(english, write_data):
    return write_data("unlabelled.txt", english[0] * 5)


def test_writes_vectors_that_read_vectors_reads(unlabelled, tmp_path):
    pytest.importorskip("gensim")

    summary = train_word2vec(unlabelled, tmp_path / "out" / "vectors.txt", dim=8, min_count=1)

    assert (summary.num_texts, summary.num_tokens, summary.num_words, summary.tokenizer) == (200, 800, 18, "word")
    vectors = read_vectors(summary.path, Vocab(["<pad>", "<unk>", "the", "film", "superb", "never-seen"]))
    assert (vectors.coverage.dim, vectors.coverage.words_found) == (8, 3)


def test_the_same_seed_gives_the_same_file(unlabelled, tmp_path):
    pytest.importorskip("gensim")

    first = train_word2vec(unlabelled, tmp_path / "a.txt", dim=8, min_count=1, seed=5).path.read_bytes()
    second = train_word2vec(unlabelled, tmp_path / "b.txt", dim=8, min_count=1, seed=5).path.read_bytes()

    assert first == second


def test_reads_the_text_column_of_a_csv_with_the_chosen_tokenizer(chinese, write_data, tmp_path):
    pytest.importorskip("gensim")
    source = write_data("reviews.csv", *chinese, text_column="review")

    summary = train_word2vec(source, tmp_path / "v.txt", text_column="review", tokenizer="char", dim=4, min_count=1)

    assert (summary.num_texts, summary.tokenizer) == (40, "char")
    assert "好 " in summary.path.read_text(encoding="utf-8")


def test_too_rare_tokens_are_an_error_that_names_the_option(unlabelled, tmp_path):
    pytest.importorskip("gensim")

    with pytest.raises(DataError, match=r"unlabelled\.txt: no token occurs at least 1000 times \(lower --min-count\)"):
        train_word2vec(unlabelled, tmp_path / "v.txt", min_count=1000)


def test_without_gensim_the_error_says_what_to_install(unlabelled, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim.models", None)  # import fails

    with pytest.raises(TextcnnError, match=r'pip install "textcnn\[vectors\]"'):
        train_word2vec(unlabelled, tmp_path / "v.txt")
