"""The model bundle on disk: a directory of safetensors weights and JSON files; loading never unpickles,
and checks every file before it allocates anything (``textcnn.bundle_checks``).

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
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy_file
from safetensors.numpy import save_file as save_numpy_file
from safetensors.torch import load_file, save

from textcnn.bundle_checks import (
    EXTRA_INFO_KEYS, bundle_file, check_finite, check_history, check_info, check_labels, check_metrics, check_ngram_state,
    check_tensors, check_thresholds, check_vocab, expected_model_tensors, expected_ngram_tensors, free_dimension,
    header_limit, read_header, read_json, required_file, validate_config,
)  # fmt: skip
from textcnn.bundle_checks.limits import MAX_JSON_BYTES, MAX_MODEL_BYTES, MAX_NGRAM_MODEL_BYTES
from textcnn.config import RunConfig
from textcnn.data.labels import LabelSet
from textcnn.data.vocab import Vocab
from textcnn.errors import BundleError
from textcnn.inference.trained import TrainedClassifier
from textcnn.models import TextModel, build_model
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


def _safetensors_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors file of ``state``, its header's metadata in key order, so the same weights give the same bytes.

    (safetensors writes its metadata map in an order that changes from one process to the next.)
    """
    data = save(state, metadata=metadata)
    size = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + size].decode("utf-8")
    start = header.find('"__metadata__":') + len('"__metadata__":')
    found, end = json.JSONDecoder().raw_decode(header, start)
    ordered = json.dumps(dict(sorted(found.items())), ensure_ascii=False, separators=(",", ":"))
    if len(ordered.encode("utf-8")) != len(header[start:end].encode("utf-8")):
        return data  # written some other way than expected: left as it is
    return data[:8] + (header[:start] + ordered + header[end:]).encode("utf-8") + data[8 + size :]


def save_bundle(directory: str | Path, trained: TrainedClassifier, *, extra_info: dict[str, Any] | None = None) -> Path:
    """Write ``trained`` to ``directory`` atomically (a temporary sibling renamed into place).

    ``extra_info`` joins config.json (the data files' digests, the search that found the settings).
    """
    config, model, vocab, labels, naive_bayes = trained.config, trained.model, trained.vocab, trained.labels, trained.ngram_model
    thresholds = trained.thresholds.tolist() if trained.thresholds is not None else None
    metrics = trained.metrics
    if uses_naive_bayes(config) and naive_bayes is None:
        raise BundleError(f"nb.weight is {config.nb.weight} but no Naive Bayes was given to save")
    unknown = sorted(set(extra_info or {}) - set(EXTRA_INFO_KEYS))
    if unknown:
        raise BundleError(f"extra_info {', '.join(unknown)}: a bundle records only {', '.join(EXTRA_INFO_KEYS)} (loading refuses others)")
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
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    except OSError as error:
        raise _write_error(directory, error) from None
    try:
        (staging / "model.safetensors").write_bytes(_safetensors_bytes(state, {"format": "pt", "textcnn_version": __version__}))
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
    except (OSError, SafetensorError) as error:  # a full disk: the staging folder goes, DIR is as it was
        raise _write_error(directory, error) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _write_error(directory: Path, error: Exception) -> BundleError:
    reason = getattr(error, "strerror", None) or str(error)
    return BundleError(f"cannot write the model bundle {directory}: {reason}")


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


def _read_info(directory: Path) -> dict[str, Any]:
    """config.json's top level: a known format, known keys of their types, the config in today's keys."""
    path = required_file(directory, "config.json", MAX_JSON_BYTES["config.json"])
    info = read_json(path, MAX_JSON_BYTES["config.json"])
    if not isinstance(info, dict):
        raise BundleError("expected an object with format_version and config", path=path)
    version = info.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise BundleError(
            f"{directory}: bundle format_version {version!r:.40} is not supported by textcnn {__version__} "
            f"(reads {', '.join(map(str, READABLE_VERSIONS))})"
            + (": upgrade textcnn to load it" if newer else ": train the model again with this version")
        )
    check_info(path, info)
    if version == 1:
        info["config"] = migrate_format_1(info["config"])
    return info


def _read_file(directory: Path, name: str) -> Any:
    """The JSON value of bundle file ``name``, checked as a file first (see ``bundle_checks.files``)."""
    return read_json(required_file(directory, name, MAX_JSON_BYTES[name]), MAX_JSON_BYTES[name])


