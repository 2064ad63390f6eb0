"""Multi-label TextClassifier end to end: overfit a tiny set to exact match, save, load, same answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from textcnn import TextClassifier
from textcnn.errors import DataError

from conftest import TINY_SETTINGS, multilabel_corpus

# BCE learns a little slower than softmax on 44 texts; no weight averaging so the last epochs count.
MULTI_SETTINGS = {**TINY_SETTINGS, "epochs": 20, "patience": 20, "ema_decay": None}


def _exact_match(predicted: list[list], labels: list[list]) -> float:
    return sum(sorted(p) == sorted(t) for p, t in zip(predicted, labels)) / len(labels)


@pytest.fixture(scope="module")
def multi_classifier() -> TextClassifier:
    texts, labels = multilabel_corpus()
    return TextClassifier(**MULTI_SETTINGS).fit(texts, labels, dev=(texts, labels), verbose=False)


def test_overfits_tiny_multilabel_corpus_to_exact_match(multi_classifier, multilabel):
    texts, labels = multilabel

    assert multi_classifier.multi_label and multi_classifier.config.data.multi_label is True
    assert multi_classifier.config.train.select_metric == "macro_f1"  # `auto` resolved
    assert multi_classifier.classes == ["book", "film", "food", "negative", "positive", "travel"]
    assert _exact_match(multi_classifier.predict(texts), labels) == 1.0
    report = multi_classifier.evaluate(texts, labels)
    assert report["subset_accuracy"] == 1.0 and report["micro_f1"] == 1.0 and report["hamming_loss"] == 0.0
    assert report == multi_classifier.metrics["dev"]  # the kept epoch's dev report, thresholds included


def test_probabilities_are_independent_sigmoids(multi_classifier):
    # Texts unlike the training ones: on those, network + Naive Bayes logits saturate float32 sigmoids.
    probabilities = multi_classifier.predict_proba(["a film nobody saw", "some meal or other"])

    assert probabilities.shape == (2, 6)
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert not np.allclose(probabilities.sum(axis=1), 1.0)


def test_predict_scored_gives_labels_over_thresholds_else_the_best(multi_classifier):
    probabilities = multi_classifier.predict_proba(["the film was great", "xyzzy"])
    scored = multi_classifier.predict_scored(["the film was great", "xyzzy"])

    assert [label for label, _ in scored[0]] in (["film", "positive"], ["positive", "film"])
    over = [j for j in range(6) if probabilities[1, j] >= multi_classifier.thresholds[j]]
    expected = [multi_classifier.classes[j] for j in over] or [multi_classifier.classes[int(probabilities[1].argmax())]]
    assert sorted(label for label, _ in scored[1]) == sorted(expected)
    for pairs in scored:
        assert [p for _, p in pairs] == sorted((p for _, p in pairs), reverse=True)


def test_top_k_still_ranks_every_label(multi_classifier):
    top = multi_classifier.predict_top_k(["the film was great"], 3)[0]

    assert len(top) == 3
    assert {label for label, _ in top[:2]} == {"film", "positive"}


def test_reloaded_bundle_keeps_thresholds_and_predicts_identically(multi_classifier, multilabel, tmp_path):
    texts, _ = multilabel
    directory = multi_classifier.save(tmp_path / "model")

    loaded = TextClassifier.load(directory)

    assert json.loads((directory / "thresholds.json").read_text()) == multi_classifier.thresholds.tolist()
    assert np.array_equal(loaded.thresholds, multi_classifier.thresholds)
    torch.testing.assert_close(loaded.predict_proba(texts), multi_classifier.predict_proba(texts), rtol=0, atol=0)
    assert loaded.predict(texts) == multi_classifier.predict(texts)
    assert loaded.predict(texts[:1]) == multi_classifier.predict(texts)[:1]  # batched == one at a time


def test_refit_keeps_the_selection_runs_thresholds(multilabel):
    texts, labels = multilabel

    classifier = TextClassifier(**MULTI_SETTINGS, dev_fraction=0.2).fit(texts, labels, verbose=False)

    assert classifier.metrics["refit"]["texts"] == len(texts)
    assert classifier.thresholds is not None and len(classifier.thresholds) == 6
    assert [row["threshold"] for row in classifier.metrics["dev"]["per_class"]] == classifier.thresholds.tolist()
    assert all(isinstance(item, list) and item for item in classifier.predict(texts))


@pytest.mark.parametrize("name", ["textcnn", "gated_cnn", "transformer"])
def test_every_registered_model_trains_multilabel(name, multilabel, tmp_path):
    texts, labels = multilabel
    settings = {key: value for key, value in MULTI_SETTINGS.items() if key not in ("kernel_sizes", "num_filters")}
    if name == "transformer":
        settings.update(lr=0.003, epochs=30, patience=30)

    classifier = TextClassifier(**settings, model={"name": name, "embed_dim": 16}).fit(
        texts, labels, dev=(texts, labels), verbose=False
    )
    loaded = TextClassifier.load(classifier.save(tmp_path / name))

    assert _exact_match(classifier.predict(texts), labels) >= 0.75
    assert loaded.predict(texts) == classifier.predict(texts)


def test_class_weight_and_sampler_train_multilabel(multilabel):
    texts, labels = multilabel

    classifier = TextClassifier(**{**MULTI_SETTINGS, "epochs": 30, "patience": 30}, class_weight="balanced", sampler="balanced")
    classifier.fit(texts, labels, dev=(texts, labels), verbose=False)

    assert _exact_match(classifier.predict(texts), labels) >= 0.95  # 43 of 44; seeds 14 and 15 fit 43 and 41


def test_empty_label_lists_are_left_out_and_counted(multilabel, textcnn_log):
    texts, labels = multilabel
    messages = textcnn_log

    classifier = TextClassifier(**{**MULTI_SETTINGS, "epochs": 1})
    classifier.fit(texts + ["no label"], labels + [[]], dev=(texts, labels), verbose=False)

    assert "train: left out 1 texts with an empty label list" in messages


def test_unseen_dev_label_is_named(multilabel):
    texts, labels = multilabel

    with pytest.raises(DataError, match=r"dev.*label 'sports' \(item 2\) was not seen in training"):
        TextClassifier(**MULTI_SETTINGS).fit(texts, labels, dev=(texts[:2], [["film"], ["sports"]]), verbose=False)


def test_label_lists_with_multi_label_off_are_an_error(multilabel):
    texts, labels = multilabel

    with pytest.raises(DataError, match=r"label 1 is a list, but data.multi_label is false"):
        TextClassifier(**MULTI_SETTINGS, multi_label=False).fit(texts, labels, verbose=False)


def test_multi_label_on_wraps_single_labels(english):
    texts, labels = english

    classifier = TextClassifier(**MULTI_SETTINGS, multi_label=True).fit(texts, labels, dev=(texts, labels), verbose=False)

    assert all(isinstance(item, list) for item in classifier.predict(texts))
    assert _exact_match(classifier.predict(texts), [[label] for label in labels]) == 1.0
