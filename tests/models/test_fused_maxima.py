"""Training's maxima of every kernel width from one product (``fused_maxima``) give the logits and
gradients of the convolution path: the same training step."""

from __future__ import annotations

import copy

import pytest
import torch

from textcnn.models import TextCNN, fast_kernels, fused_maxima
from textcnn.models.layers import length_mask

from test_prediction_kernels import BATCHES, model_with
from test_registry import _batch

SHAPES = {
    "default kernels": {},
    "learned positions": {"positions": "learned"},
    "multichannel": {"embedding_mode": "multichannel"},
    "one width": {"kernel_sizes": (3,)},
    "widths out of order, one twice": {"kernel_sizes": (4, 1, 2, 1)},
}


def trained(**settings) -> TextCNN:
    """A float64 model in training mode without dropout, so that two forward passes agree."""
    model = model_with(**{"dropout": 0.0, "token_dropout": 0.0, **settings}).double().train()
    if model.embedding.static is not None:  # multichannel: a fixed channel with its own values
        with torch.no_grad():
            model.embedding.static.weight.normal_()
    return model


def step(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor, *, fused: bool) -> tuple[torch.Tensor, dict]:
    """The logits, and the gradient of every parameter of a loss that weighs each logit differently."""
    model.use_fast_kernels = fused
    model.zero_grad(set_to_none=True)
    logits = model(ids, lengths)
    weights = torch.randn(logits.shape, generator=torch.Generator().manual_seed(2), dtype=logits.dtype)
    (logits * weights).sum().backward()
    model.use_fast_kernels = True
    return logits.detach(), {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("batch", BATCHES)
def test_a_training_step_equals_the_convolution_paths(batch, shape, padding, activation):
    model = trained(padding=padding, activation=activation, **SHAPES[shape])
    ids, lengths = _batch(BATCHES[batch], extra_padding=1 if "padded" in batch else 0)
    assert fused_maxima.applies(model, ids)

    logits, grads = step(model, ids, lengths, fused=True)
    expected_logits, expected_grads = step(model, ids, lengths, fused=False)

    torch.testing.assert_close(logits, expected_logits, rtol=0, atol=1e-12)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=0, atol=1e-12, msg=name)


def test_texts_taken_one_at_a_time_give_the_same_step(monkeypatch):
    """Each chunk of texts is its own product: chunks of one text change nothing."""
    model = trained()
    ids, lengths = _batch(BATCHES["many texts padded"])
    logits, grads = step(model, ids, lengths, fused=True)
    monkeypatch.setattr(fused_maxima, "CHUNK_ELEMENTS", 1)

    one_by_one, one_by_one_grads = step(model, ids, lengths, fused=True)

    torch.testing.assert_close(one_by_one, logits, rtol=0, atol=1e-12)
    for name, grad in grads.items():
        torch.testing.assert_close(one_by_one_grads[name], grad, rtol=0, atol=1e-12, msg=name)


def test_the_gradient_is_that_of_the_maxima_by_finite_differences():
    model = trained(kernel_sizes=(1, 2, 4))
    ids, lengths = _batch([6, 2, 4])
    mask = length_mask(lengths, ids.size(1))
    x = model.embed(ids, mask).detach().requires_grad_()
    windows = [model._windows(conv, lengths, ids.size(1), mask) for conv in model.convs]

    assert torch.autograd.gradcheck(lambda inputs: fused_maxima.maxima(model, inputs, windows), (x,))


def test_a_window_into_the_padding_never_wins():
    """A text's maxima are over its own windows: padding the batch further changes no logit."""
    model = trained()
    ids, lengths = _batch([9, 3, 1])
    logits, _ = step(model, ids, lengths, fused=True)
    wider = torch.nn.functional.pad(ids, (0, 7))

    padded, _ = step(model, wider, lengths, fused=True)

    torch.testing.assert_close(padded, logits, rtol=0, atol=1e-12)


