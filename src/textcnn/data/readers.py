"""Read labelled (or unlabelled) texts from CSV, TSV, JSONL and fastText-style files.

Every bad row raises a ``DataError`` naming the file and the row (1-based, counted as the user
sees the file: the header is row 1 of a CSV); rows that are skipped on purpose (empty text) are
counted in a ``SkipReport`` that the caller shows to the user.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

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


@dataclass
class Records:
    """Texts and their labels (``None`` for unlabelled input), with what was skipped.

    Labels are strings, except that integer labels of a JSONL file stay integers.
    """

    texts: list[str]
    labels: list[str | int] | None
    skips: SkipReport

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


def _open_text(path: Path) -> io.TextIOWrapper:
    if str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path=path) from None


def read_records(
    path: str | Path,
    *,
    format: Format = "auto",
    text_column: str = "text",
    label_column: str | None = "label",
) -> Records:
    """Read texts (and labels unless ``label_column`` is None) from ``path``.

    Raises:
        DataError: the file is missing or unreadable, a column is absent, or a row is malformed.
    """
    path = Path(path)
    kind = detect_format(path, format)
    try:
        with _open_text(path) as handle:
            if kind in ("csv", "tsv"):
                return _read_delimited(handle, path, "," if kind == "csv" else "\t", text_column, label_column)
            if kind == "jsonl":
                return _read_jsonl(handle, path, text_column, label_column)
            if kind == "fasttext":
                return _read_fasttext(handle, path, label_column is not None)
            if kind == "lines":
                if label_column is not None and _looks_like_fasttext(path):
                    return _read_fasttext(handle, path, True)
                if label_column is not None:
                    raise DataError(
                        "plain-text lines carry no labels; use CSV/TSV/JSONL or `__label__x text` lines",
                        path=path,
                    )
                return _read_lines(handle, path)
    except UnicodeDecodeError as error:
        raise DataError(f"not valid UTF-8 (byte offset {error.start})", path=path) from None
    raise DataError(f"unknown format {kind!r}", path=path)


def _looks_like_fasttext(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    return line.lstrip().startswith(_FASTTEXT_PREFIX)
    except (OSError, UnicodeDecodeError):
        return False
    return False


def _clean_label(value: object, path: Path, row: int, column: str) -> str | int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("empty label", path=path, row=row, column=column)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"label must be a string or an integer, got {value!r}", path=path, row=row, column=column)
    # An int label stays an int, as the Python API keeps it (predictions then give 1, not "1").
    return value.strip() if isinstance(value, str) else value


def _read_delimited(
    handle: Iterable[str], path: Path, delimiter: str, text_column: str, label_column: str | None
) -> Records:
    reader = csv.reader(handle, delimiter=delimiter)
    skips = SkipReport(str(path))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("file is empty (expected a header row)", path=path) from None
    except csv.Error as error:
        raise DataError(f"malformed header: {error}", path=path, row=1) from None
    header = [name.strip() for name in header]
    for wanted in (text_column, label_column):
        if wanted is not None and wanted not in header:
            raise DataError(
                f"no column {wanted!r} in the header (columns: {', '.join(header)}); "
                "choose with --text-column / --label-column",
                path=path,
                row=1,
            )
    text_index = header.index(text_column)
    label_index = header.index(label_column) if label_column is not None else None
    texts: list[str] = []
    labels: list[str] = []
    row = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise DataError(f"malformed row: {error}", path=path, row=row + 1) from None
        row += 1
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            skips.total_rows += 1
            skips.skip("blank", row)
            continue
        skips.total_rows += 1
        if len(cells) != len(header):
            raise DataError(f"expected {len(header)} fields, found {len(cells)}", path=path, row=row)
        text = cells[text_index].strip()
        if not text:
            skips.skip("empty text", row)
            continue
        if label_index is not None:
            labels.append(_clean_label(cells[label_index], path, row, label_column))
        texts.append(text)
    return Records(texts, labels if label_column is not None else None, skips)


def _read_jsonl(handle: Iterable[str], path: Path, text_column: str, label_column: str | None) -> Records:
    skips = SkipReport(str(path))
    texts: list[str] = []
    labels: list[str | int] = []
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
        if label_column is not None:
            if label_column not in item:
                raise DataError("missing key", path=path, row=row, column=label_column)
            labels.append(_clean_label(item[label_column], path, row, label_column))
        texts.append(text)
    return Records(texts, labels if label_column is not None else None, skips)


def _read_fasttext(handle: Iterable[str], path: Path, with_labels: bool) -> Records:
    skips = SkipReport(str(path))
    texts: list[str] = []
    labels: list[str] = []
    for row, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        skips.total_rows += 1
        words = line.split()
        found = [w[len(_FASTTEXT_PREFIX):] for w in words if w.startswith(_FASTTEXT_PREFIX)]
        text = " ".join(w for w in words if not w.startswith(_FASTTEXT_PREFIX))
        if with_labels and not found:
            raise DataError("no `__label__` token on the line", path=path, row=row)
        if with_labels and len(found) > 1:
            raise DataError(
                f"{len(found)} labels on one line ({', '.join(found)}); multi-label input is not supported yet",
                path=path,
                row=row,
            )
        if with_labels and not found[0]:
            raise DataError("empty label after `__label__`", path=path, row=row)
        if not text:
            skips.skip("empty text", row)
            continue
        texts.append(text)
        if with_labels:
            labels.append(found[0])
    return Records(texts, labels if with_labels else None, skips)


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
