"""Hyperparameter search on the dev split with Optuna (seeded TPE): the counterpart of fastText's autotune.

Each trial trains a ``TextClassifier`` on the user's configuration with the sampled settings on top
and is scored by the dev metric ``train.select_metric``. The best trained classifier is kept, so it
is saved without training again. Test data never enters the search.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, Sequence

from textcnn.classifier import TextClassifier
from textcnn.config import RunConfig, build_config, dump_yaml_config
from textcnn.data.encoding import TokenizedTexts
from textcnn.data.labels import is_multi_label
from textcnn.data.sources import read_labelled_files
from textcnn.errors import ConfigError, TextcnnError
from textcnn.reporting import logger, logger_level
from textcnn.training.pipeline import tokenize_job
from textcnn.training.trainer import resolve_select_metric

if TYPE_CHECKING:
    import optuna

BEST_CONFIG_FILE = "best_config.yaml"


@dataclass(frozen=True)
class Budget:
    """How long to search: a number of trials, or seconds after which no new trial starts."""

    trials: int | None = None
    seconds: float | None = None

    def __str__(self) -> str:
        return f"{self.trials} trials" if self.trials is not None else f"{self.seconds:g}s"


def parse_budget(text: str) -> Budget:
    """``"30"`` -> 30 trials; ``"600s"`` -> 600 seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s?)\s*", str(text))
    if not match or float(match.group(1)) <= 0 or (not match.group(2) and "." in match.group(1)):
        raise ConfigError(f"--budget: expected a number of trials (30) or seconds (600s), got {text!r}")
    if match.group(2):
        return Budget(seconds=float(match.group(1)))
    return Budget(trials=int(match.group(1)))


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def _train_space(trial: "optuna.Trial", lr: tuple[float, float]) -> dict[str, Any]:
    return {
        "train.lr": float(f"{trial.suggest_float('train.lr', *lr, log=True):.2g}"),  # readable in best_config.yaml
        "train.batch_size": trial.suggest_categorical("train.batch_size", [16, 32, 64]),
    }


def _textcnn_space(trial: "optuna.Trial") -> dict[str, Any]:
    kernels = ["1,2,3", "2,3,4", "3,4,5", "2,3,4,5", "1,2,3,4,5"]
    return {
        "model.kernel_sizes": _ints(trial.suggest_categorical("model.kernel_sizes", kernels)),
        "model.num_filters": trial.suggest_categorical("model.num_filters", [64, 100, 128, 200, 256]),
        "model.embed_dim": trial.suggest_categorical("model.embed_dim", [64, 128, 200, 300]),
        "model.dropout": trial.suggest_float("model.dropout", 0.2, 0.7, step=0.05),
        "model.token_dropout": trial.suggest_float("model.token_dropout", 0.0, 0.3, step=0.05),
        "model.pooling": trial.suggest_categorical("model.pooling", ["max", "avg", "max_avg", "kmax", "attention"]),
        **_train_space(trial, (3e-4, 3e-3)),
    }


def _gated_cnn_space(trial: "optuna.Trial") -> dict[str, Any]:
    return {
        "model.hidden_dim": trial.suggest_categorical("model.hidden_dim", [64, 128, 256]),
        "model.num_layers": trial.suggest_int("model.num_layers", 1, 4),
        "model.kernel_size": trial.suggest_categorical("model.kernel_size", [3, 5]),
        "model.dropout": trial.suggest_float("model.dropout", 0.1, 0.5, step=0.05),
        "model.token_dropout": trial.suggest_float("model.token_dropout", 0.0, 0.3, step=0.05),
        "model.pooling": trial.suggest_categorical("model.pooling", ["max", "avg"]),
        **_train_space(trial, (3e-4, 3e-3)),
    }


def _transformer_space(trial: "optuna.Trial") -> dict[str, Any]:
    return {
        "model.embed_dim": trial.suggest_categorical("model.embed_dim", [64, 128]),
        "model.num_heads": trial.suggest_categorical("model.num_heads", [2, 4]),  # divides both widths
        "model.num_layers": trial.suggest_int("model.num_layers", 1, 3),
        "model.ff_dim": trial.suggest_categorical("model.ff_dim", [128, 256, 512]),
        "model.dropout": trial.suggest_float("model.dropout", 0.0, 0.3, step=0.05),
        "model.token_dropout": trial.suggest_float("model.token_dropout", 0.0, 0.3, step=0.05),
        "model.pooling": trial.suggest_categorical("model.pooling", ["mean", "first"]),
        **_train_space(trial, (1e-4, 2e-3)),
    }


# The searched settings of each architecture; every other setting comes from the user's config.
SPACES: dict[str, Callable[["optuna.Trial"], dict[str, Any]]] = {
    "textcnn": _textcnn_space,
    "gated_cnn": _gated_cnn_space,
    "transformer": _transformer_space,
}


@dataclass
class TrialRecord:
    """One finished trial: its dev score (0-1), training seconds and the settings it tried."""

    number: int
    score: float
    seconds: float
    params: dict[str, Any]


