"""Blocks shared by the architectures: masks, pooling over time that ignores padding (max, mean, k-max,
attention), word dropout, positions."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def valid_conv_mask(lengths: torch.Tensor, out_len: int, kernel_size: int) -> torch.Tensor:
    """Which outputs of a 'valid' convolution see only real tokens.

    A window starting at ``j`` is kept when ``j + kernel_size <= max(length, kernel_size)``, so a
    text shorter than the kernel keeps exactly its first window (the pad embedding is zero), and the
    result never depends on how much padding the batch added.

    Returns:
        (batch, out_len) bool mask.
    """
    positions = torch.arange(out_len, device=lengths.device)  # (out_len,)
    last = torch.clamp(lengths - kernel_size, min=0)  # (batch,)
    return positions[None, :] <= last[:, None]  # (batch, out_len)


def conv_channels_last(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv``'s outputs (batch, out_channels, out_len) over (batch, seq_len, in_channels) ``x``
    (no padding added), stored as (batch, out_len, out_channels): a 2-d convolution over ``x`` seen
    as a (batch, in_channels, 1, seq_len) image stored channels last, which is ``x``'s own layout and
    the one oneDNN computes in, so neither the inputs nor the outputs are copied or reordered
    (``Conv1d`` reorders both ways: a 256-text batch of 20 tokens took 2.4x as long)."""
    image = x[:, None].permute(0, 3, 1, 2)  # (batch, in_channels, 1, seq_len), channels last
    return F.conv2d(image, conv.weight[:, :, None, :], conv.bias)[:, :, 0]  # (batch, out_channels, out_len)


