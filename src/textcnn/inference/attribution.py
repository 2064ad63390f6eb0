"""Each logit of one encoded text as a sum of n-gram terms plus a bias, for the network and the n-gram model.

Network (TextCNN, max pooling, no n-gram bag): feature j is one filter's activation at the window
that won its max pooling, and the output layer is linear, so logit_c = sum_j W[c, j] * f_j + b_c.
With ReLU, an active filter's activation is its window's product with the kernel plus the filter's
own bias: the window gets W[c, j] * (f_j - bias_j) and the bias term W[c, j] * bias_j (the filters'
share). A filter whose activation is 0 contributes nothing and carries no share. With another
activation the whole activation goes to the window. Filters that won at the same window are one
n-gram. Ensembles: the mean of the members' terms.

N-gram model: its score is the sum of the table rows of the text's n-grams (the logistic and
tfidf methods count each distinct n-gram once however often it occurs, and each occurrence gets an
equal share of its row, as the Shapley value of a feature that any one occurrence turns on gives
it; the multinomial counts every one) plus the prior; single-label scores are then normalized
(minus the log-sum-exp over the classes), which goes to the bias, as the prior does.

Where prediction looks the windows up (``token_products``), the maxima, their windows and each
token's part of a window come from the same table of token products (a window's float rounding
on its first token, so its parts sum to its value); elsewhere from the pooled maps and the
embeddings' products with the kernel rows in float64.

Both come with the source's own scores of the text (``Terms.logits``), from the same pass: the
network's pooled features are those its prediction reads, and the n-gram model scores the keys
found here, so they equal ``Predictor.logits`` of that text bit for bit.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from textcnn.data.encoding import EncodedTexts
from textcnn.models import Ensemble, TextCNN, token_products
from textcnn.models.base import TextModel
from textcnn.models.naive_bayes import NaiveBayes, ngram_keys, tfidf_values


@dataclass(frozen=True)
class Terms:
    """One source's logits of one encoded text: ``bias + sum of the windows' values``.

    Window i covers positions ``starts[i] .. starts[i] + widths[i] - 1`` of the encoded text (it may
    start before 0 or end after its length: the parts are padding); windows are distinct.
    """

    bias: np.ndarray  # (num_outputs,) float64
    starts: np.ndarray  # (windows,) int64
    widths: np.ndarray  # (windows,) int64
    values: np.ndarray  # (windows, num_outputs) float64
    # each window's values split over its positions (windows, num_outputs, max width), zero past its
    # width: exact for ReLU filters (a window's product with a kernel is the sum of each token's
    # product with its kernel row); None where no such split exists (the n-gram model, other
    # activations): spread evenly instead
    token_parts: np.ndarray | None = None
    logits: np.ndarray | None = None  # (num_outputs,) float32: the source's own scores of the text

    def total(self) -> np.ndarray:
        return self.bias + self.values.sum(axis=0)


def _members(model: TextModel) -> list[TextModel]:
    """The networks whose mean ``model``'s logits are (itself, unless it is an ensemble)."""
    return list(model.members) if isinstance(model, Ensemble) else [model]


def _pad(model: TextCNN) -> int:
    """Zero positions on each side of the inputs: a window of 'same' padding reaches at most this far past the text."""
    return max(model.config.kernel_sizes)


def why_not_exact(model: TextModel) -> str | None:
    """None when ``network_terms`` explains ``model`` exactly, else the reason it cannot."""
    members = _members(model)
    for member in members:
        if not isinstance(member, TextCNN):
            return f"the {member.config.name} architecture mixes tokens across positions before its output layer"
        if member.config.pooling != "max":
            return f"{member.config.pooling} pooling gives each feature many windows, not one"
        if member.config.ngram_bag:
            return "the n-gram bag branch (model.ngram_bag) is not split into n-grams"
    return None