@dataclass
class TuneResult:
    """The search: every trial, the best one, its configuration and its trained classifier."""

    trials: list[TrialRecord]
    best: TrialRecord
    config: RunConfig  # the user's config with the best settings (`auto` values stay auto)
    classifier: TextClassifier
    metric: str
    budget: Budget


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise TextcnnError('hyperparameter search needs Optuna: pip install "textcnn[tune]"') from None
    return optuna


def _describe(params: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.2g}"
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        return str(value)

    return " ".join(f"{key.partition('.')[2]}={show(value)}" for key, value in params.items())


def tune(
    config: RunConfig,
    texts: Sequence[str],
    labels: Sequence[Hashable],
    *,
    dev: tuple[Sequence[str], Sequence[Hashable]] | None = None,
    budget: Budget,
) -> TuneResult:
    """Search the hyperparameters of ``config.model.name`` on ``dev`` within ``budget``.

    Without ``dev``, every trial holds out the same seeded ``data.dev_fraction`` of ``texts``.
    The sampler is seeded with ``train.seed``, and every trial trains with that seed. The texts are
    tokenized once, for all trials.

    Raises:
        TextcnnError: Optuna is not installed; DataError for unusable data.
    """
    _import_optuna()  # before tokenizing: a missing package is the first thing to say
    kind, train, tokenized_dev = tokenize_job(config, texts, labels, dev)
    return search(config, train, list(labels), tokenized_dev, kind=kind, budget=budget)


def search(
    config: RunConfig,
    train: TokenizedTexts,
    labels: list[Hashable],
    dev: tuple[TokenizedTexts, list[Hashable]] | None,
    *,
    kind: str,
    budget: Budget,
) -> TuneResult:
    """``tune`` on texts tokenized (by the tokenizer ``kind``) already."""
    optuna = _import_optuna()
    space = SPACES[config.model.name]
    metric = _select_metric(config, labels)
    trials: list[TrialRecord] = []
    best: dict[str, Any] = {}
    if dev is None:
        logger.info(f"no dev set given: every trial holds out {100 * config.data.dev_fraction:.0f}% of the training texts")

    def objective(trial: "optuna.Trial") -> float:
        params = space(trial)
        trial_config = build_config(config, params, source="search space")
        started = time.perf_counter()
        # Trials never refit (it doubles their time); `train --config best_config.yaml` does, where it applies.
        classifier = TextClassifier(trial_config, refit="never")
        with logger_level(logging.WARNING):  # a trial's own training log is left out: one line per trial
            classifier.fit_tokenized(train, labels, dev, kind=kind)
        record = TrialRecord(trial.number + 1, classifier.fit_result.best_score, time.perf_counter() - started, params)
        trials.append(record)
        improved = not best or record.score > best["record"].score
        if improved:
            best.update(record=record, config=trial_config, classifier=classifier)
        total = f"/{budget.trials}" if budget.trials is not None else ""
        logger.info(
            f"trial {record.number}{total}  dev {metric} {100 * record.score:.2f}  {record.seconds:.1f}s  "
            f"{_describe(params)}" + ("  *" if improved else "")
        )
        return record.score

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.train.seed))
        study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds)
    finally:
        optuna.logging.set_verbosity(verbosity)
    if not trials:
        raise TextcnnError(f"no trial finished within the budget of {budget}")
    return TuneResult(trials, best["record"], best["config"], best["classifier"], metric, budget)


def format_leaderboard(result: TuneResult, top: int | None = None) -> str:
    """The trials as a text table, best dev score first."""
    ranked = sorted(result.trials, key=lambda record: (-record.score, record.number))[:top]
    header = f"dev {result.metric}"
    lines = [f"{'rank':>4}  {'trial':>5}  {header:>12}  {'seconds':>7}  params"]
    for rank, record in enumerate(ranked, start=1):
        lines.append(
            f"{rank:>4}  {record.number:>5}  {100 * record.score:>12.2f}  {record.seconds:>7.1f}  {_describe(record.params)}"
        )
    return "\n".join(lines)


def _select_metric(config: RunConfig, labels: Sequence[Any]) -> str:
    return resolve_select_metric(config.train.select_metric, is_multi_label(config.data.multi_label, labels))


def tune_files(
    config: RunConfig,
    train_path: str | Path,
    *,
    dev_path: str | Path | None = None,
    out_dir: str | Path,
    budget: Budget,
) -> TuneResult:
    """Read the files, search, save the best bundle to ``out_dir`` and its config as ``best_config.yaml`` there."""
    files = read_labelled_files(config, train_path, dev_path=dev_path)
    train = files.train
    dev = (files.dev.texts, files.dev.labels) if files.dev else None
    logger.info(f"searching {config.model.name} settings for {budget} on dev {_select_metric(config, train.labels)}")
    result = search(config, train.texts, train.labels, dev, kind=train.tokenizer, budget=budget)
    summary = {"budget": str(budget), "trials": len(result.trials), "best_trial": result.best.number}
    provenance = files.describe()
    result.classifier.metrics["run"]["data"] = provenance
    out_dir = result.classifier.save(out_dir, extra_info={"tune": summary, "data": provenance})
    (out_dir / BEST_CONFIG_FILE).write_text(dump_yaml_config(result.config), encoding="utf-8")
    return result
