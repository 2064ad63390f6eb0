"""The n-gram Naive Bayes: its keys, its counts (against scikit-learn), and how the classifier uses it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textcnn import TextClassifier
from textcnn.config import build_config
from textcnn.data.encoding import EncodedTexts
from textcnn.data.long_texts import expand_windows
from textcnn.errors import BundleError, ConfigError
from textcnn.inference.logits import pool_windows
from textcnn.models.naive_bayes import NaiveBayes, fit_naive_bayes, fit_nb_logistic, fit_tfidf_logistic, ngram_keys
from textcnn.models.stacking import _likelihood, fit_weight


def _encoded(texts: list[list[int]]) -> EncodedTexts:
    lengths = np.array([len(text) for text in texts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ids = np.array([i for text in texts for i in text], dtype=np.int32)
    return EncodedTexts(ids, offsets, lengths)


def _random_texts(seed: int, num_texts: int = 300, vocab_size: int = 30) -> EncodedTexts:
    rng = np.random.default_rng(seed)
    return _encoded([rng.integers(1, vocab_size, rng.integers(0, 12)).tolist() for _ in range(num_texts)])


def test_keys_number_each_ngram_inside_its_text():
    encoded = _encoded([[2, 3, 4], [], [5, 6], [7]])

    (unigrams, per_text_1), (bigrams, per_text_2), (trigrams, per_text_3) = ngram_keys(encoded, vocab_size=10, ngrams=3)

    assert unigrams.tolist() == [2, 3, 4, 5, 6, 7] and per_text_1.tolist() == [3, 0, 2, 1]
    assert bigrams.tolist() == [10 + 23, 10 + 34, 10 + 56]  # V + a * V + b; never (4, 5) across texts
    assert per_text_2.tolist() == [2, 0, 1, 0]
    assert trigrams.tolist() == [10 + 100 + 234] and per_text_3.tolist() == [1, 0, 0, 0]  # V + V**2 + (a*V + b)*V + c


def _documents(encoded: EncodedTexts) -> list[str]:
    return [" ".join(f"w{i}" for i in encoded.ids[o : o + n]) for o, n in zip(encoded.offsets, encoded.lengths)]


def test_single_label_counts_equal_scikit_learns_multinomial_nb():
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    encoded = _random_texts(0)
    targets = np.random.default_rng(1).integers(0, 3, len(encoded))
    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False)
    features = vectorizer.fit_transform(_documents(encoded))

    naive_bayes = fit_naive_bayes(encoded, targets, vocab_size=30, ngrams=2, smoothing=1.0)
    expected = MultinomialNB(alpha=1.0).fit(features, targets).predict_log_proba(features)

    assert len(naive_bayes.keys) == features.shape[1]
    # float16 table: each n-gram's log-probabilities to ~1e-3, summed over a dozen n-grams
    np.testing.assert_allclose(naive_bayes.logits(encoded), expected, rtol=0, atol=5e-3)
    assert naive_bayes.table.dtype == np.float16


def test_multilabel_scores_are_each_labels_naive_bayes_log_odds():
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    encoded = _random_texts(2)
    targets = np.random.default_rng(3).integers(0, 2, (len(encoded), 4))
    features = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False).fit_transform(
        _documents(encoded)
    )

    scores = fit_naive_bayes(encoded, targets, vocab_size=30, ngrams=2).logits(encoded)

    for label in range(4):
        joint = MultinomialNB(alpha=1.0).fit(features, targets[:, label]).predict_joint_log_proba(features)
        np.testing.assert_allclose(scores[:, label], joint[:, 1] - joint[:, 0], rtol=0, atol=5e-3)


def test_unseen_ngrams_count_nothing():
    naive_bayes = fit_naive_bayes(_encoded([[2, 3], [4, 5]]), np.array([0, 1]), vocab_size=10, ngrams=2)

    seen, with_unseen = naive_bayes.logits(_encoded([[2, 3], [2, 3, 6, 7]]))  # 6, 7 and their bigrams: unseen
    empty, only_unseen = naive_bayes.logits(_encoded([[], [6, 7]]))

    np.testing.assert_allclose(seen, with_unseen, atol=1e-6)
    np.testing.assert_allclose(empty, only_unseen, atol=1e-6)  # = the prior
    assert seen[0] > seen[1]


def test_state_round_trip():
    naive_bayes = fit_naive_bayes(_random_texts(4), np.arange(300) % 2, vocab_size=30, ngrams=3)

    restored = NaiveBayes.from_state(naive_bayes.state())

    np.testing.assert_array_equal(restored.logits(_random_texts(5)), naive_bayes.logits(_random_texts(5)))
    assert (restored.ngrams, restored.vocab_size, restored.multi_label) == (3, 30, False)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_logistic_kind_equals_scikit_learns_nbsvm_log_loss(num_classes):
    """Wang & Manning's NBSVM with a log-loss: one-vs-rest logistic regressions on the texts' distinct
    n-grams scaled by the Naive Bayes log-count ratios, fitted here independently by scikit-learn."""
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    encoded = _random_texts(6)
    targets = np.random.default_rng(7).integers(0, num_classes, len(encoded))
    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False, binary=True)
    features = vectorizer.fit_transform(_documents(encoded)).astype(np.float64).tocsc()

    scores = fit_nb_logistic(encoded, targets, vocab_size=30, ngrams=2, c=0.5, max_iter=500).logits(encoded)

    expected = []
    for k in [1] if num_classes == 2 else range(num_classes):  # two classes: one regression, 1 against 0
        positive = targets == k
        p = np.asarray(features[positive].sum(axis=0)).ravel() + 1.0
        q = np.asarray(features[~positive].sum(axis=0)).ravel() + 1.0
        scaled = features.multiply(np.log(p / p.sum()) - np.log(q / q.sum())).tocsr()
        regression = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(scaled, positive)
        expected.append(regression.decision_function(scaled))
    if num_classes == 2:
        np.testing.assert_allclose(scores[:, 1] - scores[:, 0], expected[0], rtol=0, atol=2e-2)
    else:  # each class's score up to a constant per text (the log posterior's normalisation)
        expected = np.stack(expected, axis=1)
        np.testing.assert_allclose(scores - scores[:, :1], expected - expected[:, :1], rtol=0, atol=2e-2)
    assert np.mean(scores.argmax(axis=1) == targets) > 0.8  # random labels, yet it fits most of its training texts


FITS = {
    "counts": lambda encoded, targets, ngrams: fit_naive_bayes(encoded, targets, vocab_size=30, ngrams=ngrams),
    "logistic": lambda encoded, targets, ngrams: fit_nb_logistic(encoded, targets, vocab_size=30, ngrams=ngrams),
    "tfidf": lambda encoded, targets, ngrams: fit_tfidf_logistic(encoded, targets, vocab_size=30, ngrams=ngrams),
}


@pytest.mark.parametrize("kind, multi_label", [("counts", False), ("counts", True), ("logistic", False), ("tfidf", False)])
@pytest.mark.parametrize("ngrams", [1, 2, 4])
def test_one_text_scores_as_the_batch_path_scores_it(kind, multi_label, ngrams):
    """A single text takes its own path (its n-grams one by one); its scores are the batch path's, bit for bit,
    repeated and unseen n-grams and an empty text included."""
    encoded = _random_texts(11)
    rng = np.random.default_rng(12)
    targets = (rng.random((len(encoded), 3)) < 0.4).astype(np.float32) if multi_label else rng.integers(0, 3, len(encoded))
    naive_bayes = FITS[kind](encoded, targets, ngrams)
    texts = [[4, 4, 4, 9, 4], [], [7], [29, 28, 27, 26, 25, 24, 23, 22, 21], *(rng.integers(1, 30, 15).tolist() for _ in range(20))]
    for text in texts:
        alone = naive_bayes.logits(_encoded([text]))
        batch_path = naive_bayes.logits_of(ngram_keys(_encoded([text]), 30, ngrams), 1)
        assert alone.tobytes() == batch_path.tobytes(), text
    in_a_batch = naive_bayes.logits(_encoded(texts))
    np.testing.assert_allclose(np.concatenate([naive_bayes.logits(_encoded([text])) for text in texts]), in_a_batch, rtol=0, atol=1e-6)


def test_logistic_kind_counts_each_ngram_once_per_text():
    encoded = _random_texts(8)
    naive_bayes = fit_nb_logistic(encoded, np.arange(300) % 2, vocab_size=30, ngrams=2)

    repeated, once = naive_bayes.logits(_encoded([[4, 4, 4, 9, 4], [4, 4, 9]]))  # 4, 9, 4-4, 4-9 (and 9-4)
    np.testing.assert_array_equal(naive_bayes.logits(_encoded([[4, 4, 9, 4]]))[0], repeated)
    assert not np.allclose(repeated, once)  # 9-4 is an n-gram of the first only

    restored = NaiveBayes.from_state(naive_bayes.state())
    assert restored.binary and restored.logits(encoded).tolist() == naive_bayes.logits(encoded).tolist()


@pytest.mark.parametrize("num_classes", [2, 3])
def test_tfidf_kind_equals_scikit_learns_sublinear_tfidf_logistic_regression(num_classes):
    """Sublinear TF-IDF n-gram features, L2-normalised, under one-vs-rest logistic regressions, fitted here
    independently by scikit-learn's TfidfVectorizer and LogisticRegression."""
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    encoded, unseen = _random_texts(10), _random_texts(11, num_texts=50, vocab_size=40)  # ids 30-39: never seen
    targets = np.random.default_rng(12).integers(0, num_classes, len(encoded))
    vectorizer = TfidfVectorizer(ngram_range=(1, 3), token_pattern=r"\S+", lowercase=False, sublinear_tf=True)
    features = vectorizer.fit_transform(_documents(encoded))

    model = fit_tfidf_logistic(encoded, targets, vocab_size=40, ngrams=3, c=4.0, max_iter=500)

    assert len(model.keys) == features.shape[1]
    for texts in (encoded, unseen):
        scores, expected = model.logits(texts), []
        for k in [1] if num_classes == 2 else range(num_classes):
            regression = LogisticRegression(C=4.0, tol=1e-10, max_iter=10_000).fit(features, targets == k)
            expected.append(regression.decision_function(vectorizer.transform(_documents(texts))))
        if num_classes == 2:
            np.testing.assert_allclose(scores[:, 1] - scores[:, 0], expected[0], rtol=0, atol=2e-2)
        else:
            expected = np.stack(expected, axis=1)
            np.testing.assert_allclose(scores - scores[:, :1], expected - expected[:, :1], rtol=0, atol=2e-2)


