"""The interface every architecture implements: training, prediction, export and explanations call
models through it, never through ``getattr`` with a default.

An abstract base class rather than a ``typing.Protocol``: a ``TextModel`` is an ``nn.Module``, so code
typed against it can also call ``eval()``, ``parameters()`` and ``state_dict()``, and the one default
(``apply_constraints`` doing nothing) lives here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import nn


class Pooled(NamedTuple):
    """A batch's pooled features and, where the pooling picks one window per feature, that window.

    features:  (batch, num_features) float, the features the output layer reads (before dropout).
    positions: (batch, num_features) int64, for each feature the first token of the window whose
               value won the pooling; None where the pooling has no single winner (mean, attention,
               k-max, several layers of context). The window covers tokens ``positions`` to
               ``positions + widths - 1``; the parts of it outside ``0 .. length - 1`` are padding
               (the window of 'same' padding that is centred on token 0 starts before it, at a
               negative position). On ties the earliest window wins, as ``torch.max`` picks; windows
               equal in exact arithmetic (a repeated n-gram) can differ in their last bits, so which
               of them wins may depend on the kernels that computed them.
    widths:    (num_features,) int64, the tokens per window of each feature; None when
               ``positions`` is.
    """

    features: torch.Tensor
    positions: torch.Tensor | None = None
    widths: torch.Tensor | None = None


class TextModel(nn.Module, ABC):
    """A text classifier: (batch, seq_len) token ids and (batch,) true lengths -> (batch, num_outputs) logits.

    Attributes every subclass sets in ``__init__``:
        min_len: the fewest positions a batch needs; callers pad shorter batches with the pad id.
        num_outputs: logits per text (the classes, or the labels of a multi-label model).
    """

    min_len: int
    num_outputs: int

    @abstractmethod
    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch, num_outputs) for (batch, seq_len) token ``ids`` with true ``lengths``."""

    @abstractmethod
    def pooled(self, ids: torch.Tensor, lengths: torch.Tensor) -> Pooled:
        """The pooled features ``forward`` computes its logits from, with their winning windows."""

    def apply_constraints(self) -> None:
        """Project the weights back onto their constraints; the trainer calls it after every
        optimizer step. Without constraints (the default) it does nothing."""