def network_terms(model: TextModel, ids: np.ndarray, device: torch.device) -> Terms:
    """The network's logits for one text of token ``ids`` as bias + window terms (see the module doc),
    with its logits as ``predict_logits`` computes them (the text padded to ``model.min_len``)."""
    members = _members(model)
    batch = torch.zeros((1, max(len(ids), model.min_len, 1)), dtype=torch.long)
    batch[0, : len(ids)] = torch.from_numpy(ids)
    batch, lengths = batch.to(device), torch.tensor([len(ids)], device=device)
    parts = [_textcnn_terms(member, batch, lengths) for member in members]
    logits = parts[0].logits
    for terms in parts[1:]:  # as Ensemble.forward adds them
        logits = logits + terms.logits
    logits = (logits / len(members) if len(members) > 1 else logits)[0].float().cpu().numpy()
    if len(members) == 1:
        return Terms(parts[0].bias, parts[0].starts, parts[0].widths, parts[0].values, parts[0].token_parts, logits)
    return _merged_members(parts, logits)


def _merged_members(parts: list[Terms], logits: np.ndarray) -> Terms:
    """The mean of the members' terms: windows that several members share summed, in order of first appearance."""
    starts, widths = np.concatenate([t.starts for t in parts]), np.concatenate([t.widths for t in parts])
    keys = (starts - starts.min(initial=0)) * (widths.max(initial=0) + 1) + widths
    first_rows, group = distinct_in_order(keys)
    n = len(parts)
    values = np.zeros((len(first_rows), parts[0].bias.shape[0]))
    np.add.at(values, group, np.concatenate([t.values for t in parts]) / n)
    token_parts = None
    if all(t.token_parts is not None for t in parts):
        width = max(t.token_parts.shape[2] for t in parts)
        stacked = np.concatenate([np.pad(t.token_parts, ((0, 0), (0, 0), (0, width - t.token_parts.shape[2]))) for t in parts])
        token_parts = np.zeros((len(first_rows), stacked.shape[1], width))
        np.add.at(token_parts, group, stacked / n)
    bias = sum((t.bias / n for t in parts), np.zeros_like(parts[0].bias))
    return Terms(bias, starts[first_rows], widths[first_rows], values, token_parts, logits)


