"""Training as pure steps, each returning a typed result:

    prepare          check the labels (multi-label or not), carve a dev split when none is given
    fit_member       one network: the selection run picks the best epoch on dev, an optional refit
                     trains a fresh one on train + dev for that many epochs
    join_ensemble    several members (seeds seed, seed + 1, ...) as one model, scored on dev
    fit_ngram_model  the n-gram model beside the network and its weight, fitted on dev
    tokenize_job     the texts and the dev split tokenized, the tokenizer kind resolved
    train_classifier all of it: tokenized texts in, a ``TrainedClassifier`` out

With ``Checkpoints`` (training/resume.py), each training run and the n-gram fit is a stage whose
checkpoints let a resumed run skip what finished and continue what did not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Hashable, Sequence

import numpy as np
import torch

from textcnn.config import REFIT_AUTO_MAX_TEXTS, RunConfig, build_config
from textcnn.data.encoding import TokenizedTexts, concat_compact, tokenize_compact
from textcnn.data.labels import as_label_list, is_label_list, is_multi_label
from textcnn.data.splits import rarest_labels, stratified_split
from textcnn.data.tokenizers import resolve_tokenizer_kind, tokenizer_for
from textcnn.errors import DataError
from textcnn.inference.logits import predict_logits
from textcnn.inference.trained import TrainedClassifier
from textcnn.models import Ensemble, token_products
from textcnn.reporting import Progress, logger
from textcnn.training.history import member_history
from textcnn.training.ngram_step import NgramFit, fit_ngram_model, resolved_ngram_settings
from textcnn.training.reproducibility import run_info, seed_everything, set_threads
from textcnn.training.resume import Checkpoints, data_sha256
from textcnn.training.run import Run, encode_targets, fit_run
from textcnn.training.trainer import FitResult, report_key, resolve_select_metric, score_logits

Dev = tuple[TokenizedTexts, list[Hashable]]


@dataclass(frozen=True)
class Split:
    """The texts of a training job: train, dev, and whether dev was carved out of train."""

    train: TokenizedTexts
    labels: list[Hashable]
    dev: TokenizedTexts
    dev_labels: list[Hashable]
    carved: bool


@dataclass(frozen=True)
class Member:
    """One trained network: its selection run, the run whose model is kept (the refit, if any), their fit."""

    selection: Run
    final: Run
    fit: FitResult  # the selection's best epoch and score; the history of both runs
    dev_logits: np.ndarray | None  # the selection model's dev logits (for ensembles and the n-gram weight)
    refit: dict[str, int] | None


@dataclass(frozen=True)
class TrainingResult:
    """What training returns: the classifier, the fit that chose it, and the device it was trained on."""

    classifier: TrainedClassifier
    fit: FitResult
    device: torch.device


def tokenize_job(
    config: RunConfig,
    texts: Sequence[str],
    labels: Sequence[Hashable],
    dev: tuple[Sequence[str], Sequence[Hashable]] | None,
) -> tuple[str, TokenizedTexts, Dev | None]:
    """The tokenizer kind (``auto`` resolved on ``texts``), the tokenized texts and the tokenized dev split."""
    if len(texts) != len(labels):
        raise DataError(f"{len(texts)} texts but {len(labels)} labels")
    kind = resolve_tokenizer_kind(config.tokenizer.kind, list(texts))
    tokenizer = tokenizer_for(config.tokenizer, kind)
    tokenized_dev = (tokenize_compact(list(dev[0]), tokenizer), list(dev[1])) if dev is not None else None
    return kind, tokenize_compact(list(texts), tokenizer), tokenized_dev


def prepare(
    config: RunConfig, train: TokenizedTexts, labels: list[Hashable], dev: Dev | None
) -> tuple[RunConfig, Split]:
    """Validated labels and a dev split; the config with ``data.multi_label`` and ``train.select_metric`` resolved."""
    if len(train) != len(labels):
        raise DataError(f"{len(train)} texts but {len(labels)} labels")
    if dev is not None and not len(dev[0]):
        raise DataError("the dev set is empty")
    setting = config.data.multi_label
    lists = [is_label_list(item) for item in labels]
    if setting is False and any(lists):
        raise DataError(f"label {lists.index(True) + 1} is a list, but data.multi_label is false")
    multi_label = is_multi_label(setting, labels)
    if multi_label:
        train, labels = _drop_empty_label_lists(train, [as_label_list(item) for item in labels], "train")
        if dev is not None:
            dev = _drop_empty_label_lists(dev[0], [as_label_list(item) for item in dev[1]], "dev")
    if len(train) < 2:
        raise DataError("need at least 2 training texts")
    distinct = {label for item in labels for label in item} if multi_label else set(labels)
    if len(distinct) < 2:
        raise DataError(f"need at least 2 classes to train a classifier, found only {next(iter(distinct))!r}")
    metric = resolve_select_metric(config.train.select_metric, multi_label)
    config = build_config(config, {"data.multi_label": multi_label, "train.select_metric": metric})
    if dev is not None:
        return config, Split(train, labels, dev[0], dev[1], carved=False)
    return config, carve_dev(config, train, labels)


def carve_dev(config: RunConfig, train: TokenizedTexts, labels: list[Hashable]) -> Split:
    """Hold out a stratified, seeded ``data.dev_fraction`` of the training texts as dev."""
    strata = rarest_labels(labels) if config.data.multi_label else labels
    keep, held = stratified_split(strata, config.data.dev_fraction, config.train.seed)
    logger.info(
        f"no dev set given: holding out {len(held):,} of {len(train):,} training texts "
        f"({100 * config.data.dev_fraction:.0f}%, stratified, seed {config.train.seed}) as dev"
    )
    return Split(train.select(keep), [labels[i] for i in keep], train.select(held), [labels[i] for i in held], carved=True)


def _drop_empty_label_lists(texts: TokenizedTexts, labels: list[list], split: str) -> tuple[TokenizedTexts, list[list]]:
    keep = [i for i, item in enumerate(labels) if item]
    if len(keep) == len(labels):
        return texts, labels
    logger.warning(f"{split}: left out {len(labels) - len(keep)} texts with an empty label list")
    return texts.select(keep), [labels[i] for i in keep]


def should_refit(config: RunConfig, split: Split) -> bool:
    """``train.refit``: ``always``; ``auto`` when dev was carved, or single-label with few texts."""
    refit = config.train.refit
    # with a dev file, `auto` refits small single-label sets: multi-label thresholds are tuned on the
    # selection run's dev scores, and a refit model's scores drift from them
    small = config.data.multi_label is not True and len(split.train) + len(split.dev) <= REFIT_AUTO_MAX_TEXTS
    return refit == "always" or (refit == "auto" and (split.carved or small))


def fit_member(
    config: RunConfig, split: Split, *, kind: str, seed: int, progress: Progress | None, dev_logits: bool,
    checkpoints: Checkpoints | None = None, index: int = 0,
) -> Member:
    """Train one network with ``seed``: its best epoch on dev, then a refit on train + dev if ``train.refit`` says so.

    ``checkpoints``: the runs are stages ``member-{index}-selection`` and ``member-{index}-refit``.
    """  # fmt: skip

    def hook(run: str):
        return checkpoints.stage(f"member-{index}-{run}") if checkpoints is not None else None

    dev = (split.dev, split.dev_labels)
    selection = fit_run(
        config, split.train, split.labels, dev, kind=kind, rng=seed_everything(seed), progress=progress, hook=hook("selection")
    )  # fmt: skip
    logits = selection_dev_logits(selection) if dev_logits else None
    if not should_refit(config, split):
        return Member(selection, selection, selection.fit, logits, None)
    texts = len(split.train) + len(split.dev)
    best = selection.fit
    logger.info(f"refit: training a fresh model on train + dev ({texts:,} texts) for the best epoch count, {best.best_epoch}")
    final = fit_run(
        config, concat_compact(split.train, split.dev), split.labels + split.dev_labels, None, kind=kind,
        rng=seed_everything(seed), progress=progress, epochs=best.best_epoch, hook=hook("refit"),
    )  # fmt: skip
    fit = replace(best, history=best.history + final.fit.history, seconds=best.seconds + final.fit.seconds)
    return Member(selection, final, fit, logits, {"epochs": best.best_epoch, "texts": texts})


def selection_dev_logits(selection: Run) -> np.ndarray:
    """The selection model's dev logits (for ensembles and the n-gram weight), by products: the
    weights predict them once, and a later prediction fills the table of token products it needs."""
    with token_products.single_use():
        return predict_logits(selection.model, selection.dev, device=selection.device)


def join_ensemble(config: RunConfig, members: list[Member], split: Split) -> tuple[Ensemble, FitResult, dict[str, Any]]:
    """The members as one ``Ensemble``, scored on dev by the mean of their selection runs' logits."""
    labels = members[-1].final.labels
    multi_label = config.data.multi_label is True
    return join_members(config, members, encode_targets(labels, split.dev_labels, multi_label, "dev"), labels.labels, multi_label)


