"""TextClassifier end to end (spaCy's test_overfitting_IO): fit, predict, save, load, same answers."""

from __future__ import annotations

import numpy as np
import pytest

import textcnn
from textcnn import TextClassifier
from textcnn.workflows import train_on_files
from textcnn.config import build_config
from textcnn.errors import DataError, TextcnnError

UNSEEN_TEXTS = [
    "the film was great",
    "our hotel was horrible",
    "a text with words the model never saw",
    "",
    "great " * 100,  # longer than max_len: truncated
    "这家酒店很好",
]


def _accuracy(predicted, labels) -> float:
    return sum(p == t for p, t in zip(predicted, labels)) / len(labels)


def test_overfits_tiny_english_corpus(tiny_classifier, english):
    texts, labels = english

    assert _accuracy(tiny_classifier.predict(texts), labels) == 1.0
    assert tiny_classifier.config.tokenizer.kind == "word"
    assert tiny_classifier.classes == ["negative", "positive"]
    assert tiny_classifier.metrics["dev"]["accuracy"] == 1.0
    assert tiny_classifier.metrics["dev"] == tiny_classifier.evaluate(texts, labels)  # the kept weights' report


def test_overfits_tiny_chinese_corpus_with_char_tokens(tiny_settings, chinese):
    texts, labels = chinese

    classifier = TextClassifier(**tiny_settings).fit(texts, labels, dev=(texts, labels), verbose=False)

    assert _accuracy(classifier.predict(texts), labels) == 1.0
    assert classifier.config.tokenizer.kind == "char"
    assert classifier.predict(["这部电影非常好", "这部电影非常差"]) == ["positive", "negative"]


def test_jieba_tokenizer_trains_on_chinese(tiny_settings, chinese):
    texts, labels = chinese

    classifier = TextClassifier(**tiny_settings, tokenizer={"kind": "jieba"})
    classifier.fit(texts, labels, dev=(texts, labels), verbose=False)

    assert classifier.config.tokenizer.kind == "jieba"
    assert _accuracy(classifier.predict(texts), labels) == 1.0


def test_without_dev_a_stratified_share_is_held_out(tiny_settings, english, textcnn_log):
    texts, labels = english
    messages = textcnn_log

    classifier = TextClassifier(**tiny_settings).fit(texts, labels, verbose=False)

    assert classifier.metrics["dev"]["num_examples"] == 4
    assert any("holding out 4 of 40" in message for message in messages)


def test_refit_trains_the_final_model_on_all_training_texts(tiny_settings, english, textcnn_log):
    texts, labels = english
    texts = [f"{text} word{i}" for i, text in enumerate(texts)]  # each text has a word of its own
    messages = textcnn_log

    refit = TextClassifier(**tiny_settings).fit(texts, labels, verbose=False)
    kept = TextClassifier(**tiny_settings, refit="never").fit(texts, labels, verbose=False)

    all_words = {token for text in texts for token in text.lower().split()}
    assert refit.metrics["refit"] == {"epochs": refit.fit_result.best_epoch, "texts": 40}
    assert set(refit.vocab.tokens) >= all_words  # held-out texts' words are known to the saved model
    assert len(kept.vocab) == len(refit.vocab) - 4  # the 4 held-out texts' own words
    assert "refit" not in kept.metrics
    assert any("refit: training a fresh model on train + dev (40 texts)" in message for message in messages)
    selection_epochs = len(kept.fit_result.history)  # same seed: the same selection run
    assert len(refit.fit_result.history) == selection_epochs + refit.fit_result.best_epoch


