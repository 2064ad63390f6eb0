"""What an error says about bytes that do not decode: where the first bad byte is, and which encoding
the bytes more likely are.

The guess is a quick check on up to 64 KB around the first bad byte: the first of ``CANDIDATES`` that
decodes it cleanly and reads as text of that encoding (Chinese for GB18030 and Big5, lines for UTF-16,
letters for Latin-1). Chinese CSVs saved by Excel are often GBK, which GB18030 extends.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Callable

_SAMPLE_BYTES = 1 << 16
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and line ends
_CJK_PUNCTUATION = ("\u3000", "\u303f"), ("\uff00", "\uffef")
_NON_ASCII_RUN = re.compile("[^\x00-\x7f]+")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def undecodable_reason(path: Path | None, encoding: str) -> str:
    """``not valid utf-8 at byte 1,234; it looks like gb18030: try --encoding gb18030`` (``path`` None: stdin, no rescan)."""
    if path is None:
        return f"not valid {encoding}"
    offset = first_bad_byte(path, encoding)
    where = f" at byte {offset:,}" if offset is not None else ""
    sample = read_sample(path, offset or 0)
    guess = None if _mostly_utf8(sample, encoding) else guess_encoding(sample, encoding)
    hint = f"; it looks like {guess}: try --encoding {guess}" if guess else ""
    return f"not valid {encoding}{where}{hint}"


def nul_reason(path: Path | None, encoding: str) -> str:
    """What a NUL character in a text says: UTF-16 read as another encoding, or a binary or damaged file."""
    guess = guess_encoding(read_sample(path, 0), encoding) if path is not None else None
    if guess:
        return f"a NUL character in the text; it looks like {guess}: try --encoding {guess}"
    return "a NUL character in the text: is the file binary or damaged? (remove NULs with: tr -d '\\000')"


def first_bad_byte(path: Path, encoding: str) -> int | None:
    """The offset of the first byte of ``path`` that is not valid ``encoding`` (None: none, or unreadable)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    position = 0
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    return position - pending + error.start
                position += len(chunk)
            pending = len(decoder.getstate()[0])
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:  # the file ends inside a character
        return position - pending + error.start
    except OSError:
        return None
    return None


def read_sample(path: Path | None, offset: int) -> bytes:
    """Up to 64 KB of whole lines around ``offset`` (from the start when ``offset`` is in the first 64 KB)."""
    if path is None:
        return b""
    start = 0 if offset < _SAMPLE_BYTES else offset - 4096
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            sample = handle.read(_SAMPLE_BYTES)
    except OSError:
        return b""
    if start:
        sample = sample[sample.find(b"\n") + 1 :]
    for bom in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if start == 0 and sample.startswith(bom):
            return sample[len(bom) :]
    return sample


def guess_encoding(sample: bytes, tried: str) -> str | None:
    """The first of ``CANDIDATES`` (other than ``tried``) in which ``sample`` decodes cleanly and reads as text."""
    tried_name = _family(tried)
    for name, plausible in CANDIDATES:
        if _family(name) == tried_name:
            continue
        text = _decode(sample, name)
        if text and not _CONTROL.search(text) and plausible(text, sample):
            return name
    return None


def _family(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return name.removesuffix("-sig")


def _decode(sample: bytes, encoding: str) -> str | None:
    """``sample`` decoded strictly, a character cut at its end left out; None when it does not decode."""
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def _mostly_utf8(sample: bytes, tried: str) -> bool:
    """Whether a file read as UTF-8 is UTF-8 with a few damaged bytes (then no other encoding is named)."""
    if _family(tried) != "utf-8":
        return False
    text = sample.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    return sum(1 for char in text if char > "\x7f") - bad >= 10 * bad


def _non_ascii(text: str) -> list[str]:
    return [char for char in text if char > "\x7f"]


def _share(chars: list[str], test: Callable[[str], bool]) -> float:
    return sum(1 for char in chars if test(char)) / len(chars) if chars else 0.0


def _cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or any(low <= char <= high for low, high in _CJK_PUNCTUATION)


def _common_simplified(char: str) -> bool:
    """A CJK character or punctuation of GB2312 (the common simplified set): most of any GBK text."""
    if not _cjk(char):
        return False
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _looks_utf8(text: str, sample: bytes) -> bool:
    return True  # it decoded strictly, as random bytes in another encoding seldom do


def _in_runs(text: str) -> bool:
    """Whether the non-ASCII characters come in runs (words, phrases), as Chinese does; Latin-1 bytes read
    as GB18030 or Big5 give one character per accented letter, between ASCII letters."""
    runs = _NON_ASCII_RUN.findall(text)
    return bool(runs) and sum(map(len, runs)) >= 2 * len(runs)


def _looks_gbk(text: str, sample: bytes) -> bool:
    # Big5 and UTF-8 bytes may decode as GB18030 too, but then mostly as rare characters, symbols and kana;
    # Chinese text is mostly Chinese characters, and most of those in GBK text are the common simplified ones.
    chars = _non_ascii(text)
    return _share(chars, _cjk) >= 0.8 and _share(chars, _common_simplified) >= 0.4 and _in_runs(text)


def _looks_big5(text: str, sample: bytes) -> bool:
    return _share(_non_ascii(text), _cjk) >= 0.8 and _in_runs(text)


def _looks_utf16(text: str, sample: bytes) -> bool:
    return "\n" in text  # bytes of an 8-bit encoding never pair into U+000A


def _looks_latin(text: str, sample: bytes) -> bool:
    letters = _share(_non_ascii(text), lambda char: char.isalpha() or char in "\u2018\u2019\u201c\u201d\u2013\u2014\u20ac")
    return letters >= 0.7 and not _UTF8_SEQUENCE.search(sample)


CANDIDATES: tuple[tuple[str, Callable[[str, bytes], bool]], ...] = (
    ("utf-8", _looks_utf8),
    ("gb18030", _looks_gbk),
    ("big5", _looks_big5),
    ("utf-16-le", _looks_utf16),
    ("utf-16-be", _looks_utf16),
    ("latin-1", _looks_latin),
    ("cp1252", _looks_latin),
)
