"""config.json checked before anything is built: its keys and their types, the settings against the
limits, and the strings (no URL anywhere; paths only where a path is recorded, never opened)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from textcnn.bundle_checks.limits import (
    MAX_KERNEL_SIZE, MAX_KERNEL_SIZES, MAX_LABELS, MAX_POSITION_TABLE, MAX_STRING_CHARS, MAX_VOCAB_SIZE, MODEL_FIELD_LIMITS,
    TOKENIZER_FIELD_LIMITS,
)  # fmt: skip
from textcnn.config import MODEL_CONFIGS, RunConfig
from textcnn.errors import BundleError

# The top level of config.json: what save_bundle writes, and what its extra_info may add (the data files'
# paths and sha256, the search that found the settings).
EXTRA_INFO_KEYS = ("data", "tune")
INFO_KEYS = ("format_version", "textcnn_version", "torch_version", "model_name", "vocab_size", "num_classes", *EXTRA_INFO_KEYS, "config")
REQUIRED_INFO_KEYS = ("format_version", "model_name", "vocab_size", "num_classes", "config")
_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")
_VERSION = re.compile(r"^[0-9A-Za-z.+_-]{1,64}$")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:[0-9]{1,3})?)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_LABEL_SEP_CHARS = 8


def _leaves(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every scalar inside ``value``."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{key}[{i}]")
    else:
        yield key, value


def _is_count(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_info(path: Path, info: dict[str, Any]) -> None:
    """The top level of config.json: known keys only, each of its type; no string a URL or overlong."""
    unknown = [key for key in info if key not in INFO_KEYS]
    if unknown:
        raise BundleError(f"unknown key {unknown[0]!r} (known: {', '.join(INFO_KEYS)})", path=path)
    missing = [key for key in REQUIRED_INFO_KEYS if key not in info]
    if missing:
        raise BundleError(f"{missing[0]} is missing", path=path)
    if not _is_count(info["vocab_size"], 2, MAX_VOCAB_SIZE):
        raise BundleError(f"vocab_size {info['vocab_size']!r:.40} is not an integer from 2 to {MAX_VOCAB_SIZE:,}", path=path)
    if not _is_count(info["num_classes"], 1, MAX_LABELS):
        raise BundleError(f"num_classes {info['num_classes']!r:.40} is not an integer from 1 to {MAX_LABELS:,}", path=path)
    if info["model_name"] not in MODEL_CONFIGS:
        raise BundleError(f"model_name {info['model_name']!r:.40} is no known model ({', '.join(MODEL_CONFIGS)})", path=path)
    for key in ("textcnn_version", "torch_version"):
        if key in info and not (isinstance(info[key], str) and _VERSION.match(info[key])):
            raise BundleError(f"{key} {info[key]!r:.40} is not a version number", path=path)
    if not isinstance(info["config"], dict):
        raise BundleError("config is not an object of settings", path=path)
    _check_extra_info(path, info)
    for key, value in _leaves(info, ""):
        if isinstance(value, str) and (len(value) > MAX_STRING_CHARS or _URL.match(value)):
            raise BundleError(f"{key}: {value[:60]!r} is {'a URL' if _URL.match(value) else 'overlong'}; no bundle holds one", path=path)


def _check_extra_info(path: Path, info: dict[str, Any]) -> None:
    """``data``: {split: {path, sha256}} (recorded paths, never opened); ``tune``: the search's summary."""
    data = info.get("data", {})
    for split, described in data.items() if isinstance(data, dict) else [("", None)]:
        if not (isinstance(described, dict) and set(described) == {"path", "sha256"} and isinstance(described["path"], str)
                and isinstance(described["sha256"], str) and _SHA256.match(described["sha256"])):  # fmt: skip
            raise BundleError(f"data{'.' + split if split else ''}: expected {{path, sha256}} of a data file", path=path)
    tune = info.get("tune", {})
    if not (isinstance(tune, dict) and set(tune) <= {"budget", "trials", "best_trial"}
            and all(_is_count(tune.get(key, 0), 0, 10**9) for key in ("trials", "best_trial"))
            and isinstance(tune.get("budget", ""), str)):  # fmt: skip
        raise BundleError("tune: expected {budget, trials, best_trial} of a search", path=path)


def _validation_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        if len(loc) > 1 and loc[0] == "model" and loc[1] in MODEL_CONFIGS:
            del loc[1]  # the union's tag: model.embed_dim, not model.textcnn.embed_dim
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{'.'.join(['config', *map(str, loc)])}: {message}")
    return problems


def validate_config(path: Path, raw: dict[str, Any]) -> RunConfig:
    """The settings of config.json: finite numbers, exact types (no "16" for 16), known keys, the limits."""
    for key, value in _leaves(raw, "config"):
        if isinstance(value, float) and not math.isfinite(value):
            raise BundleError(f"invalid model configuration: {key} is {value}", path=path)
    try:
        config = RunConfig.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as error:
        raise BundleError(f"invalid model configuration: {'; '.join(_validation_problems(error))}", path=path) from None
    _check_limits(path, config)
    _check_strings(path, config)
    return config


def _check_limits(path: Path, config: RunConfig) -> None:
    """Every size of the model and the tokenizer under its limit (see limits.py)."""
    sizes = {f"model.{name}": (getattr(config.model, name, None), limit) for name, limit in MODEL_FIELD_LIMITS.items()}
    sizes |= {f"tokenizer.{name}": (getattr(config.tokenizer, name), limit) for name, limit in TOKENIZER_FIELD_LIMITS.items()}
    kernel_sizes = getattr(config.model, "kernel_sizes", ())
    sizes["model.kernel_sizes (count)"] = (len(kernel_sizes), MAX_KERNEL_SIZES)
    sizes["model.kernel_sizes (widest)"] = (max(kernel_sizes, default=0), MAX_KERNEL_SIZE)
    if getattr(config.model, "positions", "none") != "none":
        sizes["model.max_positions x model.embed_dim"] = (config.model.max_positions * config.model.embed_dim, MAX_POSITION_TABLE)
    for key, (value, limit) in sizes.items():
        if isinstance(value, int) and value > limit:
            raise BundleError(f"{key} is {value:,}, more than any real model (limit {limit:,})", path=path)


def _looks_like_path(value: str) -> bool:
    parts = re.split(r"[\\/]", value)
    return value.startswith(("/", "\\", "~")) or bool(re.match(r"^[A-Za-z]:[\\/]", value)) or ".." in parts


def _check_strings(path: Path, config: RunConfig) -> None:
    """Column names are names, the label separator is short, the device is a device name.

    ``data.vectors`` may hold a path: the vectors file training read, recorded; loading never opens it.
    """
    data = config.data
    for key, value in (("data.text_column", data.text_column), ("data.label_column", data.label_column)):
        if _looks_like_path(value):
            raise BundleError(f"invalid model configuration: {key} {value[:60]!r} is a path, not a column name", path=path)
    if len(data.label_sep) > MAX_LABEL_SEP_CHARS:
        raise BundleError(f"invalid model configuration: data.label_sep {data.label_sep[:60]!r} is no separator", path=path)
    if not _DEVICE.match(config.train.device):
        raise BundleError(f"invalid model configuration: train.device {config.train.device[:60]!r} is no device name", path=path)
