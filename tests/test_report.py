"""The HTML report of a bundle: tables, heat map, bars and curves, escaped, self-contained; `textcnn report`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from textcnn import TextClassifier
from textcnn.evaluation import multilabel_report
from textcnn.report import (
    confusion_heatmap, f1_bars, per_class_table, render_report, summary_table, training_curves, write_report,
)  # fmt: skip

from conftest import TINY_SETTINGS, english_corpus

ODD = '<b>&"x"'  # a label that breaks HTML unless escaped
ODD_ESCAPED = "&lt;b&gt;&amp;&quot;x&quot;"
EPOCHS = 5


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A tiny model (classes ODD and negative) with a refit and a test report, saved."""
    texts, labels = english_corpus()
    labels = [ODD if label == "positive" else label for label in labels]
    classifier = TextClassifier(**{**TINY_SETTINGS, "epochs": EPOCHS, "refit": "always"}).fit(texts, labels)
    classifier.metrics["test"] = classifier.evaluate(texts[:10], labels[:10], source="test")
    return classifier.save(tmp_path_factory.mktemp("report") / "model")


@pytest.fixture(scope="module")
def loaded(bundle):
    return TextClassifier.load(bundle)


@pytest.fixture(scope="module")
def page(bundle, tmp_path_factory):
    path = write_report(bundle, tmp_path_factory.mktemp("out") / "report.html")
    return path.read_text(encoding="utf-8")


def _svg(page: str, css: str) -> str:
    (found,) = re.findall(rf'<svg class="chart {css}".*?</svg>', page, flags=re.S)
    return found


def test_every_label_is_escaped(page):
    assert ODD not in page
    assert ODD_ESCAPED in page and "negative" in page
    assert page.count(ODD_ESCAPED) >= 2 * 4  # dev and test: per-class table, heat map (row and column), bars


def test_the_report_is_self_contained(page):
    assert "http" not in page
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page


def test_the_summary_table_has_dev_and_test(page, loaded):
    summary = re.search(r'<table class="summary">.*?</table>', page, flags=re.S).group(0)
    for split in ("dev", "test"):
        report = loaded.metrics[split]
        assert f'<th scope="row">{split}</th><td>{report["num_examples"]:,}</td><td>{100 * report["accuracy"]:.2f}</td>' in summary


def test_the_heat_map_holds_the_confusion_counts(page, loaded):
    tables = re.findall(r'<table class="confusion">.*?</table>', page, flags=re.S)
    assert len(tables) == 2
    for table, split in zip(tables, ("dev", "test")):
        counts = [int(count.replace(",", "")) for count in re.findall(r'<td class="cell"[^>]*>([\d,]+)</td>', table)]
        assert counts == [count for row in loaded.metrics[split]["confusion_matrix"]["matrix"] for count in row]


def test_per_class_table_and_f1_bars(page, loaded):
    report = loaded.metrics["test"]
    table = per_class_table(report)
    for row in report["per_class"]:
        label = ODD_ESCAPED if row["label"] == ODD else row["label"]
        assert f'<th scope="row">{label}</th><td>{100 * row["precision"]:.2f}</td>' in table
        assert f"{label}: F1 {100 * row['f1']:.2f}%" in f1_bars(report)
    assert f1_bars(report).count('<rect class="bar"') == len(report["per_class"])


def test_one_curve_point_per_epoch(page, loaded):
    history = loaded.history
    selection = [row for row in history if row["run"] == "selection"]
    assert len(selection) == EPOCHS and len(history) > EPOCHS  # the refit's epochs follow
    assert _svg(page, "train-loss").count('<circle class="point"') == len(history)
    assert _svg(page, "learning-rate").count('<circle class="point"') == len(history)
    assert _svg(page, "dev-score").count('<circle class="point"') == 2 * len(selection)  # accuracy, macro-F1; refit: none
    assert 'class="run refit"' in _svg(page, "train-loss")


def test_a_bundle_without_history_still_reports(bundle, tmp_path):
    old = shutil.copytree(bundle, tmp_path / "old")
    (old / "history.json").unlink()
    page = write_report(old, tmp_path / "old.html").read_text(encoding="utf-8")
    assert "no training history" in page and '<table class="confusion">' in page


def test_ensemble_members_are_marked():
    history = [
        {"member": member, "run": run, "epoch": epoch, "train_loss": 1.0 / epoch, "dev_accuracy": None,
         "dev_macro_f1": None, "learning_rate": 0.01}
        for member in (0, 1) for run, epochs in (("selection", 2), ("refit", 1)) for epoch in range(1, epochs + 1)
    ]  # fmt: skip
    curves = training_curves(history)
    for name in ("selection (member 1)", "refit (member 1)", "selection (member 2)", "refit (member 2)"):
        assert f">{name}</text>" in curves


def test_a_multi_label_report_has_no_heat_map_and_its_own_figures():
    targets = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    predicted = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]])
    report = multilabel_report(targets, predicted, ["a", "b", ODD], np.array([0.5, 0.4, 0.3]))
    assert "No confusion matrix" in confusion_heatmap(report)
    summary = summary_table({"dev": report})
    assert "micro-F1 %" in summary and "hamming loss" in summary
    assert "<th scope=\"col\">threshold</th>" in per_class_table(report)
    page = render_report({"dev": report}, [])
    assert ODD not in page and ODD_ESCAPED in page and "http" not in page


def test_empty_metrics_give_a_page_too():
    page = render_report({}, [], title=ODD)
    assert "no dev or test report" in page and f"<title>{ODD_ESCAPED}</title>" in page


def _textcnn(*args, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "textcnn", *map(str, args)], capture_output=True, text=True, encoding="utf-8",
        env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


def test_cli_writes_the_report(bundle, tmp_path):
    out = tmp_path / "sub" / "report.html"
    result = _textcnn("report", bundle, "--out", out)
    assert result.returncode == 0, result.stderr
    assert ODD_ESCAPED in out.read_text(encoding="utf-8")
    assert str(out) in result.stderr


def test_cli_on_a_missing_bundle_is_a_one_line_error(tmp_path):
    result = _textcnn("report", tmp_path / "missing", "--out", tmp_path / "report.html")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "not a directory" in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_pngs_without_matplotlib_are_a_clear_error(loaded, tmp_path, monkeypatch):
    from textcnn.errors import TextcnnError
    from textcnn.report import write_pngs

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(TextcnnError, match=r'matplotlib: pip install "textcnn\[plots\]"'):
        write_pngs(loaded.metrics, loaded.history, tmp_path / "png")


def test_pngs_are_drawn_with_matplotlib(loaded, tmp_path):
    pytest.importorskip("matplotlib")
    from textcnn.report import write_pngs

    written = write_pngs(loaded.metrics, loaded.history, tmp_path / "png")
    assert [path.name for path in written] == ["training.png", "dev.png", "test.png"]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_cli_png_option(bundle, tmp_path):
    result = _textcnn("report", bundle, "--out", tmp_path / "report.html", "--png", tmp_path / "png")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.returncode == 1 and result.stderr.startswith("error: ") and "textcnn[plots]" in result.stderr
        assert not (tmp_path / "report.html").exists()
    else:
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "png" / "training.png").exists() and (tmp_path / "report.html").exists()
