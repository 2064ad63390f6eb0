"""The fit loop: shuffled length-bucketed batches, Adam, dev evaluation each epoch, early stopping.

Single-label targets are class ids (num_texts,); multi-label targets are multi-hot rows
(num_texts, num_labels), trained with one binary cross-entropy per label and scored on dev with
per-label thresholds tuned there each epoch.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from textcnn.config import TrainConfig
from textcnn.data.batching import balanced_sample_weights, batch_order, iter_batches
from textcnn.data.encoding import EncodedTexts
from textcnn.evaluation import classification_report, multilabel_report
from textcnn.training.inference import predict_logits, sigmoid
from textcnn.training.losses import build_loss
from textcnn.training.optim import build_optimizer, build_scheduler
from textcnn.training.thresholds import apply_thresholds, tune_thresholds


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


class Trainer:
    """Trains a model on encoded texts and keeps the state with the best dev score."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        device: torch.device,
        rng: np.random.Generator,
        progress: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.device = device
        self.rng = rng
        self.progress = progress
        self.log = log or (lambda message: None)

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
        model.to(self.device)
        optimizer = build_optimizer(model, config)
        steps_per_epoch = len(batch_order(train.lengths, config.batch_size, shuffle=False))
        scheduler = build_scheduler(optimizer, config, steps_per_epoch)
        loss_fn = build_loss(config, train_targets, len(labels)).to(self.device)
        multi_label = train_targets.ndim == 2
        sample_weights = balanced_sample_weights(train_targets) if config.sampler == "balanced" else None
        ema = None
        if config.ema_decay is not None:
            ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        scored = ema.module if ema is not None else model  # the weights evaluated and kept
        min_len = model.min_len
        best_score, best_epoch, best_state, best_report, best_thresholds = -1.0, 0, None, {}, None
        history: list[EpochRecord] = []
        stale = 0
        started = time.perf_counter()
        for epoch in range(1, last_epoch + 1):
            model.train()
            epoch_start = time.perf_counter()
            total_loss, seen = 0.0, 0
            batches = iter_batches(
                train, config.batch_size, targets=train_targets, shuffle=True, rng=self.rng, min_len=min_len,
                weights=sample_weights,
            )
            with _progress_bar(self.progress, f"epoch {epoch}/{config.epochs}", len(train)) as advance:
                for batch in batches:
                    batch = batch.to(self.device)
                    logits = model(batch.ids, batch.lengths)  # (batch, num_classes)
                    loss = loss_fn(logits, batch.targets)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if config.max_grad_norm is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                    optimizer.step()
                    model.apply_constraints()  # e.g. Kim's max-norm, after every step
                    scheduler.step()
                    if ema is not None:
                        ema.update_parameters(model)
                    size = len(batch.index)
                    total_loss += loss.item() * size
                    seen += size
                    advance(size, total_loss / seen, seen / (time.perf_counter() - epoch_start))
            seconds = time.perf_counter() - epoch_start
            if dev is None:
                history.append(EpochRecord(epoch, total_loss / max(1, seen), float("nan"), float("nan"), seconds, seen / seconds))
                self.log(
                    f"epoch {epoch:>2}/{last_epoch}  loss {total_loss / max(1, seen):.4f}  "
                    f"{seconds:.1f}s  {seen / seconds:,.0f} ex/s"
                )
                best_epoch, best_state = epoch, None
                continue
            report, thresholds = _score(scored, dev, dev_targets, labels, self.device)
            score = report[report_key(config.select_metric, multi_label)]
            improved = score > best_score
            accuracy = report["subset_accuracy"] if thresholds is not None else report["accuracy"]
            record = EpochRecord(
                epoch, total_loss / max(1, seen), accuracy, report["macro_f1"], seconds, seen / seconds, improved
            )
            history.append(record)
            figures = (
                f"dev micro-F1 {100 * report['micro_f1']:.2f}" if thresholds is not None else f"dev acc {100 * accuracy:.2f}"
            )
            self.log(
                f"epoch {epoch:>2}/{config.epochs}  loss {record.train_loss:.4f}  "
                f"{figures}  macro-F1 {100 * record.dev_macro_f1:.2f}  "
                f"{seconds:.1f}s  {record.examples_per_second:,.0f} ex/s" + ("  *" if improved else "")
            )
            if improved:
                best_score, best_epoch, best_report, best_thresholds, stale = score, epoch, report, thresholds, 0
                best_state = copy.deepcopy(scored.state_dict())
            else:
                stale += 1
                if stale >= config.patience:
                    break
        stopped_early = len(history) < last_epoch
        if dev is None:
            best_score = float("nan")
        if best_state is None and scored is not model:  # no dev: keep the final (averaged) weights
            best_state = scored.state_dict()
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        return FitResult(
            best_epoch, best_score, history, stopped_early, time.perf_counter() - started, best_report, best_thresholds
        )


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


def _score(
    model: nn.Module, dev: EncodedTexts, dev_targets: np.ndarray, labels: list, device: torch.device
) -> tuple[dict, np.ndarray | None]:
    """The dev report of ``model``; multi-label: with thresholds tuned on these dev texts (returned too)."""
    return score_logits(predict_logits(model, dev, device=device), dev_targets, labels)


def score_logits(logits: np.ndarray, dev_targets: np.ndarray, labels: list) -> tuple[dict, np.ndarray | None]:
    """The dev report of (num_texts, num_classes) ``logits``; multi-label: with thresholds tuned on them (returned too)."""
    if dev_targets.ndim == 1:
        return classification_report(dev_targets, logits.argmax(axis=1), labels), None
    probabilities = sigmoid(logits)
    thresholds = tune_thresholds(probabilities, dev_targets)
    return multilabel_report(dev_targets, apply_thresholds(probabilities, thresholds), labels, thresholds), thresholds


class _progress_bar:
    """A transient rich progress bar showing loss and examples/s (a no-op when disabled)."""

    def __init__(self, enabled: bool, description: str, total: int) -> None:
        self.enabled = enabled
        self.description = description
        self.total = total

    def __enter__(self) -> Callable[[int, float, float], None]:
        if not self.enabled:
            return lambda size, loss, speed: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if not console.is_terminal:  # a log file gets the per-epoch lines only
            self.enabled = False
            return lambda size, loss, speed: None
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:,.0f} ex/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task(self.description, total=self.total, loss=0.0, speed=0.0)

        def advance(size: int, loss: float, speed: float) -> None:
            self._progress.update(task, advance=size, loss=loss, speed=speed)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.stop()
