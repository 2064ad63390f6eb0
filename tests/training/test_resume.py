"""fit(checkpoint_dir=...) and fit(resume_from=...): a run stopped anywhere ends with the same weights;
a checkpoint of other data or settings is refused; the folder holds safetensors and JSON only."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from conftest import TINY_SETTINGS, english_corpus, multilabel_corpus, write_dataset
from textcnn import TextClassifier
from textcnn.errors import CheckpointError, TrainingInterrupted
from textcnn.training import pipeline, resume

CONFIGS: dict[str, dict[str, Any]] = {
    "ensemble_refit_balanced": {
        "ensemble": 2, "epochs": 4, "patience": 4, "sampler": "balanced", "weight_decay": 0.01, "token_dropout": 0.2,
    },  # fmt: skip
    "multilabel_no_ema": {"epochs": 4, "patience": 4, "ema_decay": None, "nb": {"for_multi_label": True}},
    "gated_cnn": {"model": {"name": "gated_cnn", "embed_dim": 16, "hidden_dim": 8, "num_layers": 1}, "epochs": 3, "patience": 3},
    "bfloat16": {"epochs": 3, "patience": 3, "precision": "bfloat16"},
}
BASE = {key: value for key, value in TINY_SETTINGS.items() if key not in ("embed_dim", "num_filters", "kernel_sizes")}


class Crash(Exception):
    """Stands for the process dying."""


def _settings(name: str, **more: Any) -> dict[str, Any]:
    textcnn = {} if "model" in CONFIGS[name] else {"embed_dim": 16, "num_filters": 8, "kernel_sizes": [2, 3]}
    return {**BASE, **textcnn, **CONFIGS[name], "checkpoint_every_steps": 3, **more}


def _corpus(name: str):
    return multilabel_corpus() if name.startswith("multilabel") else english_corpus()


def _weights(classifier: TextClassifier) -> dict[str, torch.Tensor]:
    return classifier.model.state_dict()


def _assert_same(a: TextClassifier, b: TextClassifier) -> None:
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    assert resume.matched_settings(a.config) == resume.matched_settings(b.config)  # the checkpoint settings may differ
    ngrams = [c.naive_bayes.state() if c.naive_bayes is not None else {} for c in (a, b)]
    assert ngrams[0].keys() == ngrams[1].keys() and all((ngrams[0][k] == ngrams[1][k]).all() for k in ngrams[0])


@pytest.fixture(scope="module")
def uninterrupted() -> dict[str, TextClassifier]:
    return {name: TextClassifier(**_settings(name)).fit(*_corpus(name)) for name in CONFIGS}


def _crash_at(monkeypatch, stage: str, steps: int) -> None:
    """Make the run die just after step ``steps`` of ``stage`` (after its checkpoint, if that step wrote one)."""
    original = resume.StageCheckpoint.step_done

    def step_done(self, step, at, rng):
        original(self, step, at, rng)
        if self.name == stage and at.steps == steps:
            raise Crash

    monkeypatch.setattr(resume.StageCheckpoint, "step_done", step_done)


CRASHES = [
    ("ensemble_refit_balanced", "member-0-selection", 2),  # before the first checkpoint of the run
    ("ensemble_refit_balanced", "member-0-selection", 13),  # mid-epoch, one step after a checkpoint
    ("ensemble_refit_balanced", "member-0-refit", 4),
    ("ensemble_refit_balanced", "member-1-selection", 15),  # on an epoch-end's step
    ("ensemble_refit_balanced", "member-1-refit", 3),  # just after a checkpoint
    ("multilabel_no_ema", "member-0-selection", 7),
    ("multilabel_no_ema", "member-0-refit", 8),
    ("gated_cnn", "member-0-selection", 6),
    ("gated_cnn", "member-0-refit", 2),
    ("bfloat16", "member-0-selection", 8),
]


@pytest.mark.parametrize(("name", "stage", "steps"), CRASHES)
def test_a_run_that_died_resumes_to_the_same_model(name, stage, steps, uninterrupted, monkeypatch, tmp_path):
    folder = tmp_path / "checkpoint"
    with monkeypatch.context() as patched:
        _crash_at(patched, stage, steps)
        with pytest.raises(Crash):
            TextClassifier(**_settings(name)).fit(*_corpus(name), checkpoint_dir=folder)

    resumed = TextClassifier(**_settings(name)).fit(*_corpus(name), resume_from=folder)

    _assert_same(resumed, uninterrupted[name])
    assert not folder.exists()


def test_checkpoints_leave_the_weights_as_without_them(uninterrupted, tmp_path):
    name = "ensemble_refit_balanced"
    with_checkpoints = TextClassifier(**_settings(name, checkpoint_every_steps=1)).fit(*english_corpus(), checkpoint_dir=tmp_path / "c")

    _assert_same(with_checkpoints, uninterrupted[name])


def test_a_run_that_died_in_the_ngram_fit_or_after_it_resumes(uninterrupted, monkeypatch, tmp_path):
    name = "ensemble_refit_balanced"
    for target in ("fit_ngram_model", "TrainedClassifier"):
        folder = tmp_path / target
        with monkeypatch.context() as patched:
            patched.setattr(pipeline, target, lambda *args, **kwargs: (_ for _ in ()).throw(Crash()))
            with pytest.raises(Crash):
                TextClassifier(**_settings(name)).fit(*english_corpus(), checkpoint_dir=folder)
        assert (folder / "ngrams").exists() == (target == "TrainedClassifier")

        resumed = TextClassifier(**_settings(name)).fit(*english_corpus(), resume_from=folder)

        _assert_same(resumed, uninterrupted[name])


def test_the_folder_holds_only_safetensors_and_json_and_is_kept_when_asked(tmp_path):
    folder = tmp_path / "checkpoint"
    TextClassifier(**_settings("ensemble_refit_balanced", keep_checkpoints=True)).fit(*english_corpus(), checkpoint_dir=folder)

    files = [path for path in folder.rglob("*") if path.is_file()]
    assert {path.suffix for path in files} == {".safetensors", ".json"}
    assert {path.name for path in folder.iterdir()} == {
        "run.json", "member-0-selection", "member-0-refit", "member-1-selection", "member-1-refit", "ngrams"
    }  # fmt: skip


def _stopped_run(monkeypatch, folder: Path, settings: dict[str, Any]) -> Path:
    with monkeypatch.context() as patched:
        _crash_at(patched, "member-0-selection", 5)
        with pytest.raises(Crash):
            TextClassifier(**settings).fit(*english_corpus(), checkpoint_dir=folder)
    return folder


@pytest.mark.parametrize(
    ("change", "named"),
    [({"lr": 0.01}, "train.lr 0.03 there, 0.01 here"), ({"kernel_sizes": [2]}, "model.kernel_sizes")],
)
def test_resume_refuses_other_settings_and_names_them(change, named, monkeypatch, tmp_path):
    settings = _settings("ensemble_refit_balanced")
    folder = _stopped_run(monkeypatch, tmp_path / "checkpoint", settings)

    with pytest.raises(CheckpointError, match="other settings") as refused:
        TextClassifier(**{**settings, **change}).fit(*english_corpus(), resume_from=folder)
    assert named in str(refused.value)
    assert (folder / "member-0-selection").exists()  # left as it was


def test_resume_refuses_other_data(monkeypatch, tmp_path):
    settings = _settings("ensemble_refit_balanced")
    folder = _stopped_run(monkeypatch, tmp_path / "checkpoint", settings)
    texts, labels = english_corpus()

    with pytest.raises(CheckpointError, match="other data"):
        TextClassifier(**settings).fit(texts[:-1] + ["the film was fine"], labels, resume_from=folder)


def test_resume_may_change_the_checkpoint_settings(uninterrupted, monkeypatch, tmp_path):
    settings = _settings("ensemble_refit_balanced")
    folder = _stopped_run(monkeypatch, tmp_path / "checkpoint", settings)

    resumed = TextClassifier(**{**settings, "checkpoint_every_steps": None}).fit(*english_corpus(), resume_from=folder)

    _assert_same(resumed, uninterrupted["ensemble_refit_balanced"])


def test_resume_without_a_checkpoint_trains_from_the_start(uninterrupted, textcnn_log, tmp_path):
    resumed = TextClassifier(**_settings("ensemble_refit_balanced")).fit(*english_corpus(), resume_from=tmp_path / "none")

    _assert_same(resumed, uninterrupted["ensemble_refit_balanced"])
    assert any("no checkpoint to resume" in message for message in textcnn_log)


def test_a_fresh_run_replaces_an_earlier_checkpoint_and_says_so(monkeypatch, textcnn_log, tmp_path):
    settings = _settings("ensemble_refit_balanced")
    folder = _stopped_run(monkeypatch, tmp_path / "checkpoint", settings)

    TextClassifier(**settings, keep_checkpoints=True).fit(*english_corpus(), checkpoint_dir=folder)

    assert any("starting over" in message for message in textcnn_log)
    states = [json.loads(path.read_text()) for path in (folder / "member-0-selection").glob("*/state.json")]
    assert [state["kind"] for state in states] == ["finished"]


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    (folder / "run.json").write_text("{}", encoding="utf-8")  # a name training uses, in someone else's folder

    with pytest.raises(CheckpointError, match="no checkpoint folder: it holds notes.txt"):
        TextClassifier(**_settings("ensemble_refit_balanced")).fit(*english_corpus(), checkpoint_dir=folder)
    assert sorted(path.name for path in folder.iterdir()) == ["notes.txt", "run.json"]


def test_sigterm_stops_after_a_checkpoint_and_resume_continues(uninterrupted, monkeypatch, tmp_path):
    folder = tmp_path / "checkpoint"
    original = resume.StageCheckpoint.step_done
    before = signal.getsignal(signal.SIGTERM)

    def step_done(self, step, at, rng):
        if self.name == "member-0-refit" and at.steps == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        original(self, step, at, rng)

    with monkeypatch.context() as patched:
        patched.setattr(resume.StageCheckpoint, "step_done", step_done)
        with pytest.raises(TrainingInterrupted, match="SIGTERM") as stopped:
            TextClassifier(**_settings("ensemble_refit_balanced")).fit(*english_corpus(), checkpoint_dir=folder)
    assert stopped.value.directory == folder and "resume_from" in str(stopped.value)
    assert signal.getsignal(signal.SIGTERM) == before
    state = json.loads(next((folder / "member-0-refit").glob("*/state.json")).read_text())
    assert state["position"]["steps"] == 2

    resumed = TextClassifier(**_settings("ensemble_refit_balanced")).fit(*english_corpus(), resume_from=folder)

    _assert_same(resumed, uninterrupted["ensemble_refit_balanced"])


def test_the_train_command_refuses_a_resume_with_other_settings_in_one_line(monkeypatch, tmp_path):
    from textcnn.cli import app

    texts, labels = english_corpus()
    data = write_dataset(tmp_path / "train.csv", texts, labels)
    flags = ["--epochs", "3", "--embed-dim", "16", "--num-filters", "8", "--kernel-sizes", "2,3", "--no-cache", "-q"]
    with monkeypatch.context() as patched:
        _crash_at(patched, "member-0-selection", 4)
        with pytest.raises(Crash):
            CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "model"), *flags], catch_exceptions=False)

    result = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "model"), *flags, "--lr", "0.1", "--resume"])

    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "train.lr 0.001 there, 0.1 here" in result.output


def test_equal_weights_give_equal_bundle_bytes(tiny_classifier, tmp_path):
    saved = {tiny_classifier.save(tmp_path / f"bundle-{i}").joinpath("model.safetensors").read_bytes() for i in range(8)}

    assert len(saved) == 1


def test_a_damaged_checkpoint_is_an_error_that_names_it(monkeypatch, tmp_path):
    settings = _settings("ensemble_refit_balanced")
    folder = _stopped_run(monkeypatch, tmp_path / "checkpoint", settings)
    path = next((folder / "member-0-selection").glob("*/state.json"))
    state = json.loads(path.read_text())
    del state["optimizer"]
    path.write_text(json.dumps(state))

    with pytest.raises(CheckpointError, match="member-0-selection: cannot resume"):
        TextClassifier(**settings).fit(*english_corpus(), resume_from=folder)


def test_removing_the_folder_spares_files_training_did_not_write(tmp_path):
    folder = tmp_path / "checkpoint"
    TextClassifier(**_settings("ensemble_refit_balanced", keep_checkpoints=True)).fit(*english_corpus(), checkpoint_dir=folder)
    (folder / "notes.txt").write_text("mine", encoding="utf-8")

    resume.Checkpoints(folder).remove()

    assert [path.name for path in folder.iterdir()] == ["notes.txt"]
