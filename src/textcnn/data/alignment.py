"""Where each token of a text came from: its character span in the original text.

Tokenizers normalize (NFKC, lowercase) and the word tokenizer adds case markers, so tokens are not
substrings of the text as given. Each original character is normalized on its own (NFKC may turn
one character into several, ``ﬁ`` -> ``fi``), which maps every normalized character back to the
character it came from; tokens are then found left to right in the normalized text. A case marker
(``<maj>``, ``<up>``) gets the span of the word it marks; a token that cannot be found (a tokenizer
that changes text in other ways) gets an empty span where the search stands.
"""

from __future__ import annotations

import unicodedata

from textcnn.data.tokenizers import MAJ, UP

MARKERS = (MAJ, UP)


def _normalized_with_origin(text: str, lowercase: bool) -> tuple[str, list[int]]:
    """``text`` normalized as the tokenizers do, and for each of its characters the original index."""
    pieces, origin = [], []
    for index, char in enumerate(text):
        normalized = char if char.isascii() else unicodedata.normalize("NFKC", char)
        if lowercase:
            normalized = normalized.lower()
        pieces.append(normalized)
        origin.extend([index] * len(normalized))
    return "".join(pieces), origin


def token_spans(text: str, tokens: list[str], *, lowercase: bool = True) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets into ``text`` of each token (``text[start:end]`` is its source)."""
    normalized, origin = _normalized_with_origin(text, lowercase)
    folded = normalized.lower()  # case markers: the word tokenizer lowercases after it normalized
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    for token in tokens:
        if token in MARKERS:
            spans.append(None)  # filled with the marked word's span below
            continue
        found = folded.find(token.lower(), cursor)
        if found < 0:
            at = origin[cursor] if cursor < len(origin) else len(text)
            spans.append((at, at))
            continue
        end = found + len(token)
        spans.append((origin[found], origin[end - 1] + 1))
        cursor = end
    return _fill_markers(spans, len(text))


def _fill_markers(spans: list[tuple[int, int] | None], length: int) -> list[tuple[int, int]]:
    """A marker's span is the next word's (the end of the text when none follows)."""
    filled: list[tuple[int, int]] = []
    following = (length, length)
    for span in reversed(spans):
        if span is None:
            filled.append(following)
        else:
            filled.append(span)
            following = span
    return filled[::-1]
