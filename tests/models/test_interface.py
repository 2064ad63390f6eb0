"""The declared model interface (``TextModel``, ``Pooled``): every architecture implements it, and
the winning windows that ``pooled`` reports are the ones whose values the features hold."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from textcnn.config import TextCNNConfig
from textcnn.models import Ensemble, Pooled, TextCNN, TextModel, build_model
from textcnn.models.layers import length_mask, masked_max_pool_with_indices

from test_registry import CASE_IDS, CASES, NUM_CLASSES, VOCAB_SIZE, _batch, tiny_model


def textcnn(**changes) -> TextCNN:
    torch.manual_seed(0)
    config = TextCNNConfig(**{"embed_dim": 8, "kernel_sizes": (1, 2, 3, 5), "num_filters": 3, **changes})
    model = build_model(config, vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES).eval()
    with torch.no_grad():  # a bias that moves the ReLU threshold, so some windows win above 0
        for conv in model.convs:
            conv.bias.normal_()
    return model


def window_values(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor, pooled: Pooled) -> torch.Tensor:
    """(batch, num_features): each feature's filter applied anew to the window ``pooled`` names,
    tokens outside the text counting as zeros."""
    ids = F.pad(ids, (0, max(0, model.min_len - ids.size(1))))
    x = model.embed(ids, length_mask(lengths, ids.size(1)))  # (batch, seq_len, embed_dim), zero at padding
    filters = model.config.num_filters
    values = torch.empty_like(pooled.features)
    for row in range(ids.size(0)):
        for feature in range(pooled.features.size(1)):
            conv = model.convs[feature // filters]
            start, width = int(pooled.positions[row, feature]), int(pooled.widths[feature])
            inside = [t for t in range(start, start + width) if 0 <= t < int(lengths[row])]
            total = conv.bias[feature % filters].clone()
            for t in inside:
                total = total + conv.weight[feature % filters, :, t - start] @ x[row, t]
            values[row, feature] = model.activation(total)
    return values


@pytest.mark.parametrize(("name", "changes"), CASES, ids=CASE_IDS)
def test_every_architecture_implements_the_interface(name, changes):
    model = tiny_model(name, **changes)
    ids, lengths = _batch([5, 3, 7, 2])

    with torch.no_grad():
        logits, pooled = model(ids, lengths), model.pooled(ids, lengths)

    assert isinstance(model, TextModel) and isinstance(pooled, Pooled)
    assert type(model.min_len) is int and model.min_len >= 1
    assert model.num_outputs == NUM_CLASSES and logits.shape == (4, NUM_CLASSES)
    assert pooled.features.ndim == 2 and pooled.features.size(0) == 4
    if not changes.get("ngram_bag"):  # the output layer reads exactly the pooled features (eval: no dropout)
        torch.testing.assert_close(model.classifier(pooled.features), logits)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-kernels", "conv1d"])
@pytest.mark.parametrize("positions", ["none", "learned"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_positions_name_the_window_whose_value_won(padding, positions, fast):
    model = textcnn(padding=padding, positions=positions)
    model.use_fast_kernels = fast
    ids, lengths = _batch([7, 3, 1, 5], extra_padding=2)

    with torch.inference_mode():
        pooled = model.pooled(ids, lengths)
        recomputed = window_values(model, ids, lengths, pooled)

    assert pooled.positions.dtype == torch.int64 and pooled.positions.shape == pooled.features.shape
    assert pooled.widths.tolist() == [k for k in (1, 2, 3, 5) for _ in range(3)]
    torch.testing.assert_close(recomputed, pooled.features, rtol=0, atol=1e-5)
    assert (pooled.features > 0).float().mean() > 0.5  # most winners are real windows, not ties at 0
    first = -((pooled.widths - 1) // 2) if padding == "same" else torch.zeros_like(pooled.widths)  # (num_features,)
    last = lengths[:, None] - 1 + first if padding == "same" else (lengths[:, None] - pooled.widths).clamp(min=0)
    assert bool(((pooled.positions >= first) & (pooled.positions <= last)).all())  # a window of the text


@pytest.mark.parametrize("fast", [True, False], ids=["fast-kernels", "conv1d"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_ties_go_to_the_earliest_window(padding, fast):
    model = textcnn(padding=padding)
    model.use_fast_kernels = fast
    with torch.no_grad():
        for conv in model.convs:
            conv.bias.fill_(-100.0)  # every window below the ReLU threshold: all tie at 0
    ids, lengths = _batch([7, 3, 1, 5], extra_padding=2)

    with torch.inference_mode():
        pooled = model.pooled(ids, lengths)

    assert not pooled.features.any()
    first = -((pooled.widths - 1) // 2) if padding == "same" else torch.zeros_like(pooled.widths)
    assert torch.equal(pooled.positions, first.expand_as(pooled.positions))


def test_masked_max_pool_picks_the_earliest_real_maximum():
    features = torch.tensor([[[1.0, 3.0, 3.0, 9.0]], [[2.0, 2.0, 2.0, 2.0]]])  # (batch 2, channels 1, time 4)
    mask = torch.tensor([[True, True, True, False], [False, True, True, True]])

    values, indices = masked_max_pool_with_indices(features, mask)

    assert values.tolist() == [[3.0], [2.0]] and indices.tolist() == [[1], [1]]


@pytest.mark.parametrize(
    ("name", "changes"),
    [("textcnn", {"pooling": kind}) for kind in ("avg", "max_avg", "kmax", "attention")]
    + [("gated_cnn", {}), ("transformer", {})],
)
def test_poolings_without_one_winner_give_no_positions(name, changes):
    model = tiny_model(name, **changes)
    ids, lengths = _batch([5, 2])

    with torch.no_grad():
        pooled = model.pooled(ids, lengths)

    assert pooled.positions is None and pooled.widths is None and pooled.features.size(0) == 2


def test_an_ensemble_pools_its_members_side_by_side_and_constrains_each():
    members = [textcnn(max_norm=1.0), textcnn(kernel_sizes=(2,), max_norm=1.0)]
    ensemble = Ensemble(members).eval()
    ids, lengths = _batch([6, 2])

    with torch.no_grad():
        pooled, parts = ensemble.pooled(ids, lengths), [member.pooled(ids, lengths) for member in members]

    torch.testing.assert_close(pooled.features, torch.cat([part.features for part in parts], dim=1))
    assert torch.equal(pooled.positions, torch.cat([part.positions for part in parts], dim=1))
    assert pooled.widths.tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 5, 5, 5, 2, 2, 2]
    with torch.no_grad():
        for member in members:
            member.classifier.weight.mul_(100.0)
    ensemble.apply_constraints()
    assert all(bool((member.classifier.weight.norm(dim=1) <= 1.0 + 1e-5).all()) for member in members)
    with torch.no_grad():  # without positions in one member, none for the ensemble
        assert Ensemble([members[0], textcnn(pooling="avg")]).pooled(ids, lengths).positions is None