def test_a_float32_step_by_the_cpus_product_equals_the_convolution_paths_to_float32_error():
    """In float32 the products go to ``fast_kernels.linear`` (oneDNN where PyTorch has it): the
    logits and every gradient are the convolution path's to float32 rounding."""
    model = trained().float()
    ids, lengths = _batch(BATCHES["many texts padded"], extra_padding=1)
    expected_logits, expected_grads = step(model, ids, lengths, fused=False)

    logits, grads = step(model, ids, lengths, fused=True)

    torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-5)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-5, msg=name)


def test_under_bfloat16_autocast_the_products_are_bfloat16_and_exact_where_the_inputs_are(monkeypatch):
    """Inputs and kernels of small integers have exact bfloat16 products: the maxima are then the
    float64 path's exactly (ties and all); both gradients are float32 sums, the inputs' checked
    within the bfloat16 rounding of the pooled gradient, the kernels' within float32's."""
    model = trained(kernel_sizes=(1, 2, 4))
    ids, lengths = _batch([6, 2, 4])
    mask = length_mask(lengths, ids.size(1))
    windows = [model._windows(conv, lengths, ids.size(1), mask) for conv in model.convs]
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for conv in model.convs:
            conv.weight.copy_(torch.randint(-1, 2, conv.weight.shape, generator=generator))
            conv.bias.copy_(torch.randint(-2, 3, conv.bias.shape, generator=generator))
    inputs = torch.randint(-1, 2, (*ids.shape, model.config.embed_dim), generator=generator).double() * mask[..., None]
    pooled_grad = torch.randn(len(ids), 3 * model.config.num_filters, generator=generator, dtype=torch.float64)
    low = copy.deepcopy(model).float()

    def gradients(network: TextCNN, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = x.clone().requires_grad_()
        values = fused_maxima.maxima(network, x, windows)
        (values * pooled_grad.to(values.dtype)).sum().backward()
        return values.detach(), x.grad, *[conv.weight.grad for conv in network.convs]

    expected = gradients(model, inputs)
    dtypes, real_linear = [], fast_kernels.linear
    monkeypatch.setattr(fast_kernels, "linear", lambda a, weight: dtypes.append(a.dtype) or real_linear(a, weight))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values, x_grad, *kernel_grads = gradients(low, inputs.float())
    monkeypatch.undo()

    assert dtypes and set(dtypes) == {torch.bfloat16}  # the forward product (the backward pass multiplies nothing)
    assert values.dtype == torch.float32 and torch.equal(values.double(), expected[0])
    torch.testing.assert_close(x_grad.double(), expected[1], rtol=1e-2, atol=1e-2)
    for grad, reference in zip(kernel_grads, expected[2:]):
        torch.testing.assert_close(grad.double(), reference, rtol=1e-5, atol=1e-5)


def test_it_applies_to_training_on_a_cpu_in_float32_and_under_bfloat16_autocast():
    model = model_with().train()
    ids, _ = _batch([5, 4])
    assert fused_maxima.applies(model, ids)
    with torch.no_grad():
        assert not fused_maxima.applies(model, ids)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fused_maxima.applies(model, ids)
    with torch.autocast("cpu", dtype=torch.float16):
        assert not fused_maxima.applies(model, ids)
    assert not fused_maxima.applies(model_with(num_filters=2).train(), ids)  # fast_kernels' matmul form


def test_the_maximum_over_time_and_its_earliest_time_are_torch_max():
    generator = torch.Generator().manual_seed(3)
    h = torch.randint(-3, 3, (6, 11, 40), generator=generator).float()  # many ties
    h[:, 7:] = float("-inf")  # windows outside the text
    h[0] = float("-inf")
    h[0, 4] = 1.0  # a text with one window

    values, winners = fused_maxima._max_over_time(h.clone())

    expected = torch.max(h, dim=1)
    assert torch.equal(values, expected.values)
    assert torch.equal(winners, expected.indices)
