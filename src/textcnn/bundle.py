"""The model bundle on disk: a directory of safetensors weights and JSON files; loading never unpickles.

    model.safetensors  weights only
    config.json        format_version, textcnn/torch versions, the resolved RunConfig, data sizes
    vocab.json         tokens in id order
    labels.json        class labels in id order
    thresholds.json    multi-label models only: each label's decision threshold, in the order of labels.json
    naive_bayes.safetensors  the n-gram model (NBSVM or multinomial Naive Bayes) whose scores join the logits (nb.weight > 0)
    metrics.json       dev and test reports of the saved model (the shape of ``evaluate --json``)
    history.json       one object per epoch trained: member, run (selection or refit), epoch, train loss,
                       dev accuracy and macro-F1, seconds, texts/s, learning rate, best (absent: no history)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy_file
from safetensors.numpy import save_file as save_numpy_file
from safetensors.torch import load_file, save_file

from textcnn.config import RunConfig
from textcnn.data.labels import LabelSet
from textcnn.data.vocab import Vocab
from textcnn.errors import BundleError
from textcnn.inference.trained import TrainedClassifier
from textcnn.models import build_model
from textcnn.models.naive_bayes import NaiveBayes
from textcnn.version import __version__

# 2: the n-gram model's settings are nb.method and nb.for_multi_label (1: nb.kind and nb.multi_label).
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
FILES = (
    "model.safetensors", "config.json", "vocab.json", "labels.json", "thresholds.json", "naive_bayes.safetensors",
    "metrics.json", "history.json",
)  # fmt: skip
NAIVE_BAYES_FILE = "naive_bayes.safetensors"


def uses_naive_bayes(config: RunConfig) -> bool:
    """Whether the model's scores include the n-gram model (a resolved weight above 0)."""
    return config.nb.enabled and not isinstance(config.nb.weight, str) and config.nb.weight > 0


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def save_bundle(directory: str | Path, trained: TrainedClassifier, *, extra_info: dict[str, Any] | None = None) -> Path:
    """Write ``trained`` to ``directory`` atomically (a temporary sibling renamed into place).

    ``extra_info`` joins config.json (the data files' digests, the search that found the settings).
    """
    config, model, vocab, labels, naive_bayes = trained.config, trained.model, trained.vocab, trained.labels, trained.ngram_model
    thresholds = trained.thresholds.tolist() if trained.thresholds is not None else None
    metrics = trained.metrics
    if uses_naive_bayes(config) and naive_bayes is None:
        raise BundleError(f"nb.weight is {config.nb.weight} but no Naive Bayes was given to save")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.exists() and not directory.is_dir():
        raise BundleError(f"{directory} exists and is not a directory")
    state = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in model.state_dict().items()}
    info = {
        "format_version": FORMAT_VERSION,
        "textcnn_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "model_name": config.model.name,
        "vocab_size": len(vocab),
        "num_classes": len(labels),
        **(extra_info or {}),
        "config": config.model_dump(mode="json"),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        save_file(state, str(staging / "model.safetensors"), metadata={"format": "pt", "textcnn_version": __version__})
        _write_json(staging / "config.json", info)
        _write_json(staging / "vocab.json", vocab.to_json())
        _write_json(staging / "labels.json", labels.to_json())
        if thresholds is not None:
            _write_json(staging / "thresholds.json", [float(t) for t in thresholds])
        if uses_naive_bayes(config):
            save_numpy_file(naive_bayes.state(), str(staging / NAIVE_BAYES_FILE), metadata={"textcnn_version": __version__})
        _write_json(staging / "metrics.json", metrics or {})
        _write_json(staging / "history.json", [dict(row) for row in trained.history])
        if directory.exists():
            for name in FILES:
                (directory / name).unlink(missing_ok=True)
            for name in FILES:
                if (staging / name).exists():
                    os.replace(staging / name, directory / name)
        else:
            os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def migrate_format_1(config: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` of a format-1 bundle in today's keys.

    Format 1 was written before some settings existed; a bundle without them was made without them:
    no ``tokenizer.case_markers`` means false, no ``nb.kind`` means the multinomial Naive Bayes (the
    only n-gram model then), no ``nb`` section means no n-gram model.
    """
    config = {section: dict(value) if isinstance(value, dict) else value for section, value in config.items()}
    if isinstance(config.get("tokenizer"), dict):
        config["tokenizer"].setdefault("case_markers", False)
    nb = config.get("nb")
    if not isinstance(nb, dict):
        config["nb"] = {"ngrams": 0, "weight": 0.0}
        return config
    nb.setdefault("kind", "multinomial")
    nb["method"] = nb.pop("kind")
    if "multi_label" in nb:
        nb["for_multi_label"] = nb.pop("multi_label")
    return config


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path.parent} is not a textcnn bundle: {path.name} is missing") from None
    except json.JSONDecodeError as error:
        raise BundleError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None


def load_bundle(directory: str | Path, *, device: str | torch.device = "cpu") -> TrainedClassifier:
    """Read a bundle written by ``save_bundle`` and rebuild its model (in eval mode)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"model bundle not found: {directory} is not a directory")
    info = _read_json(directory / "config.json")
    version = info.get("format_version")
    if version not in READABLE_VERSIONS:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise BundleError(
            f"{directory}: bundle format_version {version!r} is not supported by textcnn {__version__} "
            f"(reads {', '.join(map(str, READABLE_VERSIONS))})"
            + (": upgrade textcnn to load it" if newer else ": train the model again with this version")
        )
    if version == 1 and isinstance(info.get("config"), dict):
        info["config"] = migrate_format_1(info["config"])
    try:
        config = RunConfig.model_validate(info["config"])
    except (KeyError, ValidationError) as error:
        raise BundleError(f"{directory / 'config.json'}: invalid model configuration: {error}") from None
    try:
        vocab = Vocab.from_json(_read_json(directory / "vocab.json"))
        labels = LabelSet.from_json(_read_json(directory / "labels.json"))
    except (TypeError, ValueError) as error:
        raise BundleError(f"{directory}: invalid vocab.json or labels.json: {error}") from None
    thresholds = None
    if config.data.multi_label is True:
        thresholds = _read_json(directory / "thresholds.json")
        if not isinstance(thresholds, list) or len(thresholds) != len(labels):
            raise BundleError(f"{directory / 'thresholds.json'}: expected a list of {len(labels)} thresholds, one per label")
    metrics_path = directory / "metrics.json"
    metrics = _read_json(metrics_path) if metrics_path.exists() else {}
    history = _read_history(directory / "history.json")
    model = build_model(config.model, vocab_size=len(vocab), num_classes=len(labels), ensemble=config.train.ensemble)
    weights = directory / "model.safetensors"
    if not weights.exists():
        raise BundleError(f"{directory} is not a textcnn bundle: model.safetensors is missing")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as error:
        raise BundleError(f"{weights}: cannot read weights: {error}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise BundleError(f"{weights}: weights do not match config.json: {error}") from None
    model.to(device).eval()
    if thresholds is not None:
        thresholds = np.array(thresholds, dtype=np.float64)
    naive_bayes = _load_naive_bayes(directory, config, len(vocab))
    return TrainedClassifier(config, model, vocab, labels, thresholds, naive_bayes, metrics, history)


def _read_history(path: Path) -> tuple[dict[str, Any], ...]:
    """The rows of history.json; none for a bundle saved without one."""
    if not path.exists():
        return ()
    rows = _read_json(path)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BundleError(f"{path}: expected a list of objects, one per epoch")
    return tuple(rows)


def _load_naive_bayes(directory: Path, config: RunConfig, vocab_size: int) -> NaiveBayes | None:
    if not uses_naive_bayes(config):
        return None
    path = directory / NAIVE_BAYES_FILE
    if not path.exists():
        raise BundleError(f"{directory} is not a complete bundle: {NAIVE_BAYES_FILE} is missing (config.json has nb.weight {config.nb.weight})")
    try:
        naive_bayes = NaiveBayes.from_state(load_numpy_file(str(path)))
    except (SafetensorError, OSError, KeyError, ValueError) as error:
        raise BundleError(f"{path}: cannot read the Naive Bayes: {error}") from None
    if naive_bayes.vocab_size != vocab_size:
        raise BundleError(f"{path}: made for {naive_bayes.vocab_size} vocabulary ids, vocab.json has {vocab_size}")
    return naive_bayes
