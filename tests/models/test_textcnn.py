"""TextCNN on a tiny config: padding invariance, short texts, the pooling and padding options, the n-gram bag."""

from __future__ import annotations

import pytest
import torch

from textcnn import TextClassifier
from textcnn.config import TextCNNConfig, build_config
from textcnn.errors import ConfigError
from textcnn.models import TextCNN, build_model
from textcnn.models.layers import AttentionPool, NgramBag, hashed_ngram_ids, masked_kmax_pool

VOCAB_SIZE, NUM_CLASSES = 50, 3


def tiny_config(**changes) -> TextCNNConfig:
    return TextCNNConfig(**{"embed_dim": 8, "kernel_sizes": (2, 3), "num_filters": 4, **changes})


def tiny_model(**changes) -> TextCNN:
    torch.manual_seed(0)
    return build_model(tiny_config(**changes), vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES).eval()


# Pooling, padding and position options, alone and combined.
VARIANTS: dict[str, dict] = {
    "max": {"pooling": "max"},
    "avg": {"pooling": "avg"},
    "max_avg": {"pooling": "max_avg"},
    "kmax": {"pooling": "kmax"},
    "kmax3": {"pooling": "kmax", "kmax_k": 3},
    "attention": {"pooling": "attention"},
    "same": {"padding": "same"},
    "same-kmax3": {"padding": "same", "pooling": "kmax", "kmax_k": 3},
    "same-attention": {"padding": "same", "pooling": "attention"},
    "learned": {"positions": "learned"},
    "sinusoidal": {"positions": "sinusoidal"},
    "same-sinusoidal-avg": {"padding": "same", "positions": "sinusoidal", "pooling": "avg"},
    "learned-attention": {"positions": "learned", "pooling": "attention"},
}


