"""The `textcnn` command end to end, in a real subprocess: train, evaluate, predict, and clean failures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from textcnn import TextClassifier

from conftest import english_corpus, multilabel_corpus, write_dataset

TINY_FLAGS = [
    "--epochs", "12",
    "--patience", "12",
    "--kernel-sizes", "2,3",
    "--batch-size", "8",
    "--lr", "0.03",
    "--device", "cpu",
    "--set", "model.embed_dim=16",
    "--set", "model.num_filters=8",
]  # fmt: skip

# One thread: see conftest.py. A wide terminal, so that messages are not wrapped mid-path.
_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}


def textcnn(*args: str | Path, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "textcnn", *map(str, args)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_ENV,
        cwd=cwd,
        timeout=120,
    )


def assert_clean_failure(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 1, one `error:` line that contains every fragment, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train once through the CLI: train = dev = the English corpus, test = its first 10 texts."""
    folder = tmp_path_factory.mktemp("cli")
    texts, labels = english_corpus()
    train = write_dataset(folder / "train.csv", texts, labels)
    test = write_dataset(folder / "test.csv", texts[:10], labels[:10])
    result = textcnn("train", train, "--dev", train, "--test", test, "--out", folder / "model", *TINY_FLAGS)
    return folder, result


def test_train_saves_a_bundle_and_reports_dev_and_test(trained):
    folder, result = trained

    assert result.returncode == 0, result.stderr
    assert "dev accuracy 100.00%" in result.stdout
    assert "test accuracy 100.00%" in result.stdout
    assert f"saved model bundle to {folder / 'model'}" in result.stdout
    assert "num_filters: 8" in result.stderr  # the resolved configuration is logged
    metrics = json.loads((folder / "model" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["num_examples"] == 10
    info = json.loads((folder / "model" / "config.json").read_text(encoding="utf-8"))
    assert info["config"]["model"]["kernel_sizes"] == [2, 3]
    assert len(info["data"]["train"]["sha256"]) == 64


def test_evaluate_json(trained):
    folder, _ = trained

    result = textcnn("evaluate", folder / "model", folder / "test.csv", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accuracy"] == 1.0
    assert report["macro_f1"] == 1.0
    assert [row["label"] for row in report["per_class"]] == ["negative", "positive"]
    assert report["confusion_matrix"] == {"labels": ["negative", "positive"], "matrix": [[5, 0], [0, 5]]}


def test_evaluate_table_shows_the_file_name_as_given(trained, tmp_path):
    folder, _ = trained
    texts, labels = english_corpus()
    data = write_dataset(tmp_path / "test[v2].csv", texts[:4], labels[:4])

    result = textcnn("evaluate", folder / "model", data)

    assert result.returncode == 0, result.stderr
    assert f"{data}: accuracy 100.00%" in result.stdout
    assert "per class" in result.stdout


def test_predict_texts_with_top_k(trained):
    folder, _ = trained
    texts = ["the film was great", "this book was awful"]

    result = textcnn("predict", folder / "model", *texts, "--top-k", "2")

    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == texts
    assert [row["label"] for row in rows] == TextClassifier.load(folder / "model").predict(texts)
    for row in rows:
        assert len(row["top_k"]) == 2
        assert row["top_k"][0] == {"label": row["label"], "probability": row["probability"]}
        assert row["top_k"][0]["probability"] >= row["top_k"][1]["probability"]
        assert sum(item["probability"] for item in row["top_k"]) == pytest.approx(1.0, abs=1e-5)


def test_predict_input_file_to_csv(trained, tmp_path):
    folder, _ = trained
    texts = ["our hotel was superb", "the meal was dreadful", "这家酒店很好"]
    source = write_dataset(tmp_path / "new.txt", texts)
    output = tmp_path / "out" / "preds.csv"

    result = textcnn("predict", folder / "model", "--input", source, "--output", output)

    assert result.returncode == 0, result.stderr
    assert f"wrote 3 predictions to {output}" in result.stderr
    with open(output, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == texts
    assert [row["label"] for row in rows] == TextClassifier.load(folder / "model").predict(texts)
    assert all(0.5 <= float(row["probability"]) <= 1.0 for row in rows)


def test_predict_reads_lines_from_stdin(trained):
    folder, _ = trained

    result = textcnn("predict", folder / "model", stdin="the film was lovely\n\nthe meal was boring\n")

    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["the film was lovely", "the meal was boring"]
    assert [row["label"] for row in rows] == ["positive", "negative"]


LONG_TEXT = " ".join(["the film was great"] * 10)  # 40 tokens; the CLI-trained model's max_len is 16


def test_predict_and_evaluate_report_texts_longer_than_max_len(trained, tmp_path):
    folder, _ = trained
    data = write_dataset(tmp_path / "long.csv", [LONG_TEXT, "the meal was awful"], ["positive", "negative"])

    predicted = textcnn("predict", folder / "model", LONG_TEXT, "the meal was awful")
    evaluated = textcnn("evaluate", folder / "model", data)
    windows = textcnn("predict", folder / "model", LONG_TEXT, "the meal was awful", "--long-text", "windows")

    note = "note: 1 of 2 texts were longer than max_len and truncated (54.5% of tokens cut)"  # 24 of 44 tokens
    assert [predicted.returncode, evaluated.returncode, windows.returncode] == [0, 0, 0], evaluated.stderr
    assert note in predicted.stderr
    assert note in evaluated.stderr
    assert "note: 1 of 2 texts were longer than max_len and were read whole, in 4 overlapping windows" in windows.stderr
    assert [json.loads(line)["label"] for line in windows.stdout.splitlines()] == ["positive", "negative"]


def test_train_with_windows_scores_dev_in_windows_and_saves_the_setting(tmp_path):
    texts, labels = english_corpus()
    train = write_dataset(tmp_path / "train.csv", texts + [LONG_TEXT], labels + ["positive"])

    result = textcnn(
        "train", train, "--dev", train, "--out", tmp_path / "model", "--long-text", "windows", "--max-len", "8", *TINY_FLAGS
    )

    assert result.returncode == 0, result.stderr
    assert "train: 1 of 41 texts were longer than max_len and truncated" in result.stderr  # training reads heads
    # 40 tokens, max_len 8, stride 4: 1 + (40 - 8) / 4 windows
    assert "dev: 1 of 41 texts were longer than max_len and were read whole, in 9 overlapping windows" in result.stderr
    info = json.loads((tmp_path / "model" / "config.json").read_text(encoding="utf-8"))
    assert info["config"]["tokenizer"]["long_text"] == "windows"
    assert info["config"]["tokenizer"]["max_len"] == 8


def test_a_bad_long_text_mode_exits_1_naming_the_key(trained):
    folder, _ = trained

    result = textcnn("predict", folder / "model", "the film was great", "--long-text", "middle")

    assert_clean_failure(result, "tokenizer.long_text")


def test_bad_data_file_exits_1_naming_file_and_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nthe film was great,positive\nno label here\n", encoding="utf-8")

    result = textcnn("train", bad, "--out", tmp_path / "model", "--quiet")

    assert_clean_failure(result, f"{bad}, row 3: expected 2 fields, found 1")
    assert not (tmp_path / "model").exists()


def test_missing_bundle_exits_1_without_traceback(tmp_path):
    result = textcnn("predict", tmp_path / "no-model", "some text")

    assert_clean_failure(result, "model bundle not found", "no-model")


def test_unseen_label_in_evaluation_data_exits_1_naming_it(trained, tmp_path):
    folder, _ = trained
    data = write_dataset(tmp_path / "other.csv", ["the film was great"], ["neutral"])

    result = textcnn("evaluate", folder / "model", data)

    assert_clean_failure(result, "label 'neutral'", "other.csv")


def test_error_text_is_printed_as_is_not_as_markup(trained, tmp_path):
    folder, _ = trained
    missing = tmp_path / "data[/old].csv"

    result = textcnn("evaluate", folder / "model", missing)

    assert_clean_failure(result, f"{missing}: file not found")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_asking_for_cuda_without_it_exits_1_without_traceback(trained, tmp_path):
    folder, _ = trained

    result = textcnn("train", folder / "train.csv", "--out", tmp_path / "model", "--device", "cuda", "--quiet")

    assert_clean_failure(result, "train.device: 'cuda' was asked for but CUDA is not available")


def test_dev_label_unseen_in_training_exits_1_naming_label_and_file(trained, tmp_path):
    folder, _ = trained
    dev = write_dataset(tmp_path / "dev.csv", ["the film was fine"], ["neutral"])

    result = textcnn("train", folder / "train.csv", "--dev", dev, "--out", tmp_path / "model", "--quiet", *TINY_FLAGS)

    assert_clean_failure(result, "dev.csv", "'neutral'", "train.csv")
    assert not (tmp_path / "model").exists()


def test_tune_prints_a_leaderboard_and_saves_the_best_bundle_and_config(tmp_path):
    pytest.importorskip("optuna", reason='the tune extra is not installed: pip install -e ".[dev]"')
    from textcnn.config import load_yaml_config

    texts, labels = english_corpus()
    train = write_dataset(tmp_path / "train.csv", texts, labels)
    out = tmp_path / "best"

    result = textcnn("tune", train, "--dev", train, "--out", out, "--budget", "2", "--epochs", "2", "--device", "cpu")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rank", "trial", "dev", "accuracy", "seconds", "params"]
    assert sorted(line.split()[1] for line in lines[1:3]) == ["1", "2"]
    assert "trial 2/2  dev accuracy" in result.stderr
    assert f"saved model bundle to {out}; its settings in {out / 'best_config.yaml'}" in result.stdout
    config = load_yaml_config(out / "best_config.yaml")
    assert config.train.epochs == 2
    saved = TextClassifier.load(out).config.model  # resolved: embedding_mode auto -> rand
    assert saved.model_dump(exclude={"embedding_mode"}) == config.model.model_dump(exclude={"embedding_mode"})
    assert len(TextClassifier.load(out).predict(texts)) == len(texts)


def test_tune_rejects_a_bad_budget_cleanly(tmp_path):
    texts, labels = english_corpus()
    train = write_dataset(tmp_path / "train.csv", texts, labels)

    result = textcnn("tune", train, "--out", tmp_path / "best", "--budget", "ten minutes")

    assert_clean_failure(result, "--budget: expected a number of trials (30) or seconds (600s), got 'ten minutes'")
def test_vectors_trains_word2vec_that_train_then_uses(tmp_path):
    pytest.importorskip("gensim")
    texts, labels = english_corpus()
    unlabelled = write_dataset(tmp_path / "unlabelled.txt", texts * 5)
    train = write_dataset(tmp_path / "train.csv", texts, labels)

    made = textcnn("vectors", unlabelled, "--out", tmp_path / "vectors.txt", "--dim", "12", "--min-count", "1")
    result = textcnn("train", train, "--dev", train, "--out", tmp_path / "model", "--vectors", tmp_path / "vectors.txt", *TINY_FLAGS)

    assert made.returncode == 0, made.stderr
    assert f"wrote 18 12-d vectors to {tmp_path / 'vectors.txt'}" in made.stdout
    assert result.returncode == 0, result.stderr
    assert "12-d vectors for 18 of 18 vocabulary words (100.0%), covering 100.0% of the training tokens" in result.stderr
    model = json.loads((tmp_path / "model" / "config.json").read_text(encoding="utf-8"))["config"]["model"]
    assert (model["embedding_mode"], model["embed_dim"]) == ("nonstatic", 12)


def test_a_pretrained_mode_without_vectors_exits_1_naming_the_key(tmp_path):
    result = textcnn("train", tmp_path / "train.csv", "--out", tmp_path / "model", "--embedding-mode", "static")

    assert_clean_failure(result, "model.embedding_mode: static needs pretrained vectors")


# ------------------------------------------------------------------ multi-label


@pytest.fixture(scope="module")
def trained_multilabel(tmp_path_factory):
    """Train once on a `text,labels` CSV (labels joined by `|`), detected as multi-label without a flag."""
    folder = tmp_path_factory.mktemp("cli-multi")
    texts, labels = multilabel_corpus()
    train = write_dataset(folder / "train.csv", texts, labels, label_column="labels")
    flags = list(TINY_FLAGS)
    flags[flags.index("--epochs") + 1] = flags[flags.index("--patience") + 1] = "20"
    result = textcnn(
        "train", train, "--dev", train, "--test", train, "--out", folder / "model", *flags, "--set", "train.ema_decay=null"
    )
    return folder, result


def test_train_detects_a_labels_column_and_reports_multilabel_figures(trained_multilabel):
    folder, result = trained_multilabel

    assert result.returncode == 0, result.stderr
    assert "6 labels (multi-label)" in result.stderr
    assert "dev micro-F1 100.00%" in result.stdout and "test micro-F1 100.00%" in result.stdout
    info = json.loads((folder / "model" / "config.json").read_text(encoding="utf-8"))
    assert info["config"]["data"]["multi_label"] is True
    assert info["config"]["train"]["select_metric"] == "macro_f1"
    assert len(json.loads((folder / "model" / "thresholds.json").read_text(encoding="utf-8"))) == 6


def test_evaluate_multilabel_json_and_table(trained_multilabel):
    folder, _ = trained_multilabel

    as_json = textcnn("evaluate", folder / "model", folder / "train.csv", "--json")
    as_table = textcnn("evaluate", folder / "model", folder / "train.csv")

    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert (report["micro_f1"], report["macro_f1"], report["samples_f1"], report["subset_accuracy"]) == (1.0, 1.0, 1.0, 1.0)
    assert report["hamming_loss"] == 0.0
    assert {row["label"] for row in report["per_class"]} == {"book", "film", "food", "negative", "positive", "travel"}
    assert all(0 < row["threshold"] < 1 for row in report["per_class"])
    assert as_table.returncode == 0, as_table.stderr
    assert "micro-F1 100.00%" in as_table.stdout and "per label" in as_table.stdout and "threshold" in as_table.stdout


def test_predict_multilabel_writes_label_lists(trained_multilabel, tmp_path):
    folder, _ = trained_multilabel
    texts = ["the film was great", "about our hotel"]
    output = tmp_path / "preds.csv"

    as_jsonl = textcnn("predict", folder / "model", *texts, "--top-k", "2")
    as_csv = textcnn("predict", folder / "model", *texts, "--output", output)

    assert as_jsonl.returncode == 0, as_jsonl.stderr
    rows = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert sorted(rows[0]["labels"]) == ["film", "positive"] and rows[1]["labels"] == ["travel"]
    assert len(rows[0]["probabilities"]) == 2 and len(rows[0]["top_k"]) == 2
    assert as_csv.returncode == 0, as_csv.stderr
    with open(output, encoding="utf-8", newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert [sorted(row["labels"].split("|")) for row in cells] == [["film", "positive"], ["travel"]]
    assert len(cells[0]["probabilities"].split("|")) == 2


def test_multilabel_dev_label_unseen_in_train_is_named(tmp_path):
    texts, labels = multilabel_corpus()
    train = write_dataset(tmp_path / "train.csv", texts, labels, label_column="labels")
    dev = write_dataset(tmp_path / "dev.csv", texts[:2], [["film"], ["film", "sports"]], label_column="labels")

    result = textcnn("train", train, "--dev", dev, "--out", tmp_path / "model", "--quiet")

    assert_clean_failure(result, "dev.csv", "'sports'", "train.csv")


def test_train_nb_flags_set_the_naive_bayes(tmp_path):
    texts, labels = english_corpus()
    train = write_dataset(tmp_path / "train.csv", texts, labels)

    fixed = textcnn("train", train, "--dev", train, "--out", tmp_path / "fixed", "--nb-weight", "0.5", "--quiet", *TINY_FLAGS)
    off = textcnn("train", train, "--dev", train, "--out", tmp_path / "off", "--nb-ngrams", "0", "--nb-method", "multinomial", "--quiet", *TINY_FLAGS)
    bad = textcnn("train", train, "--out", tmp_path / "bad", "--nb-weight", "much", "--quiet", *TINY_FLAGS)

    assert fixed.returncode == 0 and off.returncode == 0, fixed.stderr + off.stderr
    assert json.loads((tmp_path / "fixed" / "config.json").read_text())["config"]["nb"]["weight"] == 0.5
    assert (tmp_path / "fixed" / "naive_bayes.safetensors").exists()
    assert json.loads((tmp_path / "off" / "config.json").read_text())["config"]["nb"] == {
        "method": "multinomial", "ngrams": 0, "weight": 0.0, "scale": 1.0, "smoothing": 1.0, "c": 0.3, "for_multi_label": False
    }
    assert not (tmp_path / "off" / "naive_bayes.safetensors").exists()
    assert_clean_failure(bad, "--nb-weight", "'much'")
