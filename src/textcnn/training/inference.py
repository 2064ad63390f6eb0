"""Batched, length-sorted inference in ``torch.inference_mode``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from textcnn.data.batching import iter_batches
from textcnn.data.encoding import EncodedTexts


def predict_logits(
    model: nn.Module, encoded: EncodedTexts, *, batch_size: int = 256, device: torch.device | None = None
) -> np.ndarray:
    """Logits (num_texts, num_classes) in the order of ``encoded``."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: np.ndarray | None = None
    min_len = getattr(model, "min_len", 1)
    with torch.inference_mode():
        for batch in iter_batches(encoded, batch_size, min_len=min_len):
            batch = batch.to(device)
            logits = model(batch.ids, batch.lengths).float().cpu().numpy()  # (batch, num_classes)
            if out is None:
                out = np.empty((len(encoded), logits.shape[1]), dtype=np.float32)
            out[batch.index] = logits
    model.train(was_training)
    if out is None:
        num_classes = model.classifier.out_features if hasattr(model, "classifier") else 0
        return np.zeros((0, num_classes), dtype=np.float32)
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (num_texts, num_classes) logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function: one independent probability per label."""
    return 0.5 * (1.0 + np.tanh(0.5 * logits))
