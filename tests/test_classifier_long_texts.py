"""Long texts through TextClassifier: windows and head + tail at prediction, training and in the bundle."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from textcnn import TextClassifier
from textcnn.config import build_config

LONG = " ".join(["the film was great"] * 10)  # 40 tokens, longer than the tiny model's max_len (16)


def _reading(classifier: TextClassifier, **tokenizer) -> TextClassifier:
    """The same trained model, reading long texts as ``tokenizer`` says."""
    clone = copy.copy(classifier)
    clone.config = build_config(classifier.config, {"tokenizer": tokenizer})
    return clone


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_windows_give_the_same_logits_as_truncation_for_short_texts(tiny_classifier, english, pool):
    texts, _ = english
    assert tiny_classifier.config.tokenizer.max_len == 16

    windows = _reading(tiny_classifier, long_text="windows", window_pool=pool).predict_logits(texts)

    np.testing.assert_array_equal(windows, tiny_classifier.predict_logits(texts))


def test_a_long_text_scores_the_max_of_its_windows(tiny_classifier):
    words = LONG.split()
    starts = [0, 8, 16, 24]  # 40 tokens, max_len 16, stride 8: 1 + ceil(24 / 8) windows
    pieces = [" ".join(words[s : s + 16]) for s in starts]

    pooled = _reading(tiny_classifier, long_text="windows").predict_logits([LONG, "the meal was awful"])

    short = tiny_classifier.predict_logits(["the meal was awful"])[0]
    expected = np.stack([tiny_classifier.predict_logits(pieces).max(axis=0), short])
    torch.testing.assert_close(torch.from_numpy(pooled), torch.from_numpy(expected))  # other batches: float noise only


def test_head_tail_reads_the_head_and_the_tail(tiny_classifier):
    words = [f"w{i}" for i in range(40)]
    encoded = _reading(tiny_classifier, long_text="head-tail").encode([" ".join(words)])

    vocab = tiny_classifier.vocab
    expected = vocab.ids(words[:4] + words[-12:])  # a quarter of max_len 16 from the head
    assert encoded.ids[encoded.offsets[0] : encoded.offsets[0] + encoded.lengths[0]].tolist() == expected
    assert (encoded.num_truncated, encoded.tokens_cut) == (1, 24)


@pytest.mark.parametrize("long_text, pool", [("truncate", "max"), ("head-tail", "max"), ("windows", "mean")])
def test_training_reads_long_texts_and_the_bundle_keeps_the_setting(tiny_settings, english, tmp_path, long_text, pool, textcnn_log):
    texts, labels = english
    texts, labels = texts + [LONG, LONG.replace("great", "awful")], labels + ["positive", "negative"]
    messages = textcnn_log

    classifier = TextClassifier(**tiny_settings, tokenizer={"max_len": 8, "long_text": long_text, "window_pool": pool})
    classifier.fit(texts, labels, dev=(texts, labels), verbose=False)
    reloaded = TextClassifier.load(classifier.save(tmp_path / "model"))

    assert classifier.metrics["dev"]["accuracy"] == 1.0
    assert any(message.startswith("train: 2 of 42 texts were longer than max_len") for message in messages)
    assert (reloaded.config.tokenizer.long_text, reloaded.config.tokenizer.window_pool) == (long_text, pool)
    assert reloaded.config.tokenizer.max_len == 8
    np.testing.assert_array_equal(reloaded.predict_logits(texts), classifier.predict_logits(texts))


def test_max_len_auto_is_resolved_and_saved(tiny_bundle):
    assert TextClassifier.load(tiny_bundle).config.tokenizer.max_len == 16
