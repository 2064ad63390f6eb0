"""Prediction from the table of token products equals the convolution's, gives a text the same
features in any batch and after any other texts, is what explanations pool, follows new weights,
computes only the blocks of the tokens it meets, and stays out of training, autocast and the
models it cannot serve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textcnn.models import TextCNN, fast_kernels, token_products
from textcnn.models.ensemble import Ensemble

from test_prediction_kernels import model_with as model_of_small_kernels

VOCAB = 300  # ten blocks of the table

BATCHES = {
    "one text": [9],
    "one text shorter than every kernel but one": [2],
    "an empty text among others": [7, 0, 3, 5],
    "equal lengths": [6] * 12,
    "many texts padded": [int(n) for n in np.random.default_rng(0).integers(1, 30, size=40)],
}
SETTINGS = {
    "default": {},
    "tanh": {"activation": "tanh"},
    "multichannel": {"embedding_mode": "multichannel"},
    "avg pooling": {"pooling": "avg"},
}


def model_with(**settings) -> TextCNN:
    return model_of_small_kernels(vocab_size=VOCAB, **settings)


def batch_of(lengths: list[int], extra_padding: int = 1, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), max(lengths) + extra_padding, dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(2, VOCAB, (length,), generator=generator)
    return ids, torch.tensor(lengths)


def by_convolution(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    model.use_fast_kernels = False
    try:
        with torch.inference_mode():
            return model(ids, lengths)
    finally:
        model.use_fast_kernels = True


def features(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model._pool(model._input_ids(ids), lengths, winners=False).features


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("batch", BATCHES)
def test_looked_up_prediction_equals_the_convolution(batch, settings, conv_calls):
    model = model_with(**SETTINGS[settings])
    ids, lengths = batch_of(BATCHES[batch])
    expected = by_convolution(model, ids, lengths)
    conv_calls.clear()
    with torch.inference_mode():
        logits = model(ids, lengths)
    assert not conv_calls and model.kernel_cache.token_products is not None  # looked up, not convolved
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("batch", BATCHES)
def test_explanations_pool_the_very_features_prediction_takes(batch):
    model = model_with()
    ids, lengths = batch_of(BATCHES[batch])
    with torch.inference_mode():
        pooled = model.pooled(ids, lengths)
    assert torch.equal(pooled.features, features(model, ids, lengths))
    assert pooled.positions is not None and int(pooled.positions.max()) <= max(int(lengths.max()) - 1, 0)


def test_a_text_gets_the_same_features_in_any_batch_and_after_any_texts():
    lengths = BATCHES["many texts padded"]
    ids, lengths_t = batch_of(lengths)
    first = model_with()
    together = features(first, ids, lengths_t)
    later = model_with()  # a fresh table, filled by single texts in reverse order
    for row in reversed(range(len(lengths))):
        alone = features(later, ids[row : row + 1, : max(lengths[row], 1)], lengths_t[row : row + 1])
        assert torch.equal(alone[0], together[row])


def test_the_table_holds_only_the_blocks_of_the_tokens_met():
    model = model_with()
    ids = torch.tensor([[2, 3, 40, 41, 250]])
    features(model, ids, torch.tensor([5]))
    table = model.kernel_cache.token_products
    assert np.flatnonzero(table.filled).tolist() == [0, 1, 7]  # tokens 2, 3 | 40, 41 | 250, blocks of 32


def test_the_table_follows_new_weights():
    model = model_with()
    ids, lengths = batch_of([8, 4, 6])
    features(model, ids, lengths)
    with torch.no_grad():
        model.embedding.weight.mul_(-0.5)  # in place, as an optimizer step changes it
        model.convs[1].weight.add_(0.25)
    with torch.inference_mode():
        logits = model(ids, lengths)
    torch.testing.assert_close(logits, by_convolution(model, ids, lengths), rtol=0, atol=1e-5)


def test_a_table_for_new_weights_takes_the_former_memory_and_none_of_its_rows():
    model = model_with()
    features(model, *batch_of([8, 4, 6]))
    former = model.kernel_cache.token_products
    with torch.no_grad():
        model.convs[0].weight.mul_(2.0)
    ids, lengths = torch.tensor([[250, 251, 2, 0]]), torch.tensor([3])
    reused = features(model, ids, lengths)
    table = model.kernel_cache.token_products
    assert table is not former and table.rows.data_ptr() == former.rows.data_ptr()
    assert np.flatnonzero(table.filled).tolist() == [0, 7]  # only the blocks met since the weights changed
    model.kernel_cache.token_products = None  # a table made afresh, in memory of its own
    torch.testing.assert_close(reused, features(model, ids, lengths), rtol=0, atol=0)


def test_training_and_products_outside_inference_mode_never_look_up(conv_calls):
    model = model_with()
    ids, lengths = batch_of([8, 4, 6])
    with torch.no_grad():
        model(ids, lengths)  # autograd could still see the weights: products
    model.train()
    model(ids, lengths).sum().backward()
    assert model.kernel_cache.token_products is None


def test_under_bfloat16_autocast_the_lookups_stay_float32(conv_calls):
    model = model_with()
    ids, lengths = batch_of(BATCHES["many texts padded"])
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(ids, lengths)
    table = model.kernel_cache.token_products
    assert not conv_calls and table.rows.dtype == torch.float32
    model.kernel_cache.token_products = None
    expected = features(model, ids, lengths)  # float32 from the start
    filled = torch.from_numpy(table.filled.repeat(token_products.BLOCK))
    assert torch.equal(table.rows[filled], model.kernel_cache.token_products.rows[filled])  # the very float32 rows
    with torch.inference_mode():
        torch.testing.assert_close(logits.float(), model.classifier(expected), rtol=0, atol=0.05)  # a bfloat16 output layer


def test_more_texts_than_one_lookup_takes_get_the_features_of_smaller_batches():
    model = model_with()
    lengths = [int(n) for n in np.random.default_rng(2).integers(1, 30, size=2 * token_products.MAX_BATCH + 5)]
    ids, lengths_t = batch_of(lengths)
    together = features(model, ids, lengths_t)
    for start in range(0, len(lengths), 16):
        part = features(model, ids[start : start + 16], lengths_t[start : start + 16])
        assert torch.equal(part, together[start : start + 16])


@pytest.mark.parametrize(
    "settings",
    [{"positions": "learned", "max_positions": 64}, {"padding": "same"}, {"num_filters": fast_kernels.MATMUL_BELOW_FILTERS - 1}],
    ids=["positions", "same padding", "few filters"],
)
def test_models_whose_windows_are_not_sums_of_token_rows_predict_otherwise(settings):
    model = model_with(**settings)
    ids, lengths = batch_of([8, 4, 6])
    with torch.inference_mode():
        assert not token_products.applies(model, ids)
        model(ids, lengths)
    assert model.kernel_cache.token_products is None


def test_a_table_past_the_memory_bound_is_never_made(monkeypatch):
    model = model_with()
    bound = VOCAB * sum(model.config.kernel_sizes) * model.config.num_filters * 4
    ids, lengths = batch_of([8, 4, 6])
    monkeypatch.setattr(token_products, "MAX_TABLE_BYTES", bound - 1)
    with torch.inference_mode():
        assert not token_products.applies(model, ids)
    monkeypatch.setattr(token_products, "MAX_TABLE_BYTES", bound)
    with torch.inference_mode():
        assert token_products.applies(model, ids)


def test_prepare_fills_every_block_of_every_member_and_predicts_the_same():
    members = [model_with(), model_with(activation="tanh")]
    ensemble = Ensemble(members).eval()
    ids, lengths = batch_of(BATCHES["many texts padded"])
    with torch.inference_mode():
        lazily = ensemble(ids, lengths)
    for member in members:
        member.kernel_cache.token_products = None
    token_products.prepare(ensemble)
    assert all(member.kernel_cache.token_products.filled.all() for member in members)
    with torch.inference_mode():
        assert torch.equal(ensemble(ids, lengths), lazily)


def test_the_kept_window_layouts_stay_within_their_bound(monkeypatch):
    monkeypatch.setattr(token_products, "MAX_LAYOUT_ENTRIES", 2_000)
    model = model_with()
    for length in range(5, 40, 3):  # every shape a new layout of up to ~1,700 entries
        features(model, *batch_of([length] * 4, extra_padding=0))
        layouts = model.kernel_cache.token_products.layouts
        assert sum(len(layout.positions) for layout in layouts.values()) <= 2_000 or len(layouts) == 1


def test_within_single_use_the_products_predict_and_no_table_is_made():
    model = model_with()
    ids, lengths = batch_of(BATCHES["many texts padded"])
    with torch.inference_mode(), token_products.single_use():
        assert not token_products.applies(model, ids)
        once = model(ids, lengths)
    assert model.kernel_cache.token_products is None
    with torch.inference_mode():
        assert token_products.applies(model, ids)  # outside it, lookups again
        looked_up = model(ids, lengths)
    torch.testing.assert_close(once, looked_up, rtol=0, atol=1e-5)