def test_tfidf_kind_weighs_repeated_ngrams_sublinearly_and_reloads():
    encoded = _random_texts(13)
    model = fit_tfidf_logistic(encoded, np.arange(300) % 2, vocab_size=30, ngrams=2)
    texts = _encoded([[4, 9], [4, 9, 4, 9], [4, 9, 4, 9, 4, 9, 4, 9]])  # the same n-grams, repeated

    once, twice, four_times = model.logits(texts)

    assert not np.allclose(once, twice) and not np.allclose(twice, four_times)  # counts matter, not only presence
    restored = NaiveBayes.from_state(model.state())
    assert restored.logits(texts).tolist() == model.logits(texts).tolist()


def test_four_grams_are_keyed_and_too_large_vocabularies_refused():
    (_, _), (_, _), (_, _), (fourgrams, per_text) = ngram_keys(_encoded([[1, 2, 3, 4, 5]]), vocab_size=10, ngrams=4)

    assert fourgrams.tolist() == [10 + 100 + 1000 + 1234, 10 + 100 + 1000 + 2345] and per_text.tolist() == [2]
    with pytest.raises(ValueError, match="too large for 4-gram keys"):
        ngram_keys(_encoded([[1, 2]]), vocab_size=60_000, ngrams=4)


def test_a_naive_bayes_saved_before_the_logistic_kind_loads_as_counts():
    naive_bayes = fit_naive_bayes(_random_texts(4), np.arange(300) % 2, vocab_size=30, ngrams=2)
    state = naive_bayes.state()
    state["meta"] = state["meta"][:3]  # textcnn 0.x before the logistic kind saved three numbers

    assert not NaiveBayes.from_state(state).binary


