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
from typing import Any, Hashable, Sequence

import numpy as np

from textcnn.data.alignment import token_spans
from textcnn.data.encoding import EncodedTexts
from textcnn.data.labels import as_label_list
from textcnn.data.long_texts import WindowedTexts, fit_long_texts
from textcnn.errors import TextcnnError
from textcnn.inference.attribution import Terms, network_terms, ngram_terms, why_not_exact
from textcnn.inference.logits import sigmoid, softmax
from textcnn.inference.predictor import Predictor
from textcnn.inference.thresholds import apply_thresholds


@dataclass(frozen=True)
class Contribution:
    """One n-gram's share of a logit: where it is, what it says, which model it came from."""

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
    ids = np.asarray(predictor.trained.vocab.ids(tokens), dtype=np.int64)
    logits = predictor.logits(predictor.encode_token_lists([tokens]))[0].astype(np.float64)  # the model's own
    if reason is None:
        sums = _exact_terms(predictor, ids)
        method, note = "exact", ""
    else:
        sums = _occlusion_terms(predictor, tokens, logits)
        method, note = "occlusion", f"not exact: {reason}; each token's contribution is the logit's drop without it"
    probabilities = sigmoid(logits[None])[0] if predictor.trained.multi_label else softmax(logits[None])[0]
    classes = _targets(predictor, logits, target)
    explained = [_class_explanation(predictor, c, logits, probabilities, sums, text, chars, top) for c in classes]
    return Explanation(text, tokens, chars, method, reason is None, explained, note)


# the bias (num_outputs,); (source, width, original token indices) -> (num_outputs,) values; and the
# same keys -> (num_outputs, tokens) those values split over their tokens
Key = tuple[str, int, tuple[int, ...]]
Sums = tuple[np.ndarray, dict[Key, np.ndarray], dict[Key, np.ndarray]]


def _views(predictor: Predictor, length: int) -> tuple[list[np.ndarray], str]:
    """The token positions each encoded row of a text of ``length`` tokens reads, and how rows are pooled."""
    settings = predictor.trained.config.tokenizer
    positions = EncodedTexts(np.arange(length, dtype=np.int32), np.zeros(1, dtype=np.int64), np.array([length], dtype=np.int64))
    fitted = fit_long_texts(positions, int(settings.max_len), mode=settings.long_text, stride=settings.window_stride, pool=settings.window_pool)
    rows = [fitted.ids[offset : offset + n].astype(np.int64) for offset, n in zip(fitted.offsets, fitted.lengths)]
    return rows, (fitted.pool if isinstance(fitted, WindowedTexts) else "max")


def _exact_terms(predictor: Predictor, ids: np.ndarray) -> Sums:
    trained = predictor.trained
    views, pool = _views(predictor, len(ids))
    sources: list[tuple[str, float, list[Terms]]] = [
        ("network", trained.config.nb.scale if trained.ngram_model is not None else 1.0,
         [network_terms(trained.model, ids[view], predictor.device) for view in views]),
    ]  # fmt: skip
    if trained.ngram_model is not None:
        sources.append(("ngram_model", float(trained.config.nb.weight), [ngram_terms(trained.ngram_model, ids[view]) for view in views]))
    bias = np.zeros(trained.model.num_outputs)
    items: dict[Key, np.ndarray] = {}
    per_token: dict[Key, np.ndarray] = {}
    for source, factor, per_view in sources:
        shares = _view_shares(np.stack([terms.total() for terms in per_view]), pool)  # (views, outputs)
        for view, terms, share in zip(views, per_view, shares):
            bias += factor * share * terms.bias
            positions = view.tolist()
            for (start, width), values in terms.windows.items():
                covered = tuple(positions[max(start, 0) : start + width])
                if not covered:  # a window of padding only (an empty text): part of the bias
                    bias += factor * share * values
                    continue
                key = (source, width, covered)
                items[key] = items.get(key, 0.0) + factor * share * values
                split = _split(terms, (start, width), values, len(positions), len(covered))
                per_token[key] = per_token.get(key, 0.0) + factor * share[:, None] * split
    return bias, items, per_token


def _split(terms: Terms, window: tuple[int, int], values: np.ndarray, length: int, covered: int) -> np.ndarray:
    """(num_outputs, covered tokens) a window's values over its real tokens: its exact split where
    ``terms`` has one (the padding's part of it, zero, left out), else evenly."""
    if terms.token_parts is None:
        return np.repeat(values[:, None] / covered, covered, axis=1)
    start, width = window
    first = max(0, -start)
    return terms.token_parts[window][:, first : first + covered]


def _view_shares(totals: np.ndarray, pool: str) -> np.ndarray:
    """(views, outputs) weights of each view in the pooled logit: one-hot on the best view, or the mean."""
    if pool == "mean":
        return np.full(totals.shape, 1.0 / len(totals))
    shares = np.zeros(totals.shape)
    shares[totals.argmax(axis=0), np.arange(totals.shape[1])] = 1.0
    return shares


def _occlusion_terms(predictor: Predictor, tokens: list[str], logits: np.ndarray) -> Sums:
    if not tokens:
        return logits.copy(), {}, {}
    occluded = [tokens[:i] + tokens[i + 1 :] for i in range(len(tokens))]
    drops = logits[None, :] - predictor.logits(predictor.encode_token_lists(occluded)).astype(np.float64)  # (tokens, outputs)
    items = {("occlusion", 1, (i,)): drops[i] for i in range(len(tokens))}
    return logits - drops.sum(axis=0), items, {key: values[:, None] for key, values in items.items()}


def _class_explanation(
    predictor: Predictor, c: int, logits: np.ndarray, probabilities: np.ndarray, sums: Sums,
    text: str, chars: list[tuple[int, int]], top: int | None,
) -> ClassExplanation:  # fmt: skip
    bias, items, per_token = sums
    token_scores = np.zeros(len(chars))
    found = []
    for (source, width, covered), values in items.items():
        if values[c] == 0:
            continue
        np.add.at(token_scores, list(covered), per_token[(source, width, covered)][c])
        first, last = covered[0], covered[-1]
        span = (chars[first][0], chars[last][1])
        found.append(Contribution(_ngram_text(text, chars, covered), (first, last + 1), span, width, source, float(values[c])))
    found.sort(key=lambda item: (-abs(item.contribution), item.tokens))
    kept = found[:top] if top is not None else found
    rest = float(sum(item.contribution for item in found[len(kept) :]))
    label = predictor.trained.labels.labels[c]
    return ClassExplanation(label, float(logits[c]), float(probabilities[c]), float(bias[c]), kept, token_scores.tolist(), rest)


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
