"""The tokenization cache: a second read of the same file skips tokenizing; other files or settings miss."""

from __future__ import annotations

import numpy as np
import pytest

import textcnn.data.cache as cache
from textcnn.data.cache import default_cache_dir, read_tokenized


def _read(path, cache_dir, **settings):
    return read_tokenized(path, cache_dir=cache_dir, **settings)


def _same(a, b) -> None:
    assert a.texts.tokens == b.texts.tokens
    for name in ("ids", "offsets", "lengths"):
        np.testing.assert_array_equal(getattr(a.texts, name), getattr(b.texts, name))
    assert (a.labels, a.tokenizer, a.skipped) == (b.labels, b.tokenizer, b.skipped)


def test_second_read_hits_the_cache_and_gives_identical_ids(write_data, tmp_path, english, monkeypatch):
    path = write_data("train.csv", [*english[0], " "], [*english[1], "positive"])
    first = _read(path, tmp_path / "cache")
    monkeypatch.setattr(cache, "tokenize_compact", lambda *args: pytest.fail("tokenized again"))

    second = _read(path, tmp_path / "cache")

    assert (first.cached, second.cached) == (False, True)
    _same(first, second)
    assert second.tokenizer == "word" and "1 row with empty text" in second.skipped


def test_changed_content_or_settings_miss(write_data, tmp_path, english):
    texts, labels = english
    path = write_data("train.csv", texts, labels)
    _read(path, tmp_path)

    assert _read(path, tmp_path).cached
    assert not _read(path, tmp_path, lowercase=False).cached
    assert not _read(path, tmp_path, tokenizer="char").cached
    assert not _read(path, tmp_path, label_column=None).cached
    write_data("train.csv", texts[:-1], labels[:-1])
    changed = _read(path, tmp_path)
    assert not changed.cached and len(changed.texts) == len(texts) - 1


def test_the_encoding_is_part_of_the_key(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes("text,label\ncafé,pos\nthé,neg\n".encode("latin-1"))

    as_latin = _read(path, tmp_path / "cache", encoding="latin-1", tokenizer="char")
    as_cp1252 = _read(path, tmp_path / "cache", encoding="cp1252", tokenizer="char")
    same_codec = _read(path, tmp_path / "cache", encoding="ISO-8859-1", tokenizer="char")  # latin-1 by another name

    assert (as_latin.cached, as_cp1252.cached, same_codec.cached) == (False, False, True)
    assert "é" in as_latin.texts.tokens


def test_damaged_entry_is_ignored_and_rebuilt(write_data, tmp_path, english, textcnn_log):
    path = write_data("train.csv", *english)
    first = _read(path, tmp_path)
    [entry] = tmp_path.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])

    rebuilt = read_tokenized(path, cache_dir=tmp_path)
    messages = textcnn_log

    assert not rebuilt.cached
    assert any(f"ignoring the damaged tokenization cache entry {entry}" in message for message in messages)
    _same(first, rebuilt)
    assert _read(path, tmp_path).cached


def test_no_cache_dir_writes_nothing(write_data, tmp_path, english):
    path = write_data("train.csv", *english)

    assert not _read(path, None).cached
    assert not _read(path, None).cached
    assert not list(tmp_path.rglob("*.npz"))


def test_cache_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCNN_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("TEXTCNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "textcnn"


def test_multilabel_files_keep_label_lists_and_the_reader_settings_are_part_of_the_key(write_data, tmp_path, multilabel):
    texts, labels = multilabel
    path = write_data("train.csv", texts, labels, label_column="labels")
    first = _read(path, tmp_path, label_column="labels")

    second = _read(path, tmp_path, label_column="labels")
    single = _read(path, tmp_path, label_column="labels", multi_label=False)
    other_sep = _read(path, tmp_path, label_column="labels", label_sep=";")

    assert (first.cached, second.cached, single.cached, other_sep.cached) == (False, True, False, False)
    _same(first, second)
    assert second.multi_label and second.labels == labels
    assert not single.multi_label and single.labels[0] == "|".join(labels[0])
    assert other_sep.labels[0] == ["|".join(labels[0])]
