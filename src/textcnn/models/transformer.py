"""The comparison model: a small Transformer encoder (Vaswani et al. 2017) for classification.

token ids -> embeddings (rand, static, nonstatic or multichannel) * sqrt(embed_dim) + positions (batch, seq_len, embed_dim)
          -> num_layers x [ multi-head self-attention with a padding mask -> residual + LayerNorm
                            -> feed-forward -> residual + LayerNorm ]
          -> mean over real tokens (or the first token) (batch, embed_dim) -> dropout -> linear
"""

from __future__ import annotations

import math

import torch
from torch import nn

from textcnn.config import TransformerConfig
from textcnn.models.base import Pooled, TextModel
from textcnn.models.embedding import TokenEmbedding
from textcnn.models.layers import PositionEmbedding, apply_token_dropout, length_mask, masked_avg_pool


class TransformerClassifier(TextModel):
    """Post-LayerNorm Transformer encoder with masked pooling."""

    def __init__(
        self,
        config: TransformerConfig,
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
        self.embed_dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            config.embed_dim, config.num_heads, config.ff_dim, config.dropout, batch_first=True, norm_first=False
        )
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.embed_dim, num_classes)
        self.embedding.init_random(lambda weight: nn.init.normal_(weight, std=config.embed_dim**-0.5))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch, num_classes) for (batch, seq_len) token ``ids`` with true ``lengths``."""
        return self.classifier(self.dropout(self.pooled(ids, lengths).features))  # (batch, num_classes)

    def pooled(self, ids: torch.Tensor, lengths: torch.Tensor) -> Pooled:
        """The (batch, embed_dim) pooled encoder states ``forward`` reads (before dropout).

        No positions: every state attends to the whole text, and the pooling is a mean (or the first token).
        """
        if self.training and self.config.token_dropout > 0:
            ids = apply_token_dropout(ids, self.config.token_dropout, pad_id=self.pad_id, unk_id=self.unk_id)
        mask = length_mask(lengths, ids.size(1))  # (batch, seq_len), True at real tokens
        x = self.embedding(ids) * math.sqrt(self.config.embed_dim)  # (batch, seq_len, embed_dim)
        x = self.embed_dropout(self.positions(x))  # (batch, seq_len, embed_dim)
        x = self.encoder(x, src_key_padding_mask=~mask)  # (batch, seq_len, embed_dim)
        if self.config.pooling == "first":
            return Pooled(x[:, 0])  # (batch, embed_dim)
        return Pooled(masked_avg_pool(x.transpose(1, 2), mask))  # (batch, embed_dim)
