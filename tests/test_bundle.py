"""The model bundle: the files it holds, versioned names, no pickle anywhere, errors that name the file."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import textcnn
from textcnn import TextClassifier
from textcnn.bundle import FORMAT_VERSION, load_bundle
from textcnn.config import RunConfig
from textcnn.errors import BundleError

BUNDLE_FILES = {"model.safetensors", "config.json", "vocab.json", "labels.json", "metrics.json", "history.json"}


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    """A copy of the session's bundle that a test may damage."""
    return shutil.copytree(tiny_bundle, tmp_path / "copy")


def _read(bundle, name):
    return json.loads((bundle / name).read_text(encoding="utf-8"))


def _expected_files(bundle) -> set[str]:
    """BUNDLE_FILES, and the Naive Bayes where the bundle's config gives it a weight."""
    weight = _read(bundle, "config.json")["config"]["nb"]["weight"]
    return BUNDLE_FILES | ({"naive_bayes.safetensors"} if weight > 0 else set())


def test_bundle_holds_weights_and_json_files(tiny_bundle):
    assert {path.name for path in tiny_bundle.iterdir()} == _expected_files(tiny_bundle)


def test_config_json_records_versions_and_the_resolved_config(tiny_bundle, tiny_classifier):
    info = _read(tiny_bundle, "config.json")

    assert info["format_version"] == FORMAT_VERSION
    assert info["textcnn_version"] == textcnn.__version__
    assert info["model_name"] == "textcnn"
    assert info["torch_version"] == torch.__version__.split("+")[0]
    assert info["vocab_size"] == len(tiny_classifier.vocab)
    assert info["num_classes"] == 2
    assert RunConfig.model_validate(info["config"]) == tiny_classifier.config


def test_vocab_labels_and_metrics_are_plain_json(tiny_bundle, tiny_classifier):
    vocab = _read(tiny_bundle, "vocab.json")

    assert vocab[:2] == ["<pad>", "<unk>"]
    assert vocab == tiny_classifier.vocab.tokens
    assert _read(tiny_bundle, "labels.json") == ["negative", "positive"]
    assert _read(tiny_bundle, "metrics.json")["dev"]["accuracy"] == 1.0


def test_no_file_is_a_pickle_or_a_torch_zip(tiny_bundle):
    for path in tiny_bundle.iterdir():
        head = path.read_bytes()[:4]
        assert not head.startswith(b"\x80"), f"{path.name} starts like a pickle"
        assert not head.startswith(b"PK\x03\x04"), f"{path.name} is a zip (torch.save format)"


def test_loading_never_unpickles(tiny_bundle, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the bundle loader unpickled something")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)

    classifier = TextClassifier.load(tiny_bundle)

    assert classifier.predict(["the film was great"]) == ["positive"]


def test_saving_over_a_bundle_replaces_it_and_leaves_no_temporary_files(tiny_classifier, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"stale weights")

    tiny_classifier.save(target)
    tiny_classifier.save(target)

    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    assert {path.name for path in target.iterdir()} == _expected_files(target)
    assert TextClassifier.load(target).predict(["the film was great"]) == ["positive"]


def test_save_creates_missing_parent_folders(tiny_classifier, tmp_path):
    saved = tiny_classifier.save(tmp_path / "a" / "b" / "model")

    assert {path.name for path in saved.iterdir()} == _expected_files(saved)


def test_save_takes_only_the_extra_info_that_loading_accepts(tiny_classifier, tmp_path):
    with pytest.raises(BundleError, match="extra_info note: a bundle records only data, tune"):
        tiny_classifier.save(tmp_path / "model", extra_info={"note": "mine"})

    assert not (tmp_path / "model").exists()


def test_missing_directory_is_a_bundle_error(tmp_path):
    with pytest.raises(BundleError, match=r"model bundle not found: .*nowhere"):
        load_bundle(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "labels.json", "model.safetensors"])
def test_missing_file_error_names_it(bundle_copy, name):
    (bundle_copy / name).unlink()

    with pytest.raises(BundleError, match=rf"{name} is missing"):
        load_bundle(bundle_copy)


def test_unknown_format_version_is_refused(bundle_copy):
    info = _read(bundle_copy, "config.json")
    info["format_version"] = FORMAT_VERSION + 1
    (bundle_copy / "config.json").write_text(json.dumps(info), encoding="utf-8")

    with pytest.raises(BundleError, match=rf"format_version {FORMAT_VERSION + 1} is not supported.*upgrade textcnn"):
        load_bundle(bundle_copy)


