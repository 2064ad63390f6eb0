"""A multinomial Naive Bayes over token n-grams (Wang & Manning 2012, "MNB"), fitted by counting.

Its log-probabilities are added to a network's logits (``nb.weight``): on short texts the n-gram
model is strong and errs differently from the network. Everything runs on the encoded token ids
with NumPy, so the torch and the ONNX Runtime predictions share it.

An n-gram of ids ``(a, b, ...)`` over a vocabulary of V ids is one int64 key: a unigram is ``a``, a
bigram ``V + a * V + b``, a trigram ``V + V**2 + (a * V + b) * V + c``. Each text counts each of its
n-grams once (binarized features, which Wang & Manning found better for sentiment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textcnn.data.encoding import EncodedTexts

MAX_NGRAMS = 3
WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


@dataclass
class NaiveBayes:
    """A fitted Naive Bayes: n-gram keys, their per-output log-probability table and the prior.

    Single-label: ``logits`` are the log posterior over the classes. Multi-label: each label is a
    yes/no Naive Bayes and ``logits`` are its log-odds (``table`` holds log P(f|yes) - log P(f|no)).
    """

    keys: np.ndarray  # (num_features,) int64, sorted
    table: np.ndarray  # (num_features, num_outputs) float32
    prior: np.ndarray  # (num_outputs,) float32
    vocab_size: int
    ngrams: int
    multi_label: bool

    def logits(self, encoded: EncodedTexts) -> np.ndarray:
        """(num_texts, num_outputs) scores of the texts (of each window, for windowed texts)."""
        text_of, rows = self._features(encoded)
        num_texts, num_outputs = len(encoded), self.table.shape[1]
        scores = np.empty((num_texts, num_outputs), dtype=np.float64)
        values = self.table[rows]  # (num_found, num_outputs)
        for j in range(num_outputs):
            scores[:, j] = np.bincount(text_of, weights=values[:, j], minlength=num_texts)
        scores += self.prior
        if not self.multi_label:  # log posterior: the joint log-probability less its log-sum-exp
            top = scores.max(axis=1, keepdims=True)
            scores -= top + np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
        return scores.astype(np.float32)

    def _features(self, encoded: EncodedTexts) -> tuple[np.ndarray, np.ndarray]:
        """(text, table row) of every distinct known n-gram of every text."""
        text_of, keys = ngram_keys(encoded, self.vocab_size, self.ngrams)
        if not len(self.keys):
            return text_of[:0], text_of[:0]
        rows = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        known = self.keys[rows] == keys
        return _distinct_per_text(text_of[known], rows[known], len(self.keys))

    def state(self) -> dict[str, np.ndarray]:
        """The arrays to save (safetensors); ``from_state`` rebuilds the model from them."""
        return {
            "keys": self.keys,
            "table": self.table,
            "prior": self.prior,
            "meta": np.array([self.vocab_size, self.ngrams, int(self.multi_label)], dtype=np.int64),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "NaiveBayes":
        vocab_size, ngrams, multi_label = (int(value) for value in state["meta"])
        return cls(state["keys"], state["table"], state["prior"], vocab_size, ngrams, bool(multi_label))


def ngram_keys(encoded: EncodedTexts, vocab_size: int, ngrams: int) -> tuple[np.ndarray, np.ndarray]:
    """(text index, key) of every n-gram of order 1..``ngrams`` inside each text, as int64 arrays."""
    if not 1 <= ngrams <= MAX_NGRAMS:
        raise ValueError(f"ngrams must be 1 to {MAX_NGRAMS}, got {ngrams}")
    if ngrams == 3 and vocab_size > 2_000_000:  # V + V**2 + V**3 must fit in int64
        raise ValueError(f"a vocabulary of {vocab_size:,} ids is too large for trigram keys")
    ids = encoded.flat_ids().astype(np.int64)  # (num_tokens,)
    text_of = np.repeat(np.arange(len(encoded), dtype=np.int64), encoded.lengths)  # (num_tokens,)
    texts, keys = [text_of], [ids]
    raw, offset = ids, vocab_size  # raw: the n-gram's ids as one base-V number; offset: keys of shorter n-grams
    for order in range(2, ngrams + 1):
        starts = len(ids) - order + 1  # n-grams starting at token i, for i < starts
        if starts <= 0:
            break
        raw = raw[:starts] * vocab_size + ids[order - 1 :]  # (starts,)
        inside = text_of[:starts] == text_of[order - 1 :]  # texts are contiguous: first and last token agree
        texts.append(text_of[:starts][inside])
        keys.append(offset + raw[inside])
        offset += vocab_size**order
    return np.concatenate(texts), np.concatenate(keys)


def _distinct_per_text(text_of: np.ndarray, rows: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The (text, row) pairs with repeats within a text removed."""
    pairs = np.unique(text_of * num_rows + rows)
    return pairs // num_rows, pairs % num_rows


def fit_naive_bayes(
    encoded: EncodedTexts,
    targets: np.ndarray,
    *,
    vocab_size: int,
    ngrams: int = 2,
    smoothing: float = 1.0,
) -> NaiveBayes:
    """Count the n-grams of the labelled texts.

    Args:
        targets: class ids (num_texts,), or multi-hot rows (num_texts, num_labels) for multi-label data.
    """
    text_of, keys = ngram_keys(encoded, vocab_size, ngrams)
    features = np.unique(keys)  # (num_features,) sorted
    rows = np.searchsorted(features, keys)
    text_of, rows = _distinct_per_text(text_of, rows, max(1, len(features)))
    num_features = len(features)
    if targets.ndim == 1:  # single-label: per-class n-gram counts
        num_classes = int(targets.max()) + 1 if len(targets) else 0
        counts = np.bincount(rows * num_classes + targets[text_of], minlength=num_features * num_classes)
        counts = counts.reshape(num_features, num_classes).astype(np.float64)
        log_probs = np.log(counts + smoothing) - np.log(counts.sum(axis=0) + smoothing * num_features)
        class_counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
        prior = np.log(np.maximum(class_counts, 1.0) / len(targets))
        return NaiveBayes(features, log_probs.astype(np.float32), prior.astype(np.float32), vocab_size, ngrams, False)
    positive = targets.astype(bool)  # (num_texts, num_labels)
    num_labels = positive.shape[1]
    documents = np.bincount(rows, minlength=num_features).astype(np.float64)  # texts holding each n-gram
    yes = np.zeros((num_features, num_labels), dtype=np.float64)
    for label in range(num_labels):  # n-gram counts in the texts that carry the label
        yes[:, label] = np.bincount(rows[positive[text_of, label]], minlength=num_features)
    no = documents[:, None] - yes
    denominator = smoothing * num_features
    table = (np.log(yes + smoothing) - np.log(yes.sum(axis=0) + denominator)) - (
        np.log(no + smoothing) - np.log(no.sum(axis=0) + denominator)
    )
    carried = positive.sum(axis=0).astype(np.float64)
    prior = np.log(np.maximum(carried, 0.5)) - np.log(np.maximum(len(targets) - carried, 0.5))
    return NaiveBayes(features, table.astype(np.float32), prior.astype(np.float32), vocab_size, ngrams, True)
