"""Training and prediction on a GPU, in float32 and under bfloat16 autocast, and a distributed run on
two GPUs (nccl). Skipped where CUDA is absent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import english_corpus, write_dataset
from textcnn import TextClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

SETTINGS = {"epochs": 6, "patience": 6, "lr": 0.03, "batch_size": 8, "model": {"embed_dim": 16, "num_filters": 8, "kernel_sizes": [2, 3]}}


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_model_trains_and_predicts_on_the_gpu(precision: str, tmp_path: Path):
    texts, labels = english_corpus()
    classifier = TextClassifier(**SETTINGS, device="cuda", precision=precision).fit(texts, labels)

    assert all(parameter.device.type == "cuda" for parameter in classifier.model.parameters())
    assert classifier.metrics["run"]["device"].startswith("cuda")
    predicted = classifier.predict(texts)
    assert sum(p == label for p, label in zip(predicted, labels)) >= 0.9 * len(labels)

    classifier.save(tmp_path / "model")
    runtime = "torch-bf16" if precision == "bfloat16" else "torch"
    loaded = TextClassifier.load(tmp_path / "model", device="cuda", runtime=runtime)
    assert loaded.predict(texts) == predicted


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_torchrun_trains_on_two_gpus_with_nccl(tmp_path: Path):
    texts, labels = english_corpus()
    data = write_dataset(tmp_path / "train.csv", texts * 4, labels * 4)
    out = tmp_path / "model"
    command = [
        sys.executable, "-m", "textcnn", "train", str(data), "--out", str(out), "--device", "cuda", "--epochs", "3",
        "--embed-dim", "16", "--num-filters", "8", "--nproc", "2",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    run = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["run"]
    assert (run["world_size"], run["backend"]) == (2, "nccl")
