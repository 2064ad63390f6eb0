"""The rows of a data file, one at a time: the one parser under ``read_records`` and the chunked reader.

``open_rows`` opens a file (``text_files.py``: encoding, byte-order marks, bounded lines, compressed
files) and gives an iterator of ``(row, text, label)`` triples, the row 1-based as the user sees the
file. Every bad row raises a ``DataError`` naming the file and the row; rows skipped on purpose (blank,
empty text, empty label list) are counted in the stream's ``SkipReport``. Labels are cleaned as they are
read wherever the file says whether it is multi-label (a CSV/TSV header, ``multi_label`` given); a
JSONL or fastText file read with ``multi_label="auto"`` gives raw labels (a list where a row has
several), which ``finish_label`` cleans once the caller knows.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal

from textcnn.data.text_files import LineError, csv_field_limit, is_stdin, open_text
from textcnn.errors import DataError

Label = str | int
MultiLabel = bool | Literal["auto"]
Row = tuple[int, str, object]  # (row, text, label: None for unlabelled input)
_FASTTEXT_PREFIX = "__label__"


@dataclass
class SkipReport:
    """Rows left out on purpose, by reason, so nothing disappears silently."""

    path: str
    total_rows: int = 0
    skipped: Counter = field(default_factory=Counter)
    first_rows: dict[str, list[int]] = field(default_factory=dict)

    def skip(self, reason: str, row: int) -> None:
        self.skipped[reason] += 1
        rows = self.first_rows.setdefault(reason, [])
        if len(rows) < 5:
            rows.append(row)

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    def describe(self) -> str:
        """One line for the user, or an empty string when nothing was skipped."""
        if not self.skipped:
            return ""
        parts = []
        for reason, count in self.skipped.most_common():
            rows = ", ".join(str(r) for r in self.first_rows.get(reason, []))
            more = ", ..." if count > len(self.first_rows.get(reason, [])) else ""
            noun = "row" if count == 1 else "rows"
            parts.append(f"{count} {noun} with {reason} ({noun} {rows}{more})")
        return f"{self.path}: skipped {self.num_skipped} of {self.total_rows} rows: " + "; ".join(parts)


@dataclass
class RowStream:
    """The rows of an open file, what was skipped so far, and whether labels are lists.

    ``multi`` is None while a JSONL or fastText file read with ``multi_label="auto"`` may still show a
    list of labels; its labels are then raw (see ``finish_label``).
    """

    rows: Iterator[Row]
    skips: SkipReport
    path: Path
    multi: bool | None
    label_column: str | None


@contextmanager
def open_rows(
    path: str | Path,
    kind: str,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    multi_label: MultiLabel = "auto",
    label_sep: str = "|",
    encoding: str = "utf-8",
    max_line_chars: int | None = None,
) -> Iterator[RowStream]:
    """The rows of ``path`` read as format ``kind`` (``readers.detect_format``), while the file is open.

    Raises:
        DataError: the file is missing or unreadable, a column is absent, or a row is malformed
            (raised as the rows are read).
    """
    path = Path(path)
    source = Path("stdin") if is_stdin(path) else path
    skips = SkipReport(str(source))
    with open_text(path, encoding, max_line_chars) as text_file, csv_field_limit(text_file.max_line_chars):
        lines = _checked(text_file.lines(), source)
        if kind in ("csv", "tsv"):  # a bad line is reported at its CSV row (a quoted field may span lines)
            reader = csv.reader(text_file.lines(), delimiter="," if kind == "csv" else "\t")
            try:
                header, label_column, multi = _delimited_header(reader, source, text_column, label_column, multi_label)
            except LineError as error:
                raise DataError(error.reason, path=source, row=error.line) from None
            rows = _delimited_rows(reader, header, source, skips, text_column, label_column, multi, label_sep)
            yield RowStream(rows, skips, source, multi, label_column)
        elif kind == "jsonl":
            multi = None if multi_label == "auto" and label_column is not None else multi_label is True
            yield RowStream(_jsonl_rows(lines, source, skips, text_column, label_column, multi_label), skips, source, multi, label_column)
        elif kind == "fasttext" or (kind == "lines" and label_column is not None):
            if kind == "lines":
                is_fasttext, lines = _peek_fasttext(lines)
                if not is_fasttext:
                    raise DataError("plain-text lines carry no labels; use CSV/TSV/JSONL or `__label__x text` lines", path=source)
            with_labels = label_column is not None
            multi = None if multi_label == "auto" and with_labels else multi_label is True
            yield RowStream(_fasttext_rows(lines, source, skips, with_labels, multi_label), skips, source, multi, None)
        elif kind == "lines":
            yield RowStream(_plain_rows(lines, skips), skips, source, False, None)
        else:
            raise DataError(f"unknown format {kind!r}", path=path)


def _checked(lines: Iterator[str], path: Path) -> Iterator[str]:
    """The lines, a ``LineError`` raised as the ``DataError`` of its row."""
    try:
        yield from lines
    except LineError as error:
        raise DataError(error.reason, path=path, row=error.line) from None


def finish_label(raw: object, multi: bool, path: Path, row: int, column: str | None) -> object | None:
    """One row's label (a list of labels in multi-label mode); None for an empty label list."""
    column = column or "label"
    if not multi:
        return _clean_label(raw, path, row, column)
    return _label_list(raw if isinstance(raw, list) else [raw], path, row, column) or None


