"""Class imbalance in the loss: inverse-frequency class weights and per-label pos_weight, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from textcnn.config import TrainConfig
from textcnn.training.losses import build_loss, class_weights, pos_weights

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-0.5, 1.5, 0.0], [1.0, -1.0, 2.0]])


def test_balanced_class_weights_are_n_over_classes_times_count():
    targets = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])  # 6 / 2 / 1 of 9

    assert class_weights(targets, 4).tolist() == pytest.approx([9 / 24, 9 / 8, 9 / 4, 0.0])  # class 3 absent


def test_weighted_cross_entropy_equals_the_hand_computed_value():
    train_targets = np.array([0] * 6 + [1] * 2 + [2])
    batch_targets = torch.tensor([0, 1, 2, 0])
    weights = [9 / 18, 9 / 6, 9 / 3]

    loss = build_loss(TrainConfig(class_weight="balanced"), train_targets, 3)(LOGITS, batch_targets)

    log_softmax = torch.log_softmax(LOGITS, dim=1)
    terms = [weights[t] * -log_softmax[i, t].item() for i, t in enumerate(batch_targets.tolist())]
    expected = sum(terms) / sum(weights[t] for t in batch_targets.tolist())  # PyTorch's weighted mean
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    unweighted = build_loss(TrainConfig(), train_targets, 3)(LOGITS, batch_targets)
    assert unweighted.item() == pytest.approx(-log_softmax[range(4), batch_targets].mean().item(), rel=1e-6)
    assert loss.item() != pytest.approx(unweighted.item())


def test_pos_weight_is_negatives_over_positives_clipped():
    targets = np.array([[1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 1]] * 10, dtype=np.float32)  # 10, 10, 40 of 40

    assert pos_weights(targets, max_weight=2.0).tolist() == [2.0, 2.0, 1.0]  # 30/10 clipped; 0/40 raised to 1
    assert pos_weights(targets, max_weight=30.0).tolist() == [3.0, 3.0, 1.0]


def test_balanced_multilabel_loss_weights_the_positives():
    train_targets = np.array([[1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 1]], dtype=np.float32)
    batch_targets = torch.tensor(train_targets)

    loss = build_loss(TrainConfig(class_weight="balanced"), train_targets, 3)(LOGITS, batch_targets)

    pos_weight = [3.0, 3.0, 1.0]
    expected = 0.0
    for i in range(4):
        for j in range(3):
            p = 1 / (1 + math.exp(-LOGITS[i, j].item()))
            y = train_targets[i, j]
            expected -= pos_weight[j] * y * math.log(p) + (1 - y) * math.log(1 - p)
    assert loss.item() == pytest.approx(expected / 12, rel=1e-5)