def masked_max_pool(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over time of (batch, channels, time) ``features`` where ``mask`` (batch, time) is true."""
    return masked_max_pool_with_indices(features, mask)[0]  # (batch, channels)


def masked_max_pool_with_indices(features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``masked_max_pool`` and where each maximum is: (batch, channels) values and (batch, channels)
    int64 time indices, the earliest of equal maxima (``torch.max``'s rule)."""
    filled = features.masked_fill(~mask[:, None, :], float("-inf"))  # (batch, channels, time)
    values, indices = filled.max(dim=2)
    return values, indices


def masked_avg_pool(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time of (batch, channels, time) ``features`` where ``mask`` (batch, time) is true."""
    weights = mask[:, None, :].to(features.dtype)  # (batch, 1, time)
    total = (features * weights).sum(dim=2)  # (batch, channels)
    return total / weights.sum(dim=2).clamp(min=1.0)  # (batch, channels)


def masked_kmax_pool(features: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` largest of (batch, channels, time) ``features`` per channel, kept in text order.

    Only positions where ``mask`` (batch, time) is true are candidates; ties go to the earlier
    position. A text with fewer than ``k`` real positions is filled with 0 after its values.

    Returns:
        (batch, channels, k)
    """
    if features.size(2) < k:  # fewer positions than k: add masked ones
        features = F.pad(features, (0, k - features.size(2)))
        mask = F.pad(mask, (0, k - mask.size(1)), value=False)
    filled = features.masked_fill(~mask[:, None, :], float("-inf"))  # (batch, channels, time)
    # A stable sort, not topk: ReLU outputs tie at 0 often, and the pick must not depend on padding.
    top = filled.sort(dim=2, descending=True, stable=True).indices[:, :, :k]  # (batch, channels, k)
    top = top.sort(dim=2).values  # back in text order; masked picks come last (padding is at the end)
    picked = features.gather(2, top)  # (batch, channels, k)
    real = mask[:, None, :].expand_as(features).gather(2, top)  # (batch, channels, k)
    return picked.masked_fill(~real, 0.0)  # (batch, channels, k), 0 where a short text ran out


class AttentionPool(nn.Module):
    """Attention pooling over time: a learned query scores each position, softmax over real positions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = nn.Linear(channels, 1, bias=False)

    def weights(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, time) weights of (batch, channels, time) ``features``: sum to 1, exactly 0 where ``mask`` is false."""
        scores = self.query(features.transpose(1, 2)).squeeze(2)  # (batch, time)
        return scores.masked_fill(~mask, float("-inf")).softmax(dim=1)  # (batch, time)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Weighted sum (batch, channels) of (batch, channels, time) ``features``."""
        weights = self.weights(features, mask)  # (batch, time)
        return torch.bmm(features, weights[:, :, None]).squeeze(2)  # (batch, channels)


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_activation(name: str) -> nn.Module:
    """The activation module called ``name``."""
    return ACTIVATIONS[name]()


def length_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """(batch, seq_len) bool mask of real tokens; an empty text keeps its first position."""
    positions = torch.arange(seq_len, device=lengths.device)  # (seq_len,)
    return positions[None, :] < lengths.clamp(min=1)[:, None]  # (batch, seq_len)


def apply_token_dropout(ids: torch.Tensor, rate: float, *, pad_id: int, unk_id: int) -> torch.Tensor:
    """Word dropout: replace a ``rate`` share of the real tokens of (batch, seq_len) ``ids`` by ``unk_id``."""
    drop = torch.rand(ids.shape, device=ids.device) < rate  # (batch, seq_len)
    return ids.masked_fill(drop & (ids != pad_id), unk_id)


def sinusoidal_positions(max_positions: int, dim: int) -> torch.Tensor:
    """The (max_positions, dim) sine/cosine table of Vaswani et al. (2017)."""
    position = torch.arange(max_positions, dtype=torch.float32)[:, None]  # (max_positions, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(dim/2),)
    table = torch.zeros(max_positions, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table  # (max_positions, dim)


class PositionEmbedding(nn.Module):
    """Adds learned or sinusoidal position vectors to (batch, seq_len, dim) inputs."""

    def __init__(self, kind: str, max_positions: int, dim: int) -> None:
        super().__init__()
        self.kind = kind
        self.max_positions = max_positions
        if kind == "learned":
            self.table = nn.Embedding(max_positions, dim)
            nn.init.normal_(self.table.weight, std=0.02)
        elif kind == "sinusoidal":
            self.register_buffer("sinusoid", sinusoidal_positions(max_positions, dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq_len = x.size(1)
        if seq_len > self.max_positions:
            raise ValueError(f"text of {seq_len} tokens is longer than max_positions={self.max_positions}")
        if self.kind == "learned":
            return x + self.table.weight[:seq_len][None]  # (batch, seq_len, dim)
        if self.kind == "sinusoidal":
            return x + self.sinusoid[:seq_len][None]  # (batch, seq_len, dim)
        return x


# Multipliers of the n-gram hash (fastText-like): ids fold in one at a time, modulo a Mersenne prime,
# so every intermediate value stays far below 2**63 in int64 arithmetic.
_HASH_MULTIPLIER = 1_000_003
_HASH_MODULUS = 2**31 - 1


def hashed_ngram_ids(ids: torch.Tensor, mask: torch.Tensor, order: int, vocab_size: int, buckets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unigram ids and hashed n-gram ids (n = 2 .. ``order``) of (batch, seq_len) ``ids``.

    Unigrams keep their own id (rows ``0 .. vocab_size - 1`` of a table); an n-gram of adjacent
    tokens ``t .. t + n - 1`` gets row ``vocab_size + hash % buckets``. An n-gram counts only when its
    last token is real (``mask``, (batch, seq_len), true at real tokens, a prefix of each row), so
    padding never adds one.

    Returns:
        ((batch, count) int64 rows, (batch, count) bool keep), count = sum over n of (seq_len - n + 1).
    """
    rows, keep = [ids], [mask]
    seq_len = ids.size(1)
    for n in range(2, order + 1):
        if seq_len < n:
            break
        h = ids[:, : seq_len - n + 1].long()
        for i in range(1, n):
            h = (h * _HASH_MULTIPLIER + ids[:, i : seq_len - n + 1 + i]) % _HASH_MODULUS
        rows.append(vocab_size + h % buckets)  # (batch, seq_len - n + 1)
        keep.append(mask[:, n - 1 :])  # window t is real when token t + n - 1 is
    return torch.cat(rows, dim=1), torch.cat(keep, dim=1)


class NgramBag(nn.Module):
    """fastText's text vector: the mean of learned vectors of a text's unigrams and hashed n-grams.

    (batch, seq_len) ids and their (batch, seq_len) real-token mask -> (batch, dim).
    """

    def __init__(self, vocab_size: int, order: int, buckets: int, dim: int) -> None:
        super().__init__()
        self.vocab_size, self.order, self.buckets = vocab_size, order, buckets
        self.table = nn.Embedding(vocab_size + (buckets if order >= 2 else 0), dim)
        nn.init.uniform_(self.table.weight, -1.0 / dim, 1.0 / dim)  # fastText's initialisation

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        rows, keep = hashed_ngram_ids(ids, mask, self.order, self.vocab_size, self.buckets)  # (batch, count) each
        weights = keep.to(self.table.weight.dtype)[:, :, None]  # (batch, count, 1)
        total = (self.table(rows) * weights).sum(dim=1)  # (batch, dim)
        return total / weights.sum(dim=1).clamp(min=1.0)  # (batch, dim)
