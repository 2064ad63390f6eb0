"""Training on a streamed file: the steps of ``pipeline.py`` over rows that stay on disk.

    prepare_stream   the labels as integer codes; dev is a dev file, or the rows a seeded hash picks
    fit members      the selection run, then (``train.refit``) a refit on every row of the file
    join, n-grams    the ensemble scored on dev; the n-gram model fitted on a bounded, seeded sample
    train_streamed   all of it: a ``StreamedFile`` in, a ``TrainingResult`` out

What differs from the in-memory pipeline: the dev split is hashed, not stratified (``hash_split.py``);
a refit after a dev *file* is not done (the selection model is kept, with a note); the n-gram model and
its weight are fitted on at most ``NGRAM_SAMPLE_TOKENS`` tokens of seeded rows of train and of dev.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, Hashable

import numpy as np

from textcnn.config import RunConfig, build_config
from textcnn.data.encoding import TokenizedTexts
from textcnn.data.labels import LabelSet
from textcnn.data.mapped_rows import FileColumn, spans
from textcnn.data.hash_split import hashed_dev_rows
from textcnn.data.stream_cache import StreamedFile
from textcnn.data.stream_encoding import MappedTargets, StreamedTexts
from textcnn.errors import DataError
from textcnn.inference.predictor import ngram_logits
from textcnn.reporting import Progress, logger
from textcnn.training.ngram_step import NgramFit, fit_ngram_model, resolved_ngram_settings
from textcnn.training.pipeline import Member, TrainingResult, join_members, selection_dev_logits, trained_result
from textcnn.training.reproducibility import seed_everything, set_threads
from textcnn.training.resume import Checkpoints, data_sha256
from textcnn.training.run import Run
from textcnn.training.stream_run import StreamSplit, fit_stream_run
from textcnn.training.trainer import report_key, resolve_select_metric, score_logits

NGRAM_SAMPLE_TOKENS = 1_000_000  # tokens of train (and of dev) the n-gram model of a streamed file is fitted on
Dev = tuple[TokenizedTexts, list[Hashable]]


def stream_sha256(data: StreamedFile, dev: Dev | None) -> str:
    """The digest a checkpoint of a streamed run is made from: the file's entry key, and the dev file's data."""
    dev_digest = data_sha256(dev[0], dev[1], None) if dev is not None else "hashed dev split"
    return hashlib.sha256(f"stream {data.key} {dev_digest}".encode()).hexdigest()


def prepare_stream(config: RunConfig, data: StreamedFile, dev: Dev | None) -> tuple[RunConfig, StreamSplit]:
    """The label set and the train/dev rows; the config with ``data.multi_label`` and ``train.select_metric`` resolved."""
    labels = LabelSet.from_labels(data.label_names)
    if len(labels) < 2:
        raise DataError(f"need at least 2 classes to train a classifier, found only {labels.labels[0]!r}")
    config = build_config(config, {"data.multi_label": False, "train.select_metric": resolve_select_metric(config.train.select_metric, False)})
    if dev is not None:
        if not len(dev[0]):
            raise DataError("the dev set is empty")
        return config, StreamSplit(data, labels, len(data), None, dev[0], labels.encode(dev[1], source="dev"), carved=False)
    if data.split != (config.data.dev_fraction, config.train.seed):
        raise ValueError(f"the streamed file was split with {data.split}, the settings ask for another split")
    parts = [start + np.flatnonzero(hashed_dev_rows(start, stop - start, *data.split)) for start, stop in spans(len(data))]
    dev_index = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    num_train = len(data) - len(dev_index)
    if num_train < 2 or not len(dev_index):
        raise DataError(f"too few rows ({len(data)}) to hold out a dev split; give a dev file (--dev)")
    logger.info(
        f"no dev set given: holding out {len(dev_index):,} of {len(data):,} training texts "
        f"({100 * len(dev_index) / len(data):.1f}%, hashed, seed {config.train.seed}) as dev"
    )
    dev_targets = MappedTargets(FileColumn(data.label_codes), data.label_names, labels.index, None, len(data))[dev_index]
    return config, StreamSplit(data, labels, num_train, dev_index, None, dev_targets, carved=True)


def train_streamed(
    config: RunConfig, data: StreamedFile, dev: Dev | None, *, progress: Progress | None = None,
    checkpoints: Checkpoints | None = None,
) -> TrainingResult:  # fmt: skip
    """Train on a streamed file (``dev``: a dev file read whole; none: hashed dev rows); the best epoch on dev is kept."""
    if checkpoints is None:
        return _train(config, data, dev, progress, None)
    checkpoints.begin(config, stream_sha256(data, dev))
    with checkpoints.watching_signals():
        return _train(config, data, dev, progress, checkpoints)


def _fit_member(config: RunConfig, split: StreamSplit, index: int, progress, checkpoints, dev_logits: bool) -> Member:  # noqa: ANN001
    def hook(run: str):  # noqa: ANN202
        return checkpoints.stage(f"member-{index}-{run}") if checkpoints is not None else None

    seed, kind = config.train.seed + index, split.data.tokenizer
    selection = fit_stream_run(config, split, refit=False, kind=kind, rng=seed_everything(seed), progress=progress, hook=hook("selection"))
    logits = selection_dev_logits(selection) if dev_logits else None
    refit = config.train.refit
    if refit == "never" or (refit == "auto" and not split.carved):
        return Member(selection, selection, selection.fit, logits, None)
    if not split.carved:
        logger.warning("train.refit: a streamed file is not refitted on train + a dev file; the selection model is kept")
        return Member(selection, selection, selection.fit, logits, None)
    best = selection.fit
    logger.info(f"refit: training a fresh model on train + dev ({len(split.data):,} texts) for the best epoch count, {best.best_epoch}")
    final = fit_stream_run(
        config, split, refit=True, kind=kind, rng=seed_everything(seed), progress=progress, epochs=best.best_epoch, hook=hook("refit")
    )  # fmt: skip
    fit = replace(best, history=best.history + final.fit.history, seconds=best.seconds + final.fit.seconds)
    return Member(selection, final, fit, logits, {"epochs": best.best_epoch, "texts": len(split.data)})


def sample_rows(lengths: np.ndarray, max_tokens: int, seed: int) -> np.ndarray | None:
    """Sorted indices of seeded random rows holding at most ``max_tokens`` tokens (None: all rows fit)."""
    lengths = np.asarray(lengths)
    if int(lengths.sum()) <= max_tokens:
        return None
    order = np.random.default_rng(seed).permutation(len(lengths))
    return np.sort(order[: max(1, int(np.searchsorted(np.cumsum(lengths[order]), max_tokens, side="right")))])


def _sampled(run: Run, dev_logits: np.ndarray, seed: int) -> tuple[Run, np.ndarray]:
    """``run`` with its train and dev texts cut to seeded samples of ``NGRAM_SAMPLE_TOKENS`` tokens each."""
    if isinstance(run.train, StreamedTexts):  # the train rows in memory, in the order of the file
        texts, rows = run.train.in_memory()
        run = replace(run, train=texts, train_targets=run.train_targets[rows])
    train = sample_rows(run.train.lengths, NGRAM_SAMPLE_TOKENS, seed)
    dev = sample_rows(run.dev.lengths, NGRAM_SAMPLE_TOKENS, seed + 1) if run.dev is not None else None
    if train is not None:
        logger.info(f"n-gram model: fitted on a seeded sample of {len(train):,} of {len(run.train):,} training texts (at most {NGRAM_SAMPLE_TOKENS:,} tokens)")
        run = replace(run, train=run.train.select(train), train_targets=run.train_targets[train])
    if dev is not None:
        logger.info(f"n-gram model: weighed on a seeded sample of {len(dev):,} of {len(run.dev):,} dev texts")
        run, dev_logits = replace(run, dev=run.dev.select(dev), dev_targets=run.dev_targets[dev]), dev_logits[dev]
    return run, dev_logits


def _fit_ngrams(config: RunConfig, members: list[Member]) -> NgramFit:
    last = members[-1]
    all_dev_logits = np.mean([member.dev_logits for member in members], axis=0)
    selection, dev_logits = _sampled(last.selection, all_dev_logits, config.train.seed)
    final = selection if last.final is last.selection else _sampled(last.final, dev_logits, config.train.seed)[0]
    fitted = fit_ngram_model(last.final.config, selection, final, dev_logits)
    if len(selection.dev) == len(last.selection.dev):
        return fitted
    return _scored_on_all_dev(config, fitted, last.selection, all_dev_logits)


def _scored_on_all_dev(config: RunConfig, fitted: NgramFit, run: Run, dev_logits: np.ndarray) -> NgramFit:
    """``fitted`` with its dev report over every dev row, the n-gram scores taken a bounded span of rows at a time."""
    lengths = np.asarray(run.dev.lengths)
    scale, weight = fitted.settings["nb.scale"], fitted.settings["nb.weight"]
    if fitted.model is None:  # the network alone
        report, _ = score_logits(scale * dev_logits, run.dev_targets, run.labels.labels)
        return replace(fitted, report=report)
    ends = np.searchsorted(np.cumsum(lengths), np.arange(1, 1 + int(lengths.sum()) // NGRAM_SAMPLE_TOKENS + 1) * NGRAM_SAMPLE_TOKENS)
    bounds = np.unique(np.concatenate([[0], np.minimum(ends + 1, len(lengths)), [len(lengths)]]))
    scores = np.concatenate([ngram_logits(fitted.model, run.dev.select(np.arange(a, b))) for a, b in zip(bounds[:-1], bounds[1:])])
    report, _ = score_logits(scale * dev_logits + weight * scores, run.dev_targets, run.labels.labels)
    key = report_key(config.train.select_metric, False)
    logger.info(f"dev {key} with the n-gram model, on all {len(lengths):,} dev texts: {100 * report[key]:.2f}")
    return replace(fitted, report=report, summary={**fitted.summary, f"dev_{key}_with_naive_bayes": report[key]})


def _train(config: RunConfig, data: StreamedFile, dev: Dev | None, progress, checkpoints) -> TrainingResult:  # noqa: ANN001
    config, split = prepare_stream(config, data, dev)
    set_threads(config.train.threads)
    size, with_ngrams = config.train.ensemble, config.nb.enabled
    members = []
    for index in range(size):
        if size > 1:
            logger.info(f"ensemble member {index + 1} of {size}: seed {config.train.seed + index}")
        members.append(_fit_member(config, split, index, progress, checkpoints, dev_logits=size > 1 or with_ngrams))
    last = members[-1]
    model, fit, thresholds = last.final.model, last.fit, last.selection.fit.thresholds
    metrics: dict[str, Any] = {"dev": last.selection.fit.best_report, **({"refit": last.refit} if last.refit else {})}
    if size > 1:
        model, fit, metrics["ensemble"] = join_members(config, members, split.dev_targets, split.labels.labels, False)
        metrics["dev"], thresholds = fit.best_report, fit.thresholds
    ngrams = NgramFit(None, {**resolved_ngram_settings(last.final.config, last.selection), "nb.weight": 0.0}, None, None, None)
    if with_ngrams:
        ngrams = checkpoints.ngram_fit(lambda: _fit_ngrams(config, members)) if checkpoints is not None else _fit_ngrams(config, members)
        metrics["dev"], metrics["naive_bayes"] = ngrams.report, ngrams.summary
    return trained_result(members, model, fit, thresholds, ngrams, metrics, run={"streamed": True})
