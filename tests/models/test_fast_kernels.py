"""The CPU fast kernels give what TextCNN's Conv1d path gives: logits, pooled features, winners, gradients."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from textcnn.config import TextCNNConfig
from textcnn.models import Ensemble, TextCNN, build_model
from textcnn.models import fast_kernels

from test_interface import window_values
from test_registry import NUM_CLASSES, VOCAB_SIZE, _batch

pytestmark = pytest.mark.usefixtures("without_token_products")  # the paths for tables too large to keep

# Shapes where inference gathers folded products (sum(k) * num_filters < embed_dim, no positions),
# and shapes where only the matmul form applies.
SHAPES: dict[str, dict[str, Any]] = {
    "fold-k124": {"embed_dim": 32, "kernel_sizes": (1, 2, 4), "num_filters": 2},
    "fold-k35": {"embed_dim": 32, "kernel_sizes": (3, 5), "num_filters": 3},
    "matmul-wide-table": {"embed_dim": 8, "kernel_sizes": (1, 2, 4), "num_filters": 4},
    "matmul-positions": {"embed_dim": 32, "kernel_sizes": (2, 3), "num_filters": 2, "positions": "learned"},
}
LENGTHS = [7, 3, 1, 5]  # texts shorter than the widest kernel too; each row padded by a different amount


def tiny(mode: str = "rand", **settings: Any) -> TextCNN:
    torch.manual_seed(0)
    vectors = torch.randn(VOCAB_SIZE, settings["embed_dim"]) if mode != "rand" else None
    config = TextCNNConfig(**settings, embedding_mode=mode)
    model = build_model(config, vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES, vectors=vectors).eval()
    with torch.no_grad():  # a bias that moves the ReLU threshold, so the pooling sees both signs
        for conv in model.convs:
            conv.bias.normal_()
    return model


def plain(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor):
    """The Conv1d path's logits and pooled features."""
    model.use_fast_kernels = False
    try:
        return model(ids, lengths), model.pooled(ids, lengths)
    finally:
        model.use_fast_kernels = True


def assert_same_pooling(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor, fast, expected) -> None:
    """Equal features; equal winners, or where float rounding picked another of windows whose values
    tie (a repeated token), windows that hold the winning value too."""
    torch.testing.assert_close(fast.features, expected.features, rtol=0, atol=1e-5)
    if expected.positions is None:
        assert fast.positions is None
        return
    assert torch.equal(fast.widths, expected.widths)
    other = fast.positions != expected.positions
    assert other.float().mean() < 0.1
    for pooled in (fast, expected):
        torch.testing.assert_close(window_values(model, ids, lengths, pooled)[other], fast.features[other], rtol=0, atol=1e-5)


