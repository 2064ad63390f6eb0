"""``train.ensemble``: several seeds' models whose logits are averaged, saved and served as one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textcnn import TextClassifier
from textcnn.config import TextCNNConfig
from textcnn.models import Ensemble, TextCNN
from textcnn.inference.logits import predict_logits

PROBES = ["the film was great", "our hotel was horrible", "great", "", "the meal was lovely " * 30]


@pytest.fixture(scope="module")
def ensemble_classifier():
    from conftest import TINY_SETTINGS, english_corpus

    texts, labels = english_corpus()
    return TextClassifier(**TINY_SETTINGS, ensemble=3).fit(texts, labels, dev=(texts, labels), verbose=False)


def test_ensemble_module_averages_member_logits():
    members = [
        TextCNN(TextCNNConfig(embed_dim=8, num_filters=4, kernel_sizes=(k,)), vocab_size=20, num_classes=3)
        for k in (2, 4)
    ]
    ensemble = Ensemble(members).eval()
    ids = torch.tensor([[2, 3, 4, 5, 6], [7, 8, 0, 0, 0]])
    lengths = torch.tensor([5, 2])

    with torch.no_grad():
        expected = (members[0](ids, lengths) + members[1](ids, lengths)) / 2
        np.testing.assert_allclose(ensemble(ids, lengths).numpy(), expected.numpy(), rtol=0, atol=1e-6)
    assert ensemble.min_len == 4  # the widest 'valid' kernel of any member
    assert ensemble.num_outputs == 3
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])
    two_classes = TextCNN(TextCNNConfig(embed_dim=8, num_filters=4, kernel_sizes=(2,)), vocab_size=20, num_classes=2)
    with pytest.raises(ValueError, match=r"the same number of outputs, got \[2, 3\]"):
        Ensemble([members[0], two_classes])


def test_members_are_trained_with_consecutive_seeds_and_differ(ensemble_classifier, english):
    texts, labels = english
    model = ensemble_classifier.model

    assert isinstance(model, Ensemble) and len(model.members) == 3
    assert ensemble_classifier.metrics["ensemble"]["seeds"] == [13, 14, 15]
    assert len(ensemble_classifier.metrics["ensemble"]["member_dev_accuracy"]) == 3
    first, second = (member.classifier.weight for member in model.members[:2])
    assert not torch.equal(first, second)  # different seeds, different models
    assert ensemble_classifier.predict(texts) == labels
    assert ensemble_classifier.metrics["dev"]["accuracy"] == 1.0


def test_ensemble_predicts_the_mean_of_its_members_logits(ensemble_classifier):
    encoded = ensemble_classifier.encode(PROBES)
    each = [predict_logits(member, encoded) for member in ensemble_classifier.model.members]

    network = predict_logits(ensemble_classifier.model, encoded)  # the classifier adds the Naive Bayes to this

    np.testing.assert_allclose(network, np.mean(each, axis=0), rtol=0, atol=1e-5)


def test_saved_ensemble_reloads_to_identical_predictions(ensemble_classifier, tmp_path):
    bundle = ensemble_classifier.save(tmp_path / "ensemble")
    reloaded = TextClassifier.load(bundle)

    assert isinstance(reloaded.model, Ensemble) and len(reloaded.model.members) == 3
    np.testing.assert_array_equal(reloaded.predict_proba(PROBES), ensemble_classifier.predict_proba(PROBES))
    assert reloaded.config.train.ensemble == 3


def test_ensemble_with_refit_refits_every_member(tiny_settings, english):
    texts, labels = english
    texts = [f"{text} word{i}" for i, text in enumerate(texts)]  # each text has a word of its own

    classifier = TextClassifier(**tiny_settings, ensemble=2).fit(texts, labels, verbose=False)

    assert {f"word{i}" for i in range(40)} <= set(classifier.vocab.tokens)  # the 4 held-out texts' words too
    assert [member.embedding.num_embeddings for member in classifier.model.members] == [len(classifier.vocab)] * 2
    assert classifier.metrics["refit"]["texts"] == 40
    assert len(classifier.model.members) == 2
    assert classifier.metrics["dev"]["num_examples"] == 4  # the carved dev, scored by the members' mean


def test_multilabel_ensemble_tunes_thresholds_on_the_averaged_logits(tiny_settings, multilabel, tmp_path):
    texts, label_lists = multilabel
    settings = {**tiny_settings, "epochs": 20, "patience": 20, "ema_decay": None}  # as tests/test_multilabel.py

    classifier = TextClassifier(**settings, ensemble=2).fit(texts, label_lists, dev=(texts, label_lists), verbose=False)
    reloaded = TextClassifier.load(classifier.save(tmp_path / "ml"))

    assert classifier.thresholds.shape == (len(classifier.classes),)
    assert [sorted(item) for item in classifier.predict(texts)] == [sorted(item) for item in label_lists]
    assert reloaded.predict(texts) == classifier.predict(texts)
    np.testing.assert_array_equal(reloaded.thresholds, classifier.thresholds)


def test_ensemble_exports_to_onnx_with_the_same_predictions(ensemble_classifier, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from textcnn.export import export_onnx

    bundle = ensemble_classifier.save(tmp_path / "ensemble")
    export_onnx(bundle)
    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)

    np.testing.assert_allclose(
        onnx_model.predict_proba(PROBES), ensemble_classifier.predict_proba(PROBES), rtol=0, atol=1e-4
    )
