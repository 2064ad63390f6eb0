"""A training file tokenized to disk in two passes over its chunks, and opened memory-mapped.

The first pass counts tokens (``token_counts.BoundedCounts``: bounded memory) on train rows and, when
the dev split is hashed, on dev rows apart; it records each row's length and label code. The second
pass writes each token's id in that table. An entry is a folder in the tokenization cache named
``<key>.stream`` (the key as ``cache.entry_key``, plus the table bound and the dev split):

    meta.json                     the table of tokens, the label names, the tokenizer, what was skipped
    ids.npy                       (num_tokens,) int32 table ids; len(tokens): a token outside the table
    offsets.npy, lengths.npy      (num_rows,) int64
    labels.npy                    (num_rows,) int32 codes into the label names
    train_counts.npy, dev_counts.npy   (len(tokens),) int64

Arrays are ``.npy`` files opened with ``np.load(mmap_mode="r")`` (no pickles); an entry is built in a
temporary folder and renamed into place whole, and a damaged one is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textcnn.data.cache import entry_key
from textcnn.data.encoding import _starts, tokenize_compact
from textcnn.data.hash_split import hashed_dev_rows
from textcnn.data.mapped_rows import release, spans
from textcnn.data.readers import detect_format, iter_chunks
from textcnn.data.token_counts import TABLE_BOUND, BoundedCounts
from textcnn.data.tokenizers import build_tokenizer, resolve_tokenizer_kind
from textcnn.errors import DataError
from textcnn.reporting import logger

STREAM_FORMAT = 1
_ARRAYS = ("ids", "offsets", "lengths", "labels", "train_counts", "dev_counts")
_CHECK_SPAN = 1 << 24  # ids checked this many at a time when an entry is opened


@dataclass
class StreamedFile:
    """A labelled file tokenized to disk: row ``i`` is ``ids[offsets[i]:offsets[i] + lengths[i]]`` (table ids)."""

    tokens: list[str]  # the table of tokens, in order of first sight
    train_counts: np.ndarray  # (len(tokens),) int64, on the rows that are not dev
    dev_counts: np.ndarray  # (len(tokens),) int64, on the hashed dev rows (zeros without a split)
    ids: np.ndarray  # memory-mapped (num_tokens,) int32
    offsets: np.ndarray  # memory-mapped (num_rows,) int64
    lengths: np.ndarray  # memory-mapped (num_rows,) int64
    label_codes: np.ndarray  # memory-mapped (num_rows,) int32
    label_names: list  # code -> label (strings, or integers from JSONL)
    split: tuple[float, int] | None  # (dev_fraction, seed) of the hashed dev split, if any
    tokenizer: str
    skipped: str
    key: str  # the entry's key: the file and every setting it was made with
    min_count: int  # the count a token needed to stay in the table (1: none was dropped)
    cached: bool = False
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.lengths)

    def dev_rows(self) -> np.ndarray:
        """(num_rows,) bool: the hashed dev rows (none without a split)."""
        if self.split is None:
            return np.zeros(len(self), dtype=bool)
        return hashed_dev_rows(0, len(self), *self.split)


def read_streamed(
    path: str | Path,
    *,
    cache_dir: str | Path,
    format: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
    label_sep: str = "|",
    encoding: str = "utf-8",
    tokenizer: str = "auto",
    lowercase: bool = True,
    case_markers: bool = False,
    split: tuple[float, int] | None = None,
    chunk_rows: int = 50_000,
) -> StreamedFile:
    """The entry of ``path`` in ``cache_dir``, built first when missing or damaged.

    ``split``: (fraction, seed) of the hashed dev split (``hash_split.py``), whose rows are counted apart.

    Raises:
        DataError: as ``readers.iter_chunks``, or the file changed between the two passes.
    """
    started = time.perf_counter()
    reader = dict(format=format, text_column=text_column, label_column=label_column, label_sep=label_sep, encoding=encoding)
    settings = [detect_format(path, format), text_column, label_column, False, label_sep, encoding]
    extra = {"stream_format": STREAM_FORMAT, "table_bound": TABLE_BOUND, "split": list(split) if split else None}
    key = entry_key(path, settings, [tokenizer, lowercase, case_markers], extra)
    entry = Path(cache_dir) / f"{key}.stream"
    loaded = _open_entry(entry, key)
    if loaded is None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".tmp-"))
        try:
            _build(path, reader, (tokenizer, lowercase, case_markers), split, chunk_rows, building, key)
            if entry.exists():
                shutil.rmtree(entry)
            os.replace(building, entry)  # a reader sees no entry or the whole one
        finally:
            shutil.rmtree(building, ignore_errors=True)
        loaded = _open_entry(entry, key)
        if loaded is None:
            raise DataError(f"the tokenized file just written to {entry} cannot be read back", path=path)
    else:
        loaded.cached = True
    loaded.seconds = time.perf_counter() - started
    return loaded


def _build(path, reader: dict, tokenizing: tuple, split, chunk_rows: int, folder: Path, key: str) -> None:  # noqa: ANN001
    """Both passes over ``path``, the entry's files written into ``folder``."""
    kind, lowercase, case_markers = tokenizing
    train, dev, labels = BoundedCounts(), BoundedCounts(), {}
    rows = 0
    skipped = ""
    with open(folder / "lengths.bin", "wb") as lengths_out, open(folder / "labels.bin", "wb") as labels_out:
        for chunk, skips in iter_chunks(path, chunk_rows=chunk_rows, **reader):
            texts = [text for _, text, _ in chunk]
            if not rows:
                kind = resolve_tokenizer_kind(kind, texts)  # `auto` decided on the first chunk
                tokenize = build_tokenizer(kind, lowercase, case_markers)
            tokenized = tokenize_compact(texts, tokenize)
            codes = np.fromiter((labels.setdefault(label, len(labels)) for _, _, label in chunk), dtype=np.int32, count=len(chunk))
            is_dev = hashed_dev_rows(rows, len(chunk), *split) if split else np.zeros(len(chunk), dtype=bool)
            token_dev = np.repeat(is_dev, tokenized.lengths)
            train.add(tokenized.tokens, np.bincount(tokenized.ids[~token_dev], minlength=len(tokenized.tokens)))
            if split:
                dev.add(tokenized.tokens, np.bincount(tokenized.ids[token_dev], minlength=len(tokenized.tokens)))
            lengths_out.write(np.ascontiguousarray(tokenized.lengths, dtype=np.int64).tobytes())
            labels_out.write(codes.tobytes())
            rows += len(chunk)
            skipped = skips.describe()
            logger.info(f"counted {rows:,} rows of {path} ({len(train.counts):,} distinct tokens kept)")
    if not rows:
        raise DataError("no labelled rows to use", path=path)
    lengths = np.memmap(folder / "lengths.bin", dtype=np.int64, mode="r")  # read a span at a time, never whole
    tokens = list(train.counts) + [token for token in dev.counts if token not in train.counts]
    _write_ids(path, reader, tokenize, tokens, lengths, chunk_rows, folder)
    _write_rows(folder, lengths, np.memmap(folder / "labels.bin", dtype=np.int32, mode="r"))
    for name, counts in (("train_counts", train.counts), ("dev_counts", dev.counts)):
        np.save(folder / f"{name}.npy", np.fromiter((counts.get(token, 0) for token in tokens), dtype=np.int64, count=len(tokens)))
    del lengths
    for scratch in ("lengths.bin", "labels.bin"):
        (folder / scratch).unlink()
    min_count = max(train.min_count, dev.min_count)
    if min_count > 1:
        logger.info(f"{path}: the token table was kept to {TABLE_BOUND:,} tokens: tokens seen fewer than {min_count} times were dropped")
    meta = {
        "key": key, "tokens": tokens, "labels": list(labels), "split": list(split) if split else None,
        "tokenizer": kind, "skipped": skipped, "min_count": min_count,
    }  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def _npy_file(path: Path, dtype: type, count: int):  # noqa: ANN202
    """``path`` opened for writing a (count,) ``.npy`` array of ``dtype``, its header written: append the values."""
    handle = open(path, "wb")
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (count,)}
    np.lib.format.write_array_header_1_0(handle, header)
    return handle


