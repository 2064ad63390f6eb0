"""Trainer.fit: seeded runs repeat exactly, early stopping keeps its promise, the best epoch is kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textcnn.config import TextCNNConfig, TrainConfig
from textcnn.data.encoding import build_compact_vocab, encode_compact, tokenize_compact
from textcnn.data.labels import LabelSet
from textcnn.data.tokenizers import WordTokenizer
from textcnn.errors import ConfigError
from textcnn.models import build_model, fast_kernels, token_products
from textcnn.inference.logits import predict_logits, softmax
from textcnn.training.reproducibility import resolve_device, seed_everything
from textcnn.training.trainer import Trainer


def _fit(train_config: TrainConfig, corpus: tuple[list[str], list[str]], *, dev_size: int = 40, num_filters: int = 8):
    texts, labels = corpus
    tokenized = tokenize_compact(texts, WordTokenizer())
    vocab = build_compact_vocab(tokenized)
    label_set = LabelSet.from_labels(labels)
    encoded = encode_compact(tokenized, vocab, max_len=16)
    targets = label_set.encode(labels)
    dev = encoded.select(np.arange(dev_size))
    rng = seed_everything(train_config.seed)
    model = build_model(
        TextCNNConfig(embed_dim=16, num_filters=num_filters, kernel_sizes=(2, 3)), vocab_size=len(vocab), num_classes=2
    )
    result = Trainer(train_config, device=torch.device("cpu"), rng=rng, ).fit(
        model, encoded, targets, dev, targets[:dev_size], label_set.labels
    )
    return model, result, dev, targets[:dev_size]


def test_same_seed_gives_the_same_weights(english):
    config = TrainConfig(epochs=3, batch_size=8, lr=0.03, seed=7)

    first, _, _, _ = _fit(config, english)
    second, _, _, _ = _fit(config, english)

    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("patience", [1, 2])
def test_training_stops_patience_epochs_after_the_best_one(english, patience):
    config = TrainConfig(epochs=30, batch_size=8, lr=0.03, patience=patience)

    _, result, _, _ = _fit(config, english)

    assert len(result.history) == min(config.epochs, result.best_epoch + patience)
    assert result.stopped_early == (len(result.history) < config.epochs)
    assert [record.epoch for record in result.history if record.best][-1] == result.best_epoch


def test_the_model_returned_holds_the_best_epoch(english):
    config = TrainConfig(epochs=6, batch_size=8, lr=0.03, patience=6)

    model, result, dev, dev_targets = _fit(config, english, dev_size=10)

    accuracy = float((predict_logits(model, dev).argmax(axis=1) == dev_targets).mean())
    assert accuracy == result.best_score
    assert result.best_score == max(record.dev_accuracy for record in result.history)
    assert not model.training


def test_the_dev_evaluations_predict_by_products_and_fill_no_table(english, monkeypatch):
    fills = []
    monkeypatch.setattr(token_products.TokenProducts, "fill", lambda self, model, ids: fills.append(len(ids)))
    config = TrainConfig(epochs=3, batch_size=8, lr=0.03, patience=3)

    model, result, dev, dev_targets = _fit(config, english, dev_size=10, num_filters=fast_kernels.MATMUL_BELOW_FILTERS)

    assert fills == [] and len(result.history) == 3  # each epoch's weights predicted once, by products
    with torch.inference_mode():
        assert token_products.applies(model, torch.zeros(1, 4, dtype=torch.long))  # the model kept predicts by lookups
    monkeypatch.undo()
    accuracy = float((predict_logits(model, dev).argmax(axis=1) == dev_targets).mean())
    assert accuracy == result.best_score  # the lookups score the kept epoch as its evaluation did


def test_without_dev_it_trains_the_given_epochs_and_keeps_the_last_weights(english):
    texts, labels = english
    tokenized = tokenize_compact(texts, WordTokenizer())
    vocab = build_compact_vocab(tokenized)
    label_set = LabelSet.from_labels(labels)
    encoded = encode_compact(tokenized, vocab, max_len=16)
    config = TrainConfig(epochs=10, batch_size=8, lr=0.03, ema_decay=None)
    model = build_model(TextCNNConfig(embed_dim=16, num_filters=8, kernel_sizes=(2, 3)), vocab_size=len(vocab), num_classes=2)
    trainer = Trainer(config, device=torch.device("cpu"), rng=seed_everything(1), )

    result = trainer.fit(model, encoded, label_set.encode(labels), None, None, label_set.labels, epochs=4)

    assert [record.epoch for record in result.history] == [1, 2, 3, 4]
    assert result.best_epoch == 4
    with pytest.raises(ValueError, match="epochs must be given"):
        trainer.fit(model, encoded, label_set.encode(labels), None, None, label_set.labels)


def test_softmax_rows_sum_to_one():
    probabilities = softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))

    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities[1], [0.5, 0.5])


def test_predict_logits_of_no_texts_is_empty(english):
    texts, _ = english
    vocab = build_compact_vocab(tokenize_compact(texts, WordTokenizer()))
    model = build_model(TextCNNConfig(embed_dim=8, num_filters=4, kernel_sizes=(2,)), vocab_size=len(vocab), num_classes=3)

    assert predict_logits(model, encode_compact(tokenize_compact([], WordTokenizer()), vocab, max_len=8)).shape == (0, 3)


def test_auto_device_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_asking_for_cuda_without_it_names_the_setting(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    with pytest.raises(ConfigError, match=r"train\.device: 'cuda:1' was asked for but CUDA is not available"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("scale", [0.01, 100.0], ids=["norm within bounds", "norm above the bound"])
def test_clipping_scales_the_gradients_as_clip_grad_norm_does(scale):
    from textcnn.training.trainer import clip_gradients

    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Embedding(30, 4), torch.nn.Linear(4, 3)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    for model in models:
        model(torch.tensor([[1, 2, 5]])).sum().mul(scale).backward()
    norm_before = torch.nn.utils.get_total_norm([p.grad for p in models[0].parameters()])

    clip_gradients(models[0], max_norm=1.0)
    torch.nn.utils.clip_grad_norm_(models[1].parameters(), max_norm=1.0)

    for ours, theirs in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(ours.grad, theirs.grad)
    clipped = torch.nn.utils.get_total_norm([p.grad for p in models[0].parameters()])
    assert (clipped < norm_before) == (scale > 1)