def _batch(lengths: list[int], extra_padding: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    seq_len = max(lengths) + extra_padding
    ids = torch.zeros(len(lengths), seq_len, dtype=torch.long)  # (batch, seq_len), 0 = <pad>
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(2, VOCAB_SIZE, (length,), generator=generator)
    return ids, torch.tensor(lengths)


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_does_not_change_logits(variant):
    model = tiny_model(**VARIANTS[variant])
    ids, lengths = _batch([6, 2, 4, 1])
    padded, _ = _batch([6, 2, 4, 1], extra_padding=9)

    with torch.no_grad():
        tight = model(ids, lengths)
        loose = model(padded, lengths)

    torch.testing.assert_close(loose, tight)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_text_scores_the_same_alone_and_in_a_batch(variant):
    model = tiny_model(**VARIANTS[variant])
    ids, lengths = _batch([6, 2, 4, 1])

    with torch.no_grad():
        together = model(ids, lengths)
        alone = torch.cat([model(ids[i : i + 1, : lengths[i]], lengths[i : i + 1]) for i in range(4)])

    torch.testing.assert_close(alone, together)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("length", [1, 2])
def test_text_shorter_than_the_widest_kernel_and_than_k(length, variant):
    model = tiny_model(**VARIANTS[variant])
    ids, lengths = _batch([length])

    with torch.no_grad():
        logits = model(ids, lengths)

    assert logits.shape == (1, NUM_CLASSES)
    assert torch.isfinite(logits).all()


def test_pad_embedding_is_zero_and_gets_no_gradient():
    model = tiny_model()
    ids, lengths = _batch([3, 5])

    model.train()
    model(ids, lengths).sum().backward()

    assert torch.count_nonzero(model.embedding.weight[0]) == 0
    assert torch.count_nonzero(model.embedding.weight.grad[0]) == 0


def test_eval_mode_is_deterministic_despite_dropout():
    model = tiny_model(dropout=0.5, embed_dropout=0.5)
    ids, lengths = _batch([5, 3])

    with torch.no_grad():
        torch.testing.assert_close(model(ids, lengths), model(ids, lengths), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("vocab_size", "num_classes", "message"),
    [(1, 2, "vocab_size must be at least 2, got 1"), (50, 0, "num_classes must be positive, got 0")],
)
def test_impossible_sizes_are_rejected(vocab_size, num_classes, message):
    with pytest.raises(ValueError, match=message):
        build_model(tiny_config(), vocab_size=vocab_size, num_classes=num_classes)


@pytest.mark.parametrize(("padding", "expected"), [("valid", [10, 9, 8, 7]), ("same", [11, 11, 11, 11])])
def test_conv_output_length_follows_the_padding(padding, expected):
    model = tiny_model(padding=padding, kernel_sizes=(2, 3, 4, 5))
    ids, lengths = _batch([11, 4])

    with torch.no_grad():
        maps = model._convolve(model.conv_inputs(ids, lengths))

    assert [h.size(2) for h in maps] == expected  # (W - F + 2P) / 1 + 1 with W = 11


def test_same_padding_centres_each_window_on_its_token():
    model = tiny_model(padding="same", kernel_sizes=(3,), pooling="attention")
    ids, lengths = _batch([6])
    changed = ids.clone()
    changed[0, 5] = (changed[0, 5] + 1) % (VOCAB_SIZE - 2) + 2  # the last token

    with torch.no_grad():
        outputs = [model._convolve(model.conv_inputs(batch, lengths))[0] for batch in (ids, changed)]

    torch.testing.assert_close(outputs[1][..., :4], outputs[0][..., :4])  # windows 0-3 end before token 5
    assert not torch.allclose(outputs[1][..., 4], outputs[0][..., 4])  # window 4 covers tokens 3-5


def test_kmax_keeps_text_order_and_never_picks_padding():
    features = torch.tensor([[[4.0, 1.0, 5.0, 9.0, 9.0]], [[2.0, 9.0, 9.0, 9.0, 9.0]]])  # (batch 2, channels 1, time 5)
    mask = torch.tensor([[True, True, True, False, False], [True, False, False, False, False]])

    pooled = masked_kmax_pool(features, mask, 2)  # (2, 1, 2)

    assert pooled.tolist() == [[[4.0, 5.0]], [[2.0, 0.0]]]  # in text order; a 1-token text is filled with 0


def test_kmax_breaks_ties_by_position_and_fills_texts_shorter_than_k():
    features = torch.tensor([[[0.0, 3.0, 0.0, 0.0]]])
    mask = torch.ones(1, 4, dtype=torch.bool)

    assert masked_kmax_pool(features, mask, 2).tolist() == [[[0.0, 3.0]]]  # the first 0, not a later one
    assert masked_kmax_pool(features[..., :1], mask[:, :1], 3).tolist() == [[[0.0, 0.0, 0.0]]]


def test_kmax_gradient_reaches_only_the_picked_positions():
    features = torch.tensor([[[4.0, 1.0, 5.0, 9.0]]], requires_grad=True)
    mask = torch.tensor([[True, True, True, False]])

    masked_kmax_pool(features, mask, 2).sum().backward()

    assert features.grad.tolist() == [[[1.0, 0.0, 1.0, 0.0]]]


def test_attention_weights_are_zero_on_padding_and_sum_to_one():
    torch.manual_seed(0)
    pool = AttentionPool(channels=4)
    features = torch.randn(2, 4, 6)  # (batch, channels, time)
    features[:, :, 3:] = 100.0  # large values at padding must not draw weight
    mask = torch.tensor([[True, True, True, False, False, False], [True, False, False, False, False, False]])

    weights = pool.weights(features, mask)  # (2, 6)

    assert torch.all(weights[~mask] == 0)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))
    torch.testing.assert_close(pool(features, mask)[1], features[1, :, 0])  # one real position: its features


@pytest.mark.parametrize(("changes", "num_features"), [({"pooling": "kmax", "kmax_k": 3}, 24), ({"pooling": "attention"}, 8)])
def test_pooled_feature_size(changes, num_features):
    model = tiny_model(**changes)
    ids, lengths = _batch([5, 2])

    with torch.no_grad():
        assert model.pooled(ids, lengths).features.shape == (2, num_features)  # num_filters 4 x 2 kernel sizes x per-filter


