"""Data files opened as text: decoded as asked unless a byte-order mark says otherwise, read one bounded
line at a time, and every line that cannot be read reported at the line that holds the problem.

A byte-order mark (UTF-8, UTF-16 or UTF-32) at the start of a file decides its encoding, whatever was
asked: the mark is unambiguous, and Excel writes one in its "CSV UTF-8" and "Unicode text" exports.
Bytes that are not valid in the encoding are marked as they are decoded (``UNDECODABLE``), so the reader
stops at the row that holds them, and the error names the first bad byte and, when a quick check finds
one, the encoding the bytes more likely are (``charsets.py``). No line is held longer than
``MAX_LINE_CHARS`` characters: a longer one is an error, found after reading that much of it, so a file
with a gigabyte on one line costs no more memory than that.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from textcnn.config.sections import check_text_encoding
from textcnn.data.charsets import nul_reason, undecodable_reason
from textcnn.errors import ConfigError, DataError
from textcnn.reporting import logger

COMPRESSED_SUFFIXES = (".gz", ".zst")  # read through gzip and zstandard (the extra ``zstd``)
MAX_LINE_CHARS = 10_000_000  # the longest line read (about 10-40 MB of text); far beyond any text a model reads
UNDECODABLE = "\udcff"  # a lone surrogate: no decoder gives one for valid input
_MARK_ERRORS = "textcnn.undecodable"
codecs.register_error(_MARK_ERRORS, lambda error: (UNDECODABLE, error.end))
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip


class LineError(Exception):
    """A line that cannot be read; the reader raises it as a ``DataError`` at the row it was reading."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def is_stdin(path: str | Path) -> bool:
    """Whether ``path`` names standard input (``-``)."""
    return str(path) == "-"


def check_encoding(name: str) -> str:
    """``name`` if Python has a text codec of that name, else a ``ConfigError`` that says so."""
    try:
        return check_text_encoding(name)
    except ValueError as error:
        raise ConfigError(f"encoding: {error}") from None


@dataclass
class TextFile:
    """An open data file: its text stream, the codec it is decoded with, the longest line it may hold."""

    path: Path
    handle: io.TextIOWrapper
    encoding: str
    max_line_chars: int

    def lines(self) -> Iterator[str]:
        """The file's lines, line ends kept (CRLF, LF and a lone CR all end a line), each checked as it is read."""
        readline, limit, number = self.handle.readline, self.max_line_chars, 0
        while True:
            try:
                line = readline(limit + 2)  # a line of ``limit`` characters and a CRLF fits
            except (OSError, EOFError) as error:  # EOFError: a compressed file cut short
                reason = f"reading failed after line {number:,}: {getattr(error, 'strerror', None) or error} (did the file change or go away?)"
                raise LineError(reason, number + 1) from None
            except UnicodeDecodeError:  # a codec that would not mark its errors
                raise LineError(f"not valid {self.encoding}", number + 1) from None
            if not line:
                return
            number += 1
            if len(line) > limit and len(line.rstrip("\r\n")) > limit:
                raise LineError(f"a line longer than {limit:,} characters (the most one line may hold)", number)
            if not line.isascii() and UNDECODABLE in line:
                raise LineError(undecodable_reason(None if is_stdin(self.path) else self.path, self.encoding), number)
            if "\x00" in line:
                raise LineError(nul_reason(None if is_stdin(self.path) else self.path, self.encoding), number)
            yield line


@contextmanager
def open_text(path: str | Path, encoding: str = "utf-8", max_line_chars: int | None = None) -> Iterator[TextFile]:
    """``path`` (``-``: standard input) opened for ``TextFile.lines``, decoded as ``encoding`` or as its byte-order mark says.

    Raises:
        DataError: the file is missing, a directory, or cannot be opened.
        ConfigError: ``encoding`` is no text encoding Python knows.
    """
    check_encoding(encoding)
    path = Path(path)
    stdin = is_stdin(path)
    binary = _stdin_bytes() if stdin else _open_binary(path)
    handle = None
    try:
        marked = _bom_encoding(binary)
        if marked and not codecs.lookup(encoding).name.startswith("utf"):
            logger.info(f"note: {'stdin' if stdin else path} starts with a byte-order mark: read as {marked}, not {encoding}")
        handle = io.TextIOWrapper(binary, encoding=marked or encoding, errors=_MARK_ERRORS, newline="")  # type: ignore[arg-type]
        yield TextFile(path, handle, marked or encoding, max_line_chars or MAX_LINE_CHARS)
    finally:
        if not stdin:
            binary.close()
        else:  # leave the process's standard input open
            if handle is not None:
                handle.detach()
            if binary is not _stdin_buffer():
                binary.detach()


@contextmanager
def csv_field_limit(limit: int) -> Iterator[None]:
    """Let the csv module read fields of up to ``limit`` characters (its default is 131,072), then restore it."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _open_binary(path: Path) -> BinaryIO:
    try:
        binary = open(path, "rb")
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path=path) from None
    except PermissionError:
        raise DataError("permission denied (cannot open the file for reading)", path=path) from None
    except OSError as error:
        raise DataError(f"cannot open the file: {error.strerror or error}", path=path) from None
    suffix = path.suffix.lower()
    return decompressed(binary, suffix, path) if suffix in COMPRESSED_SUFFIXES else binary


def decompressed(binary: BinaryIO, suffix: str, path: Path) -> BinaryIO:
    """The bytes of a ``.gz`` or ``.zst`` file, decompressed as they are read (a stream that can peek)."""
    if suffix == ".gz":
        binary.close()  # opened to report a missing or unreadable file as such
        return gzip.open(path, "rb")  # type: ignore[return-value]
    try:
        import zstandard
    except ImportError:
        binary.close()
        raise DataError("reading .zst files needs the zstandard package: pip install 'textcnn[zstd]'", path=path) from None
    return io.BufferedReader(_ZstdReader(zstandard.ZstdDecompressor().stream_reader(binary, closefd=True)))  # type: ignore[arg-type]


class _ZstdReader(io.RawIOBase):
    """A zstandard stream reader whose errors are ``OSError`` (as a damaged gzip file's are)."""

    def __init__(self, reader) -> None:  # noqa: ANN001
        self.reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        try:
            return self.reader.readinto(buffer)
        except Exception as error:  # zstandard.ZstdError: not an OSError
            raise OSError(f"not a valid zstd file ({error})") from None

    def close(self) -> None:
        self.reader.close()
        super().close()


def _stdin_buffer() -> BinaryIO | None:
    return getattr(sys.stdin, "buffer", None) if sys.stdin is not None else None


def _stdin_bytes() -> io.BufferedReader:
    """Standard input's bytes, in a stream that can peek at its first bytes (the byte-order mark)."""
    buffer = _stdin_buffer()
    if buffer is None or buffer.closed:
        raise DataError("standard input is closed: give texts as arguments or --input FILE")
    return buffer if hasattr(buffer, "peek") else io.BufferedReader(buffer)  # type: ignore[return-value]


def _bom_encoding(binary: BinaryIO) -> str | None:
    """The codec that a byte-order mark at the start of ``binary`` names (it consumes the mark), else None."""
    head = binary.peek(4)[:4]  # type: ignore[attr-defined]
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)
