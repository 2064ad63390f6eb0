"""read_records: every supported format, the awkward bits of real files, and errors that say where."""

from __future__ import annotations

import pytest

from textcnn.data.readers import detect_format, read_records
from textcnn.errors import DataError


@pytest.mark.parametrize("name", ["train.csv", "train.tsv", "train.jsonl", "train.ft"])
@pytest.mark.parametrize("corpus", ["english", "chinese"])
def test_every_format_reads_back_what_was_written(write_data, request, name, corpus):
    texts, labels = request.getfixturevalue(corpus)

    records = read_records(write_data(name, texts, labels))

    assert records.texts == texts
    assert records.labels == labels
    assert records.skips.num_skipped == 0


def test_csv_with_bom_crlf_and_quoted_newline(tmp_path):
    path = tmp_path / "train.csv"
    raw = '\ufeffid,text,label\r\n1,"a good\r\nfilm, really",pos\r\n2,bad film,neg\r\n'
    path.write_bytes(raw.encode("utf-8"))

    records = read_records(path)

    assert records.texts == ["a good\r\nfilm, really", "bad film"]
    assert records.labels == ["pos", "neg"]
    assert records.skips.num_skipped == 0


def test_csv_columns_are_chosen_by_name(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("stars,body,sentiment\n5,loved it,pos\n1,hated it,neg\n", encoding="utf-8")

    records = read_records(path, text_column="body", label_column="sentiment")

    assert records.texts == ["loved it", "hated it"]
    assert records.labels == ["pos", "neg"]


def test_tsv_keeps_commas_and_quotes_inside_text(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('label\ttext\npos\tgood, "really" good\nneg\tbad\n', encoding="utf-8")

    records = read_records(path)

    assert records.texts == ['good, "really" good', "bad"]
    assert records.labels == ["pos", "neg"]


def test_jsonl_keeps_integer_labels_as_integers(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n', encoding="utf-8")

    records = read_records(path)

    assert records.texts == ["good", "bad"]
    assert records.labels == [1, 0]
    assert all(type(label) is int for label in records.labels)


def test_fasttext_label_prefix(tmp_path):
    path = tmp_path / "train.ft"
    path.write_text("__label__pos a great film\n__label__neg  a dull film \n", encoding="utf-8")

    records = read_records(path)

    assert records.texts == ["a great film", "a dull film"]
    assert records.labels == ["pos", "neg"]


def test_txt_with_fasttext_labels_is_read_as_fasttext(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("__label__pos great\n__label__neg awful\n", encoding="utf-8")

    assert read_records(path).labels == ["pos", "neg"]


def test_plain_lines_without_labels(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("first text\n\n  second text  \n", encoding="utf-8")

    records = read_records(path, label_column=None)

    assert records.texts == ["first text", "second text"]
    assert records.labels is None


def test_csv_without_labels_when_label_column_is_none(tmp_path):
    path = tmp_path / "texts.csv"
    path.write_text("text\nhello\nworld\n", encoding="utf-8")

    records = read_records(path, label_column=None)

    assert records.texts == ["hello", "world"]
    assert records.labels is None


def test_plain_lines_asked_for_labels_is_an_error(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("no labels here\n", encoding="utf-8")

    with pytest.raises(DataError, match=r"texts\.txt.*carry no labels"):
        read_records(path)


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("train.csv", "text,label\ngood,pos\nbad,neg,extra\n", r"train\.csv, row 3: expected 2 fields, found 3"),
        ("train.csv", "text,label\ngood,pos\nbad,  \n", r"train\.csv, row 3, column 'label': empty label"),
        ("train.tsv", "text\tlabel\ngood\tpos\nbad\n", r"train\.tsv, row 3: expected 2 fields, found 1"),
        ("train.jsonl", '{"text": "good", "label": "pos"}\n{"text": "bad" "label": "neg"}\n', r"train\.jsonl, row 2: not valid JSON"),
        ("train.jsonl", '{"text": "good", "label": "pos"}\n["bad", "neg"]\n', r"train\.jsonl, row 2: expected a JSON object"),
        ("train.jsonl", '{"text": "good"}\n', r"train\.jsonl, row 1, column 'label': missing key"),
        ("train.jsonl", '{"text": "good", "label": ""}\n', r"train\.jsonl, row 1, column 'label': empty label"),
        ("train.jsonl", '{"text": "good", "label": 1.5}\n', r"train\.jsonl, row 1, column 'label': label must be a string or an integer"),
        ("train.jsonl", '{"text": 5, "label": "pos"}\n', r"train\.jsonl, row 1, column 'text': text must be a string"),
        ("train.ft", "__label__pos good\nno label here\n", r"train\.ft, row 2: no `__label__` token"),
    ],
)
def test_bad_row_error_names_file_and_row(tmp_path, name, content, pattern):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DataError, match=pattern) as caught:
        read_records(path)

    assert caught.value.path == str(path)


def test_missing_column_names_the_column_and_lists_the_header(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("id,body,label\n1,good,pos\n", encoding="utf-8")

    with pytest.raises(DataError, match=r"train\.csv, row 1: no column 'text' in the header \(columns: id, body, label\)"):
        read_records(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"nothing\.csv: file not found"):
        read_records(tmp_path / "nothing.csv")


def test_empty_csv_is_a_data_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")

    with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
        read_records(path)


def test_invalid_utf8_is_a_data_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\u00e9,pos\n".encode("latin-1"))

    with pytest.raises(DataError, match=r"latin1\.csv, row 2: not valid utf-8 at byte 14; it looks like latin-1: try --encoding latin-1$"):
        read_records(path)

    assert read_records(path, encoding="latin-1").texts == ["caf\u00e9"]


def test_unknown_extension_asks_for_format(tmp_path):
    with pytest.raises(DataError, match=r"data\.xlsx.*--format"):
        read_records(tmp_path / "data.xlsx")


def test_explicit_format_overrides_extension(tmp_path):
    path = tmp_path / "data.dat"
    path.write_text("text,label\ngood,pos\n", encoding="utf-8")

    assert detect_format(path, "csv") == "csv"
    assert read_records(path, format="csv").labels == ["pos"]


def test_empty_text_rows_are_skipped_and_counted(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,pos\n ,neg\nfine,pos\n,neg\nbad,neg\n", encoding="utf-8")

    records = read_records(path)

    assert records.texts == ["good", "fine", "bad"]
    assert records.labels == ["pos", "pos", "neg"]
    assert records.skips.num_skipped == 2
    assert records.skips.total_rows == 5
    note = records.skips.describe()
    assert "train.csv" in note
    assert "skipped 2 of 5 rows" in note
    assert "2 rows with empty text (rows 3, 5)" in note


def test_empty_text_rows_are_skipped_in_jsonl_and_fasttext(tmp_path):
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text('{"text": "good", "label": "pos"}\n{"text": "  ", "label": "neg"}\n', encoding="utf-8")
    fasttext = tmp_path / "train.ft"
    fasttext.write_text("__label__pos good\n__label__neg\n", encoding="utf-8")

    for path in (jsonl, fasttext):
        records = read_records(path)
        assert records.texts == ["good"]
        assert records.skips.num_skipped == 1
        assert "1 row with empty text (row 2)" in records.skips.describe()


def test_nothing_skipped_describes_nothing(tmp_path, write_data, english):
    records = read_records(write_data("train.csv", *english))

    assert len(records) == 40
    assert records.skips.num_skipped == 0
    assert records.skips.describe() == ""


# ------------------------------------------------------------------ multi-label


@pytest.mark.parametrize(
    ("name", "content", "options"),
    [
        ("train.csv", "text,labels\ngood film,film|pos\nbad meal,food\n", {}),  # a `labels` column: auto
        ("train.csv", "text,label\ngood film,film;pos\nbad meal,food\n", {"multi_label": True, "label_sep": ";"}),
        ("train.tsv", "text\tlabels\ngood film\tfilm|pos|film\nbad meal\tfood\n", {}),
        ("train.jsonl", '{"text": "good film", "label": ["film", "pos"]}\n{"text": "bad meal", "label": "food"}\n', {}),
        ("train.ft", "__label__film __label__pos good film\n__label__food bad meal\n", {}),
    ],
)
def test_multi_label_rows_read_as_label_lists(tmp_path, name, content, options):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    records = read_records(path, **options)

    assert records.multi_label
    assert records.texts == ["good film", "bad meal"]
    assert records.labels == [["film", "pos"], ["food"]]  # split, stripped, deduplicated


def test_a_pipe_in_a_label_column_stays_single_label(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,a|b\n", encoding="utf-8")

    records = read_records(path)

    assert not records.multi_label
    assert records.labels == ["a|b"]


def test_empty_label_lists_are_skipped_and_counted(tmp_path):
    csv_path = tmp_path / "train.csv"
    csv_path.write_text("text,labels\ngood,pos\nmeh,\nfine,|\n", encoding="utf-8")
    jsonl_path = tmp_path / "train.jsonl"
    jsonl_path.write_text('{"text": "good", "label": ["pos"]}\n{"text": "meh", "label": []}\n', encoding="utf-8")

    csv_records, jsonl_records = read_records(csv_path), read_records(jsonl_path)

    assert csv_records.labels == [["pos"]] and jsonl_records.labels == [["pos"]]
    assert "2 rows with empty label list (rows 3, 4)" in csv_records.skips.describe()
    assert "1 row with empty label list (row 2)" in jsonl_records.skips.describe()


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("train.ft", "__label__pos __label__neg mixed\n", r"train\.ft, row 1: 2 labels on one line .*multi_label: false"),
        ("train.jsonl", '{"text": "good", "label": ["a", "b"]}\n', r"train\.jsonl, row 1, column 'label': a list of labels"),
    ],
)
def test_label_lists_with_multi_label_off_are_an_error(tmp_path, name, content, pattern):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DataError, match=pattern):
        read_records(path, multi_label=False)


def test_a_bad_label_inside_a_list_names_the_row(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "good", "label": ["a"]}\n{"text": "bad", "label": ["b", 1.5]}\n', encoding="utf-8")

    with pytest.raises(DataError, match=r"train\.jsonl, row 2, column 'label': label must be a string or an integer"):
        read_records(path)


# ------------------------------------------------------------------ encodings and how lines are read


def test_a_byte_order_mark_wins_over_the_encoding_asked_for(tmp_path, textcnn_log):
    path = tmp_path / "train.csv"
    path.write_bytes("text,label\n好,pos\n".encode("utf-8-sig"))
    wide = tmp_path / "wide.csv"
    wide.write_bytes("text,label\n好,pos\n".encode("utf-32"))

    assert read_records(path, encoding="gbk").texts == ["好"]
    assert read_records(wide).texts == ["好"]
    assert f"note: {path} starts with a byte-order mark: read as utf-8-sig, not gbk" in textcnn_log


def test_bad_bytes_are_reported_at_their_csv_row_not_their_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b'text,label\n"two\nlines",pos\nbad \xff,neg\n')  # the bad byte is on line 4, in row 3

    with pytest.raises(DataError, match=r"train\.csv, row 3: not valid utf-8 at byte 31"):
        read_records(path)


@pytest.mark.parametrize("name", ["train.jsonl", "train.ft", "texts.txt"])
def test_bad_bytes_in_line_formats_name_the_line(tmp_path, name):
    path = tmp_path / name
    rows = {"train.jsonl": '{"text": "ok", "label": "a"}\n', "train.ft": "__label__a ok\n", "texts.txt": "ok\n"}[name]
    path.write_bytes(rows.encode() * 2 + rows.replace("ok", "b\xe9d").encode("latin-1"))

    with pytest.raises(DataError, match=rf"{name}, row 3: not valid utf-8 at byte \d+; it looks like latin-1"):
        read_records(path, label_column=None if name == "texts.txt" else "label")


def test_no_line_longer_than_the_limit_is_held(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "ok", "label": "a"}\n{"text": "' + "x" * 100 + '", "label": "b"}\n', encoding="utf-8")

    assert len(read_records(path, max_line_chars=200)) == 2
    with pytest.raises(DataError, match=r"train\.jsonl, row 2: a line longer than 50 characters"):
        read_records(path, max_line_chars=50)


def test_a_duplicated_column_that_is_not_read_is_ignored(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("id,text,id,label\n1,good,1,pos\n", encoding="utf-8")

    assert read_records(path).texts == ["good"]


def test_stdin_is_read_with_its_byte_order_mark_and_left_open(monkeypatch):
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO("one\n\ntwo\n".encode("utf-16")))
    monkeypatch.setattr(sys, "stdin", stdin)

    records = read_records("-", label_column=None)

    assert records.texts == ["one", "two"]
    assert records.skips.describe() == "stdin: skipped 1 of 3 rows: 1 row with empty line (row 2)"
    assert not stdin.closed and not stdin.buffer.closed


def test_an_unknown_encoding_is_a_config_error(tmp_path):
    from textcnn.errors import ConfigError

    with pytest.raises(ConfigError, match=r"encoding: 'rot13' is not a text encoding"):
        read_records(tmp_path / "train.csv", encoding="rot13")


def test_a_quote_left_open_stops_at_the_field_limit_naming_its_row(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\ngood,pos\n"bad,neg\n' + "more text,pos\n" * 20, encoding="utf-8")

    with pytest.raises(DataError, match=r"train\.csv, row 3: a field longer than 100 characters \(a quote opened in this row is never closed\?\)"):
        read_records(path, max_line_chars=100)
