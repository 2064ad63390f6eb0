"""The n-gram model beside the network, and the weight of its scores, fitted on dev (``nb.weight: auto``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from textcnn.config import RunConfig, build_config
from textcnn.inference.predictor import ngram_logits
from textcnn.models.naive_bayes import NaiveBayes, fit_naive_bayes, fit_nb_logistic, fit_tfidf_logistic
from textcnn.models.stacking import fit_weight
from textcnn.reporting import logger
from textcnn.training.run import Run
from textcnn.training.trainer import report_key, score_logits


@dataclass(frozen=True)
class NgramFit:
    """The n-gram model to keep (None: the network alone) and what fitting it settled."""

    model: NaiveBayes | None
    settings: dict[str, float | int | str]  # nb.weight and nb.scale, as fitted; nb.method, nb.ngrams and nb.c, as used
    report: dict | None  # the dev report of the combined scores
    thresholds: np.ndarray | None  # multi-label: retuned on the combined scores
    summary: dict[str, Any] | None  # for metrics.json


def resolved_ngram_settings(config: RunConfig, run: Run) -> dict[str, str | int | float]:
    """``nb.method``, ``nb.ngrams`` and ``nb.c`` for the n-gram model of ``run`` (``auto`` resolved on its texts)."""
    return config.nb.resolved(run.config.tokenizer.kind, len(run.train))


def count_ngrams(config: RunConfig, run: Run, used: dict[str, str | int | float]) -> NaiveBayes:
    """The n-gram model of ``nb.method`` counted on the training texts of ``run``, with the ``used`` settings."""
    settings = build_config(config, used).nb
    vocab_size, ngrams = len(run.vocab), int(settings.ngrams)
    if settings.method == "logistic":
        return fit_nb_logistic(
            run.train, run.train_targets, vocab_size=vocab_size, ngrams=ngrams, smoothing=settings.smoothing, c=float(settings.c),
        )  # fmt: skip
    if settings.method == "tfidf":
        return fit_tfidf_logistic(run.train, run.train_targets, vocab_size=vocab_size, ngrams=ngrams, c=float(settings.c))
    return fit_naive_bayes(run.train, run.train_targets, vocab_size=vocab_size, ngrams=ngrams, smoothing=settings.smoothing)


def fit_ngram_model(config: RunConfig, selection: Run, final: Run, dev_logits: np.ndarray) -> NgramFit:
    """Fit the n-gram model and weigh it against the network on dev.

    The weight is fitted with the selection run's data (the n-gram model counted on train, scored with
    the network on dev, by likelihood: ``fit_weight``); the kept n-gram model is counted on the final
    run's texts (train + dev after a refit), as the kept network was trained on them.
    """
    settings = config.nb
    used = resolved_ngram_settings(config, selection)
    labels = final.labels.labels
    key = report_key(config.train.select_metric, config.data.multi_label is True)
    model = count_ngrams(config, selection, used)
    scores = ngram_logits(model, selection.dev)
    if settings.weight == "auto":
        # fit_weight keeps scale >= 1e-3, which 4 decimals keep above 0
        scale, weight = (round(value, 4) for value in fit_weight(dev_logits, scores, selection.dev_targets))
    else:
        scale, weight = settings.scale, float(settings.weight)
    if weight == 0:
        scale = 1.0  # the network alone, as trained
    network_report, _ = score_logits(dev_logits, selection.dev_targets, labels)
    report, thresholds = score_logits(scale * dev_logits + weight * scores, selection.dev_targets, labels)
    if weight > 0 and final is not selection:
        model = count_ngrams(config, final, used)
    summary = {
        "method": used["nb.method"],
        "ngrams": used["nb.ngrams"],
        "weight": weight,
        "scale": scale,
        "features": int(len(model.keys)),
        f"dev_{key}_network": network_report[key],
        f"dev_{key}_with_naive_bayes": report[key],
    }
    logger.info(
        f"n-gram model ({used['nb.method']}, 1-{used['nb.ngrams']}-grams, c {used['nb.c']:g}, {len(model.keys):,} of them): "
        f"scores = {scale:g} x network + {weight:g} x n-gram model, "
        f"dev {key} {100 * network_report[key]:.2f} -> {100 * report[key]:.2f}"
    )
    fitted = {**used, "nb.weight": weight, "nb.scale": scale}
    return NgramFit(model if weight > 0 else None, fitted, report, thresholds, summary)
