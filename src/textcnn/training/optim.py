"""Optimizer and learning-rate schedule from a ``TrainConfig``."""

from __future__ import annotations

import math

import torch
from torch import nn

from textcnn.config import TrainConfig
from textcnn.training.row_updates import RowAdam


def build_optimizer(
    model: nn.Module, config: TrainConfig, *, table: nn.Parameter | None = None, rows: bool = False
) -> torch.optim.Optimizer:
    """Adam (AdamW when ``weight_decay`` > 0; biases, norms and embeddings are not decayed).
    ``table``: trained without momentum (``row_updates``), by ``RowAdam`` from its sparse gradient
    (``rows``), else in a parameter group of its own with ``betas[0] = 0``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.weight_decay == 0 and rows:
        return _fused(RowAdam, params, lr=config.lr)
    if config.weight_decay == 0 and table is not None:
        rest = [p for p in params if p is not table]
        return _fused(torch.optim.Adam, [{"params": rest}, {"params": [table], "betas": (0.0, 0.999)}], lr=config.lr)
    if config.weight_decay == 0:
        return _fused(torch.optim.Adam, params, lr=config.lr)
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "embedding" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return _fused(torch.optim.AdamW, groups, lr=config.lr)


def _fused(cls: type[torch.optim.Optimizer], params: list, **settings: float) -> torch.optim.Optimizer:
    # The fused kernel does the same arithmetic in one pass: ~10x faster steps over a large embedding
    # table on a CPU. Older torch builds and other devices fall back to the loop.
    try:
        return cls(params, fused=True, **settings)
    except (RuntimeError, ValueError):
        return cls(params, **settings)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up for ``warmup_epochs``, then constant, linear or cosine decay to 0 at ``epochs``."""
    warmup = int(config.warmup_epochs * steps_per_epoch)
    total = max(1, config.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if config.schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
