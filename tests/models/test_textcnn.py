"""The model contract on a tiny config: shapes, padding invariance, short texts, the registry."""

from __future__ import annotations

import pytest
import torch

from textcnn.config import TextCNNConfig
from textcnn.models import MODELS, TextCNN, build_model

VOCAB_SIZE, NUM_CLASSES = 50, 3


def tiny_config(**changes) -> TextCNNConfig:
    return TextCNNConfig(embed_dim=8, kernel_sizes=(2, 3), num_filters=4, **changes)


def tiny_model(**changes) -> TextCNN:
    torch.manual_seed(0)
    return build_model(tiny_config(**changes), vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES).eval()


def _batch(lengths: list[int], extra_padding: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    seq_len = max(lengths) + extra_padding
    ids = torch.zeros(len(lengths), seq_len, dtype=torch.long)  # (batch, seq_len), 0 = <pad>
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(2, VOCAB_SIZE, (length,), generator=generator)
    return ids, torch.tensor(lengths)


def test_build_model_by_name():
    model = build_model(tiny_config(), vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES)

    assert isinstance(model, TextCNN)
    assert MODELS["textcnn"] is TextCNN


def test_logits_shape():
    model = build_model(tiny_config(), vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES)
    ids, lengths = _batch([5, 3, 7, 2])

    logits = model(ids, lengths)

    assert logits.shape == (4, NUM_CLASSES)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_padding_does_not_change_logits(pooling):
    model = tiny_model(pooling=pooling)
    ids, lengths = _batch([6, 2, 4, 1])
    padded, _ = _batch([6, 2, 4, 1], extra_padding=9)

    with torch.no_grad():
        tight = model(ids, lengths)
        loose = model(padded, lengths)

    torch.testing.assert_close(loose, tight)


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_a_text_scores_the_same_alone_and_in_a_batch(pooling):
    model = tiny_model(pooling=pooling)
    ids, lengths = _batch([6, 2, 4, 1])

    with torch.no_grad():
        together = model(ids, lengths)
        alone = torch.cat([model(ids[i : i + 1, : lengths[i]], lengths[i : i + 1]) for i in range(4)])

    torch.testing.assert_close(alone, together)


@pytest.mark.parametrize("length", [1, 2])
def test_text_shorter_than_the_widest_kernel(length):
    model = tiny_model()
    ids, lengths = _batch([length])

    with torch.no_grad():
        logits = model(ids, lengths)

    assert logits.shape == (1, NUM_CLASSES)
    assert torch.isfinite(logits).all()


def test_pad_embedding_is_zero_and_gets_no_gradient():
    model = tiny_model()
    ids, lengths = _batch([3, 5])

    model.train()
    model(ids, lengths).sum().backward()

    assert torch.count_nonzero(model.embedding.weight[0]) == 0
    assert torch.count_nonzero(model.embedding.weight.grad[0]) == 0


def test_eval_mode_is_deterministic_despite_dropout():
    model = tiny_model(dropout=0.5, embed_dropout=0.5)
    ids, lengths = _batch([5, 3])

    with torch.no_grad():
        torch.testing.assert_close(model(ids, lengths), model(ids, lengths), rtol=0, atol=0)


@pytest.mark.parametrize(("vocab_size", "num_classes"), [(1, 2), (50, 0)])
def test_impossible_sizes_are_rejected(vocab_size, num_classes):
    with pytest.raises(ValueError):
        build_model(tiny_config(), vocab_size=vocab_size, num_classes=num_classes)
