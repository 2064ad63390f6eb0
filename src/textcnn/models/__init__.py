"""Pure ``nn.Module`` architectures: config in, token ids in, logits out; no I/O, no optimizers."""

from __future__ import annotations

import torch

from textcnn.config import GatedCNNConfig, TextCNNConfig, TransformerConfig
from textcnn.models.base import Pooled, TextModel
from textcnn.models.ensemble import Ensemble
from textcnn.models.gated_cnn import GatedCNN
from textcnn.models.textcnn import TextCNN
from textcnn.models.transformer import TransformerClassifier

MODELS: dict[str, type[TextModel]] = {"textcnn": TextCNN, "gated_cnn": GatedCNN, "transformer": TransformerClassifier}


def build_model(
    config: TextCNNConfig | GatedCNNConfig | TransformerConfig,
    *,
    vocab_size: int,
    num_classes: int,
    vectors: torch.Tensor | None = None,
    ensemble: int = 1,
) -> TextModel:
    """The architecture named by ``config.name``, sized for the data.

    ``vectors`` (vocab_size, embed_dim) are the pretrained embeddings of the static, nonstatic and
    multichannel modes (``auto``: nonstatic when given, else rand). ``ensemble`` > 1: an
    ``Ensemble`` of that many such models (the shape a saved ensemble is loaded into).
    """
    try:
        cls = MODELS[config.name]
    except KeyError:
        raise ValueError(f"unknown model {config.name!r}; known: {', '.join(MODELS)}") from None
    if ensemble > 1:
        return Ensemble([cls(config, vocab_size=vocab_size, num_classes=num_classes, vectors=vectors) for _ in range(ensemble)])
    return cls(config, vocab_size=vocab_size, num_classes=num_classes, vectors=vectors)


__all__ = ["MODELS", "Ensemble", "GatedCNN", "Pooled", "TextCNN", "TextModel", "TransformerClassifier", "build_model"]
