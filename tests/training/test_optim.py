"""Optimizer and schedule: the TrainConfig options do what their descriptions say."""

from __future__ import annotations

import pytest
import torch

from textcnn.config import TextCNNConfig, TrainConfig
from textcnn.models import build_model
from textcnn.training.optim import build_optimizer, build_scheduler


def _model():
    return build_model(TextCNNConfig(embed_dim=8, num_filters=4, kernel_sizes=(2,)), vocab_size=20, num_classes=2)


def _learning_rates(config: TrainConfig, steps_per_epoch: int) -> list[float]:
    optimizer = build_optimizer(_model(), config)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    rates = []
    for _ in range(config.epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_constant_schedule_keeps_the_learning_rate():
    assert set(_learning_rates(TrainConfig(epochs=3, lr=0.01, schedule="constant"), 4)) == {0.01}


def test_warmup_rises_linearly_to_the_peak():
    rates = _learning_rates(TrainConfig(epochs=3, lr=0.01, warmup_epochs=1.0), 4)

    assert rates[:5] == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01])


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_decaying_schedules_fall_towards_zero(schedule):
    rates = _learning_rates(TrainConfig(epochs=4, lr=0.01, schedule=schedule), 5)

    assert rates[0] == pytest.approx(0.01)
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))
    assert rates[-1] < 0.001


def test_weight_decay_spares_biases_and_embeddings():
    model = _model()
    optimizer = build_optimizer(model, TrainConfig(weight_decay=0.01))

    assert isinstance(optimizer, torch.optim.AdamW)
    decayed = {id(p) for group in optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]}
    names = {name for name, p in model.named_parameters() if id(p) in decayed}
    assert names == {"convs.0.weight", "classifier.weight"}
