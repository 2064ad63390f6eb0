"""An ensemble of same-shaped classifiers whose logits are averaged."""

from __future__ import annotations

import torch
from torch import nn


class Ensemble(nn.Module):
    """Members with the same ``forward(ids, lengths) -> logits``; returns the mean of their logits.

    Averaging logits (not probabilities) keeps the output a logit, so softmax, sigmoid, per-label
    thresholds and ONNX export treat an ensemble like a single model.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.min_len = max(getattr(member, "min_len", 1) for member in members)
        self.num_classes = members[0].classifier.out_features

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean logits (batch, num_classes) of the members for (batch, seq_len) ``ids`` with true ``lengths``."""
        logits = self.members[0](ids, lengths)  # (batch, num_classes)
        for member in self.members[1:]:
            logits = logits + member(ids, lengths)
        return logits / len(self.members)
