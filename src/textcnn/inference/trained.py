"""A trained classifier as one immutable value: what training returns and what a bundle holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from textcnn.config import RunConfig
from textcnn.data.labels import LabelSet
from textcnn.data.tokenizers import Tokenizer, tokenizer_for
from textcnn.data.vocab import Vocab
from textcnn.models.base import TextModel
from textcnn.models.naive_bayes import NaiveBayes


@dataclass(frozen=True, eq=False)
class TrainedClassifier:
    """A network, the n-gram model beside it, and everything needed to feed and read them.

    Its fields are fixed once made (``dataclasses.replace`` gives a changed copy); ``metrics`` is the
    one dict that jobs add to (the test report, the data files' digests) before saving.

    ``config`` is resolved: the tokenizer kind and ``max_len`` that were used, ``data.multi_label``,
    and the n-gram model's fitted ``nb.weight`` and ``nb.scale`` (weight 0: the network alone).
    """

    config: RunConfig
    model: TextModel
    vocab: Vocab
    labels: LabelSet
    thresholds: np.ndarray | None = None  # multi-label: each label's decision threshold, tuned on dev
    ngram_model: NaiveBayes | None = None  # its scores join the logits with weight config.nb.weight
    metrics: dict[str, Any] = field(default_factory=dict)  # dev (and test) reports, run facts
    history: tuple[dict[str, Any], ...] = ()  # one JSON-able row per epoch trained (training/history.py)

    @property
    def multi_label(self) -> bool:
        """Whether each text gets a set of labels (one sigmoid per label)."""
        return self.config.data.multi_label is True

    def tokenizer(self) -> Tokenizer:
        """The tokenizer the model was trained with."""
        return tokenizer_for(self.config.tokenizer)
