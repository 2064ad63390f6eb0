"""One training run on a streamed file (data/stream_cache.py): the ``fit_run`` of rows that stay on disk.

The vocabulary comes from the file's token counts, the labels from its label codes. The train rows
stay on disk (``stream_encoding.StreamedTexts``: no per-row arrays in memory, each epoch's order drawn
a window at a time); hashed dev rows are an index selection, and batches read their tokens from the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textcnn.config import RunConfig, build_config
from textcnn.data.encoding import EncodedTexts, TokenizedTexts
from textcnn.data.labels import LabelSet
from textcnn.data.long_texts import encode_to_fit
from textcnn.data.stream_cache import StreamedFile
from textcnn.data.stream_encoding import MappedTargets, max_len_of_counts, read_rows, streamed_vocab, train_length_counts, train_rows
from textcnn.errors import ConfigError
from textcnn.models import build_model
from textcnn.reporting import Progress, logger
from textcnn.training.reproducibility import resolve_device
from textcnn.training.run import Run, pretrained_vectors
from textcnn.training.trainer import FitHook, Trainer


@dataclass(frozen=True)
class StreamSplit:
    """A streamed file's train and dev rows: dev is the hashed rows of the file, or a dev file read whole."""

    data: StreamedFile
    labels: LabelSet
    num_train: int  # the train rows: every row of the file but the hashed dev rows
    dev_index: np.ndarray | None  # the hashed dev rows (None: a dev file)
    dev_file: TokenizedTexts | None
    dev_targets: np.ndarray
    carved: bool  # dev is hashed out of the file


def fit_stream_run(
    config: RunConfig, split: StreamSplit, *, refit: bool, kind: str, rng: np.random.Generator,
    progress: Progress | None = None, epochs: int | None = None, hook: FitHook | None = None,
) -> Run:  # fmt: skip
    """Train a fresh network on the train rows (``refit``: on every row of the file, for ``epochs``)."""
    data = split.data
    held_out = data.split if split.carved and not refit else None  # the rows hashed to dev are left out
    min_freq, max_vocab = config.tokenizer.min_freq, config.tokenizer.max_vocab
    vocab, lookup = streamed_vocab(data, with_dev=refit and split.carved, min_freq=min_freq, max_size=max_vocab)
    max_len = _max_len(config, data, held_out)
    logger.info(f"tokenizer {kind}, vocabulary {len(vocab):,} tokens, max_len {max_len}, {len(split.labels)} classes")
    counts = dict(zip(data.tokens, (data.train_counts + (data.dev_counts if refit else 0)).tolist())) if config.data.vectors else None
    vectors, model_changes = pretrained_vectors(config, vocab, None, counts)
    config = build_config(config, {"tokenizer": {"kind": kind, "max_len": max_len}, "model": model_changes})
    train = train_rows(data, held_out, lookup, max_len)  # training texts are truncated, as encode_to_fit does for windows
    targets = MappedTargets(train.codes, data.label_names, split.labels.index, held_out, len(train))
    dev, dev_targets = (None, None) if refit else (_dev(config, split, vocab, lookup, max_len), split.dev_targets)
    for name, encoded in (("train", train), ("dev", dev)):
        if encoded is not None and encoded.num_truncated:
            logger.info(f"{name}: {encoded.truncation_note()}")
    device = resolve_device(config.train.device)
    model = build_model(config.model, vocab_size=len(vocab), num_classes=len(split.labels), vectors=vectors)
    trainer = Trainer(config.train, device=device, rng=rng, progress=progress, hook=hook)
    fit = trainer.fit(model, train, targets, dev, dev_targets, split.labels.labels, epochs=epochs)
    if dev is not None:
        logger.info(
            f"best epoch {fit.best_epoch} (dev {config.train.select_metric} {100 * fit.best_score:.2f}), trained in {fit.seconds:.1f}s"
        )
    return Run(config, model, vocab, split.labels, fit, train, targets, dev, dev_targets, device)


def _dev(config: RunConfig, split: StreamSplit, vocab, lookup: np.ndarray, max_len: int) -> EncodedTexts:  # noqa: ANN001
    """The dev texts: hashed rows of the file (truncated to ``max_len``), or the dev file as ``tokenizer.long_text`` says."""
    if split.dev_file is not None:
        return encode_to_fit(split.dev_file, vocab, config.tokenizer)
    return read_rows(split.data, split.dev_index, lookup, max_len)


def _max_len(config: RunConfig, data: StreamedFile, held_out: tuple[float, int] | None) -> int:
    """``tokenizer.max_len``, ``auto`` resolved on the training lengths, checked against the position table."""
    max_len = config.tokenizer.max_len
    if max_len == "auto":
        max_len = max_len_of_counts(train_length_counts(data, held_out))
    model = config.model
    if model.positions != "none" and max_len > model.max_positions:
        raise ConfigError(f"tokenizer.max_len: {max_len} is longer than model.max_positions ({model.max_positions}) of {model.name}")
    return max_len
