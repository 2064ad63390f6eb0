"""Predictions of a trained classifier: logits, probabilities, labels, top-k, evaluation reports.

The network runs in PyTorch or, for a bundle exported to ONNX, in ONNX Runtime; the n-gram model's
scores (NumPy) join its logits either way, so both runtimes predict the same.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np
import torch

from textcnn.data.encoding import EncodedTexts, TokenizedTexts, tokenize_compact
from textcnn.data.labels import as_label_list
from textcnn.data.long_texts import WindowedTexts, encode_to_fit
from textcnn.evaluation import classification_report, multilabel_report
from textcnn.inference.logits import check_precision, pool_windows, predict_logits, sigmoid, softmax
from textcnn.inference.onnx_runtime import OnnxModel, predict_logits_onnx
from textcnn.inference.thresholds import apply_thresholds
from textcnn.inference.trained import TrainedClassifier
from textcnn.models import token_products
from textcnn.models.naive_bayes import NaiveBayes

Scored = list[list[tuple[Hashable, float]]]


class Predictor:
    """Predicts with a ``TrainedClassifier`` on ``device``, or with its ONNX export (``onnx``).

    ``precision``: ``float32`` (what explanations decompose exactly) or ``bfloat16`` (the network's
    products in bfloat16 with float32 sums: several times faster on CPUs with AVX512-BF16 or AMX).
    """

    def __init__(
        self,
        trained: TrainedClassifier,
        *,
        device: torch.device | None = None,
        onnx: OnnxModel | None = None,
        precision: str = "float32",
    ) -> None:
        check_precision(precision)
        self.trained = trained
        self.device = device or torch.device("cpu")
        self.onnx = onnx
        self.precision = precision
        self.tokenizer = trained.tokenizer()

    def encode(self, texts: Sequence[str]) -> EncodedTexts:
        """Token ids of ``texts`` as the model reads them (fitted to ``max_len`` as ``tokenizer.long_text`` says)."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        return self.encode_tokenized(tokenize_compact(list(texts), self.tokenizer))

    def encode_tokenized(self, texts: TokenizedTexts) -> EncodedTexts:
        """``encode`` for texts tokenized by the model's tokenizer already."""
        return encode_to_fit(texts, self.trained.vocab, self.trained.config.tokenizer)

    def encode_token_lists(self, token_lists: Sequence[Sequence[str]]) -> EncodedTexts:
        """``encode`` for texts given as their tokens (say, a text with some tokens left out)."""
        index: dict[str, int] = {}
        flat = [index.setdefault(token, len(index)) for tokens in token_lists for token in tokens]
        lengths = np.array([len(tokens) for tokens in token_lists], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else lengths
        return self.encode_tokenized(TokenizedTexts(list(index), np.asarray(flat, dtype=np.int32), offsets, lengths))

    def _encoded(self, texts: Sequence[str] | EncodedTexts) -> EncodedTexts:
        return texts if isinstance(texts, EncodedTexts) else self.encode(texts)

    def prepare(self) -> None:
        """Compute now what prediction otherwise computes as it meets tokens: the network's table
        of token products, whole (a server's first requests then pay none of it)."""
        if self.onnx is None and self.device.type == "cpu":
            token_products.prepare(self.trained.model)

    def logits(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> np.ndarray:
        """Raw scores (num_texts, num_classes): ``scale * network + weight * n-gram model``."""
        encoded = self._encoded(texts)
        trained = self.trained
        if self.onnx is not None:
            logits = predict_logits_onnx(self.onnx, encoded, num_classes=len(trained.labels), batch_size=batch_size)
        else:
            logits = predict_logits(trained.model, encoded, batch_size=batch_size, device=self.device, precision=self.precision)
        if trained.ngram_model is not None:
            nb = trained.config.nb
            logits = np.float32(nb.scale) * logits + np.float32(nb.weight) * ngram_logits(trained.ngram_model, encoded)
        return logits

    def proba(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> np.ndarray:
        """Probabilities (num_texts, num_classes): softmax, or one sigmoid per label (multi-label)."""
        logits = self.logits(texts, batch_size=batch_size)
        return sigmoid(logits) if self.trained.multi_label else softmax(logits)

    def predict(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> list:
        """The most probable label of each text; multi-label: the list of labels over their thresholds."""
        if self.trained.multi_label:
            return [[label for label, _ in pairs] for pairs in self.scored(texts, batch_size=batch_size)]
        return self.trained.labels.decode(self.logits(texts, batch_size=batch_size).argmax(axis=1))

    def scored(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> Scored:
        """The predicted (label, probability) pairs of each text, most probable first.

        Single-label: one pair. Multi-label: every label whose probability reaches its threshold;
        a text where none does gets its single most probable label.
        """
        return self.scored_from(self.proba(texts, batch_size=batch_size))

    def scored_from(self, probabilities: np.ndarray) -> Scored:
        """``scored`` of probabilities computed already (rows of ``proba``)."""
        labels = self.trained.labels.labels
        if not self.trained.multi_label:
            best = probabilities.argmax(axis=1)
            return [[(labels[j], float(row[j]))] for row, j in zip(probabilities, best)]
        chosen = apply_thresholds(probabilities, self.trained.thresholds)
        order = np.argsort(-probabilities, axis=1, kind="stable")
        return [
            [(labels[j], float(row[j])) for j in ranked if keep[j]] for row, ranked, keep in zip(probabilities, order, chosen)
        ]

    def top_k(self, texts: Sequence[str] | EncodedTexts, k: int = 1) -> Scored:
        """The ``k`` most probable (label, probability) pairs of each text, best first."""
        return self.top_k_from(self.proba(texts), k)

    def top_k_from(self, probabilities: np.ndarray, k: int = 1) -> Scored:
        """``top_k`` of probabilities computed already (rows of ``proba``): one model call serves both."""
        k = max(1, min(k, probabilities.shape[1]))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        labels = self.trained.labels.labels
        return [[(labels[j], float(row[j])) for j in top] for row, top in zip(probabilities, order)]

    def evaluate(self, texts: Sequence[str] | EncodedTexts, labels: Sequence[Hashable], *, source: str = "data") -> dict[str, Any]:
        """Accuracy, macro-F1, per-class figures and the confusion matrix on labelled texts.

        Multi-label: micro-, macro- and samples-F1, subset accuracy, hamming loss and per-label
        figures with each label's threshold.
        """
        label_set, thresholds = self.trained.labels, self.trained.thresholds
        if self.trained.multi_label:
            targets = label_set.encode_multi_hot([as_label_list(item) for item in labels], source=source)
            predicted = apply_thresholds(self.proba(texts), thresholds)
            return multilabel_report(targets, predicted, label_set.labels, thresholds)
        targets = label_set.encode(list(labels), source=source)
        return classification_report(targets, self.logits(texts).argmax(axis=1), label_set.labels)


def ngram_logits(ngram_model: NaiveBayes, encoded: EncodedTexts) -> np.ndarray:
    """(num_texts, num_classes) n-gram model scores; the windows of a text pooled as its logits are."""
    scores = ngram_model.logits(encoded)
    if isinstance(encoded, WindowedTexts):
        return pool_windows(scores, encoded.window_text, encoded.pool)
    return scores
