"""The labelled files of a job (train, dev, test), read and tokenized once, the same way for every command.

Dev and test are read as train was (its tokenizer, single- or multi-label, its encoding); a training file
with fewer than two labels, or a dev or test label that train never has, is an error naming the file;
skipped rows are reported on the ``textcnn`` logger. The files' digests are taken as they are read, so a
file removed while the model trains does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textcnn.config import RunConfig
from textcnn.data.cache import TokenizedFile, default_cache_dir, read_tokenized
from textcnn.data.labels import as_label_list
from textcnn.data.provenance import describe_files
from textcnn.data.stream_cache import StreamedFile, read_streamed
from textcnn.errors import DataError
from textcnn.reporting import logger


@dataclass(frozen=True)
class LabelledFiles:
    """The files of a job, read: ``dev`` and ``test`` are None where no file was given."""

    train: TokenizedFile
    dev: TokenizedFile | None
    test: TokenizedFile | None
    paths: dict[str, str | Path | None]
    provenance: dict[str, dict[str, str]]

    def describe(self) -> dict[str, dict[str, str]]:
        """``{split: {"path", "sha256"}}`` of the files read (the provenance a bundle records)."""
        return self.provenance


def read_labelled(path: str | Path, config: RunConfig, *, tokenizer: str, multi_label: bool | str) -> TokenizedFile:
    """One labelled file, through the tokenization cache when ``data.cache`` is on."""
    data = config.data
    tokenized = read_tokenized(
        path,
        format=data.format,
        text_column=data.text_column,
        label_column=data.label_column,
        multi_label=multi_label,
        label_sep=data.label_sep,
        encoding=data.encoding,
        tokenizer=tokenizer,
        lowercase=config.tokenizer.lowercase,
        case_markers=config.tokenizer.case_markers,
        cache_dir=default_cache_dir() if data.cache else None,
    )
    if tokenized.skipped:
        logger.warning(tokenized.skipped)
    if not len(tokenized.texts):
        raise DataError("no labelled rows to use", path=path)
    how = "(cached)" if tokenized.cached else f"in {tokenized.seconds:.1f}s"
    logger.info(f"read and tokenized {len(tokenized.texts):,} texts from {path} {how}")
    return tokenized


def read_labelled_files(
    config: RunConfig,
    train_path: str | Path,
    *,
    dev_path: str | Path | None = None,
    test_path: str | Path | None = None,
) -> LabelledFiles:
    """Train, dev and test files read alike, with every dev/test label checked against train's."""
    train = read_labelled(train_path, config, tokenizer=config.tokenizer.kind, multi_label=config.data.multi_label)
    splits: dict[str, TokenizedFile | None] = {}
    for split, path in (("dev", dev_path), ("test", test_path)):
        splits[split] = read_labelled(path, config, tokenizer=train.tokenizer, multi_label=train.multi_label) if path else None
    known = _distinct_labels(train)
    _refuse_one_label(known, train_path)
    for split, path in (("dev", dev_path), ("test", test_path)):
        _refuse_unseen_labels(splits[split], known, train_path, path)
    paths = {"train": train_path, "dev": dev_path, "test": test_path}
    return LabelledFiles(train, splits["dev"], splits["test"], paths, _provenance(paths))


def _distinct_labels(records: TokenizedFile) -> set:
    return {label for item in records.labels for label in as_label_list(item)}


def _refuse_one_label(known: set, train_path: str | Path) -> None:
    """A training file whose rows all carry one label trains no classifier."""
    if len(known) == 1:
        raise DataError(f"every row has the label {next(iter(known))!r}: a classifier needs at least 2 labels", path=train_path)


def _refuse_unseen_labels(records: TokenizedFile | None, known: set, train_path: str | Path, path: str | Path | None) -> None:
    """A dev or test file (``records``, None: none given) with labels the training file never has."""
    unseen = sorted(_distinct_labels(records) - known, key=str) if records else []
    if unseen:
        shown = ", ".join(repr(label) for label in unseen[:10])
        raise DataError(f"label(s) {shown} never occur in the training file {train_path}", path=path)


def _provenance(paths: dict[str, str | Path | None]) -> dict[str, dict[str, str]]:
    """``describe_files`` of ``paths``, a file that cannot be read again a ``DataError``."""
    try:
        return describe_files(paths)
    except OSError as error:
        raise DataError(f"cannot read the file again for its sha256: {error.strerror or error}", path=error.filename) from None


@dataclass(frozen=True)
class StreamedFiles:
    """The files of a streamed job: the training file on disk (``stream_cache.py``), dev and test read whole."""

    train: StreamedFile
    dev: TokenizedFile | None
    test: TokenizedFile | None
    paths: dict[str, str | Path | None]

    def describe(self) -> dict[str, dict[str, str]]:
        """``{split: {"path", "sha256"}}`` of the files read (the provenance a bundle records)."""
        return _provenance(self.paths)


def should_stream(config: RunConfig, train_path: str | Path) -> bool:
    """``data.stream``: ``true``, or ``auto`` for a training file of at least ``data.stream_min_bytes``."""
    setting = config.data.stream
    if setting != "auto":
        return bool(setting)
    path = Path(train_path)
    return path.is_file() and path.stat().st_size >= config.data.stream_min_bytes


def read_streamed_files(
    config: RunConfig, train_path: str | Path, *, dev_path: str | Path | None = None, test_path: str | Path | None = None
) -> StreamedFiles:
    """The training file streamed into the tokenization cache (hashed dev rows unless ``dev_path``), dev and test read whole."""
    data, tokenizer = config.data, config.tokenizer
    if str(train_path) == "-":
        raise DataError("standard input cannot be streamed (data.stream: false reads it whole)", path="stdin")
    if config.data.multi_label is True:
        raise DataError("a multi-label file cannot be streamed (data.stream: false reads it whole)", path=train_path)
    if not data.cache:
        logger.info(f"note: a streamed file is tokenized into {default_cache_dir()} even with data.cache off")
    train = read_streamed(
        train_path, cache_dir=default_cache_dir(), format=data.format, text_column=data.text_column,
        label_column=data.label_column, label_sep=data.label_sep, encoding=data.encoding, tokenizer=tokenizer.kind,
        lowercase=tokenizer.lowercase, case_markers=tokenizer.case_markers,
        split=None if dev_path else (data.dev_fraction, config.train.seed),
    )  # fmt: skip
    if train.skipped:
        logger.warning(train.skipped)
    how = "(cached)" if train.cached else f"in {train.seconds:.1f}s"
    logger.info(f"streamed {len(train):,} texts of {train_path} to disk {how}")
    known = set(train.label_names)
    _refuse_one_label(known, train_path)
    splits: dict[str, TokenizedFile | None] = {}
    for split, path in (("dev", dev_path), ("test", test_path)):
        splits[split] = read_labelled(path, config, tokenizer=train.tokenizer, multi_label=False) if path else None
        _refuse_unseen_labels(splits[split], known, train_path, path)
    return StreamedFiles(train, splits["dev"], splits["test"], {"train": train_path, "dev": dev_path, "test": test_path})
