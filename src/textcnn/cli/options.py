"""Command-line flags for configuration keys, derived from the config models.

A command lists the keys that get a flag (``TRAIN_KEYS``, ``TUNE_KEYS``); everything else comes from
the pydantic field: the help text is its ``description``, the shown default is its value in
``RunConfig()``, and the value type, metavar and parsing follow its annotation. Flag names follow one
rule: ``--<field>`` with dashes for underscores, ``--<section>-<field>`` in ``PREFIXED_SECTIONS``, and
``--<field>/--no-<field>`` for a bool; ``FLAG_NAMES`` holds the few exceptions. Any other setting is
reached with ``--set KEY=VALUE``.
"""

from __future__ import annotations

import functools
import inspect
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional, Sequence, Union, get_args, get_origin

import typer

import textcnn.config as config_models
from textcnn.config import SECTIONS, RunConfig, build_config, load_yaml_config
from textcnn.errors import ConfigError

TRAIN_KEYS = (
    "data.format", "data.text_column", "data.label_column", "data.multi_label", "data.label_sep", "data.encoding",
    "tokenizer.kind", "tokenizer.max_len", "tokenizer.long_text", "model.name", "data.vectors",
    "model.embedding_mode", "model.kernel_sizes", "model.num_filters", "model.embed_dim", "model.dropout",
    "model.pooling", "train.epochs", "train.batch_size", "train.lr", "train.patience", "train.class_weight",
    "train.sampler", "train.seed", "train.ensemble", "nb.method", "nb.ngrams", "nb.weight", "train.device",
    "train.threads", "data.cache", "data.stream", "train.checkpoint_every_steps", "train.keep_checkpoints",
)  # fmt: skip
TUNE_KEYS = (
    "data.format", "data.text_column", "data.label_column", "data.encoding", "tokenizer.kind", "tokenizer.max_len", "model.name",
    "train.epochs", "train.patience", "train.seed", "train.device", "data.cache",
)  # fmt: skip

PREFIXED_SECTIONS = ("nb",)  # --nb-ngrams: a bare --ngrams would not say which model it sets
FLAG_NAMES = {
    "tokenizer.kind": "--tokenizer",
    "model.name": "--model",
    "data.multi_label": "--multi-label/--single-label",
}
METAVARS = {"data.vectors": "FILE|glove-6b-50d"}


