"""Train word2vec (gensim) on unlabelled texts, tokenized as the classifier tokenizes, for ``--vectors``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from textcnn.data.readers import Format, read_records
from textcnn.data.tokenizers import Tokenizer, build_tokenizer, resolve_tokenizer_kind
from textcnn.errors import ConfigError, DataError, TextcnnError
from textcnn.reporting import logger

TOKENIZER_KINDS = ("auto", "word", "char", "jieba")


@dataclass(frozen=True)
class Word2VecSummary:
    """What ``train_word2vec`` read and wrote."""

    path: Path
    num_texts: int
    num_tokens: int
    num_words: int  # words with vectors (seen at least min_count times)
    dim: int
    tokenizer: str
    seconds: float

    def describe(self) -> str:
        """One line for the user."""
        return (
            f"wrote {self.num_words:,} {self.dim}-d vectors to {self.path} (skip-gram word2vec on {self.num_texts:,} "
            f"texts, {self.num_tokens:,} tokens, tokenizer {self.tokenizer}, {self.seconds:.1f}s)"
        )


class _TokenizedTexts:
    """The texts as token lists, tokenized again on every pass (gensim makes one pass per epoch plus one)."""

    def __init__(self, texts: Sequence[str], tokenizer: Tokenizer) -> None:
        self.texts, self.tokenizer = texts, tokenizer

    def __iter__(self) -> Iterator[list[str]]:
        return (self.tokenizer(text) for text in self.texts)


def train_word2vec(
    input_path: str | Path,
    out_path: str | Path,
    *,
    format: Format = "auto",
    text_column: str = "text",
    encoding: str = "utf-8",
    tokenizer: str = "auto",
    lowercase: bool = True,
    case_markers: bool = True,
    dim: int = 100,
    epochs: int = 5,
    window: int = 5,
    min_count: int = 5,
    seed: int = 13,
) -> Word2VecSummary:
    """Train skip-gram word2vec on the texts of ``input_path`` and write word2vec text format to ``out_path``.

    ``input_path`` holds one text per line (``.txt``) or is a CSV/TSV/JSONL/fastText file whose
    ``text_column`` is read (labels are ignored), decoded as ``encoding``. One worker thread, so a seed gives the same vectors.
    Skipped rows of the input are logged as a warning on the ``textcnn`` logger.

    Raises:
        TextcnnError: gensim is not installed (``pip install "textcnn[vectors]"``).
        ConfigError: an unknown tokenizer or a setting below 1.
        DataError: the input is missing or malformed, or no token occurs ``min_count`` times.
    """
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise TextcnnError('training word vectors needs gensim: pip install "textcnn[vectors]"') from None
    if tokenizer not in TOKENIZER_KINDS:
        raise ConfigError(f"tokenizer: must be one of {', '.join(TOKENIZER_KINDS)}, got {tokenizer!r}")
    for name, value in (("dim", dim), ("epochs", epochs), ("window", window), ("min_count", min_count)):
        if value < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {value}")
    started = time.perf_counter()
    records = read_records(input_path, format=format, text_column=text_column, label_column=None, encoding=encoding)
    if records.skips.num_skipped:
        logger.warning(records.skips.describe())
    if not records.texts:
        raise DataError("no texts to train word vectors on", path=input_path)
    kind = resolve_tokenizer_kind(tokenizer, records.texts)
    corpus = _TokenizedTexts(records.texts, build_tokenizer(kind, lowercase, case_markers))
    model = Word2Vec(vector_size=dim, window=window, min_count=min_count, sg=1, seed=seed, workers=1)
    model.build_vocab(corpus)
    if not len(model.wv):
        raise DataError(f"no token occurs at least {min_count} times (lower --min-count)", path=input_path)
    model.train(corpus, total_examples=model.corpus_count, total_words=model.corpus_total_words, epochs=epochs)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(str(out_path), binary=False)
    return Word2VecSummary(
        out_path, len(records.texts), model.corpus_total_words, len(model.wv), dim, kind, time.perf_counter() - started
    )
