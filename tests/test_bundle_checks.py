"""The loader's checks on their own: the tensors a config implies, computed without memory, and the finiteness test."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import pytest
import torch

from textcnn.bundle_checks import check_finite, expected_model_tensors
from textcnn.bundle_checks.tensors import SAFETENSORS_DTYPES
from textcnn.config import GatedCNNConfig, RunConfig, TextCNNConfig, TransformerConfig
from textcnn.errors import BundleError
from textcnn.models import build_model

ARCHITECTURES = {
    "textcnn": TextCNNConfig(embed_dim=16, num_filters=8, kernel_sizes=(2, 3)),
    "textcnn, every branch": TextCNNConfig(
        positions="sinusoidal", ngram_bag=3, pooling="attention", embedding_mode="multichannel", ngram_buckets=64
    ),
    "textcnn, learned positions": TextCNNConfig(positions="learned", ngram_bag=2, ngram_combine="logits", ngram_buckets=64),
    "gated_cnn": GatedCNNConfig(embed_dim=32, hidden_dim=32, num_layers=2),
    "gated_cnn, sinusoidal": GatedCNNConfig(embed_dim=32, hidden_dim=32, num_layers=2, positions="sinusoidal"),
    "transformer": TransformerConfig(embed_dim=32, ff_dim=64),
    "transformer, learned": TransformerConfig(embed_dim=32, ff_dim=64, positions="learned"),
}


@pytest.mark.parametrize("ensemble", [1, 3])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_the_implied_tensors_are_those_of_the_real_model(name, ensemble):
    config = RunConfig(model=ARCHITECTURES[name], train={"ensemble": ensemble})
    real = build_model(config.model, vocab_size=50, num_classes=4, ensemble=ensemble).state_dict()

    implied = expected_model_tensors(config, 50, 4, Path("config.json"))

    assert {key: (spec.dtypes, spec.shape) for key, spec in implied.items()} == {
        key: ((SAFETENSORS_DTYPES[tensor.dtype],), tuple(tensor.shape)) for key, tensor in real.items()
    }


def test_the_implied_tensors_of_a_huge_model_take_no_memory():
    config = RunConfig(model=TextCNNConfig(embed_dim=1024, num_filters=16), train={"ensemble": 2})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    implied = expected_model_tensors(config, 1_000_000, 4, Path("config.json"))  # 2 x 4 GB of embeddings

    assert implied["members.1.embedding.weight"].shape == (1_000_000, 1024)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB


def test_a_model_over_the_byte_limit_is_refused_before_it_is_built(monkeypatch):
    monkeypatch.setattr("textcnn.bundle_checks.tensors.MAX_MODEL_BYTES", 10**6)

    with pytest.raises(BundleError, match=r"config\.json: its model would take [\d,]+ bytes, more than any real model"):
        expected_model_tensors(RunConfig(model=TextCNNConfig(embed_dim=64)), 10_000, 2, Path("config.json"))


def test_finite_values_whose_float16_sum_overflows_pass_and_one_nan_is_found():
    table = np.full((100_000, 2), 60_000.0, dtype=np.float16)  # finite, but their float16 sum is inf

    check_finite(Path("naive_bayes.safetensors"), {"table": table})
    table[77_777, 1] = np.nan
    with pytest.raises(BundleError, match=r"naive_bayes\.safetensors: tensor table holds NaN"):
        check_finite(Path("naive_bayes.safetensors"), {"table": table, "ok": torch.zeros(3)})
