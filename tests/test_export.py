"""ONNX export and the ONNX Runtime prediction path: same predictions as PyTorch, clear errors."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from textcnn import TextClassifier
from textcnn.cli import app
from textcnn.errors import BundleError, TextcnnError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

PROBES = [
    "the film was great",
    "our hotel was horrible",
    "great",  # shorter than the widest kernel (3)
    "",
    "words the model never saw",
    "the meal was lovely " * 30,  # longer than max_len
]


@pytest.fixture(scope="module")
def exported(tiny_bundle, tmp_path_factory):
    """A copy of the tiny bundle with model.onnx and model.int8.onnx, and the export's checks."""
    from textcnn.export import export_onnx

    bundle = tmp_path_factory.mktemp("onnx") / "model"
    shutil.copytree(tiny_bundle, bundle)
    return bundle, export_onnx(bundle, int8=True)


def test_onnx_predictions_equal_pytorch(exported, english):
    bundle, checks = exported
    texts = english[0] + PROBES
    torch_model = TextClassifier.load(bundle)
    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)

    np.testing.assert_allclose(onnx_model.predict_proba(texts), torch_model.predict_proba(texts), rtol=0, atol=1e-4)
    assert onnx_model.predict(texts) == torch_model.predict(texts)
    assert onnx_model.predict_proba([]).shape == (0, 2)
    assert [check.path.name for check in checks] == ["model.onnx", "model.int8.onnx"]
    assert checks[0].max_probability_diff <= 1e-4 and checks[0].same_label_share == 1.0


@pytest.mark.parametrize("long_text, pool", [("windows", "max"), ("windows", "mean"), ("head-tail", "max")])
def test_onnx_reads_long_texts_as_pytorch_does(exported, english, long_text, pool):
    from textcnn.config import build_config

    bundle, _ = exported
    texts = english[0][:10] + PROBES + [" ".join(["the film was great"] * 10)]
    models = [TextClassifier.load(bundle), TextClassifier.load(bundle, runtime="onnx", threads=1)]
    for model in models:
        model.config = build_config(model.config, {"tokenizer": {"long_text": long_text, "window_pool": pool}})
    encoded = models[1].encode(texts)

    assert encoded.num_truncated == 2 and len(models[1].predict_logits(encoded)) == len(texts)
    np.testing.assert_allclose(models[1].predict_proba(texts), models[0].predict_proba(texts), rtol=0, atol=1e-4)


def test_int8_model_runs_and_mostly_agrees(exported, english):
    bundle, checks = exported
    texts, labels = english
    int8 = TextClassifier.load(bundle, runtime="onnx-int8")

    agreement = np.mean(np.array(int8.predict(texts + PROBES)) == np.array(TextClassifier.load(bundle).predict(texts + PROBES)))
    assert agreement >= 0.9
    assert int8.evaluate(texts, labels)["accuracy"] >= 0.9
    assert checks[1].same_label_share >= 0.9


def test_export_to_a_given_path(exported, tmp_path):
    from textcnn.export import export_onnx

    bundle, _ = exported
    [check] = export_onnx(bundle, tmp_path / "out" / "tiny.onnx", check_texts=50)

    assert check.path == tmp_path / "out" / "tiny.onnx" and check.path.exists()


def test_missing_or_stale_export_is_a_bundle_error(exported, tiny_classifier, tmp_path):
    bundle, _ = exported
    with pytest.raises(BundleError, match=r"model.onnx does not exist: run `textcnn export .* --onnx` first"):
        TextClassifier.load(tiny_classifier.save(tmp_path / "fresh"), runtime="onnx")
    stale = tmp_path / "stale"
    shutil.copytree(bundle, stale)
    tiny_classifier.model.classifier.bias.data += 1.0
    try:
        tiny_classifier.save(stale)
    finally:
        tiny_classifier.model.classifier.bias.data -= 1.0
    with pytest.raises(BundleError, match="exported from other weights.*run `textcnn export .* --onnx --int8` again"):
        TextClassifier.load(stale, runtime="onnx-int8")


def test_an_onnx_file_linked_from_outside_the_bundle_is_refused(exported, tmp_path):
    bundle, _ = exported
    copy = shutil.copytree(bundle, tmp_path / "copy")
    (copy / "model.onnx").rename(tmp_path / "elsewhere.onnx")
    (copy / "model.onnx").symlink_to(tmp_path / "elsewhere.onnx")

    with pytest.raises(BundleError, match=r"copy/model\.onnx: is a symbolic link to .*elsewhere\.onnx, outside the bundle directory"):
        TextClassifier.load(copy, runtime="onnx")


def test_unknown_runtime_is_refused(tiny_bundle):
    with pytest.raises(TextcnnError, match="unknown runtime 'tensorrt'; choose one of torch, torch-bf16, onnx, onnx-int8"):
        TextClassifier.load(tiny_bundle, runtime="tensorrt")