@pytest.mark.parametrize(
    ("refit", "limit", "refits"),
    [("auto", 40, True), ("auto", 39, False), ("always", 39, True), ("never", 40, False)],
)
def test_refit_with_a_given_dev_set_follows_the_setting_and_the_size(tiny_settings, english, monkeypatch, refit, limit, refits):
    # `auto` refits on train + a dev file only up to REFIT_AUTO_MAX_TEXTS texts (here 30 + 10 = 40)
    monkeypatch.setattr("textcnn.training.pipeline.REFIT_AUTO_MAX_TEXTS", limit)
    texts, labels = english

    classifier = TextClassifier(**tiny_settings, refit=refit).fit(
        texts[:30], labels[:30], dev=(texts[30:], labels[30:]), verbose=False
    )

    assert classifier.metrics.get("refit", {}).get("texts") == (40 if refits else None)
    assert classifier.metrics["dev"]["num_examples"] == 10


def test_resolved_settings_are_kept_in_the_config(tiny_settings, tiny_classifier):
    config = tiny_classifier.config

    assert config.model.num_filters == tiny_settings["num_filters"]
    assert config.model.kernel_sizes == tuple(tiny_settings["kernel_sizes"])
    assert isinstance(config.tokenizer.max_len, int)


def test_reloaded_bundle_predicts_identically(tiny_classifier, tiny_bundle):
    reloaded = TextClassifier.load(tiny_bundle)

    np.testing.assert_array_equal(reloaded.predict_proba(UNSEEN_TEXTS), tiny_classifier.predict_proba(UNSEEN_TEXTS))
    assert reloaded.predict(UNSEEN_TEXTS) == tiny_classifier.predict(UNSEEN_TEXTS)
    assert reloaded.classes == tiny_classifier.classes
    assert reloaded.config == tiny_classifier.config
    assert textcnn.load(tiny_bundle).predict(UNSEEN_TEXTS) == tiny_classifier.predict(UNSEEN_TEXTS)


def test_batched_predictions_equal_one_at_a_time(tiny_classifier, english):
    texts = english[0] + UNSEEN_TEXTS

    batched = tiny_classifier.predict_proba(texts, batch_size=7)
    single = np.concatenate([tiny_classifier.predict_proba([text]) for text in texts])

    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)
    assert tiny_classifier.predict(texts) == [tiny_classifier.predict([text])[0] for text in texts]


def test_predict_proba_columns_follow_classes(tiny_classifier):
    probabilities = tiny_classifier.predict_proba(["the meal was superb", "the meal was dreadful"])

    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    positive = tiny_classifier.classes.index("positive")
    assert probabilities[0, positive] > 0.5 > probabilities[1, positive]


def test_top_k_is_sorted_and_matches_predict_proba(tiny_classifier):
    texts = ["the film was lovely", "this book was boring"]

    top = tiny_classifier.predict_top_k(texts, k=5)
    probabilities = tiny_classifier.predict_proba(texts)

    for pairs, row in zip(top, probabilities):
        assert len(pairs) == 2  # k is capped at the number of classes
        assert pairs[0][1] >= pairs[1][1]
        assert {label: p for label, p in pairs} == pytest.approx(dict(zip(tiny_classifier.classes, row.tolist())))
    assert [pairs[0][0] for pairs in top] == tiny_classifier.predict(texts)


def test_evaluate_reports_on_labelled_texts(tiny_classifier, english):
    report = tiny_classifier.evaluate(*english)

    assert report["accuracy"] == 1.0
    assert report["macro_f1"] == 1.0
    assert report["confusion_matrix"]["matrix"] == [[20, 0], [0, 20]]


def test_predict_no_texts_gives_nothing(tiny_classifier):
    assert tiny_classifier.predict([]) == []
    assert tiny_classifier.predict_proba([]).shape == (0, 2)


def test_single_string_is_refused(tiny_classifier):
    with pytest.raises(TypeError, match="list of texts"):
        tiny_classifier.predict("the film was great")


