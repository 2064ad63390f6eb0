"""The n-gram model candidates of benchmarks/ngram_features.py: features, fit on the run's texts,
the combination with the cached network's logits fitted on dev (as ``fit_ngram_model`` does)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from _study_data import Encoded, Prepared
from textcnn.data.encoding import build_compact_vocab, encode_compact, tokenize_compact
from textcnn.data.tokenizers import JiebaTokenizer
from textcnn.models.naive_bayes import NaiveBayes, fit_ngram_logistic, ngram_keys
from textcnn.models.stacking import fit_weight


@dataclass(frozen=True)
class Candidate:
    """One n-gram model: ``features`` nb / tfidf, 1-``ngrams`` of the network's tokens, ``c``; ``words``:
    also jieba word 1-``words``-grams (0: none); ``whole``: n-grams of whole texts, not the network's cut."""

    name: str
    features: str = "nb"
    ngrams: int = 2
    c: float = 0.3
    words: int = 0
    whole: bool = False
    max_iter: int = 100


def candidate(spec: str) -> Candidate:
    """``nb3:c=1,words=2,whole=1`` -> Candidate."""
    head, _, rest = spec.partition(":")
    features, ngrams = head.rstrip("0123456789"), int(head[len(head.rstrip("0123456789")):] or 2)
    options = dict(item.split("=") for item in filter(None, rest.split(",")))
    c = float(options.get("c", 0.3 if features == "nb" else 4.0))
    words, whole, max_iter = int(options.get("words", 0)), options.get("whole", "0") == "1", int(options.get("iter", 100))
    return Candidate(spec, features, ngrams, c, words, whole, max_iter)


def _word_orders(raw_fit: list[str], raw_score: list[str], ngrams: int, offset: int) -> tuple[list, list]:
    """Keys of the jieba word n-grams of the fit and score texts, above ``offset`` (the token n-gram keys)."""
    tokenizer = JiebaTokenizer()
    fit_tokens, score_tokens = tokenize_compact(raw_fit, tokenizer), tokenize_compact(raw_score, tokenizer)
    vocab = build_compact_vocab(fit_tokens)
    fit, score = encode_compact(fit_tokens, vocab, None), encode_compact(score_tokens, vocab, None)
    shift = lambda orders: [(keys + offset, per_text) for keys, per_text in orders]  # noqa: E731
    return shift(ngram_keys(fit, len(vocab), ngrams)), shift(ngram_keys(score, len(vocab), ngrams))


def ngram_scores(spec: Candidate, encoded: Encoded, raw_fit: list[str], raw_score: list[str]) -> tuple[np.ndarray, float, int]:
    """(score texts' n-gram log posteriors, seconds to build and fit, number of n-grams)."""
    started = time.perf_counter()
    fit, score = encoded.fit, encoded.score
    if spec.whole:
        vocab = build_compact_vocab(encoded.fit_tokens)
        fit, score = encode_compact(encoded.fit_tokens, vocab, None), encode_compact(encoded.score_tokens, vocab, None)
    vocab_size = encoded.vocab_size
    fit_orders, score_orders = ngram_keys(fit, vocab_size, spec.ngrams), ngram_keys(score, vocab_size, spec.ngrams)
    if spec.words:
        offset = sum(vocab_size**order for order in range(1, spec.ngrams + 1))
        word_fit, word_score = _word_orders(raw_fit, raw_score, spec.words, offset)
        fit_orders, score_orders = fit_orders + word_fit, score_orders + word_score
    model: NaiveBayes = fit_ngram_logistic(
        fit_orders, len(fit), encoded.fit_targets, vocab_size=vocab_size, ngrams=spec.ngrams, features=spec.features, c=spec.c,
        max_iter=spec.max_iter,
    )  # fmt: skip
    scores = model.logits_of(score_orders, len(score))
    return scores, time.perf_counter() - started, len(model.keys)


def combine(dev_logits: np.ndarray, dev_scores: np.ndarray, dev_targets: np.ndarray) -> tuple[float, float]:
    """nb.scale and nb.weight fitted on dev, as ``fit_ngram_model`` rounds them."""
    return tuple(round(value, 4) for value in fit_weight(dev_logits, dev_scores, dev_targets))


def accuracy(scores: np.ndarray, targets: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == targets).mean())


def raw_texts(prepared: Prepared, final: bool) -> tuple[list[str], list[str]]:
    """The raw fit and score texts of the selection (train -> dev) or final (train [+ dev] -> test) run."""
    from textcnn.training.pipeline import should_refit

    train, dev, test = (prepared.raw[s][0] if prepared.raw[s] else None for s in ("train", "dev", "test"))
    if dev is None:
        raise ValueError("jieba words need a set with a dev file")
    if not final:
        return list(train), list(dev)
    return (list(train) + list(dev) if should_refit(prepared.config, prepared.split) else list(train)), list(test)


def novel_mask(prepared: Prepared, final: bool) -> np.ndarray:
    """Which scored texts (dev, or test) do not occur verbatim among the fit texts (train, or train + dev)."""
    if prepared.raw["dev"] is None:
        return np.ones(len(prepared.test[1] if final else prepared.split.dev_labels), dtype=bool)
    fit, score = raw_texts(prepared, final)
    seen = set(fit)
    return np.array([text not in seen for text in score])
