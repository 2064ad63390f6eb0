"""The rows of a Parquet file (pyarrow, the extra ``parquet``), read a row group's batch at a time.

Rows are numbered from 1 in file order (a Parquet file has no header row); a text that is not a
string, an empty label or a label that is neither a string nor an integer is a ``DataError`` naming
the file, the row and the column; empty texts are skipped and counted.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from textcnn.data.rows import Row, RowStream, SkipReport, finish_label
from textcnn.errors import DataError

BATCH_ROWS = 65_536


@contextmanager
def open_parquet_rows(
    path: str | Path, *, text_column: str = "text", label_column: str | None = "label", multi_label: bool | str = "auto"
) -> Iterator[RowStream]:
    """The rows of ``path`` as ``rows.open_rows`` gives them (labels raw while ``multi_label`` is ``auto``)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet files needs pyarrow: pip install 'textcnn[parquet]'", path=path) from None
    path = Path(path)
    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except (OSError, ValueError) as error:  # pyarrow.ArrowInvalid is a ValueError
        raise DataError(f"not a readable Parquet file: {error}", path=path) from None
    columns = [text_column] + ([label_column] if label_column is not None else [])
    names = parquet.schema_arrow.names
    for wanted in columns:
        if wanted not in names:
            raise DataError(f"no column {wanted!r} (columns: {', '.join(names)}); choose with --text-column / --label-column", path=path)
    skips = SkipReport(str(path))
    multi = None if multi_label == "auto" and label_column is not None else multi_label is True
    try:
        yield RowStream(_rows(parquet, path, skips, columns, label_column, multi), skips, path, multi, label_column)
    finally:
        parquet.close()


def _rows(parquet, path: Path, skips: SkipReport, columns: list[str], label_column: str | None, multi: bool | None) -> Iterator[Row]:  # noqa: ANN001
    row = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        texts = batch.column(0).to_pylist()
        labels = batch.column(1).to_pylist() if label_column is not None else [None] * len(texts)
        for text, raw in zip(texts, labels):
            row += 1
            skips.total_rows += 1
            if text is not None and not isinstance(text, str):
                raise DataError(f"text must be a string, got {type(text).__name__}", path=path, row=row, column=columns[0])
            text = (text or "").strip()
            if not text:
                skips.skip("empty text", row)
                continue
            if label_column is None:
                yield row, text, None
                continue
            if raw is None:
                raise DataError("empty label", path=path, row=row, column=label_column)
            label = raw if multi is None else finish_label(raw, multi, path, row, label_column)
            if label is None:
                skips.skip("empty label list", row)
                continue
            yield row, text, label