def test_weight_must_be_auto_or_non_negative():
    assert build_config(None, {"nb.weight": 0.5}).nb.weight == 0.5
    with pytest.raises(ConfigError, match="nb.weight"):
        build_config(None, {"nb.weight": -1})
    with pytest.raises(ConfigError, match="nb.ngrams"):
        build_config(None, {"nb.ngrams": 5})
    with pytest.raises(ConfigError, match="nb.method"):
        build_config(None, {"nb.method": "svm"})
    with pytest.raises(ConfigError, match="nb.c"):
        build_config(None, {"nb.c": 0})


# The classifier: logits = network + weight * Naive Bayes, chosen on dev, saved and reloaded.


def test_fixed_weight_adds_the_naive_bayes_to_the_networks_logits(tiny_settings, english, tmp_path):
    texts, labels = english
    classifier = TextClassifier(**tiny_settings, nb={"weight": 0.5}).fit(texts, labels, dev=(texts, labels), verbose=False)
    encoded = classifier.encode(texts)

    network = classifier.model(*_as_batch(encoded)).detach().numpy()
    expected = network + 0.5 * classifier.naive_bayes.logits(encoded)

    np.testing.assert_allclose(classifier.predict_logits(encoded), expected, rtol=0, atol=1e-5)
    assert classifier.config.nb.weight == 0.5
    bundle = classifier.save(tmp_path / "model")
    assert (bundle / "naive_bayes.safetensors").exists()
    reloaded = TextClassifier.load(bundle)
    np.testing.assert_array_equal(reloaded.predict_proba(texts), classifier.predict_proba(texts))


