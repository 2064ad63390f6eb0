"""Typed configuration: one object per concern, filled from defaults < YAML file < CLI flags.

Every field is documented where it is declared. The YAML keys, the Python attributes, the
``config.json`` keys of a bundle and the CLI flags use the same names (``num_filters`` <->
``--num-filters``). No torch import here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from textcnn.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    """How input files are read and how a dev split is carved when none is given."""

    format: Literal["auto", "csv", "tsv", "jsonl", "fasttext"] = Field(
        "auto", description="Input format; `auto` picks by file extension (.csv .tsv .jsonl/.json .txt/.ft)."
    )
    text_column: str = Field("text", description="Column (CSV/TSV header) or key (JSONL) holding the text.")
    label_column: str = Field("label", description="Column or key holding the label.")
    multi_label: bool | Literal["auto"] = Field(
        "auto",
        description="Each text may carry several labels (one sigmoid per label). `auto`: yes when the "
        "training labels are JSON lists, a fastText line has several `__label__` tokens, or the CSV/TSV "
        "label column is named `labels` (then also read when `label` is absent).",
    )
    label_sep: str = Field("|", min_length=1, description="Separator of the labels in a multi-label CSV/TSV cell.")
    dev_fraction: float = Field(
        0.1, gt=0.0, lt=0.5, description="Share of TRAIN carved out (stratified, seeded) as dev when no dev file is given."
    )


class TokenizerConfig(_Section):
    """How text becomes token ids."""

    kind: Literal["auto", "word", "char", "jieba"] = Field(
        "auto",
        description="`word`: regex words and punctuation; `char`: one token per character; "
        "`jieba`: Chinese words (rjieba, HMM off); `auto`: `char` when the training texts are "
        "mostly CJK, else `word`.",
    )
    lowercase: bool = Field(True, description="Lowercase text before tokenizing.")
    min_freq: int = Field(1, ge=1, description="Tokens seen fewer times in training become <unk>.")
    max_vocab: int | None = Field(None, ge=2, description="Keep at most this many tokens (most frequent first), <pad>/<unk> included.")
    max_len: int | Literal["auto"] = Field(
        "auto",
        description="Texts longer than this many tokens are truncated (the head is kept). `auto`: the "
        "99th percentile of training lengths, at least 16 and at most 400.",
    )

    @field_validator("max_len")
    @classmethod
    def _positive_max_len(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"must be a positive integer or 'auto', got {value}")
        return value


class TextCNNConfig(_Section):
    """Kim (2014): embeddings -> parallel convolutions -> max-over-time pooling -> dropout -> linear."""

    name: Literal["textcnn"] = Field("textcnn", description="Architecture name, saved in the bundle.")
    embed_dim: int = Field(128, ge=1, description="Size of each token embedding (the kernels' width).")
    kernel_sizes: tuple[int, ...] = Field((1, 2, 3, 4, 5), description="N-gram widths of the convolution kernels.")
    num_filters: int = Field(128, ge=1, description="Kernels (output channels) per kernel size.")
    dropout: float = Field(0.6, ge=0.0, lt=1.0, description="Dropout on the pooled features.")
    embed_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the token embeddings.")
    token_dropout: float = Field(
        0.2, ge=0.0, lt=1.0, description="While training, replace this share of tokens by <unk> (word dropout)."
    )
    pooling: Literal["max", "avg", "max_avg", "kmax", "attention"] = Field(
        "max",
        description="Pooling over time; padding never counts. `max_avg`: both, concatenated; `kmax`: the "
        "`kmax_k` strongest positions of each kernel in text order; `attention`: a softmax-weighted sum "
        "scored by a learned query.",
    )
    kmax_k: int = Field(2, ge=1, description="Positions kept per kernel by `kmax` pooling (shorter texts are filled with 0).")
    activation: Literal["relu", "tanh", "gelu"] = Field("relu", description="Non-linearity after each convolution.")
    padding: Literal["valid", "same"] = Field(
        "valid", description="`valid`: windows inside the text only; `same`: zero-padded so each token gets one window."
    )
    positions: Literal["none", "learned", "sinusoidal"] = Field("none", description="Position embeddings added to the tokens.")
    max_positions: int = Field(512, ge=1, description="Longest text the position table covers (with `positions` only).")

    @field_validator("kernel_sizes")
    @classmethod
    def _positive_kernels(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(k < 1 for k in value):
            raise ValueError(f"must be a non-empty list of positive integers, got {list(value)}")
        return value


class GatedCNNConfig(_Section):
    """Stacked gated convolutions in the style of Gehring et al. (2017), pooled for classification."""

    name: Literal["gated_cnn"] = Field("gated_cnn", description="Architecture name, saved in the bundle.")
    embed_dim: int = Field(128, ge=1, description="Size of each token embedding.")
    hidden_dim: int = Field(128, ge=1, description="Channels of every convolution block.")
    num_layers: int = Field(4, ge=1, description="Stacked gated convolution blocks.")
    kernel_size: int = Field(3, ge=1, description="Width (in tokens) of every convolution.")
    padding: Literal["same", "causal"] = Field(
        "same", description="`same`: both sides; `causal`: front padding only, so position t never sees t+1."
    )
    residual: Literal["layernorm", "scaled"] = Field(
        "layernorm", description="`layernorm`: LayerNorm(x + block(x)); `scaled`: (x + block(x)) * sqrt(0.5) as in the paper."
    )
    positions: Literal["none", "learned", "sinusoidal"] = Field("learned", description="Position embeddings added to the tokens.")
    max_positions: int = Field(512, ge=1, description="Longest text the position table covers.")
    pooling: Literal["max", "avg"] = Field("max", description="Pooling over time of the last block; padding never counts.")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="Dropout inside the blocks and before the output layer.")
    token_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="While training, replace this share of tokens by <unk>.")


class TransformerConfig(_Section):
    """The comparison encoder: self-attention with a padding mask, residual + LayerNorm, feed-forward."""

    name: Literal["transformer"] = Field("transformer", description="Architecture name, saved in the bundle.")
    embed_dim: int = Field(128, ge=1, description="Model width (embedding size).")
    num_heads: int = Field(4, ge=1, description="Attention heads; must divide embed_dim.")
    num_layers: int = Field(2, ge=1, description="Encoder layers.")
    ff_dim: int = Field(256, ge=1, description="Hidden size of the feed-forward sublayer.")
    positions: Literal["learned", "sinusoidal"] = Field("sinusoidal", description="Position encoding.")
    max_positions: int = Field(512, ge=1, description="Longest text the position encoding covers.")
    pooling: Literal["mean", "first"] = Field("mean", description="Mean over real tokens, or the first token's state.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout in attention, feed-forward and before the output layer.")
    token_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="While training, replace this share of tokens by <unk>.")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "TransformerConfig":
        if self.embed_dim % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide embed_dim ({self.embed_dim})")
        return self


ModelConfig = Annotated[Union[TextCNNConfig, GatedCNNConfig, TransformerConfig], Field(discriminator="name")]
MODEL_CONFIGS: dict[str, type[_Section]] = {"textcnn": TextCNNConfig, "gated_cnn": GatedCNNConfig, "transformer": TransformerConfig}


class TrainConfig(_Section):
    """The optimisation loop."""

    epochs: int = Field(10, ge=1, description="Maximum number of passes over the training data.")
    batch_size: int = Field(32, ge=1, description="Texts per training batch.")
    lr: float = Field(1e-3, gt=0.0, description="Peak learning rate of Adam.")
    weight_decay: float = Field(0.0, ge=0.0, description="Decoupled weight decay (AdamW).")
    warmup_epochs: float = Field(0.0, ge=0.0, description="Linear warm-up length, in epochs.")
    schedule: Literal["constant", "linear", "cosine"] = Field(
        "linear", description="Learning-rate decay after warm-up, over `epochs`."
    )
    patience: int = Field(3, ge=1, description="Stop after this many epochs without a better dev score.")
    refit: Literal["auto", "always", "never"] = Field(
        "auto",
        description="After the best epoch is found, train a fresh model on train + dev for that many epochs "
        "and keep it. `auto`: only when dev was carved out of TRAIN (no dev file), so no labelled text is "
        "wasted; `always`: also with a dev file; `never`: keep the best-epoch model.",
    )
    select_metric: Literal["auto", "accuracy", "macro_f1", "micro_f1"] = Field(
        "auto",
        description="Dev metric that picks the best epoch. `auto`: accuracy (single-label), macro_f1 "
        "(multi-label). For multi-label data accuracy means subset accuracy; for single-label data "
        "micro_f1 equals accuracy.",
    )
    class_weight: Literal["none", "balanced"] = Field(
        "none",
        description="`balanced`: weight each class's loss by n_texts / (n_classes * class_count); in "
        "multi-label mode, weight each label's positives by pos_weight = negatives / positives, at most "
        "`pos_weight_max`.",
    )
    pos_weight_max: float = Field(30.0, ge=1.0, description="Cap of the multi-label pos_weight of `class_weight: balanced`.")
    sampler: Literal["none", "balanced"] = Field(
        "none",
        description="`balanced`: draw each epoch's texts with replacement, with probability 1 / class_count "
        "(multi-label: of the rarest label of the text), so classes appear about equally often.",
    )
    ema_decay: float | None = Field(
        0.99, gt=0.0, lt=1.0, description="Evaluate and keep an exponential moving average of the weights (e.g. 0.99)."
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Label smoothing of the cross-entropy loss (single-label).")
    max_grad_norm: float | None = Field(5.0, gt=0.0, description="Clip the gradient norm to this (none: no clipping).")
    seed: int = Field(13, description="Seed for weights, shuffling and the dev split.")
    device: str = Field("auto", description="`auto` (CUDA when available, else CPU), `cpu`, `cuda`, `cuda:1`, ...")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "mps") and not value.startswith("cuda"):
            raise ValueError(f"must be auto, cpu, mps or cuda[:N], got {value!r}")
        return value


# The sections of a RunConfig and the config classes each may hold (model: one per architecture).
SECTIONS: dict[str, tuple[type[_Section], ...]] = {
    "data": (DataConfig,),
    "tokenizer": (TokenizerConfig,),
    "model": tuple(MODEL_CONFIGS.values()),
    "train": (TrainConfig,),
}


class RunConfig(_Section):
    """Everything one training run needs; saved (resolved) in the bundle's config.json."""

    data: DataConfig = DataConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = TextCNNConfig()
    train: TrainConfig = TrainConfig()


