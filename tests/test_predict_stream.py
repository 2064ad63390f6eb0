"""`textcnn predict --input FILE --output OUT --stream`: chunk by chunk, the rows reading the file whole gives."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import english_corpus, write_dataset
from textcnn.cli import app
from textcnn.data import readers


@pytest.fixture(scope="module")
def bundle(tiny_classifier, tmp_path_factory):
    return tiny_classifier.save(tmp_path_factory.mktemp("predict-stream") / "model")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_streamed_predictions_are_the_rows_of_a_whole_read(bundle, tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(readers, "CHUNK_CHARS", 60)  # a few texts a chunk
    texts, _ = english_corpus()
    source = write_dataset(tmp_path / "new.txt", texts + ["", "the film was great"])
    runner = CliRunner()

    outputs = {}
    for flag in ("--stream", "--no-stream"):
        outputs[flag] = tmp_path / f"out{flag}{suffix}"
        result = runner.invoke(app, ["predict", str(bundle), "--input", str(source), "--output", str(outputs[flag]), "-k", "2", flag])
        assert result.exit_code == 0, result.output

    streamed = outputs["--stream"].read_text(encoding="utf-8")
    assert streamed == outputs["--no-stream"].read_text(encoding="utf-8")
    assert len(streamed.splitlines()) == len(texts) + 1 + (suffix == ".csv")


def test_a_bad_row_past_the_first_chunk_leaves_no_output(bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_CHARS", 60)
    source = tmp_path / "new.jsonl"
    source.write_text('{"text": "the film was great"}\n' * 20 + "not json\n", encoding="utf-8")
    output = tmp_path / "out.csv"

    result = CliRunner().invoke(app, ["predict", str(bundle), "--input", str(source), "--output", str(output), "--stream"])

    assert result.exit_code == 1 and "row 21" in result.output
    assert not output.exists()