def _peek_fasttext(lines: Iterator[str]) -> tuple[bool, Iterator[str]]:
    """Whether the first non-blank line starts with ``__label__``, and all the lines, those read included."""
    seen: list[str] = []
    for line in lines:
        seen.append(line)
        if line.strip():
            return line.lstrip().startswith(_FASTTEXT_PREFIX), itertools.chain(seen, lines)
    return False, iter(seen)


def _clean_label(value: object, path: Path, row: int, column: str) -> str | int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("empty label", path=path, row=row, column=column)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"label must be a string or an integer, got {value!r}", path=path, row=row, column=column)
    # An int label stays an int, as the Python API keeps it (predictions then give 1, not "1").
    return value.strip() if isinstance(value, str) else value


def _label_list(values: Iterable[object], path: Path, row: int, column: str) -> list[Label]:
    """Distinct labels in their order; empty strings are dropped (the list may end up empty)."""
    found: list[Label] = []
    for value in values:
        if isinstance(value, str) and not value.strip():
            continue
        label = _clean_label(value, path, row, column)
        if label not in found:
            found.append(label)
    return found


def _delimited_rows(
    reader: Iterator[list[str]], header: list[str], path: Path, skips: SkipReport, text_column: str,
    label_column: str | None, multi: bool, label_sep: str,
) -> Iterator[Row]:  # fmt: skip
    text_index = header.index(text_column)
    label_index = header.index(label_column) if label_column is not None else None
    row = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(_csv_problem(error), path=path, row=row + 1) from None
        except LineError as error:
            raise DataError(error.reason, path=path, row=row + 1) from None
        row += 1
        skips.total_rows += 1
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            skips.skip("blank", row)
            continue
        if len(cells) != len(header):
            open_quote = len(cells) < len(header) and any("\n" in cell or "\r" in cell for cell in cells[-1:])
            hint = " (a quote opened in this row is never closed?)" if open_quote else ""
            raise DataError(f"expected {len(header)} fields, found {len(cells)}{hint}", path=path, row=row)
        text = cells[text_index].strip()
        if not text:
            skips.skip("empty text", row)
            continue
        if label_index is None:
            yield row, text, None
            continue
        cell = cells[label_index]
        label = finish_label(cell.split(label_sep) if multi else cell, multi, path, row, label_column)
        if label is None:
            skips.skip("empty label list", row)
            continue
        yield row, text, label


