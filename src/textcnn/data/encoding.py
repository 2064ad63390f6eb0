"""Tokenize once into compact integer arrays: one flat int32 id array plus offsets."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from textcnn.data.tokenizers import Tokenizer
from textcnn.data.vocab import PAD, UNK, UNK_ID, Vocab


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

    def flat_ids(self) -> np.ndarray:
        """The ids of all texts, one text after the other (num_tokens,)."""
        return self.ids[_positions(self.offsets, self.lengths)]

    def truncation_note(self) -> str:
        """A sentence for the user when texts were cut, else an empty string."""
        if not self.num_truncated:
            return ""
        share = 100.0 * self.tokens_cut / max(1, self.tokens_total)
        return (
            f"{self.num_truncated} of {len(self)} texts were longer than max_len and truncated "
            f"({share:.1f}% of tokens cut)"
        )


@dataclass
class TokenizedTexts:
    """Texts tokenized once, as ids into their own table of distinct tokens (in order of first sight).

    Text ``i`` is ``tokens[j] for j in ids[offsets[i]:offsets[i] + lengths[i]]``; looking the table up
    in a vocabulary then costs one step per distinct token, not per token.
    """

    tokens: list[str]  # distinct tokens, first seen first
    ids: np.ndarray  # (total_tokens,) int32 indices into ``tokens``
    offsets: np.ndarray  # (num_texts,) int64
    lengths: np.ndarray  # (num_texts,) int64

    def __len__(self) -> int:
        return len(self.lengths)

    def select(self, index: np.ndarray) -> "TokenizedTexts":
        """The texts at ``index`` (the arrays of tokens are shared, not copied)."""
        return TokenizedTexts(self.tokens, self.ids, self.offsets[index], self.lengths[index])

    def flat_ids(self, max_len: int | None = None) -> np.ndarray:
        """The table ids of all texts, one after the other (at most ``max_len`` per text)."""
        lengths = self.lengths if max_len is None else np.minimum(self.lengths, max_len)
        return self.ids[_positions(self.offsets, lengths)]


def _starts(lengths: np.ndarray) -> np.ndarray:
    starts = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def _positions(offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat positions of the first ``lengths[i]`` tokens of each text starting at ``offsets[i]``."""
    shift = np.repeat(offsets - _starts(lengths), lengths)  # (total,)
    return shift + np.arange(len(shift), dtype=np.int64)


# Separates texts in the string handed to ``Tokenizer.pieces``: a control character, not a word
# character and not whitespace, so no tokenizer glues it to a neighbour; spaces around it make it a
# whitespace chunk of its own. Texts that contain it are tokenized one by one.
_SEP = "\x00"
_JOIN = f" {_SEP} "
_CHUNK_TEXTS = 4096  # texts per ``pieces`` call: bounds the list of piece strings held at once
# Fewer texts are tokenized one by one: cutting them into pieces and looking each distinct piece up
# pays off only once pieces repeat across many texts (MR's sentences, one thread: 1 text 11 against
# 40 us, 256 texts 2.0 against 2.6 ms, 4,096 texts 32 against 25 ms).
_PIECES_FROM_TEXTS = 1024


class _FirstSight(dict):
    """item -> id in order of first sight; ``index[item]`` adds an unseen item (C speed for seen ones)."""

    def __missing__(self, item: str) -> int:
        value = self[item] = len(self)
        return value


def tokenize_compact(texts: Sequence[str], tokenizer: Tokenizer, *, by_pieces: bool | None = None) -> TokenizedTexts:
    """Tokenize each text once into a ``TokenizedTexts`` (no per-text token lists are kept).

    Many texts are cut into pieces a few thousand at a time and each distinct piece is tokenized
    once (see ``Tokenizer``); the result is the same as tokenizing the texts one by one, which is
    how fewer than ``_PIECES_FROM_TEXTS`` are tokenized (``by_pieces`` True or False: either way).
    """
    texts = texts if isinstance(texts, list) else list(texts)
    if by_pieces is None:
        by_pieces = len(texts) >= _PIECES_FROM_TEXTS
    if not by_pieces or not hasattr(tokenizer, "pieces") or any(_SEP in text for text in texts):
        return _tokenize_one_by_one(texts, tokenizer)
    pieces = _FirstSight({_SEP: 0})
    chunks: list[np.ndarray] = []
    for start in range(0, len(texts), _CHUNK_TEXTS):
        cut = tokenizer.pieces(_JOIN.join(texts[start : start + _CHUNK_TEXTS]) + _JOIN)
        chunks.append(np.fromiter(map(pieces.__getitem__, cut), dtype=np.int32, count=len(cut)))
    piece_ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)  # (num_pieces,)
    # Each distinct piece's tokens, in the order pieces were first seen: tokens get ids in order of first sight.
    tokens = _FirstSight()
    counts = np.zeros(len(pieces), dtype=np.int64)  # tokens per distinct piece; the separator has none
    flat: list[int] = []
    for i, piece in enumerate(pieces):
        if i:
            ids = [tokens[token] for token in tokenizer.piece_tokens(piece)]
            counts[i] = len(ids)
            flat += ids
    piece_lengths = counts[piece_ids]  # (num_pieces,) tokens of each piece
    ids = np.asarray(flat, dtype=np.int32)[_positions(_starts(counts)[piece_ids], piece_lengths)]
    ends = np.flatnonzero(piece_ids == 0)  # (num_texts,) the separator after each text
    lengths = np.diff(np.cumsum(piece_lengths)[ends], prepend=0) if len(ends) else np.zeros(0, dtype=np.int64)
    return TokenizedTexts(list(tokens), ids, _starts(lengths), lengths.astype(np.int64))