def _write_ids(path, reader: dict, tokenize, tokens: list[str], lengths: np.ndarray, chunk_rows: int, folder: Path) -> None:  # noqa: ANN001
    """The second pass: each token's table id, appended to ``ids.npy`` a chunk at a time."""
    index = {token: i for i, token in enumerate(tokens)}
    outside = len(tokens)
    total = sum(int(lengths[start:stop].sum()) for start, stop in spans(len(lengths)))
    row = 0
    with _npy_file(folder / "ids.npy", np.int32, total) as ids:
        for chunk, _ in iter_chunks(path, chunk_rows=chunk_rows, **reader):
            tokenized = tokenize_compact([text for _, text, _ in chunk], tokenize)
            if not np.array_equal(tokenized.lengths, lengths[row : row + len(chunk)]):
                raise DataError("the file changed while it was read (its rows differ between two readings)", path=path)
            lookup = np.fromiter((index.get(token, outside) for token in tokenized.tokens), dtype=np.int32, count=len(tokenized.tokens))
            ids.write(lookup[tokenized.ids].tobytes())
            row += len(chunk)
            release(lengths)
    if row != len(lengths):
        raise DataError("the file changed while it was read (its rows differ between two readings)", path=path)


def _write_rows(folder: Path, lengths: np.ndarray, codes: np.ndarray) -> None:
    """``lengths.npy``, ``offsets.npy`` and ``labels.npy`` from the first pass's scratch files, a span at a time."""
    rows = len(lengths)
    with _npy_file(folder / "lengths.npy", np.int64, rows) as lengths_out, _npy_file(folder / "offsets.npy", np.int64, rows) as offsets_out:
        with _npy_file(folder / "labels.npy", np.int32, rows) as labels_out:
            position = 0
            for start, stop in spans(rows):
                span = np.asarray(lengths[start:stop])
                lengths_out.write(span.tobytes())
                offsets_out.write((position + _starts(span)).tobytes())
                labels_out.write(np.asarray(codes[start:stop]).tobytes())
                position += int(span.sum())
                release(lengths, codes)