def _delimited_header(
    reader: Iterator[list[str]], path: Path, text_column: str, label_column: str | None, multi_label: MultiLabel
) -> tuple[list[str], str | None, bool]:
    """The header's column names, the label column to read, and whether its cells are label lists."""
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("file is empty (expected a header row)", path=path) from None
    except csv.Error as error:
        raise DataError(_csv_problem(error), path=path, row=1) from None
    header = [name.strip() for name in header]
    if label_column == "label" and "label" not in header and "labels" in header and multi_label is not False:
        label_column = "labels"  # the usual multi-label layout (`text,labels`) needs no flag
    multi = multi_label is True or (multi_label == "auto" and label_column == "labels")
    for wanted in (text_column, label_column):
        if wanted is not None and wanted not in header:
            raise DataError(
                f"no column {wanted!r} in the header (columns: {', '.join(header)}); "
                "choose with --text-column / --label-column",
                path=path,
                row=1,
            )
        if wanted is not None and header.count(wanted) > 1:
            where = ", ".join(str(i + 1) for i, name in enumerate(header) if name == wanted)
            raise DataError(f"column {wanted!r} appears more than once in the header (columns {where})", path=path, row=1)
    return header, label_column, multi and label_column is not None


def _csv_problem(error: csv.Error) -> str:
    """What a csv module error means for the user: a field past the limit is a quote left open, or a huge text."""
    if "field larger than field limit" in str(error):
        return f"a field longer than {csv.field_size_limit():,} characters (a quote opened in this row is never closed?)"
    return f"malformed row: {error}"


def _jsonl_rows(
    lines: Iterable[str], path: Path, skips: SkipReport, text_column: str, label_column: str | None, multi_label: MultiLabel
) -> Iterator[Row]:
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        skips.total_rows += 1
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"not valid JSON: {error.msg}", path=path, row=row) from None
        if not isinstance(item, dict):
            raise DataError("expected a JSON object per line", path=path, row=row)
        if text_column not in item:
            raise DataError("missing key", path=path, row=row, column=text_column)
        text = item[text_column]
        if not isinstance(text, str):
            raise DataError(f"text must be a string, got {type(text).__name__}", path=path, row=row, column=text_column)
        text = text.strip()
        if not text:
            skips.skip("empty text", row)
            continue
        if label_column is None:
            yield row, text, None
            continue
        if label_column not in item:
            raise DataError("missing key", path=path, row=row, column=label_column)
        raw = item[label_column]
        if isinstance(raw, list) and multi_label is False:
            raise DataError(
                "a list of labels, but multi-label reading is off (data.multi_label: false)",
                path=path, row=row, column=label_column,
            )  # fmt: skip
        label = raw if multi_label == "auto" else finish_label(raw, multi_label is True, path, row, label_column)
        if label is None:
            skips.skip("empty label list", row)
            continue
        yield row, text, label


def _fasttext_rows(lines: Iterable[str], path: Path, skips: SkipReport, with_labels: bool, multi_label: MultiLabel) -> Iterator[Row]:
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        skips.total_rows += 1
        words = line.split()
        found = [w[len(_FASTTEXT_PREFIX):] for w in words if w.startswith(_FASTTEXT_PREFIX)]
        text = " ".join(w for w in words if not w.startswith(_FASTTEXT_PREFIX))
        if with_labels and not found:
            raise DataError("no `__label__` token on the line", path=path, row=row)
        if with_labels and len(found) > 1 and multi_label is False:
            raise DataError(
                f"{len(found)} labels on one line ({', '.join(found)}); multi-label reading is off "
                "(data.multi_label: false)",
                path=path,
                row=row,
            )
        if with_labels and not all(found):
            raise DataError("empty label after `__label__`", path=path, row=row)
        if not text:
            skips.skip("empty text", row)
            continue
        if not with_labels:
            yield row, text, None
            continue
        raw = found[0] if len(found) == 1 else found  # a list: several labels (multi-label)
        label = raw if multi_label == "auto" else finish_label(raw, multi_label is True, path, row, None)
        if label is None:
            skips.skip("empty label list", row)
            continue
        yield row, text, label


def _plain_rows(lines: Iterable[str], skips: SkipReport) -> Iterator[Row]:
    for row, line in enumerate(lines, start=1):
        skips.total_rows += 1
        text = line.strip()
        if not text:
            skips.skip("empty line", row)
            continue
        yield row, text, None
