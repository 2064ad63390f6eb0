"""Why a classifier scored a text as it did: every logit as n-gram contributions plus a bias.

For a TextCNN with max pooling (the default) and the n-gram model beside it, the explanation is
exact: ``bias + sum(contributions) == logit`` to float error (``attribution`` says how each part
is split). Texts read as several windows (``tokenizer.long_text: windows``) are explained through
the window(s) their pooled logit came from: the best window of each source for ``max``, every
window weighted ``1 / windows`` for ``mean``; ``head-tail`` texts through the tokens they kept.
Other models (attention, avg or k-max pooling, gated_cnn, transformer, the n-gram bag) are
explained by occlusion instead: each token's contribution is how much the logit drops without it,
``exact`` is false and the bias is what the tokens leave unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, NamedTuple, Sequence

import numpy as np

from textcnn.data.alignment import token_spans
from textcnn.data.encoding import EncodedTexts
from textcnn.data.labels import as_label_list
from textcnn.data.long_texts import WindowedTexts, fit_long_texts
from textcnn.errors import TextcnnError
from textcnn.inference.attribution import Terms, distinct_in_order, network_terms, ngram_terms, why_not_exact
from textcnn.inference.logits import sigmoid, softmax
from textcnn.inference.predictor import Predictor
from textcnn.inference.thresholds import apply_thresholds


class Contribution(NamedTuple):
    """One n-gram's share of a logit: where it is, what it says, which model it came from (a named
    tuple: an explanation can hold hundreds, made in a fifth of a frozen dataclass's time)."""

    ngram: str  # the text it covers (from its first token's first character to its last token's end)
    tokens: tuple[int, int]  # token span [start, end) in the text's tokens
    chars: tuple[int, int]  # character span [start, end) in the original text
    width: int  # tokens per window (the kernel width, or the n-gram's order)
    source: str  # "network", "ngram_model" or, for occlusion, "occlusion"
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "ngram": self.ngram, "tokens": list(self.tokens), "chars": list(self.chars), "width": self.width,
            "source": self.source, "contribution": self.contribution,
        }  # fmt: skip


@dataclass(frozen=True)
class ClassExplanation:
    """One explained class (or label): its logit, the bias, the contributions (largest first) and token scores."""

    label: Hashable
    logit: float
    probability: float
    bias: float
    items: list[Contribution]
    token_scores: list[float]  # the contributions split over their tokens (network windows exactly, n-grams evenly)
    rest: float = 0.0  # the contributions left out by ``top``: bias + sum(items) + rest == logit

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "logit": self.logit, "probability": self.probability, "bias": self.bias,
            "items": [item.to_dict() for item in self.items], "rest": self.rest, "token_scores": self.token_scores,
        }  # fmt: skip


