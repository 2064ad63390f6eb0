"""Bytes that do not decode: the offset of the first bad one, and the encoding they more likely are."""

from __future__ import annotations

import pytest

from textcnn.data.charsets import first_bad_byte, guess_encoding
from textcnn.data.readers import read_records
from textcnn.errors import DataError

from conftest import chinese_corpus

_TEXTS, _LABELS = chinese_corpus()
SIMPLIFIED = "text,label\n" + "".join(f"{text},{label}\n" for text, label in zip(_TEXTS, _LABELS))
TRADITIONAL = "text,label\n這部電影非常好看，演員的表演很自然。,positive\n服務態度很差勁，我們等了一個小時才上菜。,negative\n"
FRENCH = "text,label\nun café très agréable,positive\nl'été était pénible,negative\n"
CURLY = "text,label\n\u201cgreat\u201d film \u2013 loved it,positive\n"


@pytest.mark.parametrize(
    ("text", "encoding", "tried", "expected"),
    [
        (SIMPLIFIED, "gbk", "utf-8", "gb18030"),
        (TRADITIONAL, "gb18030", "utf-8", "gb18030"),  # GBK holds traditional characters too
        (TRADITIONAL, "big5", "utf-8", "big5"),  # decodes as GB18030 too, but as rare characters and kana
        (FRENCH, "latin-1", "utf-8", "latin-1"),
        (CURLY, "cp1252", "utf-8", "cp1252"),  # curly quotes are C1 controls in Latin-1
        (SIMPLIFIED, "utf-16-le", "utf-8", "utf-16-le"),
        (SIMPLIFIED, "utf-16-be", "utf-8", "utf-16-be"),
        (SIMPLIFIED, "utf-8", "gbk", "utf-8"),
        (FRENCH, "utf-8", "latin-1", "utf-8"),
    ],
)
def test_the_likely_encoding_is_named(text, encoding, tried, expected):
    assert guess_encoding(text.encode(encoding), tried) == expected


def test_random_bytes_name_no_encoding():
    assert guess_encoding(bytes(range(256)) * 4, "utf-8") is None


def test_a_damaged_utf8_file_names_no_other_encoding(tmp_path):
    path = tmp_path / "train.csv"
    data = SIMPLIFIED.encode("utf-8")
    cut = data.index(b"\n", 200) + 1  # the start of a row
    path.write_bytes(data[:cut] + b"\xff" + data[cut:])
    row = data[:cut].count(b"\n") + 1

    with pytest.raises(DataError) as caught:
        read_records(path)

    assert str(caught.value) == f"{path}, row {row}: not valid utf-8 at byte {cut}"


def test_the_offset_is_exact_across_chunks_and_at_the_end(tmp_path):
    path = tmp_path / "big.txt"
    head = "中".encode("utf-8") * 349_525 + b"a"  # 1,048,576 bytes: the next character straddles the first 1 MB chunk
    path.write_bytes(head + "中".encode("utf-8") + b"\xff")
    cut = tmp_path / "cut.txt"
    cut.write_bytes(b"text\n\xe4\xb8")  # ends inside a character

    assert first_bad_byte(path, "utf-8") == len(head) + 3
    assert first_bad_byte(cut, "utf-8") == 5
    assert first_bad_byte(path, "latin-1") is None
