"""naive_bayes.safetensors: the tensors the n-gram model must hold, and what their values must satisfy."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from textcnn.bundle_checks.tensors import TensorSpec
from textcnn.config import RunConfig
from textcnn.errors import BundleError

_MAX_TRIGRAM_VOCAB = 2_000_000  # V + V**2 + V**3 must fit in int64 (models/naive_bayes.py)


def expected_ngram_tensors(num_labels: int, method: str = "logistic") -> dict[str, TensorSpec]:
    """keys and table (and idf, for the tfidf method) share one free length (the n-grams seen in
    training); meta is 3 (older bundles) or 4 numbers."""
    expected = {
        "keys": TensorSpec(("I64",), (None,)),
        "table": TensorSpec(("F16", "F32"), (None, num_labels)),
        "prior": TensorSpec(("F32",), (num_labels,)),
        "meta": TensorSpec(("I64",), (None,)),
    }
    if method == "tfidf":
        expected["idf"] = TensorSpec(("F32",), (None,))
    return expected


def check_ngram_state(path: Path, state: Mapping[str, np.ndarray], config: RunConfig, vocab_size: int) -> None:
    """meta agrees with config.json and vocab.json; the keys are sorted, distinct n-gram keys of that vocabulary."""
    meta = [int(value) for value in state["meta"]]
    if len(meta) not in (3, 4) or any(value not in (0, 1) for value in meta[2:]):
        raise BundleError(f"meta {meta[:8]} is not [vocab_size, ngrams, multi_label(, binary)]", path=path)
    if meta[0] != vocab_size:
        raise BundleError(f"made for {meta[0]} vocabulary ids, vocab.json has {vocab_size}", path=path)
    if meta[1] != config.nb.ngrams:
        raise BundleError(f"made of {meta[1]}-grams, config.json says nb.ngrams {config.nb.ngrams}", path=path)
    if bool(meta[2]) != (config.data.multi_label is True):
        raise BundleError("made for another kind of labels (multi-label or not) than config.json's data.multi_label", path=path)
    if meta[1] == 3 and vocab_size > _MAX_TRIGRAM_VOCAB:
        raise BundleError(f"a vocabulary of {vocab_size:,} ids is too large for trigram keys", path=path)
    keys = state["keys"]
    key_limit = sum(vocab_size**order for order in range(1, meta[1] + 1))
    if key_limit > 2**63:
        raise BundleError(f"a vocabulary of {vocab_size:,} ids is too large for {meta[1]}-gram keys", path=path)
    if "idf" in state and not bool(np.all(state["idf"] >= 1.0)):  # log((1 + n) / (1 + df)) + 1 >= 1
        raise BundleError("idf holds values below 1, which no training set gives", path=path)
    if len(keys) and (int(keys[0]) < 0 or int(keys[-1]) >= key_limit or not bool(np.all(keys[1:] > keys[:-1]))):
        raise BundleError(f"keys are not sorted, distinct n-gram keys from 0 to {key_limit - 1:,}", path=path)