def _field_owner() -> dict[str, str]:
    owners: dict[str, str] = {}
    for section, classes in SECTIONS.items():
        for cls in classes:
            for field in cls.model_fields:
                if field != "name":
                    owners.setdefault(field, section)
    return owners


def _format_errors(error: ValidationError, source: str | None) -> str:
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
    head = f"invalid configuration in {source}" if source else "invalid configuration"
    return head + ":\n" + "\n".join(lines)


def build_config(base: RunConfig | None = None, overrides: dict[str, Any] | None = None, *, source: str | None = None) -> RunConfig:
    """Return ``base`` updated by ``overrides``.

    ``overrides`` may hold section dicts (``{"model": {"num_filters": 50}}``), dotted keys
    (``{"model.num_filters": 50}``) or bare field names that belong to one section
    (``{"num_filters": 50}``). Every problem is reported at once in one ``ConfigError``.
    """
    merged: dict[str, Any] = (base or RunConfig()).model_dump()
    base_model = dict(merged["model"])
    merged["model"] = {}
    owners = _field_owner()
    unknown: list[str] = []
    for key, value in (overrides or {}).items():
        if key in SECTIONS:
            if isinstance(value, BaseModel):
                value = value.model_dump()
            if not isinstance(value, dict):
                unknown.append(f"  {key}: must be a mapping of settings")
                continue
            merged[key].update(value)
        elif "." in key:
            section, _, field = key.partition(".")
            if section not in SECTIONS:
                unknown.append(f"  {key}: unknown section {section!r}")
                continue
            merged[section][field] = value
        elif key in owners:
            merged[owners[key]][key] = value
        else:
            unknown.append(f"  {key}: unknown key")
    # Settings of the base architecture carry over only when the architecture stays the same.
    if merged["model"].get("name", base_model["name"]) == base_model["name"]:
        merged["model"] = {**base_model, **merged["model"]}
    try:
        config = RunConfig.model_validate(merged)
    except ValidationError as error:
        message = _format_errors(error, source)
        if unknown:
            message += "\n" + "\n".join(unknown)
        raise ConfigError(message) from None
    if unknown:
        head = f"invalid configuration in {source}" if source else "invalid configuration"
        raise ConfigError(head + ":\n" + "\n".join(unknown))
    return config


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
        raise ConfigError(f"{path}: expected a mapping of sections (data, tokenizer, model, train)")
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
