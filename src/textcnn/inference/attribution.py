"""Each logit of one encoded text as a sum of n-gram terms plus a bias, for the network and the n-gram model.

Network (TextCNN, max pooling, no n-gram bag): feature j is one filter's activation at the window
that won its max pooling, and the output layer is linear, so logit_c = sum_j W[c, j] * f_j + b_c.
With ReLU, an active filter's activation is its window's product with the kernel plus the filter's
own bias: the window gets W[c, j] * (f_j - bias_j) and the bias term W[c, j] * bias_j (the filters'
share). A filter whose activation is 0 contributes nothing and carries no share. With another
activation the whole activation goes to the window. Filters that won at the same window are one
n-gram. Ensembles: the mean of the members' terms.

N-gram model: its score is the sum of the table rows of the text's n-grams (the logistic method
counts each distinct n-gram once, at its first occurrence; the multinomial counts every one) plus
the prior; single-label scores are then normalized (minus the log-sum-exp over the classes), which
goes to the bias, as the prior does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from textcnn.data.encoding import EncodedTexts
from textcnn.models import Ensemble, TextCNN
from textcnn.models.base import TextModel
from textcnn.models.naive_bayes import NaiveBayes, ngram_keys, tfidf_values


@dataclass(frozen=True)
class Terms:
    """One source's logits of one encoded text: ``bias + sum of the windows' values``.

    ``windows`` maps (first position, width) -> (num_outputs,) values; positions are those of the
    encoded text (a window may start before 0 or end after its length: the parts are padding).
    """

    bias: np.ndarray  # (num_outputs,) float64
    windows: dict[tuple[int, int], np.ndarray]
    # per window, its values split over its tokens (num_outputs, width): exact for ReLU filters (a
    # window's product with a kernel is the sum of each token's product with its kernel row); None
    # where no such split exists (the n-gram model, other activations): spread evenly instead
    token_parts: dict[tuple[int, int], np.ndarray] | None = None

    def total(self) -> np.ndarray:
        return self.bias + sum(self.windows.values(), np.zeros_like(self.bias))


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
    """The network's logits for one text of token ``ids`` as bias + window terms (see the module doc)."""
    members = _members(model)
    bias = np.zeros(model.num_outputs)
    windows: dict[tuple[int, int], np.ndarray] = {}
    parts: dict[tuple[int, int], np.ndarray] | None = {}
    for member in members:
        terms = _textcnn_terms(member, ids, device)
        bias += terms.bias / len(members)
        for window, values in terms.windows.items():
            windows[window] = windows.get(window, 0.0) + values / len(members)
            if parts is not None and terms.token_parts is not None:
                parts[window] = parts.get(window, 0.0) + terms.token_parts[window] / len(members)
        if terms.token_parts is None:
            parts = None
    return Terms(bias, windows, parts)


def _textcnn_terms(model: TextCNN, ids: np.ndarray, device: torch.device) -> Terms:
    batch = torch.as_tensor(ids, dtype=torch.long, device=device)[None]  # (1, length)
    lengths = torch.tensor([len(ids)], device=device)
    with torch.inference_mode():
        pooled = model.pooled(batch, lengths)
        inputs = _conv_inputs(model, batch, lengths)  # (padded_len, embed_dim), zero around the text
    features = pooled.features[0].double().cpu().numpy()  # (num_features,)
    starts = pooled.positions[0].cpu().numpy()
    widths = pooled.widths.cpu().numpy()
    weight = model.classifier.weight.detach().double().cpu().numpy()  # (num_outputs, num_features)
    bias = model.classifier.bias.detach().double().cpu().numpy()
    if model.config.activation == "relu":
        filter_bias = torch.cat([conv.bias.detach() for conv in model.convs]).double().cpu().numpy()
        active = features > 0
        share = np.where(active, filter_bias, 0.0)
        window_part = np.where(active, features - filter_bias, 0.0)
    else:
        share, window_part = np.zeros_like(features), features
    used = np.flatnonzero(window_part)
    pairs, group = np.unique(np.stack([starts[used], widths[used]], axis=1), axis=0, return_inverse=True)
    group = group.ravel()
    sums = np.zeros((len(pairs), len(bias)))
    np.add.at(sums, group, (weight[:, used] * window_part[used]).T)  # filters that won at one window
    windows = {(int(start), int(width)): values for (start, width), values in zip(pairs.tolist(), sums)}
    if model.config.activation != "relu":
        return Terms(bias + weight @ share, windows)
    per_token = _per_token(model, inputs, used, starts, widths)  # (used, width_max) each filter's token products
    split = np.zeros((len(pairs), len(bias), per_token.shape[1]))
    np.add.at(split, group, weight[:, used].T[:, :, None] * per_token[:, None, :])  # (windows, outputs, width_max)
    parts = {window: split[index, :, : window[1]] for index, window in enumerate(windows)}
    return Terms(bias + weight @ share, windows, parts)


