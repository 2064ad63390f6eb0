"""Training's convolutions on a CPU: every kernel width as one matrix product, and each filter's
maximum over the text's windows, forward and backward written out.

A window's output is the sum over its k rows of each row's token times that kernel row, so one
product of the (batch * seq_len, embed_dim) inputs with every kernel row of every width side by
side gives every term. The columns are laid out kernel row by kernel row (``_Layout``), so the
windows of all widths are summed at once: row 0 of every width, plus row 1 of the widths wider
than 1 from the next token on, and so on, then one maximum over time. Max pooling keeps one window
per filter, and the backward pass needs only those winners: the products' gradient is the pooled
gradient put at each winner's rows, zero elsewhere, so the inputs' gradient is, per input row, a
weighted sum of the kernel columns it won, and the kernels' gradient a weighted sum of the
winners' inputs (one token per text per column): batch * columns terms each, not a product as
long as the texts. oneDNN's convolutions take fifteen calls forward and backward for the five
default widths, their backward pass at about a third of the forward's rate.

Under bfloat16 autocast (``train.precision: bfloat16``) the forward product runs in bfloat16
(several times float32's rate on CPUs with AMX), its results summed and maximized in float32;
both gradients stay float32 sums.

The dense product goes to oneDNN's matrix product (``fast_kernels.linear``), not to
``torch.mm``: PyTorch sends a float32 ``mm`` to MKL, which on AMD CPUs takes its AVX2 code (MR's
(540 x 128) by (128 x 1,920) product on a Zen 5 core: 91 GFLOP/s against oneDNN's 205, the rate
of oneDNN's Conv1d). A build without oneDNN takes ``torch.mm``.

The texts are taken in chunks of about ``CHUNK_ELEMENTS`` products, so that long texts need no
large buffer. The maxima and gradients are the convolution path's to float rounding; ties go to
the earliest window, as ``torch.max`` gives them. ``tests/models/test_fused_maxima.py`` checks both.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from textcnn.models import fast_kernels

if TYPE_CHECKING:
    from textcnn.models.textcnn import TextCNN

CHUNK_ELEMENTS = 1 << 20  # products per chunk of texts (4 MiB of float32; 4x as many ran no faster)


def applies(model: TextCNN, ids: torch.Tensor) -> bool:
    """Whether ``model``'s training maxima over (batch, seq_len) ``ids`` are computed here: on a CPU,
    with gradients, without autocast or under bfloat16 autocast, with enough filters that
    ``fast_kernels``' own matmul form does not apply, and not while compiling or exporting a graph."""
    device = ids.device.type
    return (
        device == "cpu"
        and torch.is_grad_enabled()
        and not fast_kernels.applies(model, ids)
        and not (torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) not in (torch.float32, torch.bfloat16))
        and not torch.compiler.is_compiling()
        and not torch.onnx.is_in_onnx_export()
    )


