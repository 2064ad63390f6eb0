"""The model section: one configuration class per architecture, told apart by ``name``."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from textcnn.config.section import Section

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


class TextCNNConfig(Section):
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


class GatedCNNConfig(Section):
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


class TransformerConfig(Section):
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
MODEL_CONFIGS: dict[str, type[Section]] = {"textcnn": TextCNNConfig, "gated_cnn": GatedCNNConfig, "transformer": TransformerConfig}
