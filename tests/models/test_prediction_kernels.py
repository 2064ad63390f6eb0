"""Prediction's max-pooled features (maxima alone, no mask for batches without padding, window
products for small batches and in bfloat16) equal the features that training and explanations pool."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textcnn.config import TextCNNConfig
from textcnn.data.batching import equal_length_batches
from textcnn.models import TextCNN, build_model
from textcnn.models import fast_kernels
from textcnn.models.layers import length_mask

from test_registry import NUM_CLASSES, VOCAB_SIZE, _batch

pytestmark = pytest.mark.usefixtures("without_token_products")  # the paths for tables too large to keep

BATCHES = {
    "one text": [9],
    "one text shorter than a kernel": [2],
    "few texts padded": [7, 3, 1, 5],
    "equal lengths": [6] * 40,
    "many texts padded": [int(n) for n in np.random.default_rng(0).integers(1, 30, size=64)],
}


def model_with(vocab_size: int = VOCAB_SIZE, **settings) -> TextCNN:
    torch.manual_seed(0)
    settings = {"embed_dim": 24, "kernel_sizes": (1, 2, 3, 5), "num_filters": fast_kernels.MATMUL_BELOW_FILTERS, **settings}
    model = build_model(TextCNNConfig(**settings), vocab_size=vocab_size, num_classes=NUM_CLASSES).eval()
    with torch.no_grad():  # a bias that moves the ReLU threshold, so the pooling sees both signs
        for conv in model.convs:
            conv.bias.normal_()
    return model


def pooled_logits(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The logits from the features that training pools (activation, mask, max with winners)."""
    return model.classifier(model.pooled(ids, lengths).features)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("batch", BATCHES)
def test_predicted_logits_equal_those_of_the_pooled_features(batch, padding, activation):
    model = model_with(padding=padding, activation=activation)
    ids, lengths = _batch(BATCHES[batch], extra_padding=1 if "padded" in batch else 0)
    with torch.inference_mode():
        expected = pooled_logits(model, ids, lengths)
        torch.testing.assert_close(model(ids, lengths), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("batch", BATCHES)
def test_the_pooled_features_are_the_predicted_ones_bit_for_bit(batch, padding, activation):
    """Explanations read their logits off ``pooled``: it must take the maps prediction takes."""
    model = model_with(padding=padding, activation=activation)
    ids, lengths = _batch(BATCHES[batch], extra_padding=1 if "padded" in batch else 0)
    with torch.inference_mode():
        assert torch.equal(model(ids, lengths), pooled_logits(model, ids, lengths))


def test_small_batches_take_the_window_products_and_large_ones_the_convolution(conv_calls):
    model = model_with()
    small = _batch([9, 4])
    large = _batch([fast_kernels.WINDOW_GEMM_MAX_TOKENS] * 2)
    with torch.inference_mode():
        model(*small)
        assert not conv_calls and torch.float32 in model.kernel_cache.window_kernels
        model(*large)
    assert len(conv_calls) == len(model.convs)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("batch", ["one text", "few texts padded", "many texts padded"])
def test_bfloat16_prediction_is_close_to_float32_and_keeps_the_labels(batch, padding):
    model = model_with(padding=padding)
    ids, lengths = _batch(BATCHES[batch], extra_padding=1)
    with torch.inference_mode():
        expected = pooled_logits(model, ids, lengths)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(ids, lengths)
    assert low.dtype == torch.float32 or low.dtype == torch.bfloat16
    assert torch.bfloat16 in model.kernel_cache.window_kernels
    torch.testing.assert_close(low.float(), expected, rtol=0, atol=0.05)
    margin = expected.topk(2, dim=1).values.diff(dim=1).abs().squeeze(1)  # clear decisions keep their label
    clear = margin > 0.1
    assert torch.equal(low.argmax(1)[clear], expected.argmax(1)[clear])


def test_window_kernels_follow_new_weights():
    model = model_with()
    ids, lengths = _batch([9])
    with torch.inference_mode():
        before = model(ids, lengths)
    with torch.no_grad():
        model.convs[1].weight.mul_(-1.0)
    with torch.inference_mode():
        after = model(ids, lengths)
        torch.testing.assert_close(after, pooled_logits(model, ids, lengths), rtol=0, atol=1e-5)
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_equal_length_batches_cover_every_text_once_and_keep_common_lengths_alone(batch_size):
    lengths = np.concatenate([np.full(50, 7), np.full(9, 3), np.arange(10, 30), np.full(3, 40)])
    np.random.default_rng(1).shuffle(lengths)

    batches = equal_length_batches(lengths, batch_size, min_group=8)

    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= batch_size for batch in batches)
    for batch in batches:
        if any(lengths[batch] == 7) or any(lengths[batch] == 3):  # lengths with at least 8 texts: alone
            assert len(set(lengths[batch].tolist())) == 1
    assert np.all(np.diff([lengths[batch].min() for batch in batches]) >= 0)  # shortest first


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_bfloat16_training_maps_match_conv1d_and_pass_gradients_to_the_kernels(padding):
    model = model_with(padding=padding).train()
    ids, lengths = _batch(BATCHES["few texts padded"], extra_padding=1)
    mask = length_mask(lengths, ids.size(1))
    expected = model._convolve(model.embed(ids, mask))

    maps = fast_kernels.window_maps(model, ids, mask)

    for got, want in zip(maps, expected):
        assert got.shape == want.shape and got.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), want, rtol=0, atol=0.05)  # bfloat16 rounding of inputs and kernels
    sum(h.float().square().sum() for h in maps).backward()
    grads = [conv.weight.grad for conv in model.convs]
    model.zero_grad()
    sum(h.square().sum() for h in expected).backward()
    for got, conv in zip(grads, model.convs):
        assert got.dtype == torch.float32
        assert torch.nn.functional.cosine_similarity(got.flatten(), conv.weight.grad.flatten(), dim=0) > 0.999