def _read_optional(directory: Path, name: str, check: Callable[[Path, Any], Any], default: Any) -> Any:
    """A checked JSON file that a bundle may lack (then ``default``)."""
    path = bundle_file(directory, name, MAX_JSON_BYTES[name])
    return default if path is None else check(path, read_json(path, MAX_JSON_BYTES[name]))


def load_bundle(directory: str | Path, *, device: str | torch.device = "cpu") -> TrainedClassifier:
    """Read a bundle written by ``save_bundle`` and rebuild its model (in eval mode).

    Every file is checked before anything is allocated (``textcnn.bundle_checks``); a damaged or
    hostile bundle is a ``BundleError`` whose one line names the file and the problem. No path
    named inside the bundle is ever opened, and nothing is unpickled.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"model bundle not found: {directory} is not a directory")
    info = _read_info(directory)
    config = validate_config(directory / "config.json", info["config"])
    if config.model.name != info["model_name"]:
        raise BundleError(f"model_name {info['model_name']!r} but config.model.name {config.model.name!r}", path=directory / "config.json")
    vocab = Vocab(check_vocab(directory / "vocab.json", _read_file(directory, "vocab.json"), info["vocab_size"]))
    labels = LabelSet(check_labels(directory / "labels.json", _read_file(directory, "labels.json"), info["num_classes"]))
    thresholds = None
    if config.data.multi_label is True:
        values = check_thresholds(directory / "thresholds.json", _read_file(directory, "thresholds.json"), labels.labels)
        thresholds = np.array(values, dtype=np.float64)
    metrics = _read_optional(directory, "metrics.json", check_metrics, {})
    history = _read_optional(directory, "history.json", check_history, ())
    weights = _checked_weights(directory, config, len(vocab), len(labels))
    ngram_file = _checked_ngram_file(directory, config, len(labels))
    model = _load_model(weights, config, len(vocab), len(labels)).to(device).eval()
    naive_bayes = None if ngram_file is None else _load_naive_bayes(ngram_file, config, len(vocab))
    return TrainedClassifier(config, model, vocab, labels, thresholds, naive_bayes, metrics, history)


def _checked_weights(directory: Path, config: RunConfig, vocab_size: int, num_labels: int) -> Path:
    """model.safetensors, once its header lists exactly the tensors config.json implies (nothing allocated yet)."""
    expected = expected_model_tensors(config, vocab_size, num_labels, directory / "config.json")
    weights = required_file(directory, "model.safetensors", MAX_MODEL_BYTES + header_limit(len(expected)))
    check_tensors(weights, read_header(weights, header_limit(len(expected))), expected)
    return weights


def _checked_ngram_file(directory: Path, config: RunConfig, num_labels: int) -> Path | None:
    """naive_bayes.safetensors where config.json gives the n-gram model a weight, its header checked; else None."""
    if not uses_naive_bayes(config):
        return None
    path = bundle_file(directory, NAIVE_BAYES_FILE, MAX_NGRAM_MODEL_BYTES)
    if path is None:
        raise BundleError(
            f"{directory} is not a complete bundle: {NAIVE_BAYES_FILE} is missing (config.json has nb.weight {config.nb.weight})"
        )
    expected = expected_ngram_tensors(num_labels, config.nb.method)
    entries = read_header(path, header_limit(len(expected)))
    check_tensors(path, entries, expected)
    free_dimension(path, entries, {"keys": 0, "table": 0, **({"idf": 0} if "idf" in expected else {})})
    return path


def _load_model(weights: Path, config: RunConfig, vocab_size: int, num_labels: int) -> TextModel:
    """The network from checked weights, all finite."""
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as error:
        raise BundleError(f"cannot read weights: {error}", path=weights) from None
    check_finite(weights, state)
    model = build_model(config.model, vocab_size=vocab_size, num_classes=num_labels, ensemble=config.train.ensemble)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise BundleError(f"weights do not match config.json: {error}", path=weights) from None
    return model


def _load_naive_bayes(path: Path, config: RunConfig, vocab_size: int) -> NaiveBayes:
    """The n-gram model from a checked file, its values checked (finite, made for this vocabulary)."""
    try:
        state = load_numpy_file(str(path))
    except (SafetensorError, OSError) as error:
        raise BundleError(f"cannot read the Naive Bayes: {error}", path=path) from None
    check_finite(path, state)
    check_ngram_state(path, state, config, vocab_size)
    return NaiveBayes.from_state(state)