def test_integer_labels_round_trip_as_integers(tiny_settings, english, tmp_path):
    texts, labels = english
    numbers = [1 if label == "positive" else 0 for label in labels]

    classifier = TextClassifier(**tiny_settings).fit(texts, numbers, dev=(texts, numbers), verbose=False)
    reloaded = TextClassifier.load(classifier.save(tmp_path / "model"))

    for model in (classifier, reloaded):
        assert model.classes == [0, 1]
        predicted = model.predict(texts)
        assert predicted == numbers
        assert all(type(label) is int for label in predicted)
        assert type(model.predict_top_k(texts[:1])[0][0][0]) is int


def test_unseen_dev_label_is_an_error_naming_it(tiny_settings, english):
    texts, labels = english

    with pytest.raises(DataError, match=r"dev.*label 'neutral'"):
        TextClassifier(**tiny_settings).fit(texts, labels, dev=(texts[:2], ["positive", "neutral"]), verbose=False)


def test_unseen_evaluation_label_is_an_error_naming_it(tiny_classifier):
    with pytest.raises(DataError, match=r"test\.csv.*label 'mixed'"):
        tiny_classifier.evaluate(["the film was great"], ["mixed"], source="test.csv")


@pytest.mark.parametrize(
    ("texts", "labels", "pattern"),
    [
        (["a", "b"], ["x"], "2 texts but 1 labels"),
        (["a"], ["x"], "at least 2 training texts"),
        (["a", "b"], ["x", "x"], "at least 2 classes"),
    ],
)
def test_unusable_training_data_is_a_data_error(tiny_settings, texts, labels, pattern):
    with pytest.raises(DataError, match=pattern):
        TextClassifier(**tiny_settings).fit(texts, labels, verbose=False)


@pytest.mark.parametrize(
    "call",
    [
        "predict",
        "predict_proba",
        "predict_top_k",
        "evaluate",
        "save",
        "classes",
    ],
)
def test_using_an_untrained_classifier_is_a_textcnn_error(call, tmp_path):
    classifier = TextClassifier()
    calls = {
        "predict": lambda: classifier.predict(["x"]),
        "predict_proba": lambda: classifier.predict_proba(["x"]),
        "predict_top_k": lambda: classifier.predict_top_k(["x"]),
        "evaluate": lambda: classifier.evaluate(["x"], ["y"]),
        "save": lambda: classifier.save(tmp_path / "model"),
        "classes": lambda: classifier.classes,
    }

    with pytest.raises(TextcnnError, match="not trained yet"):
        calls[call]()


# --- pretrained vectors ------------------------------------------------------------------------------


@pytest.fixture
def vectors_file(english, tmp_path):
    """A 12-d GloVe-style file with a vector for every word of the English corpus but "hotel"."""
    words = sorted({word for text in english[0] for word in text.split()} - {"hotel"})
    rng = np.random.default_rng(3)
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} " + " ".join(f"{x:.4f}" for x in rng.normal(size=12)) + "\n" for w in words), encoding="utf-8")
    return path


PRETRAINED_SETTINGS = {"dropout": 0.0, "token_dropout": 0.0, "ema_decay": None, "epochs": 25, "patience": 25, "lr": 0.01}


@pytest.mark.parametrize("mode", ["auto", "static", "nonstatic", "multichannel"])
def test_fits_with_pretrained_vectors_and_reloads_identically(tiny_settings, english, vectors_file, tmp_path, mode, textcnn_log):
    texts, labels = english
    messages = textcnn_log

    settings = {**tiny_settings, **PRETRAINED_SETTINGS}
    classifier = TextClassifier(**settings, vectors=str(vectors_file), embedding_mode=mode)
    classifier.fit(texts, labels, dev=(texts, labels), verbose=False)
    reloaded = TextClassifier.load(classifier.save(tmp_path / "model"))
    vectors_file.unlink()  # a bundle never needs its vectors file

    assert _accuracy(classifier.predict(texts), labels) == 1.0
    assert classifier.config.model.embedding_mode == ("nonstatic" if mode == "auto" else mode)
    assert classifier.config.model.embed_dim == 12  # follows the vectors
    assert any("17 of 18 vocabulary words (94.4%), covering 93.8% of the training tokens" in m for m in messages)
    assert any("model.embed_dim: 12, the size of the pretrained vectors (configured: 16)" in m for m in messages)
    np.testing.assert_array_equal(reloaded.predict_proba(texts), classifier.predict_proba(texts))
    assert reloaded.config == classifier.config


