"""Blocks shared by the architectures: masks and pooling over time that ignore padding."""

from __future__ import annotations

import torch
from torch import nn


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


def masked_max_pool(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over time of (batch, channels, time) ``features`` where ``mask`` (batch, time) is true."""
    filled = features.masked_fill(~mask[:, None, :], float("-inf"))  # (batch, channels, time)
    return filled.max(dim=2).values  # (batch, channels)


def masked_avg_pool(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time of (batch, channels, time) ``features`` where ``mask`` (batch, time) is true."""
    weights = mask[:, None, :].to(features.dtype)  # (batch, 1, time)
    total = (features * weights).sum(dim=2)  # (batch, channels)
    return total / weights.sum(dim=2).clamp(min=1.0)  # (batch, channels)


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_activation(name: str) -> nn.Module:
    """The activation module called ``name``."""
    return ACTIVATIONS[name]()


__all__ = ["valid_conv_mask", "masked_max_pool", "masked_avg_pool", "build_activation"]