def _as_format_1(bundle: Path, nb_kind: str | None) -> None:
    """Rewrite a bundle's config.json as format 1 wrote it (nb.kind, nb.multi_label)."""
    info = _read(bundle, "config.json")
    nb = info["config"]["nb"]
    method = nb.pop("method")
    if nb_kind is not None:
        assert nb_kind == method
        nb["kind"] = nb_kind
    nb["multi_label"] = nb.pop("for_multi_label")
    info["format_version"] = 1
    (bundle / "config.json").write_text(json.dumps(info), encoding="utf-8")


def test_format_1_bundle_loads_and_predicts_as_saved(bundle_copy, tiny_classifier, english):
    _as_format_1(bundle_copy, nb_kind="logistic")

    loaded = TextClassifier.load(bundle_copy)

    assert loaded.config.nb.method == "logistic"
    assert loaded.config.nb.for_multi_label is False
    np.testing.assert_array_equal(loaded.predict_logits(english[0]), tiny_classifier.predict_logits(english[0]))


def test_format_1_bundle_without_nb_kind_was_made_with_the_multinomial_naive_bayes(bundle_copy):
    _as_format_1(bundle_copy, nb_kind=None)

    assert TextClassifier.load(bundle_copy).config.nb.method == "multinomial"


def test_format_1_bundle_saved_before_case_markers_reads_text_without_them(bundle_copy):
    _as_format_1(bundle_copy, nb_kind="logistic")
    info = _read(bundle_copy, "config.json")
    assert info["config"]["tokenizer"].pop("case_markers") is True  # today's default
    (bundle_copy / "config.json").write_text(json.dumps(info), encoding="utf-8")

    classifier = TextClassifier.load(bundle_copy)

    assert classifier.config.tokenizer.case_markers is False
    assert classifier.tokenizer("Good Film") == ["good", "film"]


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("config.json", "{not json", r"config\.json: not valid JSON"),
        ("vocab.json", '["a", "b"]', r"vocab\.json: a vocabulary starts with '<pad>', '<unk>'"),
        ("labels.json", '["pos", "pos"]', r"labels\.json: label 'pos' appears twice"),
        ("model.safetensors", "not safetensors", r"model\.safetensors: not safetensors"),
    ],
)
def test_damaged_file_is_a_bundle_error(bundle_copy, name, content, pattern):
    (bundle_copy / name).write_text(content, encoding="utf-8")

    with pytest.raises(BundleError, match=pattern):
        load_bundle(bundle_copy)


def test_weights_that_do_not_fit_the_config_are_a_bundle_error(bundle_copy):
    info = _read(bundle_copy, "config.json")
    info["config"]["model"]["num_filters"] += 1
    (bundle_copy / "config.json").write_text(json.dumps(info), encoding="utf-8")

    with pytest.raises(BundleError, match="weights do not match config.json"):
        load_bundle(bundle_copy)


@pytest.fixture(scope="module")
def multilabel_bundle(tmp_path_factory):
    from conftest import TINY_SETTINGS, multilabel_corpus

    texts, labels = multilabel_corpus()
    classifier = TextClassifier(**{**TINY_SETTINGS, "epochs": 2}).fit(texts, labels, dev=(texts, labels), verbose=False)
    return classifier.save(tmp_path_factory.mktemp("multi") / "model")


def test_multilabel_bundle_stores_thresholds_as_json(multilabel_bundle):
    thresholds = _read(multilabel_bundle, "thresholds.json")

    assert {path.name for path in multilabel_bundle.iterdir()} == _expected_files(multilabel_bundle) | {"thresholds.json"}
    assert len(thresholds) == len(_read(multilabel_bundle, "labels.json")) == 6
    assert all(isinstance(value, float) for value in thresholds)
    assert _read(multilabel_bundle, "config.json")["config"]["data"]["multi_label"] is True


def test_multilabel_bundle_without_thresholds_is_a_bundle_error(multilabel_bundle, tmp_path):
    copy = shutil.copytree(multilabel_bundle, tmp_path / "copy")
    (copy / "thresholds.json").write_text("[0.5]", encoding="utf-8")

    with pytest.raises(BundleError, match=r"thresholds\.json: expected a list of 6 thresholds"):
        load_bundle(copy)
    (copy / "thresholds.json").unlink()
    with pytest.raises(BundleError, match=r"thresholds\.json is missing"):
        load_bundle(copy)


def test_saving_a_single_label_model_over_a_multilabel_bundle_drops_its_thresholds(multilabel_bundle, tiny_classifier, tmp_path):
    copy = shutil.copytree(multilabel_bundle, tmp_path / "copy")

    tiny_classifier.save(copy)

    assert not (copy / "thresholds.json").exists()
    assert TextClassifier.load(copy).predict(["the film was great"]) == ["positive"]