def test_static_vectors_stay_as_read(tiny_settings, english, vectors_file):
    from textcnn.data.vectors import read_vectors

    texts, labels = english
    classifier = TextClassifier(**tiny_settings, vectors=str(vectors_file), embedding_mode="static")
    classifier.fit(texts, labels, dev=(texts, labels), verbose=False)

    expected = read_vectors(vectors_file, classifier.vocab, seed=classifier.config.train.seed).matrix
    np.testing.assert_array_equal(classifier.model.embedding.weight.detach().numpy(), expected)


def test_training_keeps_output_rows_within_max_norm(tiny_settings, english):
    texts, labels = english

    classifier = TextClassifier(**{**tiny_settings, "lr": 0.1}, max_norm=0.5).fit(texts, labels, verbose=False)

    assert classifier.model.classifier.weight.norm(dim=1).max().item() <= 0.5 + 1e-6


def test_second_training_run_on_the_same_files_reads_the_cache(tiny_settings, english, write_data, tmp_path, monkeypatch, textcnn_log):
    texts, labels = english
    train, test = write_data("train.csv", texts, labels), write_data("test.csv", texts[:6], labels[:6])
    monkeypatch.setenv("TEXTCNN_CACHE_DIR", str(tmp_path / "cache"))
    config = build_config(None, tiny_settings)

    first = train_on_files(config, train, dev_path=train, test_path=test)
    first_log = "\n".join(textcnn_log)
    textcnn_log.clear()
    second = train_on_files(config, train, dev_path=train, test_path=test)
    second_log = "\n".join(textcnn_log)

    assert "(cached)" not in first_log
    assert f"read and tokenized 40 texts from {train} (cached)" in second_log
    assert f"read and tokenized 6 texts from {test} (cached)" in second_log
    # train with tokenizer auto, the same file as dev with the resolved tokenizer, and test
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3
    np.testing.assert_array_equal(first.predict_proba(UNSEEN_TEXTS), second.predict_proba(UNSEEN_TEXTS))
    assert first.metrics == second.metrics


def test_cache_can_be_turned_off(tiny_settings, english, write_data, tmp_path, monkeypatch):
    train = write_data("train.csv", *english)
    monkeypatch.setenv("TEXTCNN_CACHE_DIR", str(tmp_path / "cache"))

    train_on_files(build_config(None, {**tiny_settings, "data.cache": False}), train)

    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("setting", [{"class_weight": "balanced"}, {"sampler": "balanced"}])
def test_class_weight_or_balanced_sampler_fit_a_skewed_single_label_set(tiny_settings, english, setting):
    texts, labels = english
    keep = [i for i, label in enumerate(labels) if label == "positive" or i % 4 == 1]  # 20 positive, 10 negative
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]

    classifier = TextClassifier(**tiny_settings, **setting).fit(texts, labels, dev=(texts, labels), verbose=False)

    assert classifier.evaluate(texts, labels)["macro_f1"] == 1.0


def test_bfloat16_training_fits_the_corpus_and_saves_its_precision(tiny_settings, english, tmp_path):
    texts, labels = english
    settings = {**tiny_settings, "num_filters": 16, "precision": "bfloat16"}  # 16 filters: the bfloat16 window products
    classifier = TextClassifier(**settings).fit(texts, labels, dev=(texts, labels), verbose=False)

    assert _accuracy(classifier.predict(texts), labels) >= 0.95
    reloaded = TextClassifier.load(classifier.save(tmp_path / "bf16"))
    assert reloaded.config.train.precision == "bfloat16"
    assert reloaded.predict(texts) == classifier.predict(texts)
