"""What makes a run reproducible is recorded: data digests, seed, embeddings, versions, device, threads."""

from __future__ import annotations

import hashlib
import json
import platform

import numpy as np
import torch

import textcnn
from textcnn.workflows import train_on_files
from textcnn.config import build_config
from textcnn.data.provenance import describe_files
from textcnn.training.reproducibility import run_info

from conftest import TINY_SETTINGS, english_corpus, write_dataset


def test_describe_files_hashes_the_bytes_and_skips_missing_splits(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"text,label\r\nok,1\r\n")

    files = describe_files({"train": path, "dev": None})

    assert files == {"train": {"path": str(path), "sha256": hashlib.sha256(b"text,label\r\nok,1\r\n").hexdigest()}}


def test_run_info_names_seed_versions_device_and_threads():
    info = run_info(build_config(None, {"seed": 5}), torch.device("cpu"))

    assert info["seed"] == 5
    assert info["embedding_mode"] == "rand" and info["vectors"] is None  # auto without vectors: random embeddings
    assert (info["textcnn_version"], info["torch_version"]) == (textcnn.__version__, torch.__version__)
    assert (info["numpy_version"], info["python_version"]) == (np.__version__, platform.python_version())
    assert info["device"].startswith("cpu (")
    assert info["threads"] == torch.get_num_threads()


def test_metrics_json_records_the_run_after_train_on_files(tmp_path):
    texts, labels = english_corpus()
    train = write_dataset(tmp_path / "train.csv", texts, labels)
    dev = write_dataset(tmp_path / "dev.csv", texts[::2], labels[::2])
    test = write_dataset(tmp_path / "test.csv", texts[:6], labels[:6])
    config = build_config(None, {**TINY_SETTINGS, "epochs": 2, "seed": 21})

    train_on_files(config, train, dev_path=dev, test_path=test, out_dir=tmp_path / "model")

    run = json.loads((tmp_path / "model" / "metrics.json").read_text(encoding="utf-8"))["run"]
    assert run["data"] == {
        split: {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for split, path in (("train", train), ("dev", dev), ("test", test))
    }
    assert run["seed"] == 21
    assert run["embedding_mode"] == "rand"
    assert run["textcnn_version"] == textcnn.__version__
    assert run["torch_version"] == torch.__version__
    assert run["device"].startswith("cpu")
    assert run["threads"] == torch.get_num_threads()