@pytest.mark.parametrize("mode", ["rand", "multichannel"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("shape", SHAPES)
def test_inference_by_fast_kernels_equals_the_conv1d_path(shape, padding, mode):
    model = tiny(mode, **SHAPES[shape], padding=padding)
    ids, lengths = _batch(LENGTHS, extra_padding=2)
    with torch.no_grad():
        expected_logits, expected = plain(model, ids, lengths)

    with torch.inference_mode():
        logits, pooled = model(ids, lengths), model.pooled(ids, lengths)

    assert fast_kernels.applies(model, ids)
    assert (model.kernel_cache.table is not None) == shape.startswith("fold")  # which form ran
    torch.testing.assert_close(logits, expected_logits, rtol=0, atol=1e-5)
    assert_same_pooling(model, ids, lengths, pooled, expected)
    with torch.no_grad():  # outside inference mode: the matmul form, never the table
        torch.testing.assert_close(model(ids, lengths), expected_logits, rtol=0, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pooling", ["max_avg", "kmax", "attention"])
@pytest.mark.parametrize("shape", ["fold-k124", "matmul-wide-table"])
def test_every_pooling_sees_the_same_maps(shape, pooling, padding):
    model = tiny(**SHAPES[shape], padding=padding, pooling=pooling, kmax_k=3)
    ids, lengths = _batch(LENGTHS, extra_padding=2)
    with torch.no_grad():
        expected_logits, expected = plain(model, ids, lengths)

    with torch.inference_mode():
        torch.testing.assert_close(model(ids, lengths), expected_logits, rtol=0, atol=1e-5)
        assert_same_pooling(model, ids, lengths, model.pooled(ids, lengths), expected)


@pytest.mark.parametrize("mode", ["rand", "multichannel"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_training_by_the_matmul_form_gets_the_conv1d_gradients(padding, mode):
    model = tiny(mode, **SHAPES["fold-k124"], padding=padding, embed_dropout=0.3).train()  # and word dropout
    ids, lengths = _batch(LENGTHS, extra_padding=2)
    gradients = []
    for fast in (True, False):
        model.use_fast_kernels = fast
        model.zero_grad()
        torch.manual_seed(5)  # the same dropout draws: both paths draw them in the same order
        logits = model(ids, lengths)
        logits.pow(2).sum().backward()
        gradients.append((logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}))

    (fast_logits, fast_grads), (plain_logits, plain_grads) = gradients
    assert model.kernel_cache.table is None  # training never folds
    torch.testing.assert_close(fast_logits, plain_logits, rtol=0, atol=1e-5)
    assert fast_grads.keys() == plain_grads.keys() and "convs.0.weight" in fast_grads
    for name in fast_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], rtol=1e-5, atol=1e-5, msg=name)


def test_the_folded_table_follows_changed_weights():
    model = tiny(**SHAPES["fold-k124"])
    ids, lengths = _batch([6, 4])
    with torch.inference_mode():
        before = model(ids, lengths)
    changes = [
        lambda: model.embedding.weight[2:].mul_(-1.0),  # an optimizer step changes weights in place
        lambda: model.convs[1].weight.add_(0.5),
        lambda: model.load_state_dict({key: value + 0.1 for key, value in model.state_dict().items()}),
    ]
    for change in changes:
        with torch.no_grad():
            change()
            expected = plain(model, ids, lengths)[0]
        with torch.inference_mode():
            after = model(ids, lengths)

        torch.testing.assert_close(after, expected, rtol=0, atol=1e-5)
        assert not torch.allclose(after, before)
        before = after


def test_export_form_freezes_the_table_in_a_copy_only():
    members = [tiny(**SHAPES["fold-k124"]), tiny(**SHAPES["matmul-wide-table"])]
    ensemble = Ensemble(members).eval()
    ids, lengths = _batch(LENGTHS, extra_padding=2)
    with torch.no_grad():
        expected = ensemble(ids, lengths)

    exported = fast_kernels.export_form(ensemble)

    assert exported is not ensemble and members[0].kernel_cache.frozen is None
    folded, unfolded = exported.members
    assert tuple(folded.kernel_cache.frozen.shape) == (VOCAB_SIZE, 2 * (1 + 2 + 4)) and unfolded.kernel_cache.frozen is None
    with torch.no_grad():  # as torch.export traces it: no inference mode, the frozen table all the same
        torch.testing.assert_close(exported(ids, lengths), expected, rtol=0, atol=1e-5)
    assert fast_kernels.export_form(members[1]) is members[1]  # nothing to fold: no copy


def test_many_filters_take_the_convolution_path_beyond_a_few_texts(conv_calls):
    model = tiny(embed_dim=32, kernel_sizes=(2,), num_filters=fast_kernels.MATMUL_BELOW_FILTERS)
    ids, lengths = _batch([fast_kernels.WINDOW_GEMM_MAX_TOKENS // 4] * 5)

    with torch.inference_mode():
        model(ids, lengths)

    assert len(conv_calls) == 1 and model.kernel_cache.table is None and not model.kernel_cache.window_kernels