def _conv_inputs(model: TextCNN, batch: torch.Tensor, lengths: torch.Tensor) -> np.ndarray:
    """The convolutions' inputs of one text as ``pooled`` reads them, zero-padded on both sides (``_pad``)."""
    x = model.conv_inputs(batch, lengths)[0].double().cpu().numpy()  # (seq_len, embed_dim)
    pad = _pad(model)
    return np.pad(x, ((pad, pad), (0, 0)))


def _per_token(model: TextCNN, inputs: np.ndarray, used: np.ndarray, starts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """(len(used), max width): for each used filter, each token's product with its kernel row at the winning window."""
    pad = _pad(model)
    num_filters = model.config.num_filters
    out = np.zeros((len(used), max(model.config.kernel_sizes)))
    for size, conv in enumerate(model.convs):
        chosen = np.flatnonzero(used // num_filters == size)  # the used filters of this kernel size
        if not len(chosen):
            continue
        k = conv.kernel_size[0]
        filters = used[chosen]
        kernels = conv.weight.detach()[torch.as_tensor(filters % num_filters)].double().cpu().numpy()  # (n, embed_dim, k)
        rows = starts[filters][:, None] + pad + np.arange(k)[None, :]  # (n, k) positions in the padded inputs
        out[chosen, :k] = np.einsum("nkd,ndk->nk", inputs[rows], kernels)
    return out


def _tfidf_terms(model: NaiveBayes, encoded: EncodedTexts, windows: dict[tuple[int, int], np.ndarray]) -> dict:
    """The tfidf kind's terms: each first occurrence's row scaled by its n-gram's TF-IDF value in the text."""
    orders = ngram_keys(encoded, model.vocab_size, model.ngrams)
    found = [model.rows(keys, order) for order, (keys, _) in enumerate(orders, start=1)]
    every = np.concatenate(found)
    seen = every[every != len(model.keys)]
    rows, counts = np.unique(seen, return_counts=True)
    values = tfidf_values(rows, np.array([len(rows)]), counts, np.append(model.idf, 0.0).astype(np.float64))
    value_of = dict(zip(rows.tolist(), values.tolist()))
    return {window: term * value_of[int(found[window[1] - 1][window[0]])] for window, term in windows.items()}


def ngram_terms(model: NaiveBayes, ids: np.ndarray) -> Terms:
    """The n-gram model's scores for one text of token ``ids`` as bias (prior, normalizer) + n-gram terms."""
    table = model.table_with_zero_row()  # float32; the rows used are widened one by one
    encoded = EncodedTexts(ids.astype(np.int32), np.zeros(1, dtype=np.int64), np.array([len(ids)], dtype=np.int64))
    unseen = len(model.keys)
    windows: dict[tuple[int, int], np.ndarray] = {}
    counted = np.zeros(0, dtype=np.int64)  # rows already counted (the logistic method counts each once)
    for order, (keys, _) in enumerate(ngram_keys(encoded, model.vocab_size, model.ngrams), start=1):
        rows = model.rows(keys, order)
        starts = np.flatnonzero(rows != unseen)
        if model.binary:
            _, first = np.unique(rows[starts], return_index=True)  # the first occurrence of each
            starts = np.sort(starts[first])
            starts = starts[~np.isin(rows[starts], counted)]
            counted = np.concatenate([counted, rows[starts]])
        for start, row in zip(starts.tolist(), rows[starts].tolist()):
            windows[(start, order)] = table[row].astype(np.float64)
    if model.idf is not None:  # the tfidf kind: each distinct n-gram's row times its TF-IDF value in the text
        windows = _tfidf_terms(model, encoded, windows)
    raw = model.prior.astype(np.float64) + sum(windows.values(), np.zeros(table.shape[1]))
    bias = model.prior.astype(np.float64)
    if not model.multi_label:  # log posterior: the normalizer is shared by every term
        top = raw.max()
        bias = bias - (top + np.log(np.exp(raw - top).sum()))
    return Terms(bias, windows)
