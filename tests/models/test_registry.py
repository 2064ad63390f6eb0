"""Every registered architecture honours the model contract on a tiny config, and trains end to end."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from textcnn import TextClassifier
from textcnn.config import MODEL_CONFIGS, GatedCNNConfig, RunConfig, TextCNNConfig, build_config
from textcnn.models import MODELS, build_model

VOCAB_SIZE, NUM_CLASSES = 50, 3
TINY: dict[str, dict[str, Any]] = {
    "textcnn": {"embed_dim": 8, "kernel_sizes": (2, 3), "num_filters": 4},
    "gated_cnn": {"embed_dim": 8, "hidden_dim": 8, "num_layers": 2, "kernel_size": 3},
    "transformer": {"embed_dim": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16},
}


# Every architecture with its defaults, plus each TextCNN option that changes the forward pass.
CASES: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in sorted(TINY)] + [
    ("textcnn", {"padding": "same"}),
    ("textcnn", {"pooling": "kmax", "kmax_k": 3}),
    ("textcnn", {"pooling": "attention"}),
    ("textcnn", {"positions": "learned"}),
    ("textcnn", {"positions": "sinusoidal"}),
    ("textcnn", {"ngram_bag": 2, "ngram_buckets": 64, "ngram_dim": 8}),
    ("textcnn", {"ngram_bag": 3, "ngram_buckets": 64, "ngram_dim": 8, "ngram_combine": "logits"}),
]
CASE_IDS = [name + "".join(f"-{key}={value}" for key, value in changes.items()) for name, changes in CASES]


def tiny_model(name: str, **changes: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    config = MODEL_CONFIGS[name](name=name, **{**TINY[name], **changes})
    return build_model(config, vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES).eval()


def _batch(lengths: list[int], extra_padding: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.zeros(len(lengths), max(lengths) + extra_padding, dtype=torch.long)  # (batch, seq_len)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(2, VOCAB_SIZE, (length,), generator=generator)
    return ids, torch.tensor(lengths)


def test_every_architecture_is_registered_and_tested():
    assert set(MODELS) == set(MODEL_CONFIGS) == set(TINY) == {name for name, _ in CASES}


def test_build_model_refuses_an_unknown_name():
    config = TextCNNConfig().model_copy(update={"name": "resnet"})  # past the config's own check

    with pytest.raises(ValueError, match="unknown model 'resnet'; known: textcnn, gated_cnn, transformer"):
        build_model(config, vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES)


@pytest.mark.parametrize(("name", "changes"), CASES, ids=CASE_IDS)
def test_logits_shape(name, changes):
    ids, lengths = _batch([5, 3, 7, 2])

    logits = tiny_model(name, **changes)(ids, lengths)

    assert logits.shape == (4, NUM_CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize(("name", "changes"), CASES, ids=CASE_IDS)
def test_padding_does_not_change_logits(name, changes):
    model = tiny_model(name, **changes)
    ids, lengths = _batch([6, 2, 4, 1])
    padded, _ = _batch([6, 2, 4, 1], extra_padding=9)

    with torch.no_grad():
        torch.testing.assert_close(model(padded, lengths), model(ids, lengths))


@pytest.mark.parametrize(("name", "changes"), CASES, ids=CASE_IDS)
def test_a_text_shorter_than_the_widest_kernel_works(name, changes):
    ids, lengths = _batch([1])

    with torch.no_grad():
        logits = tiny_model(name, **changes)(ids, lengths)

    assert logits.shape == (1, NUM_CLASSES) and torch.isfinite(logits).all()


def test_causal_padding_never_looks_ahead():
    model = tiny_model("gated_cnn", padding="causal")
    ids, lengths = _batch([8])
    changed = ids.clone()
    changed[0, 5] = (changed[0, 5] + 1) % (VOCAB_SIZE - 2) + 2

    with torch.no_grad():
        before = model.features(ids, lengths)  # (1, 8, hidden)
        after = model.features(changed, lengths)

    torch.testing.assert_close(after[:, :5], before[:, :5])
    assert not torch.allclose(after[:, 5], before[:, 5])


def test_same_padding_does_look_ahead():
    model = tiny_model("gated_cnn", padding="same")
    ids, lengths = _batch([8])
    changed = ids.clone()
    changed[0, 5] = (changed[0, 5] + 1) % (VOCAB_SIZE - 2) + 2

    with torch.no_grad():
        assert not torch.allclose(model.features(changed, lengths)[:, 4], model.features(ids, lengths)[:, 4])


def test_switching_architecture_starts_from_its_defaults():
    config = build_config(RunConfig(), {"model": {"name": "gated_cnn", "num_layers": 2}})

    assert config.model == GatedCNNConfig(num_layers=2)


TRAIN_SETTINGS = {"batch_size": 8, "lr": 0.01, "epochs": 25, "patience": 25, "device": "cpu", "ema_decay": None}


@pytest.mark.parametrize(("name", "changes"), CASES, ids=CASE_IDS)
def test_each_model_overfits_tiny_texts_and_reloads_identically(name, changes, english, tmp_path):
    texts, labels = english
    model = {"name": name, **TINY[name], "embed_dim": 16, "token_dropout": 0.0, "dropout": 0.0, **changes}

    classifier = TextClassifier(model=model, **TRAIN_SETTINGS).fit(texts, labels, dev=(texts, labels), verbose=False)
    reloaded = TextClassifier.load(classifier.save(tmp_path / "bundle"))

    assert classifier.predict(texts) == labels
    np.testing.assert_array_equal(reloaded.predict_proba(texts), classifier.predict_proba(texts))
    assert reloaded.config.model == classifier.config.model
