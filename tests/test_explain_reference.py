"""Exact explanations against a plain recomputation of the network from its weights, window by
window and filter by filter in float64, and the explained logit against the prediction."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from textcnn import TextClassifier
from textcnn.inference.explain import check_identity

TEXTS = ["our hotel was horrible", "the film was great and the meal lovely", "great", "a b"]

MODELS = {  # 8 filters: fast_kernels' matmul maps; 16: the window products prediction reads; then Conv1d alone
    "8 filters, valid": {"num_filters": 8},
    "16 filters, valid": {"num_filters": 16},
    "16 filters, same": {"num_filters": 16, "padding": "same"},
    "16 filters, 4 and 5 wide": {"num_filters": 16, "kernel_sizes": [4, 5]},
    "16 filters, tanh": {"num_filters": 16, "activation": "tanh"},
}


def _fit(tiny_settings, english, **settings) -> TextClassifier:
    texts, labels = english
    merged = {**tiny_settings, "epochs": 2, "nb": {"ngrams": 0}, **settings}
    return TextClassifier(**merged).fit(texts, labels, dev=(texts, labels))


def _reference(classifier: TextClassifier, text: str, c: int) -> tuple[dict, np.ndarray]:
    """{(width, first token, end): contribution} and the token scores of class ``c``, by loops."""
    model = classifier.model
    tokens = classifier.tokenizer(text)
    x = model.embedding.weight.detach().double().numpy()[classifier.vocab.ids(tokens)]  # (length, embed_dim)
    out = model.classifier.weight.detach().double().numpy()[c]
    relu = model.config.activation == "relu"
    contributions, scores = defaultdict(float), np.zeros(len(tokens))
    feature = 0
    for conv in model.convs:
        kernels, biases = conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy()
        k = kernels.shape[2]
        if model.config.padding == "same":
            starts = [j - (k - 1) // 2 for j in range(len(tokens))]
        else:
            starts = list(range(max(len(tokens), k) - k + 1))
        for kernel, bias in zip(kernels, biases):  # (embed_dim, k)
            def parts(start):  # each token's product with its kernel row; padding: none
                return {start + i: x[start + i] @ kernel[:, i] for i in range(k) if 0 <= start + i < len(tokens)}

            h = [sum(parts(start).values()) + bias for start in starts]
            best = int(np.argmax(h))
            activation = max(h[best], 0.0) if relu else np.tanh(h[best])
            share = out[feature] * ((activation - bias) if relu and activation > 0 else (activation if not relu else 0.0))
            feature += 1
            if share == 0:
                continue
            covered = sorted(parts(starts[best]))
            contributions[(k, covered[0], covered[-1] + 1)] += share
            for position, value in parts(starts[best]).items():
                scores[position] += out[feature - 1] * value if relu else share / len(covered)
    return contributions, scores


@pytest.mark.parametrize("name", list(MODELS))
def test_contributions_and_token_scores_equal_a_recomputation_window_by_window(name, tiny_settings, english):
    classifier = _fit(tiny_settings, english, **MODELS[name])

    for explanation in classifier.explain(TEXTS, target=list(classifier.classes), top=None):
        check_identity(explanation, 1e-5)
        for item in explanation.explained:
            expected, scores = _reference(classifier, explanation.text, classifier.classes.index(item.label))
            found = {(part.width, *part.tokens): part.contribution for part in item.items}
            assert found.keys() == {key for key, value in expected.items() if value != 0}
            for key, value in found.items():
                assert value == pytest.approx(expected[key], rel=1e-4, abs=1e-6)
            np.testing.assert_allclose(item.token_scores, scores, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("settings", [{}, {"num_filters": 16}, {"ensemble": 2, "num_filters": 16}, {"nb": {"method": "tfidf"}}])
def test_the_explained_logit_is_the_predicted_logit_bit_for_bit(settings, tiny_settings, english):
    texts, labels = english
    classifier = TextClassifier(**{**tiny_settings, **settings}).fit(texts, labels, dev=(texts, labels))
    probes = TEXTS + ["", "The film was GREAT"]

    logits = [classifier.predict_logits([probe])[0] for probe in probes]  # one at a time, as each is explained

    for explanation, row in zip(classifier.explain(probes, target=list(classifier.classes), top=None), logits):
        check_identity(explanation, 1e-5)
        assert [item.logit for item in explanation.explained] == [float(value) for value in row]


def test_top_beyond_the_items_keeps_them_all_and_no_rest(tiny_classifier):
    full = tiny_classifier.explain(["our hotel was horrible"], top=None)[0].explained[0]
    wide = tiny_classifier.explain(["our hotel was horrible"], top=len(full.items) + 5)[0].explained[0]
    none = tiny_classifier.explain(["our hotel was horrible"], top=0)[0].explained[0]

    assert wide.items == full.items and wide.rest == 0.0
    assert none.items == [] and none.rest == pytest.approx(sum(part.contribution for part in full.items))
    assert none.token_scores == full.token_scores  # every contribution's tokens, whatever ``top`` keeps
