"""TextCNN (Kim 2014), read top to bottom.

token ids -> embeddings in one of Kim's modes (rand, static, nonstatic, multichannel),
             plus optional positions, zero at padding (batch, seq_len, embed_dim)
          -> one Conv1d per kernel size k, over the full embedding width, stride 1
             (batch, num_filters, out_len)
          -> activation -> pooling over time that ignores padding (batch, num_filters * per_filter)
          -> concatenation (batch, num_features)
          -> dropout -> linear -> logits (batch, num_classes)

A convolution over W positions with kernel width F, stride S and P padding on each side gives
(W - F + 2P) / S + 1 outputs. Here S = 1, so
  valid: P = 0, out_len = W - F + 1 (every window lies inside the padded batch);
  same:  2P = F - 1, split as (F - 1) // 2 zeros on the left and F // 2 on the right (an even F gets
         the extra one on the right), out_len = W: one window centred on each token.
Pooling sees only windows of the text itself: `valid` keeps the windows within its first `length`
tokens (a text shorter than F keeps its first window), `same` keeps its first `length` outputs, each
centred on a real token. Outputs over batch padding never count, so logits never depend on it.

Optionally, Kim's max-norm constraint on the output layer's weight rows (``apply_constraints``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from textcnn.config import TextCNNConfig, resolve_embedding_mode
from textcnn.models.embedding import TokenEmbedding
from textcnn.models.layers import (
    AttentionPool,
    PositionEmbedding,
    apply_token_dropout,
    build_activation,
    length_mask,
    masked_avg_pool,
    masked_kmax_pool,
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
        self.min_len = max(config.kernel_sizes) if config.padding == "valid" else 1
        self.embedding = TokenEmbedding(
            vocab_size,
            config.embed_dim,
            mode=resolve_embedding_mode(config.embedding_mode, vectors is not None),
            pad_id=pad_id,
            vectors=vectors,
        )
        self.positions = PositionEmbedding(config.positions, config.max_positions, config.embed_dim)
        self.embed_dropout = nn.Dropout(config.embed_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embed_dim, config.num_filters, kernel_size=k) for k in config.kernel_sizes
        )
        self.activation = build_activation(config.activation)
        self.attention = (
            nn.ModuleList(AttentionPool(config.num_filters) for _ in config.kernel_sizes)
            if config.pooling == "attention"
            else None
        )
        per_filter = {"max_avg": 2, "kmax": config.kmax_k}.get(config.pooling, 1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.num_filters * len(config.kernel_sizes) * per_filter, num_classes)
        self.embedding.init_random(lambda weight: nn.init.uniform_(weight, -0.25, 0.25))  # Kim's range for random vectors

    def _pool(self, index: int, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, num_filters, out_len) conv outputs of kernel ``index`` -> (batch, num_filters * per_filter)."""
        pooling = self.config.pooling
        if pooling == "max":
            return masked_max_pool(h, mask)
        if pooling == "avg":
            return masked_avg_pool(h, mask)
        if pooling == "max_avg":
            return torch.cat([masked_max_pool(h, mask), masked_avg_pool(h, mask)], dim=1)
        if pooling == "kmax":
            return masked_kmax_pool(h, mask, self.config.kmax_k).flatten(1)  # (batch, num_filters * kmax_k)
        return self.attention[index](h, mask)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled n-gram features (before dropout) of (batch, seq_len) ``ids``."""
        if ids.size(1) < self.min_len:  # a text shorter than the widest 'valid' kernel: pad it
            ids = F.pad(ids, (0, self.min_len - ids.size(1)), value=self.pad_id)
        if self.training and self.config.token_dropout > 0:  # word dropout: real tokens -> <unk>
            ids = apply_token_dropout(ids, self.config.token_dropout, pad_id=self.pad_id, unk_id=self.unk_id)
        mask = length_mask(lengths, ids.size(1))  # (batch, seq_len), True at real tokens
        # Zero at padding, positions included, so batch padding equals the zeros of 'same' padding.
        x = self.positions(self.embedding(ids)) * mask[:, :, None]  # (batch, seq_len, embed_dim)
        x = self.embed_dropout(x).transpose(1, 2)  # (batch, embed_dim, seq_len)
        pooled = []
        for index, conv in enumerate(self.convs):
            k = conv.kernel_size[0]
            if self.config.padding == "same":
                h = conv(F.pad(x, ((k - 1) // 2, k // 2)))  # (batch, num_filters, seq_len)
                windows = mask  # output j is centred on token j
            else:
                h = conv(x)  # (batch, num_filters, seq_len - k + 1)
                windows = valid_conv_mask(lengths, h.size(2), k)  # (batch, seq_len - k + 1)
            pooled.append(self._pool(index, self.activation(h), windows))  # (batch, num_filters * per_filter)
        return torch.cat(pooled, dim=1)  # (batch, num_features)

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
