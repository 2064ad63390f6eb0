"""The training history: one row per epoch of every run, in the bundle's history.json and back."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from textcnn import TextClassifier
from textcnn.bundle import load_bundle
from textcnn.errors import BundleError

EPOCHS = 4
KEYS = {
    "member", "run", "epoch", "train_loss", "dev_accuracy", "dev_macro_f1", "seconds", "texts_per_second",
    "learning_rate", "best",
}  # fmt: skip


@pytest.fixture(scope="module")
def refitted():
    """A tiny model trained without a dev file: dev is carved out, so a refit on train + dev follows."""
    from conftest import TINY_SETTINGS, english_corpus

    texts, labels = english_corpus()
    return TextClassifier(**{**TINY_SETTINGS, "epochs": EPOCHS, "refit": "always"}).fit(texts, labels)


@pytest.fixture(scope="module")
def refitted_bundle(refitted, tmp_path_factory):
    return refitted.save(tmp_path_factory.mktemp("history") / "model")


def test_one_row_per_epoch_of_the_selection_run_and_the_refit(refitted):
    history = refitted.history
    refit_epochs = refitted.metrics["refit"]["epochs"]
    assert [row["run"] for row in history] == ["selection"] * EPOCHS + ["refit"] * refit_epochs
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1)) + list(range(1, refit_epochs + 1))
    assert all(set(row) == KEYS and row["member"] == 0 for row in history)
    selection = history[:EPOCHS]
    assert all(0 <= row["dev_accuracy"] <= 1 and 0 <= row["dev_macro_f1"] <= 1 for row in selection)
    assert all(row["train_loss"] > 0 and row["seconds"] > 0 and row["texts_per_second"] > 0 for row in history)
    assert sum(row["best"] for row in selection) >= 1
    assert all(row["dev_accuracy"] is None and row["dev_macro_f1"] is None for row in history[EPOCHS:])


def test_learning_rates_follow_the_linear_schedule(refitted):
    lr = refitted.config.train.lr
    rates = [row["learning_rate"] for row in refitted.history if row["run"] == "selection"]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == EPOCHS
    assert rates == pytest.approx([lr * (1 - epoch / EPOCHS) for epoch in range(1, EPOCHS + 1)])
    refit = [row["learning_rate"] for row in refitted.history if row["run"] == "refit"]
    assert refit == pytest.approx(rates[: len(refit)])  # the refit's schedule also spans train.epochs


def test_fit_result_records_the_learning_rate(refitted):
    assert all(not math.isnan(record.learning_rate) for record in refitted.fit_result.history)


def test_bundle_holds_history_json_and_a_loaded_classifier_has_the_same_history(refitted, refitted_bundle):
    saved = json.loads((refitted_bundle / "history.json").read_text(encoding="utf-8"))
    assert saved == refitted.history
    assert TextClassifier.load(refitted_bundle).history == refitted.history
    assert load_bundle(refitted_bundle).history == tuple(refitted.history)


def test_a_bundle_without_history_json_loads_with_an_empty_history(refitted_bundle, tmp_path):
    old = shutil.copytree(refitted_bundle, tmp_path / "old")
    (old / "history.json").unlink()
    classifier = TextClassifier.load(old)
    assert classifier.history == []
    assert classifier.predict(["the film was great"]) == TextClassifier.load(refitted_bundle).predict(["the film was great"])


@pytest.mark.parametrize("content", ["{}", "[1, 2]", "[{"])
def test_a_damaged_history_json_is_a_bundle_error(refitted_bundle, tmp_path, content):
    damaged = shutil.copytree(refitted_bundle, tmp_path / "damaged")
    (damaged / "history.json").write_text(content, encoding="utf-8")
    with pytest.raises(BundleError, match="history.json"):
        load_bundle(damaged)


def test_ensemble_members_have_their_own_rows(tiny_settings, english):
    texts, labels = english
    classifier = TextClassifier(**{**tiny_settings, "epochs": 2, "ensemble": 2, "refit": "never"}).fit(
        texts, labels, dev=(texts, labels)
    )
    assert [(row["member"], row["run"], row["epoch"]) for row in classifier.history] == [
        (0, "selection", 1), (0, "selection", 2), (1, "selection", 1), (1, "selection", 2),
    ]  # fmt: skip


def test_saving_over_a_bundle_keeps_history_in_step(refitted, tiny_classifier, tmp_path):
    target = refitted.save(tmp_path / "model")
    tiny_classifier.save(target)
    assert TextClassifier.load(target).history == tiny_classifier.history
