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

Optionally (``ngram_bag``), a fastText-style "wide" branch next to the "deep" convolutions: the mean
of learned vectors of the text's unigrams and hashed bigrams (and trigrams), padding excluded,
(batch, ngram_dim), either concatenated to the pooled features before dropout and the linear layer
(``concat``) or given its own linear layer whose logits are added (``logits``).

Optionally, Kim's max-norm constraint on the output layer's weight rows (``apply_constraints``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from textcnn.config import TextCNNConfig
from textcnn.models.embedding import TokenEmbedding
from textcnn.models.layers import (
    AttentionPool,
    NgramBag,
    PositionEmbedding,
    apply_token_dropout,
    build_activation,
    length_mask,
    masked_avg_pool,
    masked_kmax_pool,
    masked_max_pool,
    valid_conv_mask,
)


# With few filters per kernel size, Conv1d on a CPU is memory-bound (oneDNN, torch 2.13: 2 filters
# ran 3-8x slower than the matmul form below; from 32 filters on, Conv1d is faster).
_MATMUL_BELOW_FILTERS = 16


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
            vocab_size, config.embed_dim, mode=config.embedding_mode, pad_id=pad_id, vectors=vectors
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
        num_features = config.num_filters * len(config.kernel_sizes) * per_filter
        self.ngram_bag = (
            NgramBag(vocab_size, config.ngram_bag, config.ngram_buckets, config.ngram_dim) if config.ngram_bag else None
        )
        self.ngram_classifier = None
        if self.ngram_bag is not None:
            if config.ngram_combine == "concat":
                num_features += config.ngram_dim
            else:
                self.ngram_classifier = nn.Linear(config.ngram_dim, num_classes)
        self.classifier = nn.Linear(num_features, num_classes)
        self.embedding.init_random(lambda weight: nn.init.uniform_(weight, -0.25, 0.25))  # Kim's range for random vectors
        self._folded: tuple[tuple, torch.Tensor] | None = None  # inference cache of _folded_products, never saved
        self._frozen_products: torch.Tensor | None = None  # set by freeze_folded_products, never saved

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

    def _input_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ``ids`` padded to the widest 'valid' kernel, with word dropout while training."""
        if ids.size(1) < self.min_len:  # a text shorter than the widest 'valid' kernel: pad it
            ids = F.pad(ids, (0, self.min_len - ids.size(1)), value=self.pad_id)
        if self.training and self.config.token_dropout > 0:  # word dropout: real tokens -> <unk>
            ids = apply_token_dropout(ids, self.config.token_dropout, pad_id=self.pad_id, unk_id=self.unk_id)
        return ids

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled n-gram features (before dropout) of (batch, seq_len) ``ids``; the CNN's only, never the bag's."""
        return self._conv_features(self._input_ids(ids), lengths)

    def _conv_features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``features`` of ``ids`` already through ``_input_ids``."""
        mask = length_mask(lengths, ids.size(1))  # (batch, seq_len), True at real tokens
        by_matmul = ids.device.type == "cpu" and self.config.num_filters < _MATMUL_BELOW_FILTERS
        products = self._folded_products(ids, mask) if by_matmul else None
        if products is not None:
            maps = self._convolve_by_matmul(ids.size(1), products)
        else:
            # Zero at padding, positions included, so batch padding equals the zeros of 'same' padding.
            x = self.positions(self.embedding(ids)) * mask[:, :, None]  # (batch, seq_len, embed_dim)
            x = self.embed_dropout(x)
            if by_matmul:
                maps = self._convolve_by_matmul(ids.size(1), x @ self._kernel_rows())
            else:
                # One contiguous copy for all the kernels (each Conv1d would otherwise copy the view itself).
                maps = self._convolve(x.transpose(1, 2).contiguous())  # from (batch, embed_dim, seq_len)
        pooled = []
        for index, (conv, h) in enumerate(zip(self.convs, maps)):
            if self.config.padding == "same":
                windows = mask  # output j is centred on token j
            else:
                windows = valid_conv_mask(lengths, h.size(2), conv.kernel_size[0])  # (batch, seq_len - k + 1)
            pooled.append(self._pool(index, self.activation(h), windows))  # (batch, num_filters * per_filter)
        return torch.cat(pooled, dim=1)  # (batch, num_features)

    def _convolve(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each kernel's outputs (batch, num_filters, out_len) over (batch, embed_dim, seq_len) ``x``."""
        maps = []
        for conv in self.convs:
            k = conv.kernel_size[0]
            if self.config.padding == "same":
                maps.append(conv(F.pad(x, ((k - 1) // 2, k // 2))))  # (batch, num_filters, seq_len)
            else:
                maps.append(conv(x))  # (batch, num_filters, seq_len - k + 1)
        return maps

    def _kernel_rows(self) -> torch.Tensor:
        """Every kernel row of every convolution side by side: (embed_dim, sum(k) * num_filters)."""
        return torch.cat([conv.weight.permute(1, 2, 0).flatten(1) for conv in self.convs], dim=1)

    def _folded_products(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
        """In inference, ``embedding(ids) @ _kernel_rows()`` looked up from a table of every token's products.

        Without positions or dropout, a token's products with the kernel rows depend on the token
        alone, so (vocab_size, sum(k) * num_filters) products are worked out once per weights and
        gathered: narrower than the embeddings when the kernels are few (the lecture's 2 per size),
        which makes batch prediction several times faster. None where this does not apply.
        """
        if self._frozen_products is not None:  # fixed for an export: a table in the graph
            return self._frozen_products[ids] * mask[:, :, None]
        if self.training or not torch.is_inference_mode_enabled() or not self.can_fold():
            return None
        tables = [self.embedding.weight] + ([self.embedding.static.weight] if self.embedding.static is not None else [])
        weights = tables + [conv.weight for conv in self.convs]
        key = tuple((weight.data_ptr(), weight._version) for weight in weights)
        if self._folded is None or self._folded[0] != key:  # the weights changed (training, loading): redo
            embedded = self.embedding(torch.arange(self.embedding.num_embeddings, device=ids.device))  # (vocab, embed_dim)
            self._folded = (key, embedded @ self._kernel_rows())  # (vocab_size, sum(k) * num_filters)
        return self._folded[1][ids] * mask[:, :, None]  # (batch, seq_len, sum(k) * num_filters), zero at padding

    def can_fold(self) -> bool:
        """Whether inference can look the kernel products up per token (see ``_folded_products``)."""
        columns = sum(self.config.kernel_sizes) * self.config.num_filters
        return (
            self.config.positions == "none"
            and self.config.num_filters < _MATMUL_BELOW_FILTERS
            and columns < self.config.embed_dim
        )

    def freeze_folded_products(self) -> None:
        """Fix the table of ``_folded_products`` from the current weights, for every later forward pass
        (an eval-mode copy exported to ONNX then gathers from a small table instead of the embeddings)."""
        if not self.can_fold():
            raise ValueError("this model's kernel products are not narrower than its embeddings")
        with torch.no_grad():
            embedded = self.embedding(torch.arange(self.embedding.num_embeddings))  # (vocab, embed_dim)
            self._frozen_products = embedded @ self._kernel_rows()  # (vocab_size, sum(k) * num_filters)

    def _convolve_by_matmul(self, seq_len: int, products: torch.Tensor) -> list[torch.Tensor]:
        """``_convolve`` from the (batch, seq_len, sum(k) * num_filters) ``products`` of the (batch, seq_len,
        embed_dim) inputs with ``_kernel_rows()``: one matmul with every kernel row, then shifted sums."""
        same = self.config.padding == "same"
        before = max((k - 1) // 2 for k in self.config.kernel_sizes) if same else 0
        if same:  # zeros around the text, enough for the widest kernel on each side
            products = F.pad(products, (0, 0, before, max(self.config.kernel_sizes) // 2))  # (batch, padded_len, ...)
        maps, column = [], 0
        for conv in self.convs:
            k, filters = conv.kernel_size[0], conv.out_channels
            block = products[..., column : column + k * filters].unflatten(2, (k, filters))  # (batch, padded_len, k, num_filters)
            column += k * filters
            start, out_len = (before - (k - 1) // 2, seq_len) if same else (0, seq_len - k + 1)  # first window, outputs
            h = block[:, start : start + out_len, 0]  # (batch, out_len, num_filters)
            for i in range(1, k):
                h = h + block[:, start + i : start + i + out_len, i]  # row i of the kernel sees token t + i
            maps.append((h + conv.bias).transpose(1, 2))  # (batch, num_filters, out_len)
        return maps

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch, num_classes) for (batch, seq_len) token ``ids`` with true ``lengths``."""
        ids = self._input_ids(ids)  # the same word dropout for the CNN and the n-gram bag
        features = self._conv_features(ids, lengths)  # (batch, num_features)
        if self.ngram_bag is None:
            return self.classifier(self.dropout(features))  # (batch, num_classes)
        bag = self.ngram_bag(ids, length_mask(lengths, ids.size(1)))  # (batch, ngram_dim)
        if self.ngram_classifier is None:  # concat: one output layer over both
            return self.classifier(self.dropout(torch.cat([features, bag], dim=1)))  # (batch, num_classes)
        return self.classifier(self.dropout(features)) + self.ngram_classifier(bag)  # (batch, num_classes)

    def apply_constraints(self) -> None:
        """Kim's max-norm: rescale each output-layer weight row with L2 norm above ``max_norm`` to it.

        The trainer calls this after every optimizer step.
        """
        if self.config.max_norm is not None:
            with torch.no_grad():
                self.classifier.weight.copy_(torch.renorm(self.classifier.weight, p=2, dim=0, maxnorm=self.config.max_norm))
