"""Texts longer than ``max_len``: truncate, keep head and tail, or cut into overlapping windows.

``encode_to_fit`` encodes tokenized texts as ``tokenizer.long_text`` says; the other functions take
whole encoded texts (``encode_compact(..., max_len=None)``) and work on the flat ids + offsets arrays
with NumPy, without a Python loop over texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textcnn.config import TokenizerConfig
from textcnn.data.encoding import EncodedTexts, TokenizedTexts, encode_compact
from textcnn.data.vocab import Vocab
from textcnn.errors import ConfigError

LONG_TEXT_MODES = ("truncate", "head-tail", "windows")
# head-tail keeps the first quarter of max_len and the last three quarters: Sun et al. (2019, "How to
# fine-tune BERT for text classification?") found head 128 + tail 382 of 510 tokens best on IMDb.
HEAD_SHARE = 0.25


@dataclass(kw_only=True)
class WindowedTexts(EncodedTexts):
    """Windows of texts: row ``i`` is a window of text ``window_text[i]`` (sorted; every text has one or more)."""

    window_text: np.ndarray  # (num_windows,) int64
    num_texts: int
    pool: str  # how the logits of a text's windows combine: max | mean

    def truncation_note(self) -> str:
        """A sentence for the user when texts were split into windows, else an empty string."""
        if not self.num_truncated:
            return ""
        long_windows = len(self) - (self.num_texts - self.num_truncated)
        return (
            f"{self.num_truncated} of {self.num_texts} texts were longer than max_len and were read whole, "
            f"in {long_windows} overlapping windows ({self.pool} of their logits; no tokens cut)"
        )


def fit_long_texts(
    encoded: EncodedTexts, max_len: int, *, mode: str = "truncate", stride: int | None = None, pool: str = "max"
) -> EncodedTexts:
    """Make whole texts fit ``max_len`` tokens as ``mode`` (one of ``LONG_TEXT_MODES``) says.

    Args:
        stride: tokens between window starts (``windows`` only; none: ``max_len // 2``).
        pool: ``max`` or ``mean`` of the window logits (``windows`` only).

    Raises:
        ConfigError: a stride longer than ``max_len`` (windows would skip tokens).
    """
    if mode == "windows":
        stride = stride or max(1, max_len // 2)
        if stride > max_len:
            raise ConfigError(
                f"tokenizer.window_stride: {stride} is longer than max_len ({max_len}), so windows would skip tokens"
            )
        return expand_windows(encoded, max_len, stride, pool=pool)
    if mode == "head-tail":
        return cut_texts(encoded, max_len, head=int(max_len * HEAD_SHARE))
    if mode == "truncate":
        return cut_texts(encoded, max_len, head=max_len)
    raise ConfigError(f"tokenizer.long_text: expected one of {', '.join(LONG_TEXT_MODES)}, got {mode!r}")


def cut_texts(encoded: EncodedTexts, max_len: int, *, head: int) -> EncodedTexts:
    """Keep at most ``max_len`` tokens of each text: its first ``head`` tokens and the rest from its end.

    ``head >= max_len`` is plain truncation (the ids are shared, not copied).
    """
    full = encoded.lengths
    lengths = np.minimum(full, max_len)
    counts = {
        "num_truncated": int((full > max_len).sum()),
        "tokens_cut": int((full - lengths).sum()),
        "tokens_total": int(full.sum()),
    }
    if head >= max_len:
        return EncodedTexts(encoded.ids, encoded.offsets, lengths, **counts)
    text = np.repeat(np.arange(len(full)), lengths)  # (kept_tokens,) the text of each kept token
    offsets = np.cumsum(lengths) - lengths
    position = np.arange(int(lengths.sum())) - offsets[text]  # position in the kept text
    # Position q < head comes from q; later ones from the end: q + (full - kept) (the same q when nothing is cut).
    source = np.where(position < head, position, position + full[text] - lengths[text])
    ids = encoded.ids[encoded.offsets[text] + source]
    return EncodedTexts(ids, offsets, lengths, **counts)


def expand_windows(encoded: EncodedTexts, max_len: int, stride: int, *, pool: str = "max") -> WindowedTexts:
    """Cut each text into windows of ``max_len`` tokens starting every ``stride`` tokens.

    A text of ``n <= max_len`` tokens is one window (itself); a longer one gets ``1 + ceil((n - max_len) /
    stride)`` windows, the last one moved back to end on the text's last token, so every token is in
    some window (with ``stride <= max_len``). Windows are views into the same ids (nothing is copied).
    """
    full = encoded.lengths
    over = np.maximum(full - max_len, 0)
    num_windows = 1 + -(-over // stride)  # (num_texts,) ceil division
    window_text = np.repeat(np.arange(len(full)), num_windows)  # (num_windows,)
    first = np.cumsum(num_windows) - num_windows
    rank = np.arange(int(num_windows.sum())) - first[window_text]  # window number within its text
    start = np.minimum(rank * stride, over[window_text])
    return WindowedTexts(
        encoded.ids,
        encoded.offsets[window_text] + start,
        np.minimum(full[window_text], max_len),
        num_truncated=int((full > max_len).sum()),
        tokens_cut=0,
        tokens_total=int(full.sum()),
        window_text=window_text,
        num_texts=len(full),
        pool=pool,
    )


def encode_to_fit(texts: TokenizedTexts, vocab: Vocab, config: TokenizerConfig, *, training: bool = False) -> EncodedTexts:
    """Token ids of whole texts, made to fit ``config.max_len`` as ``config.long_text`` says.

    With ``windows``, training texts are truncated: trained on every window with its text's label, the
    model scored lower on ChnSentiCorp's dev split (docs/benchmarks.md, "Long texts").
    """
    mode = "truncate" if training and config.long_text == "windows" else config.long_text
    if mode == "truncate":  # the head only: no need to look up the whole texts
        return encode_compact(texts, vocab, int(config.max_len))
    whole = encode_compact(texts, vocab, max_len=None)
    return fit_long_texts(whole, int(config.max_len), mode=mode, stride=config.window_stride, pool=config.window_pool)
