"""Whole jobs on data files: read them, train, evaluate on a test file, save the bundle."""

from __future__ import annotations

from pathlib import Path

from textcnn.classifier import TextClassifier, _as_list, _encode, _stderr_log
from textcnn.config import RunConfig
from textcnn.data.cache import default_cache_dir, read_tokenized
from textcnn.data.provenance import describe_files
from textcnn.errors import DataError


def train_on_files(
    config: RunConfig,
    train_path: str | Path,
    *,
    dev_path: str | Path | None = None,
    test_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    verbose: bool = True,
) -> TextClassifier:
    """Read the files, train, evaluate on ``test_path``, and save the bundle to ``out_dir``.

    Skipped rows of every file are reported; the bundle's metrics.json holds dev and test reports.
    """
    log = _stderr_log if verbose else (lambda message: None)
    data = config.data
    cache_dir = default_cache_dir() if data.cache else None

    def read(path: str | Path, tokenizer: str, multi_label: bool | str = data.multi_label):
        tokenized = read_tokenized(
            path,
            format=data.format,
            text_column=data.text_column,
            label_column=data.label_column,
            multi_label=multi_label,
            label_sep=data.label_sep,
            tokenizer=tokenizer,
            lowercase=config.tokenizer.lowercase,
            case_markers=config.tokenizer.case_markers,
            cache_dir=cache_dir,
            log=log,
        )
        if tokenized.skipped:
            _stderr_log(tokenized.skipped)
        if not len(tokenized.texts):
            raise DataError("no labelled rows to use", path=path)
        how = "(cached)" if tokenized.cached else f"in {tokenized.seconds:.1f}s"
        log(f"read and tokenized {len(tokenized.texts):,} texts from {path} {how}")
        return tokenized

    train = read(train_path, config.tokenizer.kind)
    # dev and test are read as TRAIN was: same tokenizer, single- or multi-label
    dev = read(dev_path, train.tokenizer, train.multi_label) if dev_path is not None else None
    test = read(test_path, train.tokenizer, train.multi_label) if test_path is not None else None

    def distinct(records) -> set:
        return {label for item in records.labels for label in _as_list(item)}

    known = distinct(train)
    for records, path in ((dev, dev_path), (test, test_path)):
        unseen = sorted(distinct(records) - known, key=str) if records else []
        if unseen:
            shown = ", ".join(repr(label) for label in unseen[:10])
            raise DataError(f"label(s) {shown} never occur in the training file {train_path}", path=path)
    classifier = TextClassifier(config)
    dev_data = (dev.texts, dev.labels) if dev else None
    classifier._fit(train.texts, train.labels, dev_data, train.tokenizer, verbose=verbose, log=log)
    if test is not None:
        encoded = _encode(test.texts, classifier.vocab, classifier.config.tokenizer)
        if encoded.num_truncated:
            log(f"test: {encoded.truncation_note()}")
        classifier.metrics["test"] = classifier.evaluate(encoded, test.labels, source=str(test_path))
    files = describe_files({"train": train_path, "dev": dev_path, "test": test_path})
    classifier.metrics["run"]["data"] = files
    if out_dir is not None:
        classifier.save(out_dir, extra_info={"data": files})
    return classifier
