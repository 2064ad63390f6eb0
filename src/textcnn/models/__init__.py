"""Pure ``nn.Module`` architectures: config in, token ids in, logits out; no I/O, no optimizers."""

from __future__ import annotations

from torch import nn

from textcnn.config import TextCNNConfig
from textcnn.models.textcnn import TextCNN

MODELS: dict[str, type[nn.Module]] = {"textcnn": TextCNN}


def build_model(config: TextCNNConfig, *, vocab_size: int, num_classes: int) -> nn.Module:
    """The architecture named by ``config.name``, sized for the data."""
    try:
        cls = MODELS[config.name]
    except KeyError:
        raise ValueError(f"unknown model {config.name!r}; known: {', '.join(MODELS)}") from None
    return cls(config, vocab_size=vocab_size, num_classes=num_classes)


__all__ = ["MODELS", "TextCNN", "build_model"]