def join_members(
    config: RunConfig, members: list[Member], dev_targets: np.ndarray, label_names: list, multi_label: bool
) -> tuple[Ensemble, FitResult, dict[str, Any]]:
    """``join_ensemble`` given the dev targets (in memory or streamed): the ensemble, its fit scored
    on the mean of the members' dev logits, and the summary of ``metrics["ensemble"]``."""
    report, thresholds = score_logits(np.mean([member.dev_logits for member in members], axis=0), dev_targets, label_names)
    key = report_key(config.train.select_metric, multi_label)
    scores = [member.fit.best_score for member in members]
    seconds = sum(member.fit.seconds for member in members)
    last = members[-1].fit
    fit = FitResult(last.best_epoch, report[key], last.history, last.stopped_early, seconds, report, thresholds)
    summary = {"members": len(members), "seeds": [config.train.seed + i for i in range(len(members))], f"member_dev_{key}": scores}
    logger.info(
        f"ensemble of {len(members)}: dev {key} {100 * report[key]:.2f} "
        f"(members {', '.join(f'{100 * score:.2f}' for score in scores)}), trained in {seconds:.1f}s"
    )
    return Ensemble([member.final.model for member in members]).eval(), fit, summary


def train_classifier(
    config: RunConfig,
    train: TokenizedTexts,
    labels: list[Hashable],
    dev: Dev | None,
    *,
    kind: str,
    progress: Progress | None = None,
    checkpoints: Checkpoints | None = None,
) -> TrainingResult:
    """Train on texts tokenized (by the tokenizer ``kind``) already; the best epoch on dev is kept.

    ``checkpoints``: write checkpoints to that folder (or continue the run they hold); SIGINT and
    SIGTERM then stop training after the next one (``TrainingInterrupted``).
    """
    if checkpoints is None:
        return _train(config, train, list(labels), dev, kind=kind, progress=progress, checkpoints=None)
    checkpoints.begin(config, data_sha256(train, list(labels), dev))
    with checkpoints.watching_signals():
        return _train(config, train, list(labels), dev, kind=kind, progress=progress, checkpoints=checkpoints)


