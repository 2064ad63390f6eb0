"""Gated convolutional encoder in the style of Gehring et al. (2017), pooled for classification.

token ids -> embeddings (rand, static, nonstatic or multichannel) + positions (batch, seq_len, embed_dim) -> linear to hidden_dim
          -> num_layers x [ Conv1d(hidden, 2 * hidden, k) with same or causal (front) padding
                            -> GLU (a * sigmoid(b)) -> dropout -> residual (LayerNorm or * sqrt(0.5)) ]
          -> pooling over real tokens (batch, hidden_dim) -> dropout -> linear -> logits
Padding positions are zeroed after every block, so the result never depends on batch padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from textcnn.config import GatedCNNConfig
from textcnn.models.base import Pooled, TextModel
from textcnn.models.embedding import TokenEmbedding
from textcnn.models.layers import PositionEmbedding, apply_token_dropout, length_mask, masked_avg_pool, masked_max_pool


class GatedConvBlock(nn.Module):
    """One gated linear unit convolution with a residual connection."""

    def __init__(self, config: GatedCNNConfig) -> None:
        super().__init__()
        k = config.kernel_size
        self.pad = (k - 1, 0) if config.padding == "causal" else ((k - 1) // 2, k // 2)
        self.conv = nn.Conv1d(config.hidden_dim, 2 * config.hidden_dim, kernel_size=k)
        self.dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(config.hidden_dim) if config.residual == "layernorm" else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, hidden) -> same shape; ``mask`` (batch, seq_len) marks real tokens."""
        h = F.pad(x.transpose(1, 2), self.pad)  # (batch, hidden, seq_len + k - 1)
        h = F.glu(self.conv(h), dim=1).transpose(1, 2)  # (batch, seq_len, hidden)
        h = x + self.dropout(h)  # residual
        h = self.norm(h) if self.norm is not None else h * math.sqrt(0.5)
        return h * mask[:, :, None]  # (batch, seq_len, hidden), zero at padding


class GatedCNN(TextModel):
    """Stacked gated convolutions with residual connections, pooled over time."""

    def __init__(
        self,
        config: GatedCNNConfig,
        *,
        vocab_size: int,
        num_classes: int,
        pad_id: int = 0,
        unk_id: int = 1,
        vectors: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.pad_id, self.unk_id = pad_id, unk_id
        self.min_len = 1
        self.num_outputs = num_classes
        self.embedding = TokenEmbedding(
            vocab_size, config.embed_dim, mode=config.embedding_mode, pad_id=pad_id, vectors=vectors
        )
        self.positions = PositionEmbedding(config.positions, config.max_positions, config.embed_dim)
        self.project = nn.Linear(config.embed_dim, config.hidden_dim)
        self.blocks = nn.ModuleList(GatedConvBlock(config) for _ in range(config.num_layers))
        self.pool = masked_max_pool if config.pooling == "max" else masked_avg_pool
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_dim, num_classes)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-position features (batch, seq_len, hidden_dim), zero at padding."""
        if self.training and self.config.token_dropout > 0:
            ids = apply_token_dropout(ids, self.config.token_dropout, pad_id=self.pad_id, unk_id=self.unk_id)
        mask = length_mask(lengths, ids.size(1)).to(torch.float32)  # (batch, seq_len)
        x = self.positions(self.embedding(ids))  # (batch, seq_len, embed_dim)
        x = self.project(self.dropout(x)) * mask[:, :, None]  # (batch, seq_len, hidden_dim)
        for block in self.blocks:
            x = block(x, mask)  # (batch, seq_len, hidden_dim)
        return x

    def pooled(self, ids: torch.Tensor, lengths: torch.Tensor) -> Pooled:
        """The (batch, hidden_dim) pooled last-block features ``forward`` reads (before dropout).

        No positions: each feature sees every token within the stacked blocks' reach, not one window.
        """
        x = self.features(ids, lengths)  # (batch, seq_len, hidden_dim)
        mask = length_mask(lengths, ids.size(1))  # (batch, seq_len)
        return Pooled(self.pool(x.transpose(1, 2), mask))  # (batch, hidden_dim)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch, num_classes) for (batch, seq_len) token ``ids`` with true ``lengths``."""
        return self.classifier(self.dropout(self.pooled(ids, lengths).features))  # (batch, num_classes)