def _as_batch(encoded: EncodedTexts):
    import torch

    width = max(3, int(encoded.lengths.max()))  # at least the widest kernel of the tiny settings
    ids = torch.zeros(len(encoded), width, dtype=torch.long)
    for row, (offset, length) in enumerate(zip(encoded.offsets, encoded.lengths)):
        ids[row, :length] = torch.from_numpy(encoded.ids[offset : offset + length].astype(np.int64))
    return ids, torch.from_numpy(encoded.lengths)


def test_auto_weight_is_fitted_on_dev_and_saved(tiny_settings, english, tmp_path, textcnn_log):
    texts, labels = english
    messages = textcnn_log

    classifier = TextClassifier(**tiny_settings, refit="never").fit(
        texts[:30], labels[:30], dev=(texts[30:], labels[30:]), verbose=False
    )

    report = classifier.metrics["naive_bayes"]
    dev = classifier.encode(texts[30:])
    network = classifier.model(*_as_batch(dev)).detach().numpy()
    settings = classifier.config.nb
    assert settings.method == "logistic"  # the default
    naive_bayes = fit_nb_logistic(
        classifier.encode(texts[:30]), np.array([classifier.classes.index(label) for label in labels[:30]]),
        vocab_size=len(classifier.vocab), ngrams=settings.ngrams, c=settings.c,
    )
    scale, weight = fit_weight(network, naive_bayes.logits(dev), np.array([classifier.classes.index(label) for label in labels[30:]]))
    assert (report["scale"], report["weight"]) == (pytest.approx(scale, abs=1e-4), pytest.approx(weight, abs=1e-4))
    assert (classifier.config.nb.scale, classifier.config.nb.weight) == (report["scale"], report["weight"])
    # the probabilities are those of the dev-fitted sum: scale x network + weight x n-gram model
    expected = report["scale"] * network + report["weight"] * naive_bayes.logits(dev)
    np.testing.assert_allclose(classifier.predict_logits(dev), expected, rtol=0, atol=1e-4)
    assert classifier.metrics["dev"]["accuracy"] == report["dev_accuracy_with_naive_bayes"]
    assert any("n-gram model (logistic, 1-2-grams" in message for message in messages)
    saved = json.loads((classifier.save(tmp_path / "model") / "config.json").read_text())
    assert saved["config"]["nb"]["weight"] == report["weight"] and saved["config"]["nb"]["scale"] == report["scale"]