@dataclass(frozen=True)
class Explanation:
    """A text, its tokens with their character spans, and the explained classes."""

    text: str
    tokens: list[str]
    token_chars: list[tuple[int, int]]
    method: str  # "exact" or "occlusion"
    exact: bool
    explained: list[ClassExplanation] = field(default_factory=list)
    note: str = ""  # why occlusion was used

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``textcnn explain --json`` prints and ``POST /explain`` answers."""
        return {
            "text": self.text, "tokens": self.tokens, "token_chars": [list(span) for span in self.token_chars],
            "method": self.method, "exact": self.exact, "note": self.note,
            "explained": [item.to_dict() for item in self.explained],
        }  # fmt: skip


def explain(
    predictor: Predictor,
    texts: Sequence[str],
    *,
    target: Hashable | Sequence[Hashable] | None = None,
    top: int | None = None,
) -> list[Explanation]:
    """Explain each text's predicted class (multi-label: each label over its threshold), or ``target``.

    ``top`` keeps the largest contributions of each class (none: all); what it leaves out is ``rest``.
    """
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not a single string")
    reason = why_not_exact(predictor.trained.model)
    return [_explain_one(predictor, text, target, reason, top) for text in texts]


def explain_texts(
    predictor: Predictor, texts: Sequence[str], *, target: Hashable | Sequence[Hashable] | None = None, top: int | None = None
) -> list[dict[str, Any]]:
    """``explain`` as JSON-ready dicts (what ``textcnn explain --json`` prints and ``POST /explain`` answers)."""
    return [explanation.to_dict() for explanation in explain(predictor, texts, target=target, top=top)]


def _targets(predictor: Predictor, logits: np.ndarray, target: Hashable | Sequence[Hashable] | None) -> list[int]:
    labels = predictor.trained.labels
    if target is not None:
        return [labels.encode([label], source="target")[0] for label in as_label_list(target)]
    if predictor.trained.multi_label:
        chosen = apply_thresholds(sigmoid(logits[None]), predictor.trained.thresholds)[0]
        return [int(j) for j in np.argsort(-logits, kind="stable") if chosen[j]]
    return [int(logits.argmax())]


def _explain_one(predictor: Predictor, text: str, target: Any, reason: str | None, top: int | None) -> Explanation:
    tokens = predictor.tokenizer(text)
    chars = token_spans(text, tokens, lowercase=predictor.trained.config.tokenizer.lowercase)
    logits = None  # the model's own: from the exact terms' pass where it gives them, else from a prediction
    if reason is None:
        sums, logits = _exact_terms(predictor, np.asarray(predictor.trained.vocab.ids(tokens), dtype=np.int64))
    if logits is None:
        logits = predictor.logits(predictor.encode_token_lists([tokens]))[0].astype(np.float64)
    if reason is None:
        method, note = "exact", ""
    else:
        sums = _occlusion_terms(predictor, tokens, logits)
        method, note = "occlusion", f"not exact: {reason}; each token's contribution is the logit's drop without it"
    probabilities = sigmoid(logits[None])[0] if predictor.trained.multi_label else softmax(logits[None])[0]
    classes = _targets(predictor, logits, target)
    explained = [_class_explanation(predictor, c, logits, probabilities, sums, text, chars, top) for c in classes]
    return Explanation(text, tokens, chars, method, reason is None, explained, note)


@dataclass(frozen=True)
class Sums:
    """A text's bias and its distinct items (one source's n-gram over the same tokens, summed over
    windows, views and ensemble members), in order of first appearance."""

    bias: np.ndarray  # (num_outputs,)
    sources: list[str]  # the source names that ``source`` indexes
    source: np.ndarray  # (items,) int64
    widths: np.ndarray  # (items,) int64: tokens per window (kernel width, n-gram order)
    positions: np.ndarray  # (items, max width): the original tokens each covers, in order; past them len(tokens)
    counts: np.ndarray  # (items,) how many tokens each covers
    values: np.ndarray  # (items, num_outputs)
    token_parts: np.ndarray  # (items, num_outputs, max width): the values over the covered tokens, zero past them


def _views(predictor: Predictor, length: int) -> tuple[list[np.ndarray], str]:
    """The token positions each encoded row of a text of ``length`` tokens reads, and how rows are pooled."""
    settings = predictor.trained.config.tokenizer
    if settings.long_text == "truncate" or length <= int(settings.max_len):  # one row: the text's head
        return [np.arange(min(length, int(settings.max_len)), dtype=np.int64)], "max"
    positions = EncodedTexts(np.arange(length, dtype=np.int32), np.zeros(1, dtype=np.int64), np.array([length], dtype=np.int64))
    fitted = fit_long_texts(positions, int(settings.max_len), mode=settings.long_text, stride=settings.window_stride, pool=settings.window_pool)
    rows = [fitted.ids[offset : offset + n].astype(np.int64) for offset, n in zip(fitted.offsets, fitted.lengths)]
    return rows, (fitted.pool if isinstance(fitted, WindowedTexts) else "max")


def _exact_terms(predictor: Predictor, ids: np.ndarray) -> tuple[Sums, np.ndarray | None]:
    """The exact sums of a text of token ``ids``, and its logits where the same pass gives the
    model's own (one encoded row, in PyTorch, float32), else None."""
    trained = predictor.trained
    views, pool = _views(predictor, len(ids))
    sources: list[tuple[str, float, list[Terms]]] = [
        ("network", trained.config.nb.scale if trained.ngram_model is not None else 1.0,
         [network_terms(trained.model, ids[view], predictor.device) for view in views]),
    ]  # fmt: skip
    if trained.ngram_model is not None:
        sources.append(("ngram_model", float(trained.config.nb.weight), [ngram_terms(trained.ngram_model, ids[view]) for view in views]))
    bias = np.zeros(trained.model.num_outputs)
    rows = []
    for index, (_, factor, per_view) in enumerate(sources):
        shares = _view_shares(np.stack([terms.total() for terms in per_view]), pool)  # (views, outputs)
        for view, terms, share in zip(views, per_view, shares):
            bias += factor * share * terms.bias
            rows.append(_view_rows(index, factor, share, view, terms, len(ids), bias))
    sums = _distinct(bias, [name for name, _, _ in sources], rows, len(ids))
    if len(views) > 1 or predictor.onnx is not None or predictor.precision != "float32":
        return sums, None
    logits = sources[0][2][0].logits
    if trained.ngram_model is not None:  # as Predictor.logits joins them
        nb = trained.config.nb
        logits = np.float32(nb.scale) * logits + np.float32(nb.weight) * sources[1][2][0].logits
    return sums, logits.astype(np.float64)