def test_kmax_k_must_be_positive():
    with pytest.raises(ConfigError, match=r"model\.kmax_k: "):
        build_config(None, {"model.kmax_k": 0})


def test_max_positions_limits_max_len_only_when_positions_are_used(english, tiny_settings):
    texts, labels = english
    settings = {**tiny_settings, "epochs": 1, "max_len": 8}

    TextClassifier(**settings, max_positions=4).fit(texts, labels, verbose=False)  # no positions: no limit
    with pytest.raises(ConfigError, match=r"max_len: 8 is longer than model\.max_positions \(4\)"):
        TextClassifier(**settings, max_positions=4, positions="learned").fit(texts, labels, verbose=False)


# The bag-of-n-grams branch (model.ngram_bag).


def test_ngram_bag_is_off_by_default_and_adds_no_weights():
    assert TextCNNConfig().ngram_bag == 0
    keys = set(tiny_model().state_dict())

    assert not any("ngram" in key for key in keys)
    assert {key for key in tiny_model(ngram_bag=2, ngram_buckets=16).state_dict() if "ngram" in key} == {"ngram_bag.table.weight"}
    assert "ngram_classifier.weight" in tiny_model(ngram_bag=2, ngram_combine="logits").state_dict()


def test_hashed_ngram_ids_count_real_ngrams_only():
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0], [9, 0, 0, 0]])  # lengths 4, 2, 1
    mask = torch.tensor([[True] * 4, [True, True, False, False], [True, False, False, False]])

    rows, keep = hashed_ngram_ids(ids, mask, order=3, vocab_size=VOCAB_SIZE, buckets=1_000)

    assert rows.shape == keep.shape == (3, 4 + 3 + 2)  # unigrams, bigrams, trigrams
    assert keep.sum(dim=1).tolist() == [4 + 3 + 2, 2 + 1, 1]
    assert rows[:, :4].tolist() == ids.tolist()  # unigrams keep their own rows
    assert bool(((rows[:, 4:] >= VOCAB_SIZE) & (rows[:, 4:] < VOCAB_SIZE + 1_000)).all())
    assert rows[0, 4] == rows[1, 4]  # the bigram (5, 6) hashes to one row wherever it is
    assert rows[0, 4] != rows[0, 5]


def test_hashed_ngram_ids_of_a_text_shorter_than_the_order():
    rows, keep = hashed_ngram_ids(torch.tensor([[3]]), torch.tensor([[True]]), order=3, vocab_size=VOCAB_SIZE, buckets=8)

    assert rows.tolist() == [[3]] and keep.tolist() == [[True]]


def test_ngram_bag_sees_word_order_from_order_two_on():
    torch.manual_seed(0)
    ids = torch.tensor([[4, 9, 12, 30]])
    swapped = torch.tensor([[9, 4, 30, 12]])
    mask = torch.ones(1, 4, dtype=torch.bool)

    unigrams = NgramBag(VOCAB_SIZE, order=1, buckets=64, dim=8)
    bigrams = NgramBag(VOCAB_SIZE, order=2, buckets=64, dim=8)

    torch.testing.assert_close(unigrams(swapped, mask), unigrams(ids, mask))  # a bag of words
    assert not torch.allclose(bigrams(swapped, mask), bigrams(ids, mask))


@pytest.mark.parametrize("combine", ["concat", "logits"])
def test_ngram_bag_changes_the_logits(combine):
    ids, lengths = _batch([6, 3])
    model = tiny_model(ngram_bag=2, ngram_buckets=64, ngram_combine=combine)

    with torch.no_grad():
        features, logits = model.pooled(ids, lengths).features, model(ids, lengths)
        model.ngram_bag.table.weight.normal_()

        torch.testing.assert_close(model.pooled(ids, lengths).features, features)  # the CNN part does not see the bag
        assert not torch.allclose(model(ids, lengths), logits)


def test_ngram_bag_order_is_limited_to_trigrams():
    with pytest.raises(ConfigError, match=r"model\.ngram_bag: "):
        build_config(None, {"model.ngram_bag": 4})
