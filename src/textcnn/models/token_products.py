"""Prediction from a table of each token's products with the kernels: lookups instead of products.

Without positions, the output of a 'valid' convolution at window t is the sum over i < k of token
t + i's embedding times row i of the kernel (plus the bias), and that product depends on the token
alone. So a table with one row per vocabulary entry, its products with every kernel row of every
width side by side (``fast_kernels.kernel_rows``: (vocab_size, sum(k) * num_filters)), turns each
window into a sum of k looked-up rows of ``num_filters`` values: ``F.embedding_bag`` sums them, and
the maximum over each text's windows is taken as the convolution's would be. Per token that reads
sum(k) * num_filters numbers where the convolution does embed_dim times as many multiply-adds: for
the default model (128 filters of widths 1-5 over 128 dimensions) prediction runs several times
faster on a CPU (``docs/benchmarks.md``, prediction speed).

The table is never saved. It is filled as tokens are met, ``BLOCK`` tokens at a time by one
product of one shape, so a token's row never depends on which texts came before, and only the
blocks of tokens met take memory; new weights (an optimizer step, a load) start a new table, in
the memory of the one before where it has the same shape: a training run's dev evaluation after
each epoch would otherwise have the system map and zero the table's pages anew (MR: 35,000 page
faults, a fill 1.2-4x slower). It is used when it would hold at most ``MAX_TABLE_BYTES``; a larger
vocabulary predicts by products.

Each window's bag reads the padded batch's ids, so it depends on the batch's shape alone
(``WindowLayout``, kept per shape); the padding's row (``pad_id``) is zero, as the convolution's
inputs are at padding. Prediction sets the windows that are not the text's to -inf before the
maximum (a text shorter than k keeps its first, as the convolution's pooling does). ``maxima``
(prediction) and ``maps`` (explanations) sum the same rows in the same order for every window, so
pooling the maps finds the very values the prediction takes, whatever else the batch holds.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from textcnn.models import fast_kernels

if TYPE_CHECKING:
    from textcnn.models.textcnn import TextCNN

BLOCK = 32  # tokens whose rows are computed together, by one (BLOCK, embed_dim) product
MAX_TABLE_BYTES = 1 << 30  # the largest table used (reached only by the tokens met): 139k tokens at the default size
MAX_BATCH = 16  # texts looked up at once (sorted by length): the window sums of more outgrow the caches, and more
# of mixed lengths are padded further (32-128 texts: 64 at once took 1.2-1.4x the time; 256 and more: alike)
MAX_LAYOUT_ENTRIES = 1 << 22  # bag entries of the window layouts kept per model (one per batch shape met): ~100 MB
_SINGLE_USE = contextvars.ContextVar("textcnn_single_use_weights", default=False)


@contextlib.contextmanager
def single_use() -> Iterator[None]:
    """Predict by products, not lookups, within: for weights that change before they predict again
    (a training run's dev evaluation after each epoch). A table serves one pass then, and filling
    it for the tokens met costs as much arithmetic as the products and writes the table besides
    (MR's dev set with the default model: about 0.28 s a pass against 0.11)."""
    token = _SINGLE_USE.set(True)
    try:
        yield
    finally:
        _SINGLE_USE.reset(token)


class TokenProducts:
    """A model's table of token products, filled block by block, for the weights ``key`` names."""

    def __init__(self, model: TextCNN, key: tuple, former: TokenProducts | None = None) -> None:
        """``former``: the table of the weights before, whose memory this one takes over where the
        shapes agree (its rows are then no longer the former weights')."""
        config = model.config
        self.key = key
        self.vocab_size = model.embedding.num_embeddings
        self.pad_id = model.pad_id
        self.kernel_sizes = list(config.kernel_sizes)
        self.per_token = sum(config.kernel_sizes)  # rows of num_filters values per token
        self.num_filters = config.num_filters
        with torch.no_grad():
            self.kernel = fast_kernels.kernel_rows(model.convs).t().contiguous()  # (per_token * num_filters, embed_dim)
        blocks = -(-self.vocab_size // BLOCK)
        shape = (blocks * BLOCK, self.per_token * self.num_filters)
        same = former is not None and former.rows.shape == shape
        self.rows = former.rows if same else torch.empty(shape)  # unwritten rows take no memory
        self.filled = np.zeros(blocks, dtype=bool)
        self.layouts: dict[tuple[int, int], WindowLayout] = {}

    def fill(self, model: TextCNN, ids: np.ndarray) -> None:
        """Compute the rows of every block that holds one of ``ids`` and has none yet."""
        blocks = ids.ravel() // BLOCK
        missing = blocks[~self.filled[blocks]]
        for block in np.unique(missing) if len(missing) else ():
            first = int(block) * BLOCK
            tokens = torch.arange(first, first + BLOCK).clamp_(max=self.vocab_size - 1)  # the last block: repeats
            with torch.no_grad(), torch.autocast("cpu", enabled=False):  # float32 rows under autocast too
                self.rows[first : first + BLOCK] = fast_kernels.linear(model.embedding(tokens), self.kernel)
                if first <= self.pad_id < first + BLOCK:
                    self.rows[self.pad_id].zero_()  # padding adds nothing, as in the convolution
            self.filled[block] = True

    def layout(self, batch: int, seq_len: int) -> WindowLayout:
        """The ``WindowLayout`` of a (batch, seq_len) batch, made once per shape."""
        layout = self.layouts.get((batch, seq_len))
        if layout is None:
            layout = WindowLayout(self.kernel_sizes, batch, seq_len)
            if sum(len(kept.positions) for kept in self.layouts.values()) + len(layout.positions) > MAX_LAYOUT_ENTRIES:
                self.layouts.clear()  # shapes met long ago make way
            self.layouts[(batch, seq_len)] = layout
        return layout

    def sums(self, ids: np.ndarray, layout: WindowLayout) -> torch.Tensor:
        """(windows, num_filters): each window's bag of rows summed, over (batch, seq_len) ``ids``."""
        bags = torch.from_numpy(ids.ravel()[layout.positions] * self.per_token + layout.columns)
        return F.embedding_bag(bags, self.rows.view(-1, self.num_filters), layout.offsets, mode="sum")


class WindowLayout:
    """The bags of every window of a (batch, seq_len) batch, width after width, each width's
    windows as (out_len, batch): ``positions`` of their tokens in the flattened ids, ``columns``
    the row of the kernel row each token meets, ``offsets`` each bag's first entry; per window,
    its first token ``window_start`` and width ``window_width``, per width its (first window,
    out_len) ``spans``."""

    def __init__(self, kernel_sizes: list[int], batch: int, seq_len: int) -> None:
        positions, columns, starts, widths, self.spans = [], [], [], [], []
        first_row = first_window = 0
        texts = np.arange(batch)[None, :, None] * seq_len
        for k in kernel_sizes:
            out_len = seq_len - k + 1
            start = np.arange(out_len)[:, None, None]  # (out_len, 1, 1)
            positions.append((texts + start + np.arange(k)).ravel())  # (out_len, batch, k)
            columns.append(np.tile(first_row + np.arange(k), out_len * batch))
            starts.append(np.repeat(np.arange(out_len), batch))
            widths.append(np.full(out_len * batch, k))
            self.spans.append((first_window, out_len))
            first_row, first_window = first_row + k, first_window + out_len * batch
        self.positions = np.concatenate(positions)
        self.columns = np.concatenate(columns)
        self.window_start = np.concatenate(starts)
        self.window_width = np.concatenate(widths)
        self.window_text = np.tile(np.arange(batch), len(self.window_start) // batch)
        self.offsets = torch.from_numpy(np.cumsum(self.window_width) - self.window_width)
        self.batch = batch

    def outside(self, lengths: np.ndarray) -> torch.Tensor:
        """The indices of the windows that are not their text's: past its last window (a text
        shorter than the kernel keeps its first)."""
        last = np.maximum(lengths[self.window_text] - self.window_width, 0)
        return torch.from_numpy(np.flatnonzero(self.window_start > last))


def applies(model: TextCNN, ids: torch.Tensor) -> bool:
    """Whether ``model``'s convolutions over (batch, seq_len) ``ids`` are looked up: predicting (in
    inference mode, not while exporting or compiling; under bfloat16 autocast too, the lookups
    then in float32) on a CPU, with 'valid' convolutions, no positions, enough filters that
    ``fast_kernels`` does not compute the maps, and a table within ``MAX_TABLE_BYTES``; never
    within ``single_use``."""
    if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export() or _SINGLE_USE.get():
        return False
    config = model.config
    table_bytes = model.embedding.num_embeddings * sum(config.kernel_sizes) * config.num_filters * 4
    return (
        ids.device.type == "cpu"
        and model.use_fast_kernels
        and not model.training
        and torch.is_inference_mode_enabled()
        and config.padding == "valid"
        and config.positions == "none"
        and config.num_filters >= fast_kernels.MATMUL_BELOW_FILTERS
        and model.embedding.weight.dtype == torch.float32
        and table_bytes <= MAX_TABLE_BYTES
    )


def features(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(batch, num_features) each filter's maximum, bias included, of its outputs over each text's
    windows of the (batch, seq_len) ``ids``, in kernel-size order, ``MAX_BATCH`` texts at a time."""
    if ids.size(0) > MAX_BATCH:
        return torch.cat([features(model, ids[i : i + MAX_BATCH], lengths[i : i + MAX_BATCH]) for i in range(0, ids.size(0), MAX_BATCH)])
    text_lengths = lengths.tolist()  # a few Python ints: cheaper than array reductions for a text or two
    ids = ids[:, : max(max(text_lengths), model.min_len)]  # no windows past the longest text (batches come sorted)
    sums, layout = _text_sums(model, ids, lengths, min(text_lengths))
    filters = model.config.num_filters
    out = sums.new_empty((layout.batch, len(layout.spans) * filters))
    for j, h in enumerate(_per_width(sums, layout)):
        torch.amax(h, dim=0, out=out[:, j * filters : (j + 1) * filters])
    return out.add_(torch.cat([conv.bias for conv in model.convs]))


def winners(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``features`` of (batch, seq_len) ``ids`` (before the activation) and, per feature, the
    first token of the earliest window that reaches its maximum (batch, num_features); ``ids``
    padded to ``model.min_len`` and no wider than the longest text needs."""
    sums, layout = _text_sums(model, ids, lengths, int(lengths.min()))
    maxima = [h.max(dim=0) for h in _per_width(sums, layout)]  # the earliest of equal maxima
    values = torch.cat([maximum for maximum, _ in maxima], dim=1).add_(torch.cat([conv.bias for conv in model.convs]))
    return values, torch.cat([window for _, window in maxima], dim=1)  # 'valid': a window's index is its first token


def table_rows(model: TextCNN, ids: np.ndarray) -> np.ndarray:
    """The model's table as a float32 array (vocab rows, sum(k) * num_filters), filled for ``ids``;
    column ``(r + i) * num_filters + f`` holds a token's product with row i of filter f of the
    width whose rows start at r (``fast_kernels.kernel_rows``' order). Padding's row is zero."""
    table = _table(model)
    table.fill(model, ids)
    return table.rows.numpy()


def maps(model: TextCNN, ids: torch.Tensor) -> list[torch.Tensor]:
    """Each kernel width's outputs (batch, num_filters, out_len), bias included, over every window
    of the (batch, seq_len) ``ids``: at each text's windows the values ``maxima`` takes."""
    sums, layout = _sums(model, ids)
    return [(h + conv.bias).permute(1, 2, 0) for conv, h in zip(model.convs, _per_width(sums, layout))]


def prepare(model: nn.Module) -> None:
    """Fill the whole table of every TextCNN in ``model`` (one, or an ensemble's members) that
    predicts by lookups, so that no later prediction computes a row (a server's first requests)."""
    from textcnn.models.textcnn import TextCNN  # it imports this module

    with torch.inference_mode():
        for network in model.modules():
            every_token = torch.arange(network.embedding.num_embeddings)[None] if isinstance(network, TextCNN) else None
            if every_token is not None and applies(network, every_token):
                _table(network).fill(network, every_token.numpy())


def _sums(model: TextCNN, ids: torch.Tensor) -> tuple[torch.Tensor, WindowLayout]:
    """``TokenProducts.sums`` of ``ids`` and their layout, from the model's table filled for ``ids``."""
    table = _table(model)
    ids_np = ids.numpy()
    table.fill(model, ids_np)
    layout = table.layout(*ids_np.shape)
    return table.sums(ids_np, layout), layout


def _text_sums(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor, shortest: int) -> tuple[torch.Tensor, WindowLayout]:
    """``_sums`` of ``ids`` with the windows that are not their text's at -inf (``shortest``: the least of ``lengths``)."""
    sums, layout = _sums(model, ids)
    if shortest < ids.size(1):  # some text does not fill the batch
        sums.index_fill_(0, layout.outside(lengths.numpy()), float("-inf"))
    return sums, layout


def _per_width(sums: torch.Tensor, layout: WindowLayout) -> list[torch.Tensor]:
    """The (windows, num_filters) ``sums`` as one (out_len, batch, num_filters) view per kernel width."""
    return [sums[first : first + out_len * layout.batch].view(out_len, layout.batch, -1) for first, out_len in layout.spans]


def _table(model: TextCNN) -> TokenProducts:
    """The model's table, made anew when its weights are not those the table was made for."""
    key = fast_kernels.weights_key(model)
    table = model.kernel_cache.token_products
    if table is None or table.key != key:
        table = model.kernel_cache.token_products = TokenProducts(model, key, former=table)
    return table
