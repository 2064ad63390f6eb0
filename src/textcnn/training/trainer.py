"""The fit loop: shuffled length-bucketed batches, Adam, dev evaluation each epoch, early stopping.

Single-label targets are class ids (num_texts,); multi-label targets are multi-hot rows
(num_texts, num_labels), trained with one binary cross-entropy per label and scored on dev with
per-label thresholds tuned there each epoch.

A ``FitHook`` (training/resume.py) sees the fit at its boundaries: it may hand back a finished fit or
a ``Position`` to continue from, and it writes checkpoints after steps and epochs.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from textcnn.config import TrainConfig
from textcnn.data.batching import balanced_sample_weights, iter_batches
from textcnn.data.encoding import EncodedTexts
from textcnn.evaluation import classification_report, multilabel_report
from textcnn.inference.logits import sigmoid
from textcnn.models import token_products
from textcnn.training import distributed
from textcnn.training.losses import build_loss
from textcnn.training.optim import build_optimizer, build_scheduler
from textcnn.training.row_updates import RowAverage, momentumless_table, writes_rows
from textcnn.inference.thresholds import apply_thresholds, tune_thresholds
from textcnn.reporting import Progress, logger, no_progress


@dataclass
class EpochRecord:
    """What one epoch did."""

    epoch: int
    train_loss: float
    dev_accuracy: float  # subset accuracy for multi-label data
    dev_macro_f1: float
    seconds: float
    examples_per_second: float
    best: bool = False
    learning_rate: float = float("nan")  # the optimizer's at the end of the epoch (its first parameter group)


@dataclass
class FitResult:
    """The outcome of ``Trainer.fit``: the best epoch (its weights are loaded in the model) and history."""

    best_epoch: int
    best_score: float
    history: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0
    best_report: dict = field(default_factory=dict)  # dev report of the kept weights
    thresholds: np.ndarray | None = None  # multi-label: per-label thresholds tuned on dev for the kept weights


@dataclass
class _Best:
    """The best dev epoch so far: its score, report, thresholds and weights."""

    score: float = -1.0
    epoch: int = 0
    state: dict | None = None
    report: dict = field(default_factory=dict)
    thresholds: np.ndarray | None = None


@dataclass
class Position:
    """Where a fit stands: ``step`` batches of ``epoch`` trained, and what the fit has kept so far."""

    epoch: int = 1
    step: int = 0  # batches of `epoch` trained
    steps: int = 0  # optimizer steps of the whole fit
    loss_sum: float = 0.0  # summed over the texts of `epoch` trained so far
    seen: int = 0  # texts of `epoch` trained so far
    epoch_seconds: float = 0.0  # spent on `epoch` so far
    seconds: float = 0.0  # spent on the epochs before `epoch` (their dev evaluation included)
    stale: int = 0  # epochs since the best one
    best: _Best = field(default_factory=_Best)
    history: list[EpochRecord] = field(default_factory=list)
    epoch_rng: dict[str, Any] | None = None  # the data-order generator's state when `epoch` began

    def next_epoch(self) -> None:
        self.epoch, self.step, self.loss_sum, self.seen, self.epoch_seconds = self.epoch + 1, 0, 0.0, 0, 0.0


class FitHook(Protocol):
    """What sees a fit at its boundaries: its checkpoints (training/resume.py)."""

    def start(self, step: "_Step", rng: np.random.Generator) -> "FitResult | Position | None":
        """A finished fit (its weights loaded into the model), a position to continue from, or None."""

    def step_done(self, step: "_Step", position: Position, rng: np.random.Generator) -> None: ...

    def epoch_done(self, step: "_Step", position: Position, rng: np.random.Generator) -> None: ...

    def finish(self, step: "_Step", fit: "FitResult") -> None: ...


class Trainer:
    """Trains a model on encoded texts and keeps the state with the best dev score."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        device: torch.device,
        rng: np.random.Generator,
        progress: Progress | None = None,
        hook: FitHook | None = None,
    ) -> None:
        self.config = config
        self.device = device
        self.rng = rng
        self.progress = progress or no_progress
        self.hook = hook

    def fit(
        self,
        model: nn.Module,
        train: EncodedTexts,
        train_targets: np.ndarray,
        dev: EncodedTexts | None,
        dev_targets: np.ndarray | None,
        labels: list,
        *,
        epochs: int | None = None,
    ) -> FitResult:
        """Train ``model`` in place; on return it holds the weights of the best dev epoch.

        Without ``dev``, it trains for ``epochs`` epochs (the learning-rate schedule still spans
        ``config.epochs``, as in a run with dev) and keeps the final weights.
        """
        config = self.config
        if dev is None and epochs is None:
            raise ValueError("without a dev set, the number of epochs must be given")
        last_epoch = min(epochs or config.epochs, config.epochs)
        step = make_step(model.to(self.device), config, train, train_targets, self.device, len(labels))
        resumed = self.hook.start(step, self.rng) if self.hook is not None else None
        if isinstance(resumed, FitResult):
            step.finish()
            return resumed
        at = resumed or Position()
        started = time.perf_counter() - at.seconds - at.epoch_seconds
        while at.epoch <= last_epoch:
            epoch = at.epoch
            loss, seen, seconds = self._train_epoch(step, train, train_targets, at)
            lr = float(step.optimizer.param_groups[0]["lr"])
            if dev is None:
                at.history.append(EpochRecord(epoch, loss, float("nan"), float("nan"), seconds, seen / seconds, learning_rate=lr))
                logger.info(f"epoch {epoch:>2}/{last_epoch}  loss {loss:.4f}  {seconds:.1f}s  {seen / seconds:,.0f} ex/s")
                at.best.epoch = epoch
            else:
                record, report, thresholds, score = self._evaluate(step.scored, dev, dev_targets, labels)
                at.history.append(EpochRecord(epoch, loss, record[0], record[1], seconds, seen / seconds, score > at.best.score, lr))
                self._log_epoch(at.history[-1], report, thresholds is not None)
                if score > at.best.score:
                    at.best, at.stale = _Best(score, epoch, copy.deepcopy(step.scored.state_dict()), report, thresholds), 0
                else:
                    at.stale += 1
                    if at.stale >= config.patience:
                        break
            at.next_epoch()
            at.seconds = time.perf_counter() - started
            if self.hook is not None and at.epoch <= last_epoch:
                self.hook.epoch_done(step, at, self.rng)
        fit = self._finish(step, at.best, at.history, last_epoch, dev is None, time.perf_counter() - started)
        distributed.check_same_weights(step.model, "the fit's end")
        if self.hook is not None:
            self.hook.finish(step, fit)
        return fit

    def _train_epoch(
        self, step: "_Step", train: EncodedTexts, train_targets: np.ndarray, at: Position
    ) -> tuple[float, int, float]:
        """One pass over shuffled batches, from batch ``at.step`` on: (mean loss, texts seen, seconds)."""
        step.model.train()
        started = time.perf_counter() - at.epoch_seconds
        at.epoch_rng = copy.deepcopy(self.rng.bit_generator.state)
        batches = iter_batches(
            train, self.config.batch_size, targets=train_targets, shuffle=True, rng=self.rng,
            min_len=step.model.min_len, weights=step.sample_weights, start=at.step,
        )  # fmt: skip
        with self.progress(f"epoch {at.epoch}/{self.config.epochs}", len(train)) as advance:
            if at.seen:
                advance(at.seen, at.loss_sum / at.seen, 0.0)
            for batch in batches:
                loss = step(batch.to(self.device))
                size = len(batch.index)
                at.loss_sum += loss * size
                at.seen += size
                at.step += 1
                at.steps += 1
                advance(size, at.loss_sum / at.seen, at.seen / (time.perf_counter() - started))
                if self.hook is not None:
                    at.epoch_seconds = time.perf_counter() - started
                    self.hook.step_done(step, at, self.rng)
        return at.loss_sum / max(1, at.seen), at.seen, time.perf_counter() - started

    def _evaluate(
        self, scored: nn.Module, dev: EncodedTexts, dev_targets: np.ndarray, labels: list
    ) -> tuple[tuple[float, float], dict, np.ndarray | None, float]:
        """The dev figures of the weights kept: ((accuracy, macro-F1), report, thresholds, selection score)."""
        with token_products.single_use():  # the weights change before the next evaluation
            logits = distributed.predict_logits(scored, dev, device=self.device, precision=self.config.precision)
        report, thresholds = score_logits(logits, dev_targets, labels)
        score = report[report_key(self.config.select_metric, thresholds is not None)]
        accuracy = report["subset_accuracy"] if thresholds is not None else report["accuracy"]
        return (accuracy, report["macro_f1"]), report, thresholds, score

    def _log_epoch(self, record: EpochRecord, report: dict, multi_label: bool) -> None:
        figures = f"dev micro-F1 {100 * report['micro_f1']:.2f}" if multi_label else f"dev acc {100 * record.dev_accuracy:.2f}"
        logger.info(
            f"epoch {record.epoch:>2}/{self.config.epochs}  loss {record.train_loss:.4f}  "
            f"{figures}  macro-F1 {100 * record.dev_macro_f1:.2f}  "
            f"{record.seconds:.1f}s  {record.examples_per_second:,.0f} ex/s" + ("  *" if record.best else "")
        )

    @staticmethod
    def _finish(
        step: "_Step", best: _Best, history: list[EpochRecord], last_epoch: int, no_dev: bool, seconds: float
    ) -> FitResult:
        """Load the kept weights into the model (the best epoch's; without dev, the final averaged ones)."""
        step.finish()
        state = best.state
        if state is None and step.scored is not step.model:
            state = step.scored.state_dict()
        if state is not None:
            step.model.load_state_dict(state)
        step.model.eval()
        score = float("nan") if no_dev else best.score
        return FitResult(best.epoch, score, history, len(history) < last_epoch, seconds, best.report, best.thresholds)