def test_missing_onnxruntime_names_the_extra(tiny_bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails

    with pytest.raises(TextcnnError, match=r'need onnxruntime: pip install "textcnn\[onnx\]"'):
        TextClassifier.load(tiny_bundle, runtime="onnx")


def test_cli_predict_with_the_onnx_runtime(exported):
    bundle, _ = exported

    result = CliRunner().invoke(app, ["predict", str(bundle), "the film was great", "--runtime", "onnx", "--threads", "1"])

    assert result.exit_code == 0, result.output
    assert '"label": "positive"' in result.output


def test_cli_export_wiring(tmp_path, monkeypatch):
    import textcnn.export

    calls = []
    monkeypatch.setattr(textcnn.export, "export_onnx", lambda *args, **kwargs: calls.append((args, kwargs)) or [])

    assert CliRunner().invoke(app, ["export", str(tmp_path), "--onnx", "--int8"]).exit_code == 0
    assert calls == [((tmp_path, None), {"int8": True})]
    result = CliRunner().invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 1 and "say what to export: --onnx" in result.output


def test_onnx_export_of_the_ngram_bag_branch(english, tiny_settings, tmp_path):
    from textcnn.export import export_onnx

    texts, labels = english
    model = {"ngram_bag": 3, "ngram_buckets": 64, "ngram_dim": 8}
    bundle = TextClassifier(**tiny_settings, model=model).fit(texts, labels, verbose=False).save(tmp_path / "bag")

    checks = export_onnx(bundle)
    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)

    assert checks[0].max_probability_diff <= 1e-4
    np.testing.assert_allclose(
        onnx_model.predict_proba(texts + PROBES), TextClassifier.load(bundle).predict_proba(texts + PROBES), rtol=0, atol=1e-4
    )


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_onnx_export_of_position_embeddings(english, tiny_settings, tmp_path, positions):
    from textcnn.export import export_onnx

    texts, labels = english
    bundle = TextClassifier(**tiny_settings, model={"positions": positions}).fit(texts, labels, verbose=False).save(
        tmp_path / positions
    )

    checks = export_onnx(bundle)
    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)

    assert checks[0].max_probability_diff <= 1e-4
    np.testing.assert_allclose(
        onnx_model.predict_proba(texts + PROBES), TextClassifier.load(bundle).predict_proba(texts + PROBES), rtol=0, atol=1e-4
    )


def test_onnx_multilabel_predictions_apply_sigmoid_and_thresholds_as_pytorch(tmp_path):
    from conftest import TINY_SETTINGS, multilabel_corpus
    from textcnn.export import export_onnx

    texts, labels = multilabel_corpus()
    settings = {**TINY_SETTINGS, "epochs": 20, "patience": 20, "ema_decay": None}
    bundle = TextClassifier(**settings).fit(texts, labels, dev=(texts, labels), verbose=False).save(tmp_path / "multi")

    checks = export_onnx(bundle, int8=True)
    torch_model = TextClassifier.load(bundle)
    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)
    probes = texts + PROBES

    assert onnx_model.multi_label and onnx_model.thresholds is not None
    assert checks[0].max_probability_diff <= 1e-4 and checks[0].same_label_share == 1.0
    probabilities = onnx_model.predict_proba(probes)
    np.testing.assert_allclose(probabilities, torch_model.predict_proba(probes), rtol=0, atol=1e-4)
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # sigmoids, not a softmax
    assert onnx_model.predict(probes) == torch_model.predict(probes)
    assert all(isinstance(item, list) and item for item in onnx_model.predict(probes))
    assert onnx_model.evaluate(texts, labels) == torch_model.evaluate(texts, labels)
    int8_model = TextClassifier.load(bundle, runtime="onnx-int8", threads=1)
    assert all(isinstance(item, list) and item for item in int8_model.predict(probes))

    runner = CliRunner()
    result = runner.invoke(app, ["predict", str(bundle), "--runtime", "onnx", "the film was great", "about our hotel"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [sorted(row["labels"]) for row in rows] == [sorted(p) for p in torch_model.predict(["the film was great", "about our hotel"])]


def test_a_model_with_few_kernels_exports_its_folded_kernel_products(english, tmp_path):
    import onnx

    from textcnn.export import export_onnx

    texts, labels = english
    settings = {"embed_dim": 32, "num_filters": 2, "kernel_sizes": [2, 3], "epochs": 3, "device": "cpu", "nb": {"ngrams": 0}}
    classifier = TextClassifier(**settings).fit(texts, labels, dev=(texts, labels), verbose=False)
    bundle = classifier.save(tmp_path / "model")

    export_onnx(bundle)
    graph = onnx.load(bundle / "model.onnx").graph
    onnx_model = TextClassifier.load(bundle, runtime="onnx", threads=1)

    tables = [list(tensor.dims) for tensor in graph.initializer]
    assert [len(classifier.vocab), 2 * (2 + 3)] in tables  # (vocab, sum(k) * filters), gathered per token
    np.testing.assert_allclose(onnx_model.predict_proba(texts + PROBES), classifier.predict_proba(texts + PROBES), rtol=0, atol=1e-4)
