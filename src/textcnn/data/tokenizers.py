"""Tokenizers: ``word``, ``char`` and ``jieba`` behind one small protocol, and ``auto`` detection."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

if TYPE_CHECKING:
    from textcnn.config import TokenizerConfig

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
# A CJK character is a token of its own; a word is letters/digits with inner apostrophes
# (isn't, n't) and a split-off clitic ('s, 're) is one token; any other non-space character is a token (punctuation).
_WORD_RE = re.compile(
    rf"[{_CJK}]|['’](?:s|re|ve|ll|d|m)(?![^\W{_CJK}])|[^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*|[^\w\s]"
)
_CJK_RE = re.compile(rf"[{_CJK}]")
_APOSTROPHE_RE = re.compile("['’]")


class Tokenizer(Protocol):
    """Turns one text into a list of string tokens.

    For speed on many texts at once, a tokenizer also cuts a long string (texts joined by a
    separator that none of them holds) into ``pieces`` in one C-level pass, and turns each distinct
    piece into its tokens (``piece_tokens``, called once per distinct piece). The pieces never
    straddle a separator, which comes back as a piece of its own, and the tokens of the pieces of
    one text, in order, are ``tokenizer(text)``.
    """

    name: str

    def __call__(self, text: str) -> list[str]: ...

    def pieces(self, joined: str) -> list[str]: ...

    def piece_tokens(self, piece: str) -> list[str]: ...


def _normalize(text: str, lowercase: bool) -> str:
    if not text.isascii():  # NFKC leaves ASCII as it is; skipping it saves a third of word tokenizing
        text = unicodedata.normalize("NFKC", text)
    return text.lower() if lowercase else text


# Case markers (fastai's xxmaj / xxup). The word tokenizer never makes them from text: `<` and `>` are tokens of their own.
MAJ = "<maj>"  # before a lowercased word that began with a capital
UP = "<up>"  # before a lowercased word of two or more capitals (before any apostrophe: NASA's)


def _mark_case(tokens: list[str]) -> list[str]:
    marked: list[str] = []
    for token in tokens:
        lower = token.lower()
        if lower != token:
            head = _APOSTROPHE_RE.split(token, 1)[0]
            if len(head) > 1 and head.isupper():
                marked.append(UP)
            elif token[0].isupper():
                marked.append(MAJ)
        marked.append(lower)
    return marked


class WordTokenizer:
    """Regex words and punctuation; CJK characters become one token each.

    With ``case_markers`` (and ``lowercase``), a word that had capitals is lowercased and follows a
    marker token: ``<up>`` for ALL-CAPS words of two or more letters, ``<maj>`` for a capital first
    letter (``Paris`` -> ``<maj> paris``). Case then reaches the model without splitting the
    vocabulary into ``Paris`` and ``paris``.
    """

    name = "word"

    def __init__(self, lowercase: bool = True, case_markers: bool = False) -> None:
        self.lowercase = lowercase
        self.case_markers = case_markers and lowercase

    def __call__(self, text: str) -> list[str]:
        if self.case_markers:
            return _mark_case(_WORD_RE.findall(_normalize(text, False)))
        return _WORD_RE.findall(_normalize(text, self.lowercase))

    def pieces(self, joined: str) -> list[str]:
        # No token spans whitespace, and whitespace blocks NFKC composition: a text's tokens are its
        # whitespace-separated chunks' tokens, in order (the separator is a chunk of its own).
        return joined.split()

    piece_tokens = __call__


class CharTokenizer:
    """One token per non-space character, for Chinese or any script."""

    name = "char"

    def __init__(self, lowercase: bool = True) -> None:
        self.lowercase = lowercase

    def __call__(self, text: str) -> list[str]:
        return [c for c in _normalize(text, self.lowercase) if not c.isspace()]

    def pieces(self, joined: str) -> list[str]:
        return list(_normalize(joined, self.lowercase))  # NFKC composes across characters: normalize first

    def piece_tokens(self, piece: str) -> list[str]:
        return [] if piece.isspace() else [piece]


class JiebaTokenizer:
    """Chinese words from rjieba (jieba-rs), HMM off: the same cut as ``jieba.lcut(text, HMM=False)``."""

    name = "jieba"

    def __init__(self, lowercase: bool = True) -> None:
        try:
            import rjieba
        except ImportError as error:  # pragma: no cover - rjieba is a dependency
            raise ImportError("the jieba tokenizer needs rjieba: pip install rjieba") from error
        self._cut = rjieba.cut
        self.lowercase = lowercase

    def __call__(self, text: str) -> list[str]:
        return [w for w in self._cut(_normalize(text, self.lowercase), False) if not w.isspace()]

    def pieces(self, joined: str) -> list[str]:
        return self._cut(_normalize(joined, self.lowercase), False)  # words never span a separator

    def piece_tokens(self, piece: str) -> list[str]:
        return [] if piece.isspace() else [piece]


_TOKENIZERS = {"word": WordTokenizer, "char": CharTokenizer, "jieba": JiebaTokenizer}


def cjk_share(texts: Iterable[str], sample: int = 2000) -> float:
    """Share of CJK characters among the non-space characters of (up to ``sample``) texts."""
    cjk = total = 0
    for i, text in enumerate(texts):
        if i >= sample:
            break
        cjk += len(_CJK_RE.findall(text))
        total += sum(1 for c in text if not c.isspace())
    return cjk / total if total else 0.0


def resolve_tokenizer_kind(kind: str, texts: Sequence[str]) -> str:
    """``auto`` -> ``char`` for mostly-CJK training texts, else ``word``; other kinds unchanged."""
    if kind != "auto":
        return kind
    return "char" if cjk_share(texts) >= 0.3 else "word"


def build_tokenizer(kind: str, lowercase: bool = True, case_markers: bool = False) -> Tokenizer:
    """A tokenizer by name (``word``, ``char`` or ``jieba``; resolve ``auto`` first).

    ``case_markers`` applies to ``word`` only (see ``WordTokenizer``); ``char`` and ``jieba`` ignore it.
    """
    if kind not in _TOKENIZERS:
        raise ValueError(f"unknown tokenizer {kind!r}; choose one of {', '.join(_TOKENIZERS)} (or auto)")
    if kind == "word":
        return WordTokenizer(lowercase=lowercase, case_markers=case_markers)
    return _TOKENIZERS[kind](lowercase=lowercase)


def tokenizer_for(settings: TokenizerConfig, kind: str | None = None) -> Tokenizer:
    """The tokenizer of a ``tokenizer`` config section: its ``kind`` (or ``kind``, resolved) and case settings."""
    return build_tokenizer(kind or settings.kind, settings.lowercase, settings.case_markers)
