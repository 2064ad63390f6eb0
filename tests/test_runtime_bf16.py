"""The torch-bf16 runtime: the network's products in bfloat16 predict what float32 predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from textcnn.classifier import TextClassifier
from textcnn.cli import app
from textcnn.errors import TextcnnError

from conftest import english_corpus


def test_bf16_runtime_keeps_the_labels_and_the_logits_close(tiny_bundle):
    texts, _ = english_corpus()
    exact = TextClassifier.load(tiny_bundle)
    low = TextClassifier.load(tiny_bundle, runtime="torch-bf16")

    assert low.predictor.precision == "bfloat16" and exact.predictor.precision == "float32"
    expected, got = exact.predict_logits(texts), low.predict_logits(texts)
    assert np.abs(got - expected).max() < 0.05
    margin = np.abs(np.diff(np.sort(expected, axis=1)[:, -2:], axis=1)).ravel()
    clear = margin > 0.1
    assert clear.mean() > 0.9
    assert np.array_equal(got.argmax(1)[clear], expected.argmax(1)[clear])
    np.testing.assert_allclose(low.predict_proba(texts).sum(axis=1), 1.0, rtol=1e-5)


def test_bf16_runtime_predicts_a_text_alike_alone_and_in_a_batch(tiny_bundle):
    texts, _ = english_corpus()
    low = TextClassifier.load(tiny_bundle, runtime="torch-bf16")
    together = low.predict_logits(texts[:40])
    alone = np.concatenate([low.predict_logits([text]) for text in texts[:40]])
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-2)


def test_predict_command_takes_the_bf16_runtime(tiny_bundle):
    texts, _ = english_corpus()
    result = CliRunner().invoke(app, ["predict", str(tiny_bundle), *texts[:3], "--runtime", "torch-bf16"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = TextClassifier.load(tiny_bundle).predict(texts[:3])
    assert [row["label"] for row in rows] == expected


def test_an_unknown_runtime_is_refused_with_the_choices(tiny_bundle):
    with pytest.raises(TextcnnError, match="torch-bf16"):
        TextClassifier.load(tiny_bundle, runtime="bf16")
