"""Tokenize once into compact integer arrays: one flat int32 id array plus offsets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from textcnn.data.tokenizers import Tokenizer
from textcnn.data.vocab import Vocab


@dataclass
class EncodedTexts:
    """Texts as token ids: text ``i`` is ``ids[offsets[i]:offsets[i] + lengths[i]]``."""

    ids: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (num_texts,) int64
    lengths: np.ndarray  # (num_texts,) int64, after truncation
    num_truncated: int = 0  # texts longer than max_len
    tokens_cut: int = 0  # tokens dropped by truncation
    tokens_total: int = 0  # tokens before truncation

    def __len__(self) -> int:
        return len(self.lengths)

    def select(self, index: np.ndarray) -> "EncodedTexts":
        """A view of the texts at ``index`` (ids are shared, not copied)."""
        return EncodedTexts(self.ids, self.offsets[index], self.lengths[index])

    def truncation_note(self) -> str:
        """A sentence for the user when texts were cut, else an empty string."""
        if not self.num_truncated:
            return ""
        share = 100.0 * self.tokens_cut / max(1, self.tokens_total)
        return (
            f"{self.num_truncated} of {len(self)} texts were longer than max_len and truncated "
            f"({share:.1f}% of tokens cut)"
        )


def tokenize_texts(texts: Sequence[str], tokenizer: Tokenizer) -> list[list[str]]:
    """Each text as a list of tokens."""
    return [tokenizer(text) for text in texts]


def encode_tokens(token_lists: Sequence[Sequence[str]], vocab: Vocab, max_len: int | None) -> EncodedTexts:
    """Look tokens up in ``vocab`` and keep at most ``max_len`` of each text (its head; none: all)."""
    full_lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(token_lists))
    lengths = full_lengths if max_len is None else np.minimum(full_lengths, max_len)
    offsets = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        offsets[1:] = np.cumsum(lengths)[:-1]
    ids = np.empty(int(lengths.sum()), dtype=np.int32)
    get = vocab.index.get
    position = 0
    for tokens, length in zip(token_lists, lengths):
        ids[position : position + length] = [get(t, 1) for t in tokens[:length]]
        position += length
    return EncodedTexts(
        ids=ids,
        offsets=offsets,
        lengths=lengths,
        num_truncated=int((full_lengths > lengths).sum()),
        tokens_cut=int((full_lengths - lengths).sum()),
        tokens_total=int(full_lengths.sum()),
    )


def encode_texts(texts: Sequence[str], tokenizer: Tokenizer, vocab: Vocab, max_len: int | None) -> EncodedTexts:
    """Tokenize and encode ``texts`` in one pass."""
    return encode_tokens(tokenize_texts(texts, tokenizer), vocab, max_len)


def choose_max_len(lengths: np.ndarray, *, percentile: float = 99.0, floor: int = 16, cap: int = 400) -> int:
    """A maximum length that keeps ``percentile`` % of texts whole, within [floor, cap]."""
    if len(lengths) == 0:
        return floor
    return int(min(cap, max(floor, np.ceil(np.percentile(lengths, percentile)))))
