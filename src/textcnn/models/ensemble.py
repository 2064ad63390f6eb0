"""An ensemble of same-shaped classifiers whose logits are averaged."""

from __future__ import annotations

import torch
from torch import nn

from textcnn.models.base import Pooled, TextModel


class Ensemble(TextModel):
    """Members with the same ``forward(ids, lengths) -> logits``; returns the mean of their logits.

    Averaging logits (not probabilities) keeps the output a logit, so softmax, sigmoid, per-label
    thresholds and ONNX export treat an ensemble like a single model.
    """

    def __init__(self, members: list[TextModel]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        outputs = {member.num_outputs for member in members}
        if len(outputs) > 1:
            raise ValueError(f"ensemble members must have the same number of outputs, got {sorted(outputs)}")
        self.members = nn.ModuleList(members)
        self.min_len = max(member.min_len for member in members)
        self.num_outputs = members[0].num_outputs

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean logits (batch, num_classes) of the members for (batch, seq_len) ``ids`` with true ``lengths``."""
        logits = self.members[0](ids, lengths)  # (batch, num_classes)
        for member in self.members[1:]:
            logits = logits + member(ids, lengths)
        return logits / len(self.members)

    def pooled(self, ids: torch.Tensor, lengths: torch.Tensor) -> Pooled:
        """The members' pooled features side by side, member by member: (batch, sum of num_features).

        Positions and widths likewise, where every member has them; else None.
        """
        parts = [member.pooled(ids, lengths) for member in self.members]
        features = torch.cat([part.features for part in parts], dim=1)
        if any(part.positions is None for part in parts):
            return Pooled(features)
        return Pooled(features, torch.cat([part.positions for part in parts], dim=1), torch.cat([part.widths for part in parts]))

    def apply_constraints(self) -> None:
        """Each member's constraints."""
        for member in self.members:
            member.apply_constraints()
