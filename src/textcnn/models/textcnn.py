"""TextCNN (Kim 2014), read top to bottom.

token ids -> embeddings in one of Kim's modes (rand, static, nonstatic, multichannel),
             plus optional positions, zero at padding (batch, seq_len, embed_dim)
          -> one convolution per kernel size k, over the full embedding width, stride 1
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

The convolutions run as 2-d ones over the embeddings stored channels last (``_convolve``). Training
on a CPU with max pooling takes every width's maxima from one product (``fused_maxima``). The
other ways to the same maps branch off in ``_maps``: on a CPU with few filters per kernel size the
matmul forms of ``fast_kernels``; when predicting on a CPU without positions, each window summed
from a table of its tokens' products with the kernels (``token_products``); otherwise, when
predicting, window products for small batches and under bfloat16, and a padded batch packed, its
texts end to end (``packed``). Each equals the convolution to float error.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from textcnn.config import TextCNNConfig
from textcnn.models import fast_kernels, fused_maxima, packed, token_products
from textcnn.models.base import Pooled, TextModel
from textcnn.models.embedding import TokenEmbedding
from textcnn.models.layers import (
    AttentionPool,
    NgramBag,
    PositionEmbedding,
    apply_token_dropout,
    build_activation,
    conv_channels_last,
    length_mask,
    masked_avg_pool,
    masked_kmax_pool,
    masked_max_pool,
    masked_max_pool_with_indices,
    valid_conv_mask,
)


MONOTONE_ACTIVATIONS = ("relu", "tanh")  # max(f(h)) == f(max(h)) exactly, also in floating point


def _uniform(ids: torch.Tensor, lengths: torch.Tensor) -> bool:
    """Whether every text of the (batch, seq_len) batch fills all its positions (no padding), so
    every output of a convolution is a window of the text itself. False while exporting (an
    exported graph serves every batch)."""
    if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return False
    return lengths.numel() > 0 and int(lengths.min()) == ids.size(1)


def _outside(windows: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, 1, out_len): 0 at the (batch, out_len) ``windows`` of the text, -inf elsewhere, to add
    to a kernel's outputs before the max (one pass, cheaper than ``masked_fill``)."""
    return torch.zeros(windows.shape, dtype=dtype, device=windows.device).masked_fill_(~windows, float("-inf"))[:, None, :]


def _time_max(h: torch.Tensor) -> torch.Tensor:
    """The maximum over time of (batch, channels, time) ``h`` (its gradient goes to one winner, the
    earliest), reduced in the order ``h`` is stored in, so that its gradient keeps that layout."""
    if h.stride(1) == 1 and h.stride(2) != 1:  # stored as (batch, time, channels)
        return h.transpose(1, 2).max(dim=1).values
    return h.max(dim=2).values