@dataclass(frozen=True)
class ConfigFlag:
    """One flag that sets one configuration key."""

    key: str  # "model.num_filters"
    name: str  # "--num-filters", or "--cache/--no-cache" for a bool
    help: str
    kind: type  # what the command line parses: int, float, str or bool
    metavar: str | None
    parse: Callable[[Any, str], Any]  # (command-line value, flag) -> config value
    bounds: tuple[int | None, int | None] = (None, None)  # an integer's ge / le, checked by the command line

    @property
    def param(self) -> str:
        """The command function's parameter name."""
        return "config__" + self.key.replace(".", "__")

    @property
    def flag(self) -> str:
        """The flag as errors name it: ``--num-filters``, ``--multi-label``."""
        return self.name.split("/")[0]

    def parameter(self) -> inspect.Parameter:
        """A keyword parameter that Typer turns into the option (absent: None, the key is not set)."""
        low, high = self.bounds
        option = typer.Option(self.name, help=self.help, metavar=self.metavar, show_default=False, min=low, max=high)
        annotation = Annotated[Optional[self.kind], option]
        return inspect.Parameter(self.param, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def resolve_key(key: str) -> str:
    """The key under its current name: a key the config module lists as renamed follows its new name."""
    return config_models.RENAMED.get(key, key)


def _fields(key: str) -> list[Any]:
    """The pydantic fields of ``key``, the default architecture's first (model fields vary by architecture)."""
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        raise KeyError(f"{key}: no configuration section {section!r}")
    default = type(getattr(RunConfig(), section))
    classes = sorted(SECTIONS[section], key=lambda cls: cls is not default)
    found = [cls.model_fields[name] for cls in classes if name in cls.model_fields]
    if not found:
        raise KeyError(f"{key}: no such configuration key")
    return found


def describe(key: str) -> str:
    """The description of ``key`` in the config models."""
    return _fields(resolve_key(key))[0].description or ""


def default_of(key: str) -> Any:
    """The value of ``key`` in ``RunConfig()`` (a field of another architecture: its own default)."""
    section, _, name = resolve_key(key).partition(".")
    return getattr(getattr(RunConfig(), section), name, _fields(resolve_key(key))[0].default)


def show(value: Any) -> str:
    """A value as a flag or YAML file spells it: 1,2,3 for a tuple, none, true, false."""
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if value is None or isinstance(value, bool):
        return {None: "none", True: "true", False: "false"}[value]
    return str(value)


def flag_name(key: str) -> str:
    """The flag of ``key``: the rule of this module's docstring, or its named exception."""
    section, _, name = key.partition(".")
    if key in FLAG_NAMES:
        return FLAG_NAMES[key]
    dashed = name.replace("_", "-")
    if section in PREFIXED_SECTIONS:
        dashed = f"{section}-{dashed}"
    is_bool = any(bool in _members(field.annotation) for field in _fields(key))
    return f"--{dashed}/--no-{dashed}" if is_bool else f"--{dashed}"


def _members(annotation: Any) -> list[Any]:
    """The types a value may have: the members of a union (or the type itself), None left out."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [member for member in get_args(annotation) if member is not type(None)]
    return [annotation]


def _literals(members: list[Any]) -> list[Any]:
    return [value for member in members if get_origin(member) is Literal for value in get_args(member)]


def _as_is(value: Any, flag: str) -> Any:
    return value


def _int_list(value: str, flag: str) -> list[int]:
    try:
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise ConfigError(f"{flag}: expected comma-separated integers, got {value!r}") from None


def _number_or(number: type, words: list[str]) -> Callable[[str, str], Any]:
    """A parser for ``int | Literal["auto"]`` and the like: one of ``words``, else a number."""
    expected = ("an integer" if number is int else "a number") + "".join(f" or {word}" for word in words)

    def parse(value: str, flag: str) -> Any:
        if value in words:
            return value
        try:
            return number(value)
        except ValueError:
            raise ConfigError(f"{flag}: expected {expected}, got {value!r}") from None

    return parse


def _value_type(fields: list[Any]) -> tuple[type, str | None, Callable[[Any, str], Any]]:
    """(command-line type, metavar, parser) for a key's fields (an architecture's Literal values included)."""
    members = [member for field in fields for member in _members(field.annotation)]
    words = list(dict.fromkeys(_literals(members)))
    plain = list(dict.fromkeys(member for member in members if get_origin(member) is not Literal))
    if bool in plain:
        return bool, None, _as_is
    if not plain:
        return str, "|".join(map(str, words)), _as_is
    if get_origin(plain[0]) is tuple and get_args(plain[0])[0] is int:
        return str, "N,N,...", _int_list
    if plain in ([int], [float], [str]) and not words:
        return plain[0], None, _as_is
    if plain in ([int], [float]):
        return str, ("INT" if plain[0] is int else "NUMBER") + "|" + "|".join(words), _number_or(plain[0], words)
    raise TypeError(f"no command-line type for the annotation of {fields[0]!r}")


def config_flag(key: str) -> ConfigFlag:
    """The flag of one configuration key, everything about it derived from the config models."""
    key = resolve_key(key)
    kind, metavar, parse = _value_type(_fields(key))
    help_text = f"{describe(key)} [default: {show(default_of(key))}]"
    bounds = _int_bounds(_fields(key)[0]) if kind is int else (None, None)
    return ConfigFlag(key, flag_name(key), help_text, kind, METAVARS.get(key, metavar), parse, bounds)


def _int_bounds(field: Any) -> tuple[int | None, int | None]:
    """The ``ge`` and ``le`` of an integer field (pydantic keeps them as annotated-types metadata)."""
    low = next((item.ge for item in field.metadata if getattr(item, "ge", None) is not None), None)
    high = next((item.le for item in field.metadata if getattr(item, "le", None) is not None), None)
    return low, high


def with_config_flags(keys: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command one option per key, and hand it the keys that were given as ``overrides``.

    The command declares ``overrides: dict[str, Any]`` as a keyword-only parameter; the generated
    options take its place in the signature Typer reads, before the other keyword-only parameters.
    """
    flags = [config_flag(key) for key in keys]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            overrides = {}
            for flag in flags:
                value = kwargs.pop(flag.param, None)
                if value is not None:
                    overrides[flag.key] = flag.parse(value, flag.flag)
            return command(*args, overrides=overrides, **kwargs)

        params = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "overrides"]
        first = next((i for i, p in enumerate(params) if p.kind is p.KEYWORD_ONLY), len(params))
        generated = [flag.parameter() for flag in flags]
        run.__signature__ = inspect.Signature(params[:first] + generated + params[first:])  # type: ignore[attr-defined]
        return run

    return decorate


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as overrides; values are read as YAML (``3``, ``null``, ``[1, 2]``)."""
    import yaml

    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. model.num_filters=200), got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def resolve_config(config_file: Path | None, overrides: dict[str, Any], sets: Sequence[str]) -> RunConfig:
    """Defaults < ``--config FILE`` < flags < ``--set``, validated together (every bad key in one error)."""
    base = load_yaml_config(config_file) if config_file else None
    return build_config(base, {**overrides, **parse_sets(sets)}, source="command-line flags")