def product_dtype(x: torch.Tensor) -> torch.dtype:
    """The products' dtype: bfloat16 under bfloat16 autocast (``train.precision``), else ``x``'s;
    the sums over each window's rows, the maxima and the gradients keep ``x``'s dtype either way."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def maxima(model: TextCNN, x: torch.Tensor, windows: list[torch.Tensor] | None) -> torch.Tensor:
    """(batch, num_features) each filter's maximum, bias included, over the text's windows of the
    convolution of (batch, seq_len, embed_dim) inputs ``x`` (``TextCNN.embed``'s), before the
    activation, in kernel-size order. ``windows``: one (batch, out_len) mask of the text's windows
    per kernel width, or None when every output is a window of its text."""
    widths = [conv.kernel_size[0] for conv in model.convs]
    seq_len = x.size(1)
    if model.config.padding == "same":  # zeros around the text, enough for the widest kernel on each side
        before = max((k - 1) // 2 for k in widths)
        x = F.pad(x, (0, 0, before, max(widths) // 2))
        starts, out_lens = [before - (k - 1) // 2 for k in widths], [seq_len] * len(widths)
    else:
        starts, out_lens = [0] * len(widths), [seq_len - k + 1 for k in widths]
    layout = _layout(tuple(widths), model.config.num_filters)
    outside = _outside(layout, windows, starts, out_lens, x.shape[:2], x.dtype)  # (batch, padded_len, widths, 1)
    kernels = [conv.weight for conv in model.convs]  # (num_filters, embed_dim, k) each
    values = _WindowMaxima.apply(x.contiguous(), layout, outside, product_dtype(x), *kernels)  # widths ascending
    if layout.unsorted is not None:
        values = values[:, layout.unsorted]
    return values + torch.cat([conv.bias for conv in model.convs])


@functools.lru_cache(maxsize=64)
def _layout(widths: tuple[int, ...], filters: int) -> _Layout:
    """The ``_Layout`` of these kernel widths, made once (its tensors are never written)."""
    return _Layout(list(widths), filters)


class _Layout:
    """The products' columns: kernel row i of every width wider than i, for i = 0, 1, ..., with the
    widths in ascending order, so that the windows of every width are summed at once,
    kernel row by kernel row: row i's block of columns adds to the outputs of the widest
    ``len(widths) - shifts[i]`` widths, from the token i places on."""

    def __init__(self, widths: list[int], filters: int) -> None:
        self.order = sorted(range(len(widths)), key=lambda j: widths[j])  # conv index of each rank
        self.filters, self.count = filters, len(widths)
        self.shifts = [sum(widths[j] <= i for j in self.order) for i in range(max(widths))]  # first rank row i meets
        self.blocks = [(i, self.order[rank]) for i in range(max(widths)) for rank in range(self.shifts[i], self.count)]
        ranks = [self.order.index(j) for j in range(self.count)]
        feature = torch.arange(filters)
        self.unsorted = None if self.order == sorted(self.order) else torch.cat([rank * filters + feature for rank in ranks])
        # each column's feature (rank * filters + filter) and kernel row, for the backward pass
        self.feature_of_column = torch.cat([ranks[j] * filters + feature for _, j in self.blocks])
        self.row_of_column = torch.tensor([i for i, _ in self.blocks]).repeat_interleave(filters)


def _outside(
    layout: _Layout, windows: list[torch.Tensor] | None, starts: list[int], out_lens: list[int],
    shape: torch.Size, dtype: torch.dtype,
) -> torch.Tensor:  # fmt: skip
    """(batch, padded_len, widths, 1), widths ascending: 0 where a window of that width starting
    there is one of the text's, -inf elsewhere (past its last window, and where the text ends)."""
    outside = torch.full((*shape, layout.count), float("-inf"), dtype=dtype)
    for rank, j in enumerate(layout.order):
        region = outside[:, starts[j] : starts[j] + out_lens[j], rank]
        if windows is None:
            region.zero_()
        else:
            region.masked_fill_(windows[j], 0.0)
    return outside[..., None]


class _WindowMaxima(torch.autograd.Function):
    """Inputs (batch, padded_len, embed_dim) and kernel rows -> each filter's maximum over its
    windows, and the window it came from (where its first token lies in the inputs)."""

    @staticmethod
    def forward(ctx, x, layout, outside, dtype, *kernels):  # noqa: ANN001, ANN205 (autograd's signature)
        batch, seq_len, _ = x.shape
        columns = torch.cat([kernels[j][:, :, i] for i, j in layout.blocks])  # (columns, embed_dim): the weight ``linear`` takes
        filters, count = layout.filters, layout.count
        values = x.new_empty((batch, count * filters))
        winners = torch.empty((count * filters, batch), dtype=torch.long)  # (features, batch): the backward pass gathers rows
        x_low, columns_low = x.to(dtype), columns.to(dtype)  # bfloat16: products at the CPU's bfloat16 rate (AMX)
        for first, last in _chunks(batch, seq_len * columns.size(0)):
            products = fast_kernels.linear(x_low[first:last].flatten(0, 1), columns_low).view(last - first, seq_len, -1)
            products = products.to(x.dtype)  # (chunk, seq_len, columns), summed below in x's dtype
            h = products[..., : count * filters].unflatten(2, (count, filters)) + outside[first:last]  # row 0
            column = count * filters
            for i in range(1, len(layout.shifts)):  # row i of the widths wider than i: the token i on
                wider = count - layout.shifts[i]
                block = products[:, i:, column : column + wider * filters]
                h[:, : seq_len - i, layout.shifts[i] :] += block.unflatten(2, (wider, filters))
                column += wider * filters
            values[first:last], winners[:, first:last] = _max_over_time(h.flatten(2), transposed=True)
        ctx.save_for_backward(x, columns, winners)
        ctx.kernel_shapes = [kernel.shape for kernel in kernels]
        ctx.layout = layout
        return values

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        with torch.autocast(grad.device.type, enabled=False):  # the dtypes are ours (a backward run under autocast too)
            return _WindowMaxima._backward(ctx, grad)

    @staticmethod
    def _backward(ctx, grad):  # noqa: ANN001, ANN205
        x, columns, winners = ctx.saved_tensors
        layout = ctx.layout
        batch, seq_len, embed_dim = x.shape
        # column (kernel row i, feature) meets the token i after the feature's winning window: its row of
        # the flat inputs, (columns, batch), each column's winners side by side
        at = winners.index_select(0, layout.feature_of_column) + layout.row_of_column[:, None] + torch.arange(0, batch * seq_len, seq_len)
        weights = grad.t().contiguous().index_select(0, layout.feature_of_column)  # (columns, batch): d loss / d each column's winning product
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = _input_gradients(at, weights, columns, batch * seq_len).view(batch, seq_len, embed_dim)
        grad_kernels = [None] * len(ctx.kernel_shapes)
        if any(ctx.needs_input_grad[3:]):  # each block of columns is one kernel row of one width
            grad_columns = _column_gradients(at, weights, x.flatten(0, 1))  # (columns, embed_dim)
            grad_kernels = [columns.new_empty(shape) for shape in ctx.kernel_shapes]
            for block, (i, j) in enumerate(layout.blocks):
                grad_kernels[j][:, :, i] = grad_columns[block * layout.filters : (block + 1) * layout.filters]
        return grad_x, None, None, None, *grad_kernels


def _max_over_time(h: torch.Tensor, *, transposed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The maximum over time of (chunk, time, features) ``h`` and the earliest time it is reached,
    as ``torch.max(h, dim=1)`` gives them, in float passes (torch.max's own search, and comparisons
    into bool, were some 5x slower on this layout), overwriting ``h``. ``transposed``: the times as
    (features, chunk), the layout the backward pass gathers from."""
    values = h.amax(dim=1, keepdim=True)  # (chunk, 1, features)
    countdown = torch.arange(h.size(1), 0, -1, dtype=h.dtype)[None, :, None]  # time t -> time - t
    hits = torch.eq(h, values, out=h).mul_(countdown)  # 0, or how many steps from t to the end
    last = hits.amax(dim=1)  # (chunk, features)
    return values[:, 0], h.size(1) - (last.t() if transposed else last).long()


def _column_gradients(at: torch.Tensor, weights: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """(columns, embed_dim): each column's winning input rows (``at``, (columns, batch) rows of the
    flat (positions, embed_dim) ``inputs``) summed with their ``weights``, one bag per column (a
    32-text MR step: 0.3 ms, where a sparse product over the same winners took 4)."""
    columns, batch = at.shape
    offsets = torch.arange(0, columns * batch, batch)
    return F.embedding_bag(at.flatten(), inputs, offsets, mode="sum", per_sample_weights=weights.flatten())


def _input_gradients(at: torch.Tensor, weights: torch.Tensor, columns: torch.Tensor, positions: int) -> torch.Tensor:
    """(positions, embed_dim): the inputs' gradient, each input row's sum of the kernel columns
    (``columns``: (columns, embed_dim)) it is the winner of (``at``, (columns, batch) rows), times
    their ``weights``; one bag per input row, of the winners sorted by the row they meet. The
    products' gradient is zero but at the winners, so this is its product with the kernel rows
    without the zeros: batch * columns terms, whatever the texts' length (a 32-text MR step:
    0.8 ms, where the dense product took 2.6)."""
    flat = at.flatten()
    keys = flat.to(torch.int16 if positions <= torch.iinfo(torch.int16).max else torch.int32)  # a narrow sort is faster
    order = torch.argsort(keys, stable=True)  # a row's winners (all of one text) in column order: the sums' order is fixed
    counts = torch.bincount(flat, minlength=positions)
    offsets = counts.cumsum(0) - counts  # rows that no window won: empty bags, zero
    column_of = _column_of(*at.shape).index_select(0, order)  # index_select: some 4x faster than // and [order] here
    return F.embedding_bag(column_of, columns, offsets, mode="sum", per_sample_weights=weights.flatten().index_select(0, order))


@functools.lru_cache(maxsize=16)
def _column_of(columns: int, batch: int) -> torch.Tensor:
    """(columns * batch,) the column of each entry of a flat (columns, batch) tensor (never written)."""
    return torch.arange(columns).repeat_interleave(batch)


def _chunks(batch: int, per_text: int) -> list[tuple[int, int]]:
    """(first, last) ranges of texts with about ``CHUNK_ELEMENTS`` products each, at least one text."""
    step = max(1, CHUNK_ELEMENTS // max(per_text, 1))
    return [(first, min(first + step, batch)) for first in range(0, batch, step)]
