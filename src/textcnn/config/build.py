"""A run's whole configuration: defaults < YAML file < overrides (CLI flags, Python keywords)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from textcnn.config.architectures import MODEL_CONFIGS, ModelConfig, TextCNNConfig
from textcnn.config.section import Section
from textcnn.config.sections import DataConfig, NaiveBayesConfig, TokenizerConfig, TrainConfig
from textcnn.errors import ConfigError

SECTIONS: dict[str, tuple[type[Section], ...]] = {
    "data": (DataConfig,),
    "tokenizer": (TokenizerConfig,),
    "model": tuple(MODEL_CONFIGS.values()),
    "train": (TrainConfig,),
    "nb": (NaiveBayesConfig,),
}


class RunConfig(Section):
    """Everything one training run needs; saved (resolved) in the bundle's config.json."""

    data: DataConfig = DataConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = TextCNNConfig()
    train: TrainConfig = TrainConfig()
    nb: NaiveBayesConfig = NaiveBayesConfig()


# Keys renamed so that no bare name belongs to two sections; the old names get an error naming the new one.
RENAMED = {"nb.kind": "nb.method", "nb.multi_label": "nb.for_multi_label"}


def _field_owner() -> dict[str, str]:
    """The section of every bare field name (architectures of the model section share theirs)."""
    owners: dict[str, str] = {}
    for section, classes in SECTIONS.items():
        for cls in classes:
            for field in cls.model_fields:
                if field == "name":
                    continue
                if owners.setdefault(field, section) != section:
                    raise AssertionError(f"{field!r} is a field of both {owners[field]} and {section}")
    return owners


FIELD_OWNERS = _field_owner()


def _format_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        if len(loc) > 2 and loc[0] == "model" and loc[1] in MODEL_CONFIGS:
            del loc[1]  # the union's tag: report model.kernel_sizes, not model.textcnn.kernel_sizes
        key = ".".join(str(part) for part in loc)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}")
    return lines


def build_config(base: RunConfig | None = None, overrides: dict[str, Any] | None = None, *, source: str | None = None) -> RunConfig:
    """Return ``base`` updated by ``overrides``.

    ``overrides`` may hold section dicts (``{"model": {"num_filters": 50}}``), dotted keys
    (``{"model.num_filters": 50}``) or bare field names (``{"num_filters": 50}``; each belongs to one
    section). Every problem is reported at once in one ``ConfigError``.
    """
    merged: dict[str, Any] = (base or RunConfig()).model_dump()
    base_model = dict(merged["model"])
    merged["model"] = {}
    problems: list[str] = []
    for key, value in (overrides or {}).items():
        for section, field, value, problem in _placements(key, value):
            if problem:
                problems.append(f"  {key}: {problem}")
            elif field is None:
                merged[section].update(value)
            else:
                merged[section][field] = value
    # Settings of the base architecture carry over only when the architecture stays the same.
    if merged["model"].get("name", base_model["name"]) == base_model["name"]:
        merged["model"] = {**base_model, **merged["model"]}
    head = f"invalid configuration in {source}" if source else "invalid configuration"
    try:
        config = RunConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(head + ":\n" + "\n".join(_format_errors(error) + problems)) from None
    problems += _embedding_problems(config)
    if problems:
        raise ConfigError(head + ":\n" + "\n".join(problems))
    return config


def _placements(key: str, value: Any) -> list[tuple[str, str | None, Any, str | None]]:
    """Where an override goes: (section, field or None for a whole mapping, value, problem or None)."""
    if key in SECTIONS:
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if not isinstance(value, dict):
            return [(key, None, None, "must be a mapping of settings")]
        renamed = [f"{key}.{field}" for field in value if f"{key}.{field}" in RENAMED]
        if renamed:
            return [(key, None, None, f"{old} is now {RENAMED[old]}") for old in renamed]
        return [(key, None, value, None)]
    if "." in key:
        section, _, field = key.partition(".")
        if key in RENAMED:
            return [(section, None, None, f"renamed to {RENAMED[key]}")]
        if section not in SECTIONS:
            return [(section, None, None, f"unknown section {section!r}")]
        return [(section, field, value, None)]
    if key in FIELD_OWNERS:
        return [(FIELD_OWNERS[key], key, value, None)]
    return [("", None, None, "unknown key")]


def _embedding_problems(config: RunConfig) -> list[str]:
    """The embedding mode and the pretrained vectors must agree (a run never ignores either)."""
    mode, vectors = config.model.embedding_mode, config.data.vectors
    if mode in ("static", "nonstatic", "multichannel") and not vectors:
        return [f"  model.embedding_mode: {mode} needs pretrained vectors: set data.vectors (--vectors FILE|glove-6b-50d)"]
    if mode == "rand" and vectors:
        return [f"  model.embedding_mode: rand would ignore data.vectors ({vectors}); use auto, static, nonstatic or multichannel"]
    return []


def load_yaml_config(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """Read a YAML file of sections (``model: {num_filters: 50}``) on top of ``base``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data, tokenizer, model, train, nb)")
    bad = [f"  {key}: unknown section" for key in raw if key not in SECTIONS]
    known = {key: value for key, value in raw.items() if key in SECTIONS}
    try:
        config = build_config(base, known, source=str(path))
    except ConfigError as error:
        if not bad:
            raise
        raise ConfigError(str(error) + "\n" + "\n".join(bad)) from None
    if bad:
        raise ConfigError(f"invalid configuration in {path}:\n" + "\n".join(bad))
    return config


def dump_yaml_config(config: RunConfig) -> str:
    """The config as YAML, in the shape ``load_yaml_config`` reads."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