def _synthetic(seed: int, multi_label: bool, strengths=(2.0, 1.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two noisy views of the targets, the first twice as informative: the best log-odds weigh them 2 : 1."""
    rng = np.random.default_rng(seed)
    if multi_label:
        targets = rng.integers(0, 2, (4000, 5))
        signs = 2.0 * targets - 1.0
    else:
        targets = rng.integers(0, 3, 4000)
        signs = 2.0 * np.eye(3)[targets] - 1.0
    views = [strength * signs + rng.normal(size=signs.shape) for strength in strengths]
    return views[0], views[1], targets

def test_tfidf_character_trigrams_fit_as_scikit_style_tfidf_and_the_bundle_records_them(tiny_settings, chinese, english, tmp_path):
    texts, labels = chinese
    classifier = TextClassifier(**tiny_settings, refit="never", nb={"method": "tfidf", "ngrams": 3}).fit(
        texts[:30], labels[:30], dev=(texts[30:], labels[30:]), verbose=False
    )

    settings = classifier.config.nb
    assert (settings.method, settings.ngrams, settings.c) == ("tfidf", 3, 16.0)  # c auto: 16 for tfidf
    targets = np.array([classifier.classes.index(label) for label in labels[:30]])
    expected = fit_tfidf_logistic(classifier.encode(texts[:30]), targets, vocab_size=len(classifier.vocab), ngrams=3, c=16.0)
    dev = classifier.encode(texts[30:])
    np.testing.assert_array_equal(classifier.naive_bayes.logits(dev), expected.logits(dev))
    reloaded = TextClassifier.load(classifier.save(tmp_path / "model"))
    assert (reloaded.config.nb.method, reloaded.config.nb.ngrams) == ("tfidf", 3)
    np.testing.assert_array_equal(reloaded.predict_proba(texts), classifier.predict_proba(texts))

    chinese_default = TextClassifier(**tiny_settings, refit="never").fit(texts[:30], labels[:30], dev=(texts[30:], labels[30:]), verbose=False)
    assert (chinese_default.config.nb.method, chinese_default.config.nb.ngrams, chinese_default.config.nb.c) == ("logistic", 2, 0.3)


def test_auto_resolves_to_nb_ratio_bigrams_and_tfidf_by_hand_takes_its_own_c():
    settings = build_config(None, {}).nb

    assert settings.resolved("char", 30_000) == {"nb.method": "logistic", "nb.ngrams": 2, "nb.c": 0.3}
    assert settings.resolved("char", 30_001) == {"nb.method": "logistic", "nb.ngrams": 2, "nb.c": 0.3}
    assert settings.resolved("word", 100) == {"nb.method": "logistic", "nb.ngrams": 2, "nb.c": 0.3}
    assert build_config(None, {"nb.method": "tfidf"}).nb.resolved("word", 100) == {"nb.method": "tfidf", "nb.ngrams": 2, "nb.c": 16.0}


def test_settings_set_by_hand_override_auto(tiny_settings, chinese):
    texts, labels = chinese
    classifier = TextClassifier(**tiny_settings, nb={"method": "logistic", "ngrams": 4}).fit(
        texts, labels, dev=(texts, labels), verbose=False
    )

    assert (classifier.config.nb.method, classifier.config.nb.ngrams, classifier.config.nb.c) == ("logistic", 4, 0.3)
    assert classifier.naive_bayes.idf is None and classifier.naive_bayes.ngrams == 4



@pytest.mark.parametrize("multi_label", [False, True])
def test_fitted_weight_finds_the_best_likelihood(multi_label):
    network, naive_bayes, targets = _synthetic(0, multi_label)

    scale, weight = fit_weight(network, naive_bayes, targets)

    assert weight / scale == pytest.approx(0.5, abs=0.1)  # the views' strengths are 2 : 1
    best = _likelihood(np.array([scale, weight]), network, naive_bayes, targets)[0]
    for other in ([1.0, 0.0], [scale * 1.2, weight], [scale, weight * 1.2], [scale, weight * 0.8]):
        assert best <= _likelihood(np.array(other), network, naive_bayes, targets)[0]


def test_an_uninformative_naive_bayes_gets_no_weight():
    network, _, targets = _synthetic(1, False)
    noise = np.random.default_rng(2).normal(size=network.shape)

    scale, weight = fit_weight(network, noise, targets)

    assert weight / scale < 0.1  # the informative views' ratio above is 0.5
    agree = (network.argmax(axis=1) == (network + weight / scale * noise).argmax(axis=1)).mean()
    assert agree > 0.98


def test_no_naive_bayes_with_ngrams_0(tiny_settings, english, tmp_path):
    texts, labels = english

    classifier = TextClassifier(**tiny_settings, nb={"ngrams": 0}).fit(texts, labels, dev=(texts, labels), verbose=False)

    assert classifier.naive_bayes is None and classifier.config.nb.weight == 0.0
    assert "naive_bayes" not in classifier.metrics
    assert not (classifier.save(tmp_path / "model") / "naive_bayes.safetensors").exists()


def test_after_a_refit_the_naive_bayes_counts_every_training_text(tiny_settings, english):
    texts, labels = english
    texts = [f"{text} word{i}" for i, text in enumerate(texts)]  # each text has a word of its own

    classifier = TextClassifier(**tiny_settings, nb={"weight": 1.0}).fit(texts, labels, verbose=False)

    own_words = {classifier.vocab.index[f"word{i}"] for i in range(40)}
    assert own_words <= set(classifier.naive_bayes.keys.tolist())  # the 4 held-out texts' words too


def test_windows_pool_the_naive_bayes_scores_like_the_logits():
    naive_bayes = fit_naive_bayes(_random_texts(6), np.arange(300) % 2, vocab_size=30, ngrams=2)
    whole = _encoded([list(range(2, 29)), [3, 4]])
    windows = expand_windows(whole, 8, 4, pool="max")

    from textcnn.inference.predictor import ngram_logits

    expected = pool_windows(naive_bayes.logits(windows), windows.window_text, "max")
    np.testing.assert_array_equal(ngram_logits(naive_bayes, windows), expected)
    assert expected.shape == (2, 2)


def test_missing_naive_bayes_file_is_a_bundle_error_naming_it(tiny_settings, english, tmp_path):
    texts, labels = english
    classifier = TextClassifier(**tiny_settings, nb={"weight": 0.5}).fit(texts, labels, dev=(texts, labels), verbose=False)
    bundle = classifier.save(tmp_path / "model")
    (bundle / "naive_bayes.safetensors").unlink()

    with pytest.raises(BundleError, match="naive_bayes.safetensors is missing"):
        TextClassifier.load(bundle)


def test_multilabel_classifier_with_naive_bayes_reloads_identically(tiny_settings, multilabel, tmp_path):
    texts, label_lists = multilabel
    settings = {**tiny_settings, "epochs": 20, "patience": 20, "ema_decay": None}

    classifier = TextClassifier(**settings, nb={"weight": 0.3, "for_multi_label": True}).fit(
        texts, label_lists, dev=(texts, label_lists), verbose=False
    )
    reloaded = TextClassifier.load(classifier.save(tmp_path / "ml"))

    assert classifier.naive_bayes.multi_label
    assert [sorted(item) for item in classifier.predict(texts)] == [sorted(item) for item in label_lists]
    assert reloaded.predict(texts) == classifier.predict(texts)
    np.testing.assert_array_equal(reloaded.thresholds, classifier.thresholds)


def test_onnx_runtime_adds_the_same_naive_bayes(tiny_settings, english, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from textcnn.export import export_onnx

    texts, labels = english
    classifier = TextClassifier(**tiny_settings, nb={"weight": 0.5}).fit(texts, labels, dev=(texts, labels), verbose=False)
    bundle = classifier.save(tmp_path / "model")
    export_onnx(bundle)

    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)

    assert onnx_model.naive_bayes is not None
    np.testing.assert_allclose(onnx_model.predict_proba(texts), classifier.predict_proba(texts), rtol=0, atol=1e-4)


def test_multilabel_data_gets_no_naive_bayes_unless_asked(tiny_settings, multilabel):
    texts, label_lists = multilabel

    classifier = TextClassifier(**tiny_settings).fit(texts, label_lists, dev=(texts, label_lists), verbose=False)

    assert classifier.naive_bayes is None and classifier.config.nb.weight == 0.0