def _view_rows(
    source: int, factor: float, share: np.ndarray, view: np.ndarray, terms: Terms, num_tokens: int, bias: np.ndarray
) -> tuple[np.ndarray, ...]:
    """One view's windows of one source, weighted by ``factor * share``, on the original tokens:
    (source, width, covered positions, count, values, token parts). Windows of padding only (an
    empty text) go to ``bias``."""
    lo = np.maximum(terms.starts, 0)
    counts = np.minimum(terms.starts + terms.widths, len(view)) - lo
    for empty in np.flatnonzero(counts <= 0):
        bias += factor * share * terms.values[empty]
    keep = np.flatnonzero(counts > 0)
    lo, counts, starts = lo[keep], counts[keep], terms.starts[keep]
    columns = np.arange(int(terms.widths.max(initial=1)))
    inside = columns[None, :] < counts[:, None]  # (windows, max width)
    positions = np.where(inside, view[np.minimum(lo[:, None] + columns[None, :], max(len(view) - 1, 0))], num_tokens)
    values = factor * share * terms.values[keep]
    if terms.token_parts is None:  # evenly over the covered tokens
        split = np.where(inside[:, None, :], (terms.values[keep] / counts[:, None])[:, :, None], 0.0)
    else:  # the exact split, less the padding's part (zero)
        split = terms.token_parts[keep][:, :, : len(columns)]
        if (starts < 0).any():  # windows that start in the padding: their first parts are the padding's
            taken = np.minimum(np.maximum(0, -starts)[:, None] + columns[None, :], terms.token_parts.shape[2] - 1)
            split = np.take_along_axis(terms.token_parts[keep], taken[:, None, :], axis=2)
        split = np.where(inside[:, None, :], split, 0.0)
    parts = factor * share[:, None] * split
    return np.full(len(keep), source), terms.widths[keep], positions, counts, values, parts


def _distinct(bias: np.ndarray, names: list[str], rows: list[tuple[np.ndarray, ...]], num_tokens: int) -> Sums:
    """The rows of every source and view summed per item (source, width, covered tokens), in order of first appearance."""
    width = max(row[2].shape[1] for row in rows)
    source, widths, counts, values = (np.concatenate([row[i] for row in rows]) for i in (0, 1, 3, 4))
    positions = np.full((len(counts), width), num_tokens)
    parts = np.zeros((len(counts), len(bias), width))
    at = 0
    for row in rows:  # each source's windows as wide as its widest
        positions[at : at + len(row[0]), : row[2].shape[1]] = row[2]
        parts[at : at + len(row[0]), :, : row[5].shape[2]] = row[5]
        at += len(row[0])
    span = num_tokens + 1
    first, last = positions[:, 0], positions[np.arange(len(counts)), np.maximum(counts - 1, 0)]
    keys = ((source * (width + 1) + widths) * span + first) * span + last  # the tokens covered: a slice of a view, named by its ends
    ordered = np.sort(keys)
    if not (ordered[1:] == ordered[:-1]).any():  # every item once (one view, no windows cut to the same tokens)
        return Sums(bias, names, source, widths, positions, counts, values, parts)
    chosen, group = distinct_in_order(keys)
    summed = np.zeros((len(chosen), len(bias)))
    np.add.at(summed, group, values)
    split = np.zeros((len(chosen), len(bias), width))
    np.add.at(split, group, parts)
    return Sums(bias, names, source[chosen], widths[chosen], positions[chosen], counts[chosen], summed, split)


