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


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_fused_optimizer_steps_like_the_plain_one(weight_decay):
    fused_model, plain_model = _model().eval(), _model().eval()  # eval: no random dropout
    plain_model.load_state_dict(fused_model.state_dict())
    fused = build_optimizer(fused_model, TrainConfig(lr=0.01, weight_decay=weight_decay))
    twin = dict(zip(fused_model.parameters(), plain_model.parameters()))
    groups = [{**group, "params": [twin[p] for p in group["params"]], "fused": None} for group in fused.param_groups]
    plain = type(fused)(groups)
    ids, lengths = torch.randint(0, 20, (6, 5)), torch.full((6,), 5)

    for _ in range(5):
        for model, optimizer in ((fused_model, fused), (plain_model, plain)):
            optimizer.zero_grad()
            model(ids, lengths).square().sum().backward()
            optimizer.step()

    assert fused.defaults["fused"]
    for a, b in zip(fused_model.parameters(), plain_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