def _train(
    config: RunConfig, train: TokenizedTexts, labels: list[Hashable], dev: Dev | None, *, kind: str,
    progress: Progress | None, checkpoints: Checkpoints | None,
) -> TrainingResult:  # fmt: skip
    config, split = prepare(config, train, labels, dev)
    set_threads(config.train.threads)
    size = config.train.ensemble
    with_ngrams = config.nb.enabled and (config.nb.for_multi_label or config.data.multi_label is not True)
    members = []
    for index in range(size):
        if size > 1:
            logger.info(f"ensemble member {index + 1} of {size}: seed {config.train.seed + index}")
        members.append(
            fit_member(
                config, split, kind=kind, seed=config.train.seed + index, progress=progress,
                dev_logits=size > 1 or with_ngrams, checkpoints=checkpoints, index=index,
            )  # fmt: skip
        )
    last = members[-1]
    model, fit, thresholds = last.final.model, last.fit, last.selection.fit.thresholds
    metrics: dict[str, Any] = {"dev": last.selection.fit.best_report, **({"refit": last.refit} if last.refit else {})}
    if size > 1:
        model, fit, metrics["ensemble"] = join_ensemble(config, members, split)
        metrics["dev"], thresholds = fit.best_report, fit.thresholds
    resolved = last.final.config
    ngrams = NgramFit(None, {**resolved_ngram_settings(resolved, last.selection), "nb.weight": 0.0}, None, None, None)
    if with_ngrams:  # members share their data: the last one's runs stand for all
        dev_logits = np.mean([member.dev_logits for member in members], axis=0)

        def fit_ngrams() -> NgramFit:
            return fit_ngram_model(resolved, last.selection, last.final, dev_logits)

        ngrams = checkpoints.ngram_fit(fit_ngrams) if checkpoints is not None else fit_ngrams()
        metrics["dev"], metrics["naive_bayes"] = ngrams.report, ngrams.summary
        thresholds = ngrams.thresholds if ngrams.thresholds is not None else thresholds
    return trained_result(members, model, fit, thresholds, ngrams, metrics)


def trained_result(
    members: list[Member], model: torch.nn.Module, fit: FitResult, thresholds: np.ndarray | None, ngrams: NgramFit,
    metrics: dict[str, Any], *, run: dict[str, Any] | None = None,
) -> TrainingResult:  # fmt: skip
    """The classifier of trained ``members`` (``model``: the last one's network, or their ensemble): the
    last member's resolved config with the n-gram settings, metrics with the run's facts (and ``run``),
    and every member's history."""
    last = members[-1]
    resolved = build_config(last.final.config, ngrams.settings)
    metrics["run"] = {**run_info(resolved, last.final.device), **(run or {})}
    history = tuple(
        row for index, member in enumerate(members)
        for row in member_history(member.selection.fit.history, member.final.fit.history if member.refit else None, index)
    )  # fmt: skip
    trained = TrainedClassifier(resolved, model, last.final.vocab, last.final.labels, thresholds, ngrams.model, metrics, history)
    return TrainingResult(trained, fit, last.final.device)
