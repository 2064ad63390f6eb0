"""Where each token of a text came from: its character span in the original text.

Tokenizers normalize (NFKC, lowercase) and the word tokenizer adds case markers, so tokens are not
substrings of the text as given. The text is cut into runs of a character and the characters that
NFKC composes with it: combining marks (``e`` + U+0301 -> ``é``), conjoining Hangul jamo
(U+1100 U+1161 -> ``가``) and the few vowel signs that compose; each run is normalized and
case-folded on its own, which maps every folded character back to the run it came from. Tokens,
case-folded too (so ``ς`` and ``σ``, ``İ`` and ``i̇`` meet), are then found left to right. A case
marker (``<maj>``, ``<up>``) gets the span of the word it marks; a token that cannot be found (a
tokenizer that changes text in other ways) gets an empty span where the search stands.
"""

from __future__ import annotations

import unicodedata

from textcnn.data.tokenizers import MAJ, UP

MARKERS = (MAJ, UP)


def _joins(run: str, char: str) -> bool:
    """Whether NFKC composes ``char`` with the ``run`` before it (no ASCII character composes)."""
    if char.isascii():
        return False
    if unicodedata.combining(char):
        return True
    nfkc = unicodedata.normalize
    return nfkc("NFKC", run + char) != nfkc("NFKC", run) + nfkc("NFKC", char)


def _runs(text: str) -> list[tuple[int, int]]:
    """[start, end) of each character with the characters that NFKC composes with it."""
    runs: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        if runs and _joins(text[runs[-1][0] : index], char):
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def _folded_with_origin(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` normalized and case-folded run by run, and for each folded character its run's span."""
    pieces: list[str] = []
    origin: list[tuple[int, int]] = []
    for start, end in _runs(text):
        run = text[start:end]
        folded = (run if run.isascii() else unicodedata.normalize("NFKC", run)).casefold()
        pieces.append(folded)
        origin.extend([(start, end)] * len(folded))
    return "".join(pieces), origin


def token_spans(text: str, tokens: list[str], *, lowercase: bool = True) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets into ``text`` of each token (``text[start:end]`` is its source).

    ``lowercase`` is accepted for the tokenizers' setting; the search is case-blind either way.
    """
    folded, origin = _folded_with_origin(text)
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    for token in tokens:
        if token in MARKERS:
            spans.append(None)  # filled with the marked word's span below
            continue
        wanted = token.casefold()
        found = folded.find(wanted, cursor) if wanted else -1
        if found < 0:
            at = origin[cursor][0] if cursor < len(origin) else len(text)
            spans.append((at, at))
            continue
        end = found + len(wanted)
        spans.append((origin[found][0], origin[end - 1][1]))
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