def _tokenize_one_by_one(texts: Sequence[str], tokenizer: Tokenizer) -> TokenizedTexts:
    index: dict[str, int] = {}
    ids = array("i")
    lengths = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        tokens = tokenizer(text)
        lengths[i] = len(tokens)
        ids.extend([index.setdefault(token, len(index)) for token in tokens])
    flat = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, dtype=np.int32)
    return TokenizedTexts(list(index), flat, _starts(lengths), lengths)


def concat_compact(first: TokenizedTexts, second: TokenizedTexts) -> TokenizedTexts:
    """The texts of ``first`` then those of ``second``, over one table of tokens."""
    tokens = list(first.tokens)
    remap = np.arange(len(second.tokens), dtype=np.int32)
    if second.tokens is not first.tokens:  # tables of different files: add the second's new tokens
        index = {token: i for i, token in enumerate(tokens)}
        remap = np.fromiter((index.setdefault(t, len(index)) for t in second.tokens), dtype=np.int32, count=len(second.tokens))
        tokens = list(index)
    ids = np.concatenate([first.flat_ids(), remap[second.flat_ids()]]).astype(np.int32)
    lengths = np.concatenate([first.lengths, second.lengths])
    return TokenizedTexts(tokens, ids, _starts(lengths), lengths)


def build_compact_vocab(texts: TokenizedTexts, *, min_freq: int = 1, max_size: int | None = None) -> Vocab:
    """Tokens seen at least ``min_freq`` times, most frequent first, ties by first sight (``max_size`` counts the reserved ones)."""
    flat = texts.flat_ids()
    counts = np.bincount(flat, minlength=len(texts.tokens))
    seen, first = np.unique(flat, return_index=True)
    first_seen = np.full(len(texts.tokens), len(flat), dtype=np.int64)
    first_seen[seen] = first
    order = np.lexsort((first_seen, -counts))  # count descending, then first sight
    order = order[counts[order] >= max(1, min_freq)]
    kept = [texts.tokens[i] for i in order if texts.tokens[i] not in (PAD, UNK)]
    if max_size is not None:
        kept = kept[: max(0, max_size - 2)]
    return Vocab([PAD, UNK, *kept])


def encode_compact(texts: TokenizedTexts, vocab: Vocab, max_len: int | None) -> EncodedTexts:
    """Vocabulary ids of ``texts``, each cut to its first ``max_len`` tokens (none: whole; vectorized)."""
    get = vocab.index.get
    lookup = np.fromiter((get(token, UNK_ID) for token in texts.tokens), dtype=np.int32, count=len(texts.tokens))
    lengths = texts.lengths if max_len is None else np.minimum(texts.lengths, max_len)
    return EncodedTexts(
        ids=lookup[texts.flat_ids(max_len)],
        offsets=_starts(lengths),
        lengths=lengths,
        num_truncated=int((texts.lengths > lengths).sum()),
        tokens_cut=int((texts.lengths - lengths).sum()),
        tokens_total=int(texts.lengths.sum()),
    )


def choose_max_len(lengths: np.ndarray, *, percentile: float = 99.0, floor: int = 16, cap: int = 400) -> int:
    """A maximum length that keeps ``percentile`` % of texts whole, within [floor, cap]."""
    if len(lengths) == 0:
        return floor
    return int(min(cap, max(floor, np.ceil(np.percentile(lengths, percentile)))))
