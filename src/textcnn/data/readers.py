"""Read labelled (or unlabelled) texts from CSV, TSV, JSONL and fastText-style files.

Every bad row raises a ``DataError`` naming the file and the row (1-based, counted as the user
sees the file: the header is row 1 of a CSV); rows that are skipped on purpose (empty text) are
counted in a ``SkipReport`` that the caller shows to the user. Files are opened by ``text_files.py``:
the encoding, byte-order marks, bounded lines, bytes that do not decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from textcnn.data.rows import Label, MultiLabel, Row, RowStream, SkipReport, finish_label, open_rows
from textcnn.data.text_files import COMPRESSED_SUFFIXES
from textcnn.errors import DataError

__all__ = ["Format", "Label", "MultiLabel", "Records", "SkipReport", "detect_format", "iter_chunks", "read_records"]

Format = Literal["auto", "csv", "tsv", "jsonl", "fasttext", "lines", "parquet"]

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".ft": "fasttext",
    ".fasttext": "fasttext",
}
CHUNK_ROWS = 50_000  # rows per chunk of ``iter_chunks``, at most
CHUNK_CHARS = 4_000_000  # characters of text per chunk, at most (plus one row): long texts make short chunks


@dataclass
class Records:
    """Texts and their labels (``None`` for unlabelled input), with what was skipped.

    Labels are strings, except that integer labels of a JSONL file stay integers. In a
    multi-label file (``multi_label``) each label is a list of distinct labels, never empty.
    """

    texts: list[str]
    labels: list[Label] | list[list[Label]] | None
    skips: SkipReport
    multi_label: bool = False

    def __len__(self) -> int:
        return len(self.texts)


def detect_format(path: str | Path, format: Format = "auto") -> str:
    """The reader to use: the ``format`` given, else one chosen by the file's extension."""
    if format != "auto":
        return format
    path = Path(path)
    if path.suffix.lower() in COMPRESSED_SUFFIXES:  # train.csv.gz: the format of train.csv
        path = path.with_suffix("")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix in (".txt", ""):
        return "lines"
    raise DataError(
        f"cannot tell the format from the extension {suffix!r}; pass --format csv|tsv|jsonl|fasttext",
        path=path,
    )


def read_records(
    path: str | Path,
    *,
    format: Format = "auto",
    text_column: str = "text",
    label_column: str | None = "label",
    multi_label: MultiLabel = "auto",
    label_sep: str = "|",
    encoding: str = "utf-8",
    max_line_chars: int | None = None,
) -> Records:
    """Read texts (and labels unless ``label_column`` is None) from ``path`` (``-``: standard input).

    ``multi_label="auto"`` reads label lists when the file shows them unambiguously: a JSON list,
    several ``__label__`` tokens on a line, or a CSV/TSV label column named ``labels`` (cells split
    on ``label_sep``). Rows whose label list is empty are skipped and counted. The file is decoded as
    ``encoding`` unless it starts with a byte-order mark; no line may be longer than ``max_line_chars``
    (none: ``text_files.MAX_LINE_CHARS``).

    Raises:
        DataError: the file is missing or unreadable, a column is absent, or a row is malformed.
        ConfigError: ``encoding`` is not a text encoding.
    """
    kind = detect_format(path, format)
    texts: list[str] = []
    labels: list = []
    with _open(path, kind, text_column, label_column, multi_label, label_sep, encoding, max_line_chars) as stream:
        if stream.multi is None:  # JSONL or fastText read with multi_label="auto": lists anywhere make it multi-label
            rows = list(stream.rows)
            stream.multi = any(isinstance(label, list) for _, _, label in rows)
            stream.rows = iter(_finished(rows, stream, stream.multi))
            del rows
        for _, text, label in stream.rows:  # labels are kept as they come: no row numbers held
            texts.append(text)
            labels.append(label)
    with_labels = label_column is not None
    return Records(texts, labels if with_labels else None, stream.skips, bool(stream.multi) and with_labels)


def iter_chunks(
    path: str | Path,
    *,
    format: Format = "auto",
    text_column: str = "text",
    label_column: str | None = "label",
    label_sep: str = "|",
    encoding: str = "utf-8",
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[tuple[list[Row], SkipReport]]:
    """The rows of ``path`` read as ``read_records`` reads them, ``chunk_rows`` at a time (fewer where they
    hold more than ``CHUNK_CHARS`` characters), never the whole file.

    Single-label files only: a row with a list of labels (or a CSV/TSV ``labels`` column) is a ``DataError``.
    The ``SkipReport`` counts the rows skipped so far (all of them once the last chunk is out).
    """
    kind = detect_format(path, format)
    with _open(path, kind, text_column, label_column, "auto", label_sep, encoding, None) as stream:
        if stream.multi:
            raise DataError(f"{_NOT_STREAMED}: the label column is {stream.label_column!r}", path=stream.path)
        while True:
            chunk = _next_chunk(stream.rows, chunk_rows)
            if not chunk:
                return
            if stream.multi is None and label_column is not None:
                chunk = [(row, text, _single(raw, stream, row)) for row, text, raw in chunk]
            yield chunk, stream.skips


def _next_chunk(rows: Iterator[Row], most: int) -> list[Row]:
    chunk: list[Row] = []
    chars = 0
    for row in rows:
        chunk.append(row)
        chars += len(row[1])
        if len(chunk) >= most or chars >= CHUNK_CHARS:
            break
    return chunk


_NOT_STREAMED = "a multi-label file cannot be streamed (data.stream: false reads it whole)"


def _single(raw: object, stream: RowStream, row: int) -> object:
    if isinstance(raw, list):
        raise DataError(f"{_NOT_STREAMED}: this row has {len(raw)} labels", path=stream.path, row=row, column=stream.label_column)
    return finish_label(raw, False, stream.path, row, stream.label_column)


def _open(path, kind, text_column, label_column, multi_label, label_sep, encoding, max_line_chars):  # noqa: ANN001, ANN202
    """``open_rows``, or the Parquet reader (the extra ``parquet``) for ``.parquet`` files."""
    if kind == "parquet":
        from textcnn.data.parquet_rows import open_parquet_rows

        return open_parquet_rows(path, text_column=text_column, label_column=label_column, multi_label=multi_label)
    return open_rows(
        path, kind, text_column=text_column, label_column=label_column, multi_label=multi_label, label_sep=label_sep,
        encoding=encoding, max_line_chars=max_line_chars,
    )  # fmt: skip


def _finished(rows: list[Row], stream: RowStream, multi: bool) -> list[Row]:
    """Rows with their raw labels cleaned (multi-label: as lists); rows whose label list is empty are skipped."""
    kept: list[Row] = []
    for row, text, raw in rows:
        label = finish_label(raw, multi, stream.path, row, stream.label_column) if raw is not None else None
        if label is None and raw is not None:
            stream.skips.skip("empty label list", row)
            continue
        kept.append((row, text, label))
    return kept
