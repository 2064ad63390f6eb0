"""Read labelled (or unlabelled) texts from CSV, TSV, JSONL and fastText-style files.

Every bad row raises a ``DataError`` naming the file and the row (1-based, counted as the user
sees the file: the header is row 1 of a CSV); rows that are skipped on purpose (empty text) are
counted in a ``SkipReport`` that the caller shows to the user. Files are opened by ``text_files.py``:
the encoding, byte-order marks, bounded lines, bytes that do not decode.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal

from textcnn.data.text_files import LineError, csv_field_limit, is_stdin, open_text
from textcnn.errors import DataError

Format = Literal["auto", "csv", "tsv", "jsonl", "fasttext", "lines"]

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


Label = str | int
MultiLabel = bool | Literal["auto"]


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
    suffix = Path(path).suffix.lower()
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
    path = Path(path)
    kind = detect_format(path, format)
    source = Path("stdin") if is_stdin(path) else path
    with open_text(path, encoding, max_line_chars) as text_file:
        lines = text_file.lines()
        try:
            if kind in ("csv", "tsv"):
                with csv_field_limit(text_file.max_line_chars):
                    delimiter = "," if kind == "csv" else "\t"
                    return _read_delimited(lines, source, delimiter, text_column, label_column, multi_label, label_sep)
            if kind == "jsonl":
                return _read_jsonl(lines, source, text_column, label_column, multi_label)
            if kind == "fasttext":
                return _read_fasttext(lines, source, label_column is not None, multi_label)
            if kind == "lines" and label_column is None:
                return _read_lines(lines, source)
            if kind == "lines":
                is_fasttext, lines = _peek_fasttext(lines)
                if not is_fasttext:
                    raise DataError("plain-text lines carry no labels; use CSV/TSV/JSONL or `__label__x text` lines", path=source)
                return _read_fasttext(lines, source, True, multi_label)
        except LineError as error:
            raise DataError(error.reason, path=source, row=error.line) from None
    raise DataError(f"unknown format {kind!r}", path=path)


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


def _label_list(values: Iterable[object], path: Path, row: int, column: str | None) -> list[Label]:
    """Distinct labels in their order; empty strings are dropped (the list may end up empty)."""
    found: list[Label] = []
    for value in values:
        if isinstance(value, str) and not value.strip():
            continue
        label = _clean_label(value, path, row, column or "label")
        if label not in found:
            found.append(label)
    return found


def _read_delimited(
    handle: Iterable[str],
    path: Path,
    delimiter: str,
    text_column: str,
    label_column: str | None,
    multi_label: MultiLabel,
    label_sep: str,
) -> Records:
    reader = csv.reader(handle, delimiter=delimiter)
    skips = SkipReport(str(path))
    header, label_column, multi = _delimited_header(reader, path, text_column, label_column, multi_label)
    text_index = header.index(text_column)
    label_index = header.index(label_column) if label_column is not None else None
    texts: list[str] = []
    labels: list = []
    row = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
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
            texts.append(text)
            continue
        cell = cells[label_index]
        label = _row_label(cell.split(label_sep) if multi else cell, multi, path, row, label_column)
        if label is None:
            skips.skip("empty label list", row)
            continue
        texts.append(text)
        labels.append(label)
    return Records(texts, labels if label_column is not None else None, skips, multi)


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


def _finish(
    rows: list[tuple[int, str, object]], path: Path, skips: SkipReport, multi: bool, column: str | None
) -> Records:
    """Records from (row, text, raw label) triples; in multi-label mode a single label becomes a list."""
    texts: list[str] = []
    labels: list = []
    for row, text, raw in rows:
        label = _row_label(raw, multi, path, row, column or "label")
        if label is None:
            skips.skip("empty label list", row)
            continue
        texts.append(text)
        labels.append(label)
    return Records(texts, labels, skips, multi)


def _row_label(raw: object, multi: bool, path: Path, row: int, column: str) -> object | None:
    """One row's label (a list of labels in multi-label mode); None for an empty label list."""
    if not multi:
        return _clean_label(raw, path, row, column)
    return _label_list(raw if isinstance(raw, list) else [raw], path, row, column) or None


def _read_jsonl(
    handle: Iterable[str], path: Path, text_column: str, label_column: str | None, multi_label: MultiLabel
) -> Records:
    skips = SkipReport(str(path))
    texts: list[str] = []
    rows: list[tuple[int, str, object]] = []
    for row, line in enumerate(handle, start=1):
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
            texts.append(text)
            continue
        if label_column not in item:
            raise DataError("missing key", path=path, row=row, column=label_column)
        raw = item[label_column]
        if isinstance(raw, list) and multi_label is False:
            raise DataError(
                "a list of labels, but multi-label reading is off (data.multi_label: false)",
                path=path, row=row, column=label_column,
            )
        rows.append((row, text, raw))
    if label_column is None:
        return Records(texts, None, skips)
    multi = multi_label is True or any(isinstance(raw, list) for _, _, raw in rows)
    return _finish(rows, path, skips, multi, label_column)


def _read_fasttext(handle: Iterable[str], path: Path, with_labels: bool, multi_label: MultiLabel = "auto") -> Records:
    skips = SkipReport(str(path))
    rows: list[tuple[int, str, object]] = []
    for row, line in enumerate(handle, start=1):
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
        rows.append((row, text, found))
    if not with_labels:
        return Records([text for _, text, _ in rows], None, skips)
    multi = multi_label is True or any(len(found) > 1 for _, _, found in rows)
    return _finish([(row, text, found if multi else found[0]) for row, text, found in rows], path, skips, multi, None)


def _read_lines(handle: Iterable[str], path: Path) -> Records:
    skips = SkipReport(str(path))
    texts: list[str] = []
    for row, line in enumerate(handle, start=1):
        skips.total_rows += 1
        text = line.strip()
        if not text:
            skips.skip("empty line", row)
            continue
        texts.append(text)
    return Records(texts, None, skips)
