"""iter_chunks: every format (compressed ones too) read in chunks as read_records reads it whole, errors
that name the file and the row past the first chunk, skipped rows counted over all chunks."""

from __future__ import annotations

import gzip
import importlib.util

import pytest

from textcnn.data.readers import iter_chunks, read_records
from textcnn.errors import DataError

FORMATS = ["train.csv", "train.tsv", "train.jsonl", "train.ft"]


def _chunked(path, **options):
    chunks = list(iter_chunks(path, chunk_rows=3, **options))
    rows = [row for chunk, _ in chunks for row in chunk]
    return chunks, rows


def _compress(path, suffix):
    data = path.read_bytes()
    target = path.with_name(path.name + suffix)
    if suffix == ".gz":
        target.write_bytes(gzip.compress(data))
    else:
        import zstandard

        target.write_bytes(zstandard.ZstdCompressor().compress(data))
    return target


@pytest.mark.parametrize("name", FORMATS)
def test_chunks_hold_the_rows_read_records_reads(write_data, english, name):
    texts, labels = english
    path = write_data(name, texts, labels)

    chunks, rows = _chunked(path)

    assert [len(chunk) for chunk, _ in chunks] == [3] * (len(texts) // 3) + ([len(texts) % 3] if len(texts) % 3 else [])
    assert [text for _, text, _ in rows] == read_records(path).texts == texts
    assert [label for _, _, label in rows] == labels


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
@pytest.mark.parametrize("name", FORMATS)
def test_compressed_files_read_as_they_decompress(write_data, chinese, name, suffix):
    if suffix == ".zst" and importlib.util.find_spec("zstandard") is None:
        pytest.skip("zstandard is not installed")
    texts, labels = chinese
    path = _compress(write_data(name, texts, labels), suffix)

    records = read_records(path)
    _, rows = _chunked(path)

    assert records.texts == texts and records.labels == labels
    assert [text for _, text, _ in rows] == texts


def test_parquet_rows_in_chunks_keep_integer_labels(tmp_path, english):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    texts, _ = english
    labels = [i % 3 for i in range(len(texts))]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": texts, "label": labels}), path)

    records = read_records(path)
    _, rows = _chunked(path)

    assert records.texts == texts and records.labels == labels
    assert [label for _, _, label in rows] == labels


def test_parquet_without_the_label_column_names_the_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"body": ["a", "b"], "label": ["x", "y"]}), path)

    with pytest.raises(DataError, match=r"train\.parquet.*no column 'text' \(columns: body, label\)"):
        read_records(path)


@pytest.mark.parametrize(
    ("name", "content", "row"),
    [
        ("train.csv", "text,label\n" + "good,pos\n" * 7 + "bad,\n", 9),
        ("train.jsonl", '{"text": "good", "label": "pos"}\n' * 7 + '{"text": "bad"}\n', 8),
        ("train.ft", "__label__pos good\n" * 7 + "no label here\n", 8),
        ("train.csv.gz", "text,label\n" + "good,pos\n" * 7 + '"bad,pos\n', 9),
    ],
)
def test_an_error_past_the_first_chunk_names_the_file_and_its_row(tmp_path, name, content, row):
    path = tmp_path / name
    path.write_bytes(gzip.compress(content.encode()) if name.endswith(".gz") else content.encode())

    with pytest.raises(DataError) as caught:
        _chunked(path)

    assert name in str(caught.value) and f"row {row}" in str(caught.value)


def test_skipped_rows_are_counted_over_all_chunks(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\n" + "good,pos\n ,pos\n\n" * 4 + "bad,neg\n", encoding="utf-8")

    chunks, rows = _chunked(path)
    skips = chunks[-1][1]

    assert len(rows) == 5
    assert skips.total_rows == 13 and skips.num_skipped == 8
    assert skips.skipped == {"empty text": 4, "blank": 4}


def test_a_multi_label_file_is_refused_at_its_first_label_list(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n' * 4 + '{"text": "b", "label": ["x", "y"]}\n', encoding="utf-8")

    with pytest.raises(DataError, match=r"train\.jsonl.*row 5.*multi-label file cannot be streamed"):
        _chunked(path)


def test_a_truncated_gzip_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(("text,label\n" + "good film,pos\n" * 2000).encode())[:-40])

    with pytest.raises(DataError, match=r"train\.csv\.gz.*reading failed"):
        read_records(path)
