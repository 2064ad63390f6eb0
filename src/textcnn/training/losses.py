"""The training loss: cross-entropy (single-label) or one binary cross-entropy per label (multi-label),
optionally weighted against class imbalance (``train.class_weight``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from textcnn.config import TrainConfig


def class_weights(targets: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse-frequency weights n_texts / (num_classes * count) of class ids; absent classes get 0."""
    counts = targets.class_counts(num_classes) if hasattr(targets, "class_counts") else np.bincount(targets, minlength=num_classes)
    counts = counts.astype(np.float64)
    return np.divide(len(targets), num_classes * counts, out=np.zeros_like(counts), where=counts > 0)


def pos_weights(targets: np.ndarray, max_weight: float) -> np.ndarray:
    """Per-label negatives / positives of multi-hot ``targets``, clipped to [1, ``max_weight``]."""
    positives = targets.sum(axis=0).astype(np.float64)
    ratio = np.divide(len(targets) - positives, positives, out=np.full_like(positives, max_weight), where=positives > 0)
    return np.clip(ratio, 1.0, max_weight)


def build_loss(config: TrainConfig, train_targets: np.ndarray, num_classes: int) -> nn.Module:
    """The loss for ``train_targets``: class ids (num_texts,) or multi-hot rows (num_texts, num_labels)."""
    balanced = config.class_weight == "balanced"
    if train_targets.ndim == 2:
        weight = torch.tensor(pos_weights(train_targets, config.pos_weight_max), dtype=torch.float32) if balanced else None
        return nn.BCEWithLogitsLoss(pos_weight=weight)
    weight = torch.tensor(class_weights(train_targets, num_classes), dtype=torch.float32) if balanced else None
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