def clip_gradients(model: nn.Module, max_norm: float) -> None:
    """``clip_grad_norm_``: the gradients scaled by min(max_norm / (norm + 1e-6), 1). On a CPU,
    where reading the norm costs no device synchronization, the scaling by exactly 1 (the norm
    within bounds, most steps) is left out: a pass over every gradient, the embedding table's too.
    A sparse gradient (``row_updates``) counts its rows, coalesced."""
    parameters = [p for p in model.parameters() if p.grad is not None]
    if not parameters or any(p.grad.device.type != "cpu" for p in parameters):
        nn.utils.clip_grad_norm_(parameters, max_norm)
        return
    for p in parameters:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()  # a row met twice in the batch: its gradient summed once
    norm = nn.utils.get_total_norm([p.grad.values() if p.grad.is_sparse else p.grad for p in parameters])
    scale = float(max_norm / (norm + 1e-6))
    if scale < 1.0:
        nn.utils.clip_grads_with_norm_([p for p in parameters if not p.grad.is_sparse], max_norm, norm)
        for p in parameters:
            if p.grad.is_sparse:
                p.grad.mul_(scale)


class _Step:
    """One optimisation step of a model: loss, backward, clipping, optimizer, constraints, schedule, EMA."""

    def __init__(
        self, model: nn.Module, config: TrainConfig, train: EncodedTexts, targets: np.ndarray, device: torch.device,
        num_labels: int,
    ) -> None:  # fmt: skip
        self.model, self.config = model, config
        table = momentumless_table(model, config)  # trained by Adam without momentum, or None
        self.table = table if table is not None and writes_rows(device, distributed.current().active) else None
        if self.table is not None:  # computed row by row: its gradient holds the batch's rows
            model.embedding.sparse = True
        self.optimizer = build_optimizer(model, config, table=table, rows=self.table is not None)
        self.steps_per_epoch = -(-len(train) // config.batch_size)  # the batches of an epoch (`batch_order`)
        self.scheduler = build_scheduler(self.optimizer, config, self.steps_per_epoch)
        self.loss_fn = build_loss(config, targets, num_labels).to(device)
        self.sample_weights = balanced_sample_weights(targets) if config.sampler == "balanced" else None
        self.ema: AveragedModel | RowAverage | None = None
        if config.ema_decay is not None and self.table is not None:
            self.ema = RowAverage(model, self.table, config.ema_decay)
        elif config.ema_decay is not None:
            self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)

    @property
    def scored(self) -> nn.Module:
        """The weights evaluated and kept: the average's (every row of it up to date), else the model's."""
        if isinstance(self.ema, RowAverage):
            self.ema.catch_up()
        return self.ema.module if self.ema is not None else self.model

    def finish(self) -> None:
        """The model as prediction takes it: its embedding's gradient dense again."""
        if self.table is not None:
            self.model.embedding.sparse = False

    def __call__(self, batch) -> float:
        """Train on one batch; its loss."""
        with torch.autocast(batch.ids.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bfloat16"):
            logits = self.model(batch.ids, batch.lengths)  # (batch, num_classes)
        loss = self.loss_fn(logits.float(), batch.targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.update()
        return loss.item()

    def update(self) -> None:
        """Apply the gradients of the last backward pass: clipping, optimizer, constraints, schedule, EMA."""
        if self.config.max_grad_norm is not None:
            clip_gradients(self.model, self.config.max_grad_norm)
        table = self.ema.table if isinstance(self.ema, RowAverage) else None
        if table is not None and table.grad is not None:
            table.grad = table.grad.coalesce()
            self.ema.before_step(table.grad.indices()[0])  # their averages, before their weights change
        self.optimizer.step()
        self.model.apply_constraints()  # e.g. Kim's max-norm
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)


def make_step(
    model: nn.Module, config: TrainConfig, train: EncodedTexts, targets: np.ndarray, device: torch.device, num_labels: int
) -> _Step:
    """The step of one process, or of one rank of a distributed run (training/distributed_step.py)."""
    if not distributed.current().active:
        return _Step(model, config, train, targets, device, num_labels)
    from textcnn.training.distributed_step import DistributedStep  # it builds on _Step

    return DistributedStep(model, config, train, targets, device, num_labels)


def resolve_select_metric(metric: str, multi_label: bool) -> str:
    """``auto`` -> accuracy (single-label) or macro_f1 (multi-label); other names stay."""
    if metric != "auto":
        return metric
    return "macro_f1" if multi_label else "accuracy"


def report_key(metric: str, multi_label: bool) -> str:
    """The report entry of a select_metric: multi-label accuracy is subset accuracy, single-label micro-F1 is accuracy."""
    metric = resolve_select_metric(metric, multi_label)
    if multi_label:
        return "subset_accuracy" if metric == "accuracy" else metric
    return "accuracy" if metric == "micro_f1" else metric


def score_logits(logits: np.ndarray, dev_targets: np.ndarray, labels: list) -> tuple[dict, np.ndarray | None]:
    """The dev report of (num_texts, num_classes) ``logits``; multi-label: with thresholds tuned on them (returned too)."""
    if dev_targets.ndim == 1:
        return classification_report(dev_targets, logits.argmax(axis=1), labels), None
    probabilities = sigmoid(logits)
    thresholds = tune_thresholds(probabilities, dev_targets)
    return multilabel_report(dev_targets, apply_thresholds(probabilities, thresholds), labels, thresholds), thresholds
