"""The fit loop: shuffled length-bucketed batches, Adam, dev evaluation each epoch, early stopping."""

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
from textcnn.data.batching import batch_order, iter_batches
from textcnn.data.encoding import EncodedTexts
from textcnn.evaluation import classification_report
from textcnn.training.inference import predict_logits
from textcnn.training.optim import build_optimizer, build_scheduler


@dataclass
class EpochRecord:
    """What one epoch did."""

    epoch: int
    train_loss: float
    dev_accuracy: float
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
        loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        ema = None
        if config.ema_decay is not None:
            ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        scored = ema.module if ema is not None else model  # the weights evaluated and kept
        min_len = getattr(model, "min_len", 1)
        constrain = getattr(model, "apply_constraints", None)  # e.g. Kim's max-norm, after every step
        best_score, best_epoch, best_state, best_report = -1.0, 0, None, {}
        history: list[EpochRecord] = []
        stale = 0
        started = time.perf_counter()
        for epoch in range(1, last_epoch + 1):
            model.train()
            epoch_start = time.perf_counter()
            total_loss, seen = 0.0, 0
            batches = iter_batches(
                train, config.batch_size, targets=train_targets, shuffle=True, rng=self.rng, min_len=min_len
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
                    if constrain is not None:
                        constrain()
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
            dev_pred = predict_logits(scored, dev, device=self.device).argmax(axis=1)
            report = classification_report(dev_targets, dev_pred, labels)
            score = report[config.select_metric]
            improved = score > best_score
            record = EpochRecord(
                epoch, total_loss / max(1, seen), report["accuracy"], report["macro_f1"], seconds, seen / seconds, improved
            )
            history.append(record)
            self.log(
                f"epoch {epoch:>2}/{config.epochs}  loss {record.train_loss:.4f}  "
                f"dev acc {100 * record.dev_accuracy:.2f}  macro-F1 {100 * record.dev_macro_f1:.2f}  "
                f"{seconds:.1f}s  {record.examples_per_second:,.0f} ex/s" + ("  *" if improved else "")
            )
            if improved:
                best_score, best_epoch, best_report, stale = score, epoch, report, 0
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
        return FitResult(best_epoch, best_score, history, stopped_early, time.perf_counter() - started, best_report)


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