def _open_entry(entry: Path, key: str) -> StreamedFile | None:
    if not (entry / "meta.json").exists():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        arrays = {name: np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
        _check(meta, key, arrays)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        logger.warning(f"note: ignoring the damaged tokenization cache entry {entry} ({error}); rebuilding it")
        return None
    split = tuple(meta["split"]) if meta["split"] else None
    return StreamedFile(
        meta["tokens"], np.asarray(arrays["train_counts"]), np.asarray(arrays["dev_counts"]), arrays["ids"],
        arrays["offsets"], arrays["lengths"], arrays["labels"], meta["labels"], split, meta["tokenizer"],
        meta["skipped"], key, int(meta["min_count"]),
    )  # fmt: skip


def _check(meta: dict, key: str, arrays: dict[str, np.ndarray]) -> None:
    """A ``ValueError`` unless the entry is whole: made for ``key``, arrays of the right types, sizes and ranges."""
    if meta.get("key") != key:
        raise ValueError("made for other settings")
    types = {"ids": np.int32, "offsets": np.int64, "lengths": np.int64, "labels": np.int32, "train_counts": np.int64, "dev_counts": np.int64}
    if any(arrays[name].dtype != dtype or arrays[name].ndim != 1 for name, dtype in types.items()):
        raise ValueError("unexpected array types")
    rows, tokens = len(arrays["lengths"]), len(meta["tokens"])
    if len(arrays["offsets"]) != rows or len(arrays["labels"]) != rows or len(arrays["train_counts"]) != tokens or len(arrays["dev_counts"]) != tokens:
        raise ValueError("arrays of different lengths")
    position = 0
    for start, stop in spans(rows):  # a span at a time, its pages released after: nothing per row stays resident
        lengths, codes = np.asarray(arrays["lengths"][start:stop]), np.asarray(arrays["labels"][start:stop])
        if lengths.min() < 0 or not np.array_equal(arrays["offsets"][start:stop], position + _starts(lengths)):
            raise ValueError("offsets out of range")
        if int(codes.min()) < 0 or int(codes.max()) >= len(meta["labels"]):
            raise ValueError("label codes out of range")
        position += int(lengths.sum())
        release(arrays["lengths"], arrays["offsets"], arrays["labels"])
    if position != len(arrays["ids"]):
        raise ValueError("offsets out of range")
    ids = arrays["ids"]
    for start, stop in spans(len(ids), _CHECK_SPAN):
        span = ids[start:stop]
        if int(span.min()) < 0 or int(span.max()) > tokens:
            raise ValueError("token ids out of range")
        release(ids)