def _view_shares(totals: np.ndarray, pool: str) -> np.ndarray:
    """(views, outputs) weights of each view in the pooled logit: one-hot on the best view, or the mean."""
    if pool == "mean":
        return np.full(totals.shape, 1.0 / len(totals))
    shares = np.zeros(totals.shape)
    shares[totals.argmax(axis=0), np.arange(totals.shape[1])] = 1.0
    return shares


def _occlusion_terms(predictor: Predictor, tokens: list[str], logits: np.ndarray) -> Sums:
    """Each token's item: the logit's drop without it; the bias is what the drops leave unexplained."""
    count = len(tokens)
    drops = np.zeros((0, len(logits)))
    if count:
        occluded = [tokens[:i] + tokens[i + 1 :] for i in range(count)]
        drops = logits[None, :] - predictor.logits(predictor.encode_token_lists(occluded)).astype(np.float64)  # (tokens, outputs)
    ones = np.ones(count, dtype=np.int64)
    return Sums(logits - drops.sum(axis=0), ["occlusion"], ones * 0, ones, np.arange(count)[:, None], ones, drops, drops[:, :, None])


def _class_explanation(
    predictor: Predictor, c: int, logits: np.ndarray, probabilities: np.ndarray, sums: Sums,
    text: str, chars: list[tuple[int, int]], top: int | None,
) -> ClassExplanation:  # fmt: skip
    values = sums.values[:, c]
    found = np.flatnonzero(values != 0)
    token_scores = np.zeros(len(chars) + 1)  # the last: where positions past an item's tokens point
    np.add.at(token_scores, sums.positions[found].ravel(), sums.token_parts[found, c, :].ravel())
    firsts, lasts = sums.positions[found, 0], sums.positions[found, sums.counts[found] - 1]
    order = found[np.lexsort((np.arange(len(found)), lasts, firsts, -np.abs(values[found])))]  # largest first, then by tokens
    kept = order[:top] if top is not None else order
    rest = float(sum(values[order[len(kept) :]].tolist()))
    label = predictor.trained.labels.labels[c]
    items = _contributions(sums, kept, values[kept], text, chars)
    return ClassExplanation(label, float(logits[c]), float(probabilities[c]), float(sums.bias[c]), items, token_scores[:-1].tolist(), rest)


def _contributions(sums: Sums, kept: np.ndarray, values: np.ndarray, text: str, chars: list[tuple[int, int]]) -> list[Contribution]:
    """The ``kept`` items of ``sums`` as Contributions of ``values``, in that order."""
    counts = sums.counts[kept]
    firsts, lasts = sums.positions[kept, 0], sums.positions[kept, counts - 1]
    bounds = np.asarray(chars, dtype=np.int64).reshape(-1, 2)
    begins, ends = bounds[firsts, 0].tolist(), bounds[lasts, 1].tolist()
    names = [sums.sources[s] for s in sums.source[kept].tolist()]
    ngrams = [text[begin:end] for begin, end in zip(begins, ends)]
    for i in np.flatnonzero(lasts - firsts + 1 != counts).tolist():  # tokens cut out between its ends (head-tail)
        ngrams[i] = _ngram_text(text, chars, tuple(sums.positions[kept[i], : counts[i]].tolist()))
    return [
        Contribution(ngram, (first, last + 1), (begin, end), width, name, value)
        for ngram, first, last, begin, end, width, name, value in zip(
            ngrams, firsts.tolist(), lasts.tolist(), begins, ends, sums.widths[kept].tolist(), names, values.tolist()
        )
    ]


def _ngram_text(text: str, chars: list[tuple[int, int]], covered: tuple[int, ...]) -> str:
    """The text under the covered tokens; where ``head-tail`` cut tokens out between them, `` … ``."""
    pieces, run_start = [], covered[0]
    for previous, token in zip(covered, covered[1:] + (None,)):
        if token is None or token != previous + 1:
            pieces.append(text[chars[run_start][0] : chars[previous][1]])
            run_start = token
    return " … ".join(pieces)


def check_identity(explanation: Explanation, tolerance: float = 1e-3) -> None:
    """Raise ``TextcnnError`` unless every explained logit is its bias plus its contributions."""
    for item in explanation.explained:
        total = item.bias + sum(part.contribution for part in item.items) + item.rest
        if abs(total - item.logit) > tolerance * max(1.0, abs(item.logit)):
            raise TextcnnError(f"explanation of {item.label!r} sums to {total:.6f}, its logit is {item.logit:.6f}")
