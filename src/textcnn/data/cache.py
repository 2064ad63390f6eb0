"""Read and tokenize a data file once: a second run on the same file loads the result from disk.

A cache entry is one ``.npz`` file (NumPy arrays and a JSON header; no pickles) named by the sha256
of the file's bytes, the reader settings (the encoding among them), the tokenizer settings and the textcnn version. An entry
that is missing, damaged or made for other settings is rebuilt.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textcnn.data.encoding import TokenizedTexts, tokenize_compact
from textcnn.data.provenance import file_sha256
from textcnn.data.readers import detect_format, read_records
from textcnn.data.text_files import check_encoding
from textcnn.data.tokenizers import build_tokenizer, resolve_tokenizer_kind
from textcnn.errors import DataError
from textcnn.reporting import logger
from textcnn.version import __version__

CACHE_FORMAT = 2  # 2: multi-label files (label lists, the multi_label flag)


def default_cache_dir() -> Path:
    """``$TEXTCNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/textcnn``, else ``~/.cache/textcnn``."""
    configured = os.environ.get("TEXTCNN_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textcnn"


@dataclass
class TokenizedFile:
    """A data file read and tokenized: the texts as token ids, their labels, what was skipped."""

    texts: TokenizedTexts
    labels: list[str | int] | list[list[str | int]] | None  # label lists when ``multi_label``
    tokenizer: str  # the tokenizer kind used (``auto`` resolved)
    skipped: str  # the SkipReport line, empty when no row was skipped
    cached: bool  # loaded from the cache
    seconds: float  # time spent reading and tokenizing (or loading)
    multi_label: bool = False  # read as a multi-label file


def read_tokenized(
    path: str | Path,
    *,
    format: str = "auto",
    text_column: str = "text",
    label_column: str | None = "label",
    multi_label: bool | str = "auto",
    label_sep: str = "|",
    encoding: str = "utf-8",
    tokenizer: str = "auto",
    lowercase: bool = True,
    case_markers: bool = False,
    cache_dir: str | Path | None = None,
) -> TokenizedFile:
    """Read ``path`` (as ``read_records``) and tokenize its texts, through the cache in ``cache_dir``.

    Without ``cache_dir`` (or for stdin) nothing is cached. ``tokenizer`` may be ``auto``: it is resolved on the
    file's texts, and the kind used is returned.

    Raises:
        DataError: as ``read_records``.
    """
    started = time.perf_counter()
    entry = None
    if cache_dir is not None and Path(path).is_file():
        reader = [detect_format(path, format), text_column, label_column, multi_label, label_sep, encoding]
        key = entry_key(path, reader, [tokenizer, lowercase, case_markers], {"cache_format": CACHE_FORMAT})
        entry = Path(cache_dir) / f"{key}.npz"
        loaded = _load_entry(entry, key)
        if loaded is not None:
            loaded.seconds = time.perf_counter() - started
            return loaded
    records = read_records(
        path, format=format, text_column=text_column, label_column=label_column, multi_label=multi_label,
        label_sep=label_sep, encoding=encoding,
    )  # fmt: skip
    kind = resolve_tokenizer_kind(tokenizer, records.texts)
    texts = tokenize_compact(records.texts, build_tokenizer(kind, lowercase, case_markers))
    result = TokenizedFile(texts, records.labels, kind, records.skips.describe(), False, 0.0, records.multi_label)
    if entry is not None:
        _save_entry(entry, key, result)
    result.seconds = time.perf_counter() - started
    return result


def entry_key(path: str | Path, reader: list, tokenizer: list, extra: dict) -> str:
    """The name of a cache entry: the sha256 of the file's sha256, the ``reader`` settings (the encoding
    last), the ``tokenizer`` settings (the kind first), the textcnn version and ``extra``."""
    settings = {
        **extra,
        "textcnn": __version__,
        "sha256": _digest(path),
        "reader": [*reader[:-1], _codec(reader[-1])],
        "tokenizer": [*tokenizer, _segmenter_version(tokenizer[0])],
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _digest(path: str | Path) -> str:
    try:
        return file_sha256(path)
    except OSError as error:
        raise DataError(f"cannot read the file: {error.strerror or error}", path=path) from None


def _codec(encoding: str) -> str:
    """The codec's own name, so that `utf8` and `UTF-8` share entries."""
    return codecs.lookup(check_encoding(encoding)).name


def _segmenter_version(kind: str) -> str | None:
    # A new rjieba release may cut words differently.
    if kind != "jieba":
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rjieba")
    except PackageNotFoundError:
        return None


def _save_entry(entry: Path, key: str, data: TokenizedFile) -> None:
    header = {
        "key": key, "tokens": data.texts.tokens, "labels": data.labels, "tokenizer": data.tokenizer,
        "skipped": data.skipped, "multi_label": data.multi_label,
    }
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=entry.parent, prefix=".tmp-", suffix=".npz", delete=False) as handle:
            np.savez(
                handle,
                header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
                ids=data.texts.ids,
                offsets=data.texts.offsets,
                lengths=data.texts.lengths,
            )
        os.replace(handle.name, entry)  # atomic: a reader sees the old entry or the whole new one
    except OSError as error:
        logger.warning(f"note: could not write the tokenization cache {entry}: {error.strerror or error}")


def _load_entry(entry: Path, key: str) -> TokenizedFile | None:
    if not entry.exists():
        return None
    try:
        with np.load(entry, allow_pickle=False) as arrays:
            header = json.loads(arrays["header"].tobytes().decode("utf-8"))
            ids, offsets, lengths = arrays["ids"], arrays["offsets"], arrays["lengths"]
        texts = TokenizedTexts(list(header["tokens"]), ids, offsets, lengths)
        labels = header["labels"]
        _check_entry(header, key, texts, labels)
        return TokenizedFile(texts, labels, header["tokenizer"], header["skipped"], True, 0.0, bool(header["multi_label"]))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        logger.warning(f"note: ignoring the damaged tokenization cache entry {entry} ({error}); rebuilding it")
        return None


def _check_entry(header: dict, key: str, texts: TokenizedTexts, labels: list | None) -> None:
    if header.get("key") != key:
        raise ValueError("made for other settings")
    if (texts.ids.dtype, texts.offsets.dtype, texts.lengths.dtype) != (np.int32, np.int64, np.int64):
        raise ValueError("unexpected array types")
    n = len(texts.lengths)
    if len(texts.offsets) != n or (labels is not None and len(labels) != n):
        raise ValueError("arrays of different lengths")
    if n and (texts.lengths.min() < 0 or texts.offsets.min() < 0 or (texts.offsets + texts.lengths).max() > len(texts.ids)):
        raise ValueError("offsets out of range")
    if len(texts.ids) and (texts.ids.min() < 0 or texts.ids.max() >= len(texts.tokens)):
        raise ValueError("token ids out of range")