class TextCNN(TextModel):
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
        self.num_outputs = num_classes
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
        self.use_fast_kernels = True  # False: always the convolution path (tests, benchmarks)
        self.kernel_cache = fast_kernels.KernelCache()  # the fast kernels' folded table, never saved

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (batch, num_classes) for (batch, seq_len) token ``ids`` with true ``lengths``."""
        ids = self._input_ids(ids)  # the same word dropout for the CNN and the n-gram bag
        features = self._pool(ids, lengths, winners=False).features  # (batch, num_features)
        if self.ngram_bag is None:
            return self.classifier(self.dropout(features))  # (batch, num_classes)
        bag = self.ngram_bag(ids, length_mask(lengths, ids.size(1)))  # (batch, ngram_dim)
        if self.ngram_classifier is None:  # concat: one output layer over both
            return self.classifier(self.dropout(torch.cat([features, bag], dim=1)))  # (batch, num_classes)
        return self.classifier(self.dropout(features)) + self.ngram_classifier(bag)  # (batch, num_classes)

    def pooled(self, ids: torch.Tensor, lengths: torch.Tensor) -> Pooled:
        """The pooled convolution features (batch, num_features) that ``forward`` reads (before
        dropout; never the n-gram bag's), in kernel-size order, ``num_filters`` (times 2 for
        ``max_avg``, ``kmax_k`` for ``kmax``) per size.

        Max pooling also gives each feature's winning window: its first token (``valid``: the
        output index; ``same``: the token the window is centred on minus ``(k - 1) // 2``, negative
        near the start) and its width k. The other poolings have no single winner: ``positions``
        and ``widths`` are None.
        """
        return self._pool(self._input_ids(ids), lengths, winners=True)

    def conv_inputs(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The convolutions' inputs (batch, seq_len, embed_dim) as ``pooled`` reads them: ids padded to
        ``min_len``, embeddings plus positions, zero at padding (an explanation splits windows over them)."""
        ids = self._input_ids(ids)
        return self.embed(ids, length_mask(lengths, ids.size(1)))

    def _input_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ``ids`` padded to the widest 'valid' kernel, with word dropout while training."""
        if ids.size(1) < self.min_len:  # a text shorter than the widest 'valid' kernel: pad it
            ids = F.pad(ids, (0, self.min_len - ids.size(1)), value=self.pad_id)
        if self.training and self.config.token_dropout > 0:  # word dropout: real tokens -> <unk>
            ids = apply_token_dropout(ids, self.config.token_dropout, pad_id=self.pad_id, unk_id=self.unk_id)
        return ids

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The convolutions' inputs (batch, seq_len, embed_dim): embeddings plus positions, zero at
        padding (so batch padding equals the zeros of 'same' padding), then embedding dropout."""
        x = self.positions(self.embedding(ids)) * mask[:, :, None]  # (batch, seq_len, embed_dim)
        return self.embed_dropout(x)

    def _pool(self, ids: torch.Tensor, lengths: torch.Tensor, *, winners: bool) -> Pooled:
        """``pooled`` of ``ids`` already through ``_input_ids``; ``winners``: with positions and widths."""
        monotone_max = not winners and self.config.pooling == "max" and self.config.activation in MONOTONE_ACTIVATIONS
        if monotone_max and not self.training and token_products.applies(self, ids):  # lookups in place of products
            return Pooled(self.activation(token_products.features(self, ids, lengths)))  # (the max commutes, as below)
        mask = length_mask(lengths, ids.size(1))  # (batch, seq_len), True at real tokens
        if monotone_max:
            if self.training:
                return Pooled(self._trained_features(ids, lengths, mask))
            return Pooled(self._predicted_features(ids, lengths, mask))
        maps = self._maps(ids, lengths, mask)
        unmasked = self.config.pooling == "max" and _uniform(ids, lengths)  # every output is a window of its text
        features, starts = [], []
        for index, (conv, h) in enumerate(zip(self.convs, maps)):  # h: (batch, num_filters, out_len)
            k = conv.kernel_size[0]
            if unmasked:  # masked_max_pool_with_indices without a mask to apply
                pooled, winner = self.activation(h).max(dim=2)
            else:
                windows = self._windows(conv, lengths, ids.size(1), mask)  # (batch, out_len)
                pooled, winner = self._pool_over_time(index, self.activation(h), windows)
            features.append(pooled)  # (batch, num_filters * per_filter)
            if winners and winner is not None:  # (batch, num_filters) output index -> first token of the window
                starts.append(winner - (k - 1) // 2 if self.config.padding == "same" else winner)
        features = torch.cat(features, dim=1)  # (batch, num_features)
        if not winners or self.config.pooling != "max":
            return Pooled(features)
        widths = torch.tensor(self.config.kernel_sizes, device=ids.device).repeat_interleave(self.config.num_filters)
        return Pooled(features, torch.cat(starts, dim=1), widths)

    def _trained_features(self, ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``pooled``'s features while training with max pooling and a monotone activation: the
        activation runs on the maxima alone. Its maximum is the same window's, so the values and
        gradients are those of activation-then-max (bit for bit with ReLU; with tanh the gradient can
        go to another window where two outputs round to one activation). The padding is masked by
        adding -inf, which the backward pass goes through untouched; a batch without padding is not
        masked at all. On a CPU, the maxima of every width come from one product (``fused_maxima``)."""
        if self.use_fast_kernels and fused_maxima.applies(self, ids):
            windows = self._text_windows(ids, lengths, mask)
            return self.activation(fused_maxima.maxima(self, self.embed(ids, mask), windows))  # (batch, num_features)
        maps = self._maps(ids, lengths, mask)
        if not _uniform(ids, lengths):
            maps = [h + _outside(self._windows(conv, lengths, ids.size(1), mask), h.dtype) for conv, h in zip(self.convs, maps)]
        return self.activation(torch.cat([_time_max(h) for h in maps], dim=1))  # (batch, num_features)

    def _predicted_features(self, ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``pooled``'s features when predicting with max pooling and a monotone activation: the
        activation commutes with the max (exactly, also in floating point), so it runs on the maxima
        alone. (Where ``token_products`` applies, ``_pool`` has looked the windows up instead.) A
        batch with no padding needs no mask (every output is a window of its text), one with
        padding is predicted packed (``packed``); under bfloat16 autocast and for small batches the
        maxima come from window products (``fast_kernels``)."""
        uniform = _uniform(ids, lengths)
        if not uniform and packed.applies(self, ids):  # the texts end to end, no padding
            dtype = fast_kernels.window_dtype(self, ids) or torch.float32
            return self.activation(torch.cat(packed.packed_maxima(self, ids, lengths, dtype), dim=1))
        windows = None if uniform else self._text_windows(ids, lengths, mask)
        dtype = fast_kernels.window_dtype(self, ids)
        if dtype is not None:
            maxima = fast_kernels.window_maxima(self, ids, mask, windows, dtype)
        else:
            maps = self._maps(ids, lengths, mask)
            if windows is not None:
                maps = [h + _outside(w, h.dtype) for h, w in zip(maps, windows)]
            maxima = [h.amax(dim=2) for h in maps]  # (batch, num_filters) each
        return self.activation(torch.cat(maxima, dim=1))  # (batch, num_features)

    def _maps(self, ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Each kernel's outputs (batch, num_filters, out_len): the convolution, or equal maps
        (few filters on a CPU: ``fast_kernels``' matmul forms; bfloat16 training; and where
        prediction looks windows up, packs the batch or takes window products, those very maps,
        so that ``pooled`` finds the features and winning windows the prediction reads, bit for bit)."""
        if self.use_fast_kernels and fast_kernels.applies(self, ids):  # the one alternative: equal maps, faster
            return fast_kernels.conv_maps(self, ids, mask)
        if token_products.applies(self, ids):  # the maps whose maxima prediction takes
            return token_products.maps(self, ids)
        if packed.applies(self, ids) and not _uniform(ids, lengths):
            return packed.packed_maps(self, ids, lengths)  # the maps whose maxima prediction takes
        if self.use_fast_kernels and not self.training and self.config.pooling == "max" and fast_kernels.window_dtype(self, ids) == torch.float32:
            return fast_kernels.window_products_maps(self, ids, mask)  # the maps whose maxima prediction takes
        if self.training and fast_kernels.window_dtype(self, ids) == torch.bfloat16:  # bfloat16 training
            return fast_kernels.window_maps(self, ids, mask)
        return self._convolve(self.embed(ids, mask))

    def _text_windows(self, ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor] | None:
        """``_windows`` of every convolution over (batch, seq_len) ``ids``, or None when every output is
        a window of its text (``_uniform``)."""
        if _uniform(ids, lengths):
            return None
        return [self._windows(conv, lengths, ids.size(1), mask) for conv in self.convs]

    def _windows(self, conv: nn.Conv1d, lengths: torch.Tensor, seq_len: int, mask: torch.Tensor) -> torch.Tensor:
        """(batch, out_len) which outputs of ``conv`` over a batch of ``seq_len`` positions are windows of the text."""
        if self.config.padding == "same":
            return mask  # output j is centred on token j
        return valid_conv_mask(lengths, seq_len - conv.kernel_size[0] + 1, conv.kernel_size[0])

    def _convolve(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each kernel's outputs (batch, num_filters, out_len) over (batch, seq_len, embed_dim) ``x``,
        as 2-d convolutions over channels-last inputs (``layers.conv_channels_last``)."""
        maps = []
        for conv in self.convs:
            k = conv.kernel_size[0]
            padded = F.pad(x, (0, 0, (k - 1) // 2, k // 2)) if self.config.padding == "same" else x
            maps.append(conv_channels_last(padded, conv))  # (batch, num_filters, out_len)
        return maps

    def _pool_over_time(self, index: int, h: torch.Tensor, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Kernel ``index``'s (batch, num_filters, out_len) activations pooled over the ``windows``
        (batch, out_len) of the text: (batch, num_filters * per_filter), and for max pooling the
        (batch, num_filters) output index that won (the earliest on ties)."""
        pooling = self.config.pooling
        if pooling == "max":
            return masked_max_pool_with_indices(h, windows)
        if pooling == "avg":
            return masked_avg_pool(h, windows), None
        if pooling == "max_avg":
            return torch.cat([masked_max_pool(h, windows), masked_avg_pool(h, windows)], dim=1), None
        if pooling == "kmax":
            return masked_kmax_pool(h, windows, self.config.kmax_k).flatten(1), None  # (batch, num_filters * kmax_k)
        return self.attention[index](h, windows), None

    def apply_constraints(self) -> None:
        """Kim's max-norm: rescale each output-layer weight row with L2 norm above ``max_norm`` to it.

        The trainer calls this after every optimizer step.
        """
        if self.config.max_norm is not None:
            with torch.no_grad():
                self.classifier.weight.copy_(torch.renorm(self.classifier.weight, p=2, dim=0, maxnorm=self.config.max_norm))
