"""Training on a streamed file: the model of the in-memory path (with a dev file), a hashed dev split and
its refit, resuming a streamed run, and the n-gram model fitted on a bounded sample."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from textcnn.config import build_config
from textcnn.errors import CheckpointError
from textcnn.training import resume, stream_pipeline
from textcnn.workflows import train_on_files

SETTINGS = {
    "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2, 3], "batch_size": 16, "lr": 0.01, "epochs": 3,
    "patience": 3, "device": "cpu", "refit": "never", "checkpoint_every_steps": 5,
}  # fmt: skip


class Crash(Exception):
    """Stands for the process dying."""


def _write(path, rows: int, seed: int) -> None:
    """Noisy two-class reviews: a marker word decides the label, but 20% of labels are flipped."""
    rng = random.Random(seed)
    filler = "the a film plot actor scene it was is and of".split()
    markers = {"pos": ["good", "great", "fine"], "neg": ["bad", "dull", "poor"]}
    lines = ["text,label"]
    for _ in range(rows):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(filler, k=rng.randint(3, 12)) + [rng.choice(markers[label]), f"name{rng.randint(0, 300)}"]
        rng.shuffle(words)
        shown = label if rng.random() > 0.2 else {"pos": "neg", "neg": "pos"}[label]
        lines.append(f"{' '.join(words)},{shown}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    paths = {split: folder / f"{split}.csv" for split in ("train", "dev", "test")}
    for seed, (split, path) in enumerate(paths.items()):
        _write(path, {"train": 800, "dev": 150, "test": 150}[split], seed)
    return paths


def _train(files, stream: bool, dev: bool = True, job=None, **settings):
    config = build_config(None, {**SETTINGS, **settings, "data.stream": stream})
    return train_on_files(config, files["train"], dev_path=files["dev"] if dev else None, test_path=files["test"], **(job or {}))


def _assert_same_model(a, b) -> None:
    first, second = a.model.state_dict(), b.model.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert a.vocab.tokens == b.vocab.tokens
    ngrams = [c.naive_bayes.state() if c.naive_bayes is not None else {} for c in (a, b)]
    assert ngrams[0].keys() == ngrams[1].keys() and all(np.array_equal(ngrams[0][k], ngrams[1][k]) for k in ngrams[0])


def _train_crashing_after(steps: int, files, monkeypatch, out, **settings) -> None:
    """A streamed run into ``out`` that dies right after the checkpoint of its step ``steps``."""
    original = resume.StageCheckpoint.step_done

    def step_done(self, step, at, rng):
        original(self, step, at, rng)
        if at.steps == steps:
            raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(resume.StageCheckpoint, "step_done", step_done)
        with pytest.raises(Crash):
            _train(files, stream=True, job={"out_dir": out}, **settings)


def test_with_a_dev_file_streaming_trains_the_model_of_the_in_memory_path(files):
    streamed, in_memory = _train(files, stream=True), _train(files, stream=False)

    _assert_same_model(streamed, in_memory)
    texts = files["test"].read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.rsplit(",", 1)[0] for line in texts]
    assert streamed.predict(texts) == in_memory.predict(texts)
    assert streamed.metrics["test"]["accuracy"] == in_memory.metrics["test"]["accuracy"] > 0.6
    assert streamed.metrics["dev"]["accuracy"] == in_memory.metrics["dev"]["accuracy"]


def test_balanced_sampling_and_class_weights_of_a_streamed_file_are_those_of_the_in_memory_path(files):
    options = {"sampler": "balanced", "class_weight": "balanced", "nb.ngrams": 0}

    _assert_same_model(_train(files, stream=True, **options), _train(files, stream=False, **options))


def test_a_streamed_ensemble_is_the_ensemble_of_the_in_memory_path(files):
    streamed, in_memory = _train(files, stream=True, **{"train.ensemble": 2}), _train(files, stream=False, **{"train.ensemble": 2})

    _assert_same_model(streamed, in_memory)
    assert streamed.metrics["ensemble"] == in_memory.metrics["ensemble"]
    assert streamed.metrics["ensemble"]["members"] == 2
    assert streamed.metrics["dev"]["accuracy"] == in_memory.metrics["dev"]["accuracy"]


def test_without_a_dev_file_a_hashed_split_is_held_out_and_refitted_on(files):
    classifier = _train(files, stream=True, dev=False, refit="auto", dev_fraction=0.2)

    held_out = classifier.metrics["dev"]["num_examples"]
    assert classifier.metrics["refit"] == {"epochs": classifier.fit_result.best_epoch, "texts": 800}
    assert 120 <= held_out <= 200  # 20% of 800, hashed: near 160
    assert classifier.metrics["test"]["accuracy"] > 0.6


def test_a_streamed_run_that_died_resumes_to_the_same_model(files, monkeypatch, tmp_path):
    uninterrupted = _train(files, stream=True)
    _train_crashing_after(12, files, monkeypatch, tmp_path / "out")
    assert (tmp_path / "out" / "checkpoint" / "run.json").exists()

    resumed = _train(files, stream=True, job={"out_dir": tmp_path / "out", "resume": True})

    _assert_same_model(resumed, uninterrupted)


def test_resuming_a_streamed_run_on_other_data_is_refused(files, tmp_path):
    _train(files, stream=True, keep_checkpoints=True, job={"out_dir": tmp_path / "out"})
    other = tmp_path / "other.csv"
    _write(other, 300, seed=9)
    config = build_config(None, {**SETTINGS, "keep_checkpoints": True, "data.stream": True})

    with pytest.raises(CheckpointError, match="made from other data"):
        train_on_files(config, other, dev_path=files["dev"], out_dir=tmp_path / "out", resume=True)


def test_the_ngram_model_of_a_big_file_is_fitted_on_a_bounded_sample(files, monkeypatch, caplog):
    monkeypatch.setattr(stream_pipeline, "NGRAM_SAMPLE_TOKENS", 1_000)
    caplog.set_level("INFO", logger="textcnn")

    classifier = _train(files, stream=True)

    sampled = [r.message for r in caplog.records if "n-gram model: fitted on a seeded sample" in r.message]
    assert sampled and "of 800 training texts" in sampled[0]
    assert classifier.naive_bayes is None or len(classifier.naive_bayes.keys) > 0
    assert classifier.metrics["dev"]["num_examples"] == 150  # the report covers every dev text, not the sample
    assert 0 < sum(stream_pipeline.sample_rows(np.full(800, 10), 2_000, seed=1).shape) <= 200


def test_a_file_of_many_windows_trains_the_same_model_for_a_seed_and_learns_as_well(files, monkeypatch):
    from textcnn.data import stream_order

    monkeypatch.setattr(stream_order, "WINDOW_ROWS", 256)  # 800 rows: blocks of 32 rows, 8 blocks a window
    monkeypatch.setattr(stream_order, "BLOCK_ROWS", 32)
    first, again = _train(files, stream=True, **{"nb.ngrams": 0}), _train(files, stream=True, **{"nb.ngrams": 0})
    monkeypatch.undo()
    in_memory = _train(files, stream=False, **{"nb.ngrams": 0})

    _assert_same_model(first, again)
    assert first.metrics["test"]["accuracy"] > 0.6 and abs(first.metrics["test"]["accuracy"] - in_memory.metrics["test"]["accuracy"]) < 0.1
    assert not all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), in_memory.model.state_dict().values()))


def test_a_hashed_split_over_many_windows_trains_on_the_train_rows_alone(files, monkeypatch):
    from textcnn.data import stream_order

    monkeypatch.setattr(stream_order, "WINDOW_ROWS", 256)
    monkeypatch.setattr(stream_order, "BLOCK_ROWS", 32)
    seen: list[np.ndarray] = []
    original = stream_order.window_batches

    def recording(*args, **kwargs):
        for batch in original(*args, **kwargs):
            seen.append(batch)
            yield batch

    monkeypatch.setattr("textcnn.data.stream_encoding.window_batches", recording)
    classifier = _train(files, stream=True, dev=False, dev_fraction=0.2, **{"nb.ngrams": 0})

    train_rows = 800 - classifier.metrics["dev"]["num_examples"]
    epoch = np.concatenate(seen[: -(-train_rows // SETTINGS["batch_size"])])
    assert len(seen) == 3 * -(-train_rows // SETTINGS["batch_size"])
    assert len(epoch) == len(set(epoch.tolist())) == train_rows  # each train row once, no dev row
    assert classifier.metrics["test"]["accuracy"] > 0.6


def test_a_run_over_many_windows_that_died_resumes_to_the_same_model(files, monkeypatch, tmp_path):
    from textcnn.data import stream_order

    monkeypatch.setattr(stream_order, "WINDOW_ROWS", 256)  # 16 batches a window: the crash is in the second
    monkeypatch.setattr(stream_order, "BLOCK_ROWS", 32)
    uninterrupted = _train(files, stream=True, **{"nb.ngrams": 0})
    _train_crashing_after(25, files, monkeypatch, tmp_path / "out", **{"nb.ngrams": 0})

    resumed = _train(files, stream=True, job={"out_dir": tmp_path / "out", "resume": True}, **{"nb.ngrams": 0})

    _assert_same_model(resumed, uninterrupted)
