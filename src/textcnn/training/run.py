"""One training run: labels, vocabulary and encoding from the training texts, a fresh network, the fit loop.

``fit_run`` is the step every pipeline stage repeats (the selection run, the refit, each ensemble
member); it returns a ``Run`` that holds the trained network and the encoded data it saw, which the
n-gram model is counted on and weighed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable

import numpy as np
import torch
from torch import nn

from textcnn.config import RunConfig, build_config, resolve_embedding_mode
from textcnn.data.encoding import EncodedTexts, TokenizedTexts, build_compact_vocab, choose_max_len
from textcnn.data.labels import LabelSet
from textcnn.data.long_texts import encode_to_fit
from textcnn.data.vectors import read_vectors
from textcnn.data.vocab import Vocab
from textcnn.errors import ConfigError
from textcnn.models import build_model
from textcnn.reporting import Progress, logger
from textcnn.training.reproducibility import resolve_device
from textcnn.training.trainer import FitHook, FitResult, Trainer


@dataclass(frozen=True)
class Run:
    """A network trained on one set of texts, with the data it was trained and scored on."""

    config: RunConfig  # resolved: tokenizer kind and max_len, embedding settings
    model: nn.Module
    vocab: Vocab
    labels: LabelSet
    fit: FitResult
    train: EncodedTexts
    train_targets: np.ndarray
    dev: EncodedTexts | None
    dev_targets: np.ndarray | None
    device: torch.device


def encode_targets(label_set: LabelSet, labels: list[Hashable], multi_label: bool, source: str) -> np.ndarray:
    """Class ids (num_texts,), or multi-hot rows (num_texts, num_labels) for multi-label data."""
    if multi_label:
        return label_set.encode_multi_hot(labels, source=source)
    return label_set.encode(labels, source=source)


def fit_run(
    config: RunConfig,
    train: TokenizedTexts,
    labels: list[Hashable],
    dev: tuple[TokenizedTexts, list[Hashable]] | None,
    *,
    kind: str,
    rng: np.random.Generator,
    progress: Progress | None = None,
    epochs: int | None = None,
    hook: FitHook | None = None,
) -> Run:
    """Build labels, vocabulary and model from ``train`` and train it (keeping the best dev epoch).

    Without ``dev``, it trains for ``epochs`` epochs and keeps the final weights. ``hook``: the
    run's checkpoints (training/resume.py).
    """
    multi_label = config.data.multi_label is True
    label_set = LabelSet.from_labels(label for item in labels for label in item) if multi_label else LabelSet.from_labels(labels)
    train_targets = encode_targets(label_set, labels, multi_label, "train")
    dev_targets = encode_targets(label_set, dev[1], multi_label, "dev") if dev is not None else None
    vocab = build_compact_vocab(train, min_freq=config.tokenizer.min_freq, max_size=config.tokenizer.max_vocab)
    max_len = _max_len(config, train)
    noun = "labels (multi-label)" if multi_label else "classes"
    logger.info(f"tokenizer {kind}, vocabulary {len(vocab):,} tokens, max_len {max_len}, {len(label_set)} {noun}")
    vectors, model_changes = pretrained_vectors(config, vocab, train)
    config = build_config(config, {"tokenizer": {"kind": kind, "max_len": max_len}, "model": model_changes})
    train_encoded = encode_to_fit(train, vocab, config.tokenizer, training=True)
    dev_encoded = encode_to_fit(dev[0], vocab, config.tokenizer) if dev is not None else None
    for split, encoded in (("train", train_encoded), ("dev", dev_encoded)):
        if encoded is not None and encoded.num_truncated:
            logger.info(f"{split}: {encoded.truncation_note()}")
    device = resolve_device(config.train.device)
    model = build_model(config.model, vocab_size=len(vocab), num_classes=len(label_set), vectors=vectors)
    trainer = Trainer(config.train, device=device, rng=rng, progress=progress, hook=hook)
    fit = trainer.fit(model, train_encoded, train_targets, dev_encoded, dev_targets, label_set.labels, epochs=epochs)
    if dev is not None:
        logger.info(
            f"best epoch {fit.best_epoch} (dev {config.train.select_metric} {100 * fit.best_score:.2f}), "
            f"trained in {fit.seconds:.1f}s"
        )
    return Run(config, model, vocab, label_set, fit, train_encoded, train_targets, dev_encoded, dev_targets, device)


def _max_len(config: RunConfig, train: TokenizedTexts) -> int:
    """``tokenizer.max_len``, ``auto`` resolved on the training lengths, checked against the position table."""
    max_len = config.tokenizer.max_len
    if max_len == "auto":
        max_len = choose_max_len(train.lengths)
    model = config.model
    if model.positions != "none" and max_len > model.max_positions:  # no position table: no length limit
        raise ConfigError(
            f"tokenizer.max_len: {max_len} is longer than model.max_positions ({model.max_positions}) of {model.name}"
        )
    return max_len


def pretrained_vectors(
    config: RunConfig, vocab: Vocab, train: TokenizedTexts | None, counts: dict[str, int] | None = None
) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """The vectors of ``data.vectors`` for ``vocab`` (or None), and the model settings they resolve.

    ``counts``: the training tokens' counts, where ``train`` is not at hand (a streamed file).
    """
    mode = resolve_embedding_mode(config.model.embedding_mode, config.data.vectors is not None)
    if config.data.vectors is None:
        return None, {"embedding_mode": mode}
    if counts is None:
        counts = dict(zip(train.tokens, np.bincount(train.flat_ids(), minlength=len(train.tokens)).tolist()))
    pretrained = read_vectors(config.data.vectors, vocab, token_counts=counts, seed=config.train.seed)
    logger.info(pretrained.coverage.describe())
    dim = pretrained.coverage.dim
    if dim != config.model.embed_dim:
        logger.info(f"model.embed_dim: {dim}, the size of the pretrained vectors (configured: {config.model.embed_dim})")
    logger.info(f"model.embedding_mode: {mode}")
    return torch.from_numpy(pretrained.matrix), {"embedding_mode": mode, "embed_dim": dim}
