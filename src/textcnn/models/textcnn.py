"""TextCNN (Kim 2014), read top to bottom.

token ids -> embeddings in one of Kim's modes (rand, static, nonstatic, multichannel) (batch, seq_len, embed_dim)
          -> one Conv1d per kernel size k, over the full embedding width, stride 1
             (batch, num_filters, seq_len - k + 1)
          -> activation -> pooling over time that ignores padding (batch, num_filters)
          -> concatenation (batch, num_filters * len(kernel_sizes))
          -> dropout -> linear -> logits (batch, num_classes)
Optionally, Kim's max-norm constraint on the output layer's weight rows (``apply_constraints``).
"""

from __future__ import annotations

import torch
from torch import nn

from textcnn.config import TextCNNConfig, resolve_embedding_mode
from textcnn.models.embedding import TokenEmbedding
from textcnn.models.layers import (
    apply_token_dropout,
    build_activation,
    masked_avg_pool,
    masked_max_pool,
    valid_conv_mask,
)


class TextCNN(nn.Module):
    """Kim (2014) convolutional sentence classifier."""

    def __init__(
        self,
        config: TextCNNConfig,
        *,
        vocab_size: int,
        num_classes: int,
        pad_id: int = 0,
        unk_id: int = 1,
        vectors: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.config = config
        self.pad_id = pad_id
        self.unk_id = unk_id
        self.min_len = max(config.kernel_sizes)
        self.embedding = TokenEmbedding(
            vocab_size,
            config.embed_dim,
            mode=resolve_embedding_mode(config.embedding_mode, vectors is not None),
            pad_id=pad_id,
            vectors=vectors,
        )
        self.embed_dropout = nn.Dropout(config.embed_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embed_dim, config.num_filters, kernel_size=k) for k in config.kernel_sizes
        )
        self.activation = build_activation(config.activation)
        self.pools = {"max": (masked_max_pool,), "avg": (masked_avg_pool,), "max_avg": (masked_max_pool, masked_avg_pool)}[
            config.pooling
        ]
        self.dropout = nn.Dropout(config.dropout)
        num_features = config.num_filters * len(config.kernel_sizes) * len(self.pools)
        self.classifier = nn.Linear(num_features, num_classes)
        self.embedding.init_random(lambda weight: nn.init.uniform_(weight, -0.25, 0.25))  # Kim's range for random vectors

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled n-gram features (before dropout) of (batch, seq_len) ``ids``."""
        if ids.size(1) < self.min_len:  # a text shorter than the widest kernel: pad it
            ids = nn.functional.pad(ids, (0, self.min_len - ids.size(1)), value=self.pad_id)
        if self.training and self.config.token_dropout > 0:  # word dropout: real tokens -> <unk>
            ids = apply_token_dropout(ids, self.config.token_dropout, pad_id=self.pad_id, unk_id=self.unk_id)
        x = self.embed_dropout(self.embedding(ids))  # (batch, seq_len, embed_dim)
        x = x.transpose(1, 2)  # (batch, embed_dim, seq_len)
        pooled = []
        for conv in self.convs:
            h = self.activation(conv(x))  # (batch, num_filters, seq_len - k + 1)
            mask = valid_conv_mask(lengths, h.size(2), conv.kernel_size[0])  # (batch, seq_len - k + 1)
            pooled.extend(pool(h, mask) for pool in self.pools)  # each (batch, num_filters)
        return torch.cat(pooled, dim=1)  # (batch, num_filters * len(kernel_sizes) * len(pools))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch, num_classes) for (batch, seq_len) token ``ids`` with true ``lengths``."""
        features = self.features(ids, lengths)  # (batch, num_features)
        return self.classifier(self.dropout(features))  # (batch, num_classes)

    def apply_constraints(self) -> None:
        """Kim's max-norm: rescale each output-layer weight row with L2 norm above ``max_norm`` to it.

        The trainer calls this after every optimizer step.
        """
        if self.config.max_norm is not None:
            with torch.no_grad():
                self.classifier.weight.copy_(torch.renorm(self.classifier.weight, p=2, dim=0, maxnorm=self.config.max_norm))
