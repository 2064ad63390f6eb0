"""Seeding and device selection."""

from __future__ import annotations

import random

import numpy as np
import torch

from textcnn.errors import ConfigError


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a NumPy generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in torch's operators (``None``: leave torch's choice)."""
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available (else CPU); other names as given, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} was asked for but CUDA is not available on this machine")
    return device