def distinct_in_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct key, in order of first appearance, and each row's index among them."""
    _, firsts, group = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(firsts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return firsts[order], rank[group.ravel()]


def _textcnn_terms(model: TextCNN, batch: torch.Tensor, lengths: torch.Tensor) -> Terms:
    """One member's terms of the (1, seq_len) ``batch``; ``logits`` stays a (1, num_outputs) tensor."""
    relu = model.config.activation == "relu"  # then each window's value splits over its tokens
    weights = _weights(model)
    with torch.inference_mode():
        looked_up = relu and token_products.applies(model, batch)  # the windows' sums and their tokens' parts from the table
        if looked_up:  # the maxima prediction takes, and their windows
            maxima, positions = token_products.winners(model, batch, lengths)
            pooled_features = model.activation(maxima)
        else:
            pooled = model.pooled(batch, lengths)
            pooled_features, positions = pooled.features, pooled.positions
        logits = model.classifier(pooled_features)  # forward's own product of the features prediction reads
        inputs = model.conv_inputs(batch, lengths)[0] if relu and not looked_up else None  # (seq_len, embed_dim)
    features = pooled_features[0].double().cpu().numpy()  # (num_features,)
    starts = positions[0].cpu().numpy()
    if relu:
        active = features > 0
        share = np.where(active, weights.filter_bias, 0.0)
        window_part = np.where(active, features - weights.filter_bias, 0.0)
    else:
        share, window_part = np.zeros_like(features), features
    used = np.flatnonzero(window_part)
    pad = _pad(model)
    keys = (starts[used] + pad) * (pad + 1) + weights.widths[used]  # (start, width) as one number, in their order
    present = np.zeros(int(keys.max(initial=0)) + 1, dtype=bool)
    present[keys] = True
    distinct = np.flatnonzero(present)  # the windows, by start then width
    group = (np.cumsum(present) - 1)[keys]  # each used filter's window
    bias = weights.output_bias + weights.output @ share
    output = weights.output[:, used]
    values = _group_sums(group, (output * window_part[used]).T, len(distinct))  # filters that won at one window
    window_starts, window_widths = distinct // (pad + 1) - pad, distinct % (pad + 1)
    if not relu:
        return Terms(bias, window_starts, window_widths, values, None, logits)
    if looked_up:
        per_token = _looked_up_per_token(model, weights, batch[0].numpy(), used, starts, window_part[used])
    else:
        per_token = _per_token(model, weights, inputs.double().cpu().numpy(), used, starts)  # (used, max width)
    token_parts = _group_sums(group, output.T[:, :, None] * per_token[:, None, :], len(distinct))
    return Terms(bias, window_starts, window_widths, values, token_parts, logits)


def _group_sums(group: np.ndarray, rows: np.ndarray, groups: int) -> np.ndarray:
    """(groups, ...) sums of the (n, ...) ``rows`` by their ``group``, each in row order (``np.add.at``'s sums)."""
    size = rows[0].size if len(rows) else int(np.prod(rows.shape[1:]))
    flat = (group[:, None] * size + np.arange(size)[None, :]).ravel()
    return np.bincount(flat, weights=rows.reshape(-1), minlength=groups * size).reshape((groups,) + rows.shape[1:])


@dataclass(frozen=True)
class _Weights:
    """A TextCNN's weights in float64, as the terms read them; ``key`` names the weights they came from."""

    key: tuple
    output: np.ndarray  # (num_outputs, num_features)
    output_bias: np.ndarray  # (num_outputs,)
    filter_bias: np.ndarray  # (num_features,)
    kernel_rows: np.ndarray  # (sum(k) * num_filters, embed_dim): every kernel row of every filter
    row_filter: np.ndarray  # (sum(k) * num_filters,) the feature (filter) each kernel row belongs to
    row_offset: np.ndarray  # (sum(k) * num_filters,) its row i in that filter's kernel
    widths: np.ndarray  # (num_features,) each filter's kernel width
    table_column: np.ndarray  # (sum(k) * num_filters,) each kernel row's column in ``token_products.table_rows``


_WEIGHTS: "weakref.WeakKeyDictionary[TextCNN, _Weights]" = weakref.WeakKeyDictionary()


def _weights(model: TextCNN) -> _Weights:
    """``model``'s float64 weights, converted once per version of its weights (a step, a load: redone)."""
    tensors = [model.classifier.weight, model.classifier.bias] + [p for conv in model.convs for p in (conv.weight, conv.bias)]
    key = tuple((t.data_ptr(), t._version) for t in tensors)
    cached = _WEIGHTS.get(model)
    if cached is None or cached.key != key:
        as64 = lambda tensor: tensor.detach().double().cpu().numpy()  # noqa: E731
        num_filters = model.config.num_filters
        rows, filters, offsets, columns, first_row = [], [], [], [], 0
        for size, conv in enumerate(model.convs):  # filter f of width k: rows (f, 0), ..., (f, k - 1)
            k = conv.kernel_size[0]
            rows.append(as64(conv.weight).transpose(0, 2, 1).reshape(num_filters * k, -1))  # (num_filters * k, embed_dim)
            filters.append(np.repeat(np.arange(num_filters) + size * num_filters, k))
            offsets.append(np.tile(np.arange(k), num_filters))
            columns.append((first_row + offsets[-1]) * num_filters + np.repeat(np.arange(num_filters), k))
            first_row += k
        cached = _Weights(
            key, as64(model.classifier.weight), as64(model.classifier.bias),
            np.concatenate([as64(conv.bias) for conv in model.convs]),
            np.ascontiguousarray(np.concatenate(rows)), np.concatenate(filters), np.concatenate(offsets),
            np.repeat(np.asarray(model.config.kernel_sizes, dtype=np.int64), num_filters), np.concatenate(columns),
        )  # fmt: skip
        _WEIGHTS[model] = cached
    return cached


def _per_token(model: TextCNN, weights: _Weights, inputs: np.ndarray, used: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(len(used), max width): for each used filter, each token's product with its kernel row at the
    winning window, from the (seq_len, embed_dim) ``inputs`` (zero-padded here by ``_pad`` on each side)."""
    pad = _pad(model)
    inputs = np.pad(inputs, ((pad, pad), (0, 0)))
    tokens = starts[weights.row_filter] + pad + weights.row_offset  # the padded input each kernel row meets
    products = np.einsum("re,re->r", inputs[tokens], weights.kernel_rows)  # every row: cheaper than picking the kernels' rows
    every = np.zeros((len(starts), pad))
    every[weights.row_filter, weights.row_offset] = products
    return every[used]


def _looked_up_per_token(
    model: TextCNN, weights: _Weights, ids: np.ndarray, used: np.ndarray, starts: np.ndarray, window_part: np.ndarray
) -> np.ndarray:
    """``_per_token`` from the table prediction sums (``token_products``), over the (seq_len,) padded
    ``ids`` of 'valid' windows: each token's part as prediction adds it, the float rounding of the
    sum (``window_part``, each used filter's window value) put on the window's first token."""
    rows = token_products.table_rows(model, ids)
    tokens = ids[starts[weights.row_filter] + weights.row_offset]  # the token each kernel row meets
    every = np.zeros((len(starts), _pad(model)))
    every[weights.row_filter, weights.row_offset] = rows[tokens, weights.table_column]
    per_token = every[used]
    per_token[:, 0] += window_part - per_token.sum(axis=1)
    return per_token


def ngram_terms(model: NaiveBayes, ids: np.ndarray) -> Terms:
    """The n-gram model's scores for one text of token ``ids`` as bias (prior, normalizer) + n-gram
    terms, with its ``logits`` of the text (from the same n-gram keys)."""
    table = model.table_with_zero_row()  # float32; the rows used are widened
    encoded = EncodedTexts(ids.astype(np.int32), np.zeros(1, dtype=np.int64), np.array([len(ids)], dtype=np.int64))
    orders = ngram_keys(encoded, model.vocab_size, model.ngrams)
    found = [model.rows(keys, order) for order, (keys, _) in enumerate(orders, start=1)]
    every = np.concatenate(found)  # order after order, each from its first position
    widths = np.repeat(np.arange(1, len(found) + 1, dtype=np.int64), [len(rows) for rows in found])
    starts = np.concatenate([np.arange(len(rows), dtype=np.int64) for rows in found])
    kept = np.flatnonzero(every != len(model.keys))  # n-grams seen in training
    rows = every[kept]
    values = table[rows].astype(np.float64)
    if model.idf is not None:  # the tfidf kind: each distinct n-gram's row times its TF-IDF value in the text
        values *= _tfidf_weights(model, every, rows)[:, None]
    counted = values
    if model.binary:  # counted once however often it occurs (at its first), each occurrence an equal share
        _, first, occurrence_of, occurrences = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
        counted = values[np.sort(first)]
        values = values / occurrences[occurrence_of.ravel()][:, None]
    raw = model.prior.astype(np.float64) + counted.sum(axis=0)
    bias = model.prior.astype(np.float64)
    if not model.multi_label:  # log posterior: the normalizer is shared by every term
        top = raw.max()
        bias = bias - (top + np.log(np.exp(raw - top).sum()))
    logits = model.logits_of_rows(found, [per_text for _, per_text in orders], 1)[0]
    return Terms(bias, starts[kept], widths[kept], values, None, logits)


def _tfidf_weights(model: NaiveBayes, every: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The tfidf kind: each counted row's TF-IDF value in the text (``every``: the rows of all its n-grams)."""
    seen = every[every != len(model.keys)]
    distinct, counts = np.unique(seen, return_counts=True)
    values = tfidf_values(distinct, np.array([len(distinct)]), counts, np.append(model.idf, 0.0).astype(np.float64))
    return values[np.searchsorted(distinct, rows)]
