"""Pure ``nn.Module`` architectures: config in, token ids in, logits out; no I/O, no optimizers."""

from __future__ import annotations

import torch
from torch import nn

from textcnn.config import GatedCNNConfig, TextCNNConfig, TransformerConfig
from textcnn.models.gated_cnn import GatedCNN
from textcnn.models.textcnn import TextCNN
from textcnn.models.transformer import TransformerClassifier

MODELS: dict[str, type[nn.Module]] = {"textcnn": TextCNN, "gated_cnn": GatedCNN, "transformer": TransformerClassifier}


def build_model(
    config: TextCNNConfig | GatedCNNConfig | TransformerConfig,
    *,
    vocab_size: int,
    num_classes: int,
    vectors: torch.Tensor | None = None,
) -> nn.Module:
    """The architecture named by ``config.name``, sized for the data.

    ``vectors`` (vocab_size, embed_dim) are the pretrained embeddings of the static, nonstatic and
    multichannel modes (``auto``: nonstatic when given, else rand).
    """
    try:
        cls = MODELS[config.name]
    except KeyError:
        raise ValueError(f"unknown model {config.name!r}; known: {', '.join(MODELS)}") from None
    return cls(config, vocab_size=vocab_size, num_classes=num_classes, vectors=vectors)


__all__ = ["MODELS", "GatedCNN", "TextCNN", "TransformerClassifier", "build_model"]
