"""A padded batch predicted packed (its texts end to end, no padding) gives each text the logits it
gets alone, on both of the packed kernels (window products for a short sequence, the convolution for
a long one), in every embedding mode and with positions; and only prediction packs."""

from __future__ import annotations

import pytest
import torch

from textcnn.config import TextCNNConfig
from textcnn.models import TextCNN, build_model, fast_kernels, packed
from textcnn.models.layers import length_mask

from test_prediction_kernels import model_with
from test_registry import NUM_CLASSES, VOCAB_SIZE, _batch

pytestmark = pytest.mark.usefixtures("without_token_products")  # the paths for tables too large to keep

SHORT = [7, 3, 0, 5, 1, 9]  # 30 positions at least min_len each: window products
LONG = [int(n) for n in torch.randint(0, 60, (48,), generator=torch.Generator().manual_seed(3))]  # the convolution

SETTINGS = {
    "default": {},
    "learned positions": {"positions": "learned", "max_positions": 64},
    "multichannel": {"embedding_mode": "multichannel"},
    "tanh": {"activation": "tanh"},
}


def alone(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each text's logits from a batch of that text alone (never packed)."""
    rows = [model(ids[i : i + 1, : max(int(lengths[i]), 1)], lengths[i : i + 1]) for i in range(len(lengths))]
    return torch.cat(rows)


@pytest.mark.parametrize("lengths", [SHORT, LONG], ids=["window products", "convolution"])
@pytest.mark.parametrize("settings", SETTINGS)
def test_a_text_packed_with_others_gets_the_logits_it_gets_alone(settings, lengths):
    model = model_with(**SETTINGS[settings])
    ids, lengths = _batch([max(n, 1) for n in lengths], extra_padding=2)
    lengths[2] = 0  # an empty text: its first position, the pad token, as in a padded batch
    ids[2] = 0
    with torch.inference_mode():
        assert packed.applies(model, model._input_ids(ids))
        torch.testing.assert_close(model(ids, lengths), alone(model, ids, lengths), rtol=0, atol=1e-5)


def test_a_padded_batch_runs_each_convolution_once_over_the_packed_texts(conv_calls):
    model = model_with()
    ids, lengths = _batch(LONG, extra_padding=3)
    with torch.inference_mode():
        model(ids, lengths)
    total = int(lengths.clamp(min=model.min_len).sum())
    assert total > fast_kernels.WINDOW_GEMM_MAX_TOKENS
    image = (1, model.config.embed_dim, 1, total)
    assert conv_calls == [(image, k) for k in model.config.kernel_sizes if k > 1]  # unigram kernels: one product


def test_packed_bfloat16_is_close_to_float32_and_keeps_clear_labels():
    model = model_with()
    ids, lengths = _batch(LONG, extra_padding=1)
    with torch.inference_mode():
        expected = model(ids, lengths)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(ids, lengths).float()
    torch.testing.assert_close(low, expected, rtol=0, atol=0.05)
    clear = expected.topk(2, dim=1).values.diff(dim=1).abs().squeeze(1) > 0.1
    assert torch.equal(low.argmax(1)[clear], expected.argmax(1)[clear])


def test_only_prediction_of_several_texts_packs():
    model = model_with()
    ids, lengths = _batch(LONG)
    with torch.inference_mode():
        assert packed.applies(model, ids)
        assert not packed.applies(model, ids[: packed.PACK_MIN_TEXTS - 1])
        assert not packed.applies(model_with(padding="same"), ids)
    assert not packed.applies(model, ids)  # autograd may need the padded graph
    model.train()
    with torch.inference_mode():
        assert not packed.applies(model, ids)


def test_the_packed_maps_hold_each_text_windows_at_their_places_in_the_padded_batch():
    model = model_with()
    ids, lengths = _batch(LONG, extra_padding=2)
    ids = model._input_ids(ids)
    with torch.inference_mode():
        maps = packed.packed_maps(model, ids, lengths)
        padded = model._convolve(model.embed(ids, length_mask(lengths, ids.size(1))))
    for conv, h, expected in zip(model.convs, maps, padded):
        windows = model._windows(conv, lengths, ids.size(1), None)  # (batch, out_len)
        assert h.shape == expected.shape
        torch.testing.assert_close(h.transpose(1, 2)[windows], expected.transpose(1, 2)[windows], rtol=0, atol=1e-5)


def test_lengths_past_the_ids_keep_every_position_as_the_padded_batch_does():
    model = model_with()
    ids, lengths = _batch([5, 6, 6, 6])
    longer = lengths + torch.tensor([0, 0, 0, 3])  # a caller that cut the ids and kept the lengths
    with torch.no_grad():  # the padded path
        expected = model(ids, longer)
    with torch.inference_mode():
        torch.testing.assert_close(model(ids, longer), expected, rtol=0, atol=1e-5)


def test_prediction_keeps_batches_of_one_length_from_64_texts_for_packing_models_and_from_8_otherwise(monkeypatch):
    import numpy as np

    from textcnn.data import batching
    from textcnn.data.encoding import EncodedTexts
    from textcnn.inference.logits import predict_logits
    from textcnn.models.ensemble import Ensemble

    groups = []
    equal_length_batches = batching.equal_length_batches

    def recording(lengths, batch_size, *, min_group):
        groups.append(min_group)
        return equal_length_batches(lengths, batch_size, min_group=min_group)

    monkeypatch.setattr(batching, "equal_length_batches", recording)
    lengths = np.array([7] * 20 + [3, 9, 12], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    encoded = EncodedTexts(ids=np.full(int(lengths.sum()), 5, dtype=np.int32), offsets=offsets, lengths=lengths)
    predict_logits(model_with(), encoded)
    predict_logits(model_with(padding="same"), encoded)
    assert groups == [batching.MIN_EQUAL_GROUP_PACKED, batching.MIN_EQUAL_GROUP]

    assert packed.packs(model_with(), torch.device("cpu"))
    assert packed.packs(Ensemble([model_with(), model_with()]), torch.device("cpu"))
    assert not packed.packs(model_with(padding="same"), torch.device("cpu"))
    assert not packed.packs(model_with(), torch.device("meta"))
    config = TextCNNConfig(embed_dim=8, kernel_sizes=(2, 3), num_filters=fast_kernels.MATMUL_BELOW_FILTERS - 1)
    assert not packed.packs(build_model(config, vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES), torch.device("cpu"))
