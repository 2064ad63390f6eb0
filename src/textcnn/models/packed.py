"""Prediction over a batch of unequal texts without its padding: the texts laid end to end.

A batch is padded to its longest text, and a convolution over it spends on the padding what it
spends on text (MR's sentences: a 32-text batch padded to 43 tokens holds 21.5 on average). Packed,
the positions of every text (at least ``min_len`` each, as the padded batch gives it) form one
sequence, each kernel width runs once over the whole of it, and each text's maximum is taken over
its own windows: those that lie within its positions (a text shorter than a kernel: its first,
which runs into its ``min_len`` zeros as in the padded batch). A window across two texts is
computed and never read. The maxima are those of the padded batch's windows of the text,
products summed in another order (float32: within 1e-6), or the very same ones (bfloat16 window
products).

``TextCNN`` predicts this way where ``applies`` says so; ``tests/models/test_packed.py`` checks it
against the padded batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textcnn.models import fast_kernels
from textcnn.models.layers import conv_channels_last, length_mask

if TYPE_CHECKING:
    from textcnn.models.textcnn import TextCNN

PACK_MIN_TEXTS = 4


def applies(model: TextCNN, ids: torch.Tensor) -> bool:
    """Whether ``model`` predicts the (batch, seq_len) ``ids`` packed: ``PACK_MIN_TEXTS`` texts or
    more (fewer pad little and pay the packing), in inference mode, not while exporting or
    compiling (a traced graph serves every batch), by a network that ``_packable``."""
    if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return False
    return (
        ids.size(0) >= PACK_MIN_TEXTS
        and not model.training
        and torch.is_inference_mode_enabled()
        and _packable(model, ids.device)
    )


def packs(model: nn.Module, device: torch.device) -> bool:
    """Whether every network in ``model`` (one, or an ensemble's members) predicts padded batches of
    several texts packed on ``device`` (``_packable``)."""
    from textcnn.models.base import TextModel  # the models import this module
    from textcnn.models.ensemble import Ensemble

    networks = [module for module in model.modules() if isinstance(module, TextModel) and not isinstance(module, Ensemble)]
    return bool(networks) and all(_packable(network, device) for network in networks)


def _packable(network: nn.Module, device: torch.device) -> bool:
    """A TextCNN whose padded batches can be packed on ``device``: 'valid' convolutions and max
    pooling, on a CPU, fast kernels on, with enough filters that ``fast_kernels`` does not
    compute its maps (``fast_kernels.applies``)."""
    from textcnn.models.textcnn import TextCNN  # it imports this module

    return (
        isinstance(network, TextCNN)
        and device.type == "cpu"
        and network.use_fast_kernels
        and network.config.padding == "valid"
        and network.config.pooling == "max"
        and network.config.num_filters >= fast_kernels.MATMUL_BELOW_FILTERS
    )


def packed_maxima(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor, dtype: torch.dtype) -> list[torch.Tensor]:
    """Each kernel width's (batch, num_filters) float32 maximum, bias included, of its outputs over
    each text's windows, computed over the packed texts of the (batch, seq_len) ``ids`` (padded to
    ``min_len`` already), as ``_packed_outputs`` computes them."""
    lengths = lengths.clamp(max=ids.size(1))  # a length past the ids keeps them all, as padded
    maxima, starts = [], _starts(model, lengths)
    for conv, h, biased in _packed_outputs(model, ids, lengths, dtype):
        windows = _windows_at(starts, lengths, conv.kernel_size[0], None)  # (batch, most)
        h = h.index_select(0, windows.flatten()).view(*windows.shape, h.size(1))  # (batch, most, num_filters)
        top = h.amax(dim=1).float()
        maxima.append(top if biased else top + conv.bias)  # max(h + b) == max(h) + b
    return maxima


def packed_maps(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
    """Each kernel width's outputs (batch, num_filters, out_len) over the (batch, seq_len) ``ids``,
    bias included, float32 (bfloat16 under autocast, where explanations never run), from the
    packed products of ``packed_maxima``: at each text's windows the very values whose maxima it
    takes (explanations pool them to find the winning windows); past a text's windows, its last
    one again (pooling never reads them)."""
    lengths = lengths.clamp(max=ids.size(1))  # a length past the ids keeps them all, as padded
    maps, starts = [], _starts(model, lengths)
    for conv, h, biased in _packed_outputs(model, ids, lengths, torch.float32):
        windows = _windows_at(starts, lengths, conv.kernel_size[0], ids.size(1) - conv.kernel_size[0] + 1)  # (batch, out_len)
        h = h.index_select(0, windows.flatten()).view(*windows.shape, h.size(1))  # (batch, out_len, num_filters)
        maps.append((h if biased else h + conv.bias).transpose(1, 2))
    return maps


def _windows_at(starts: torch.Tensor, lengths: torch.Tensor, k: int, out_len: int | None) -> torch.Tensor:
    """(batch, out_len) positions in the packed sequence of each text's width-``k`` windows, the
    texts starting at ``starts``; past a text's windows its last one again (``out_len`` None: as many
    as the text with the most has)."""
    windows = (lengths - k + 1).clamp(min=1)  # (batch,) windows of each text (a short one keeps its first)
    reach = torch.arange(int(windows.max()) if out_len is None else out_len, device=lengths.device)
    return starts[:, None] + torch.minimum(reach[None, :], windows[:, None] - 1)


def _starts(model: TextCNN, lengths: torch.Tensor) -> torch.Tensor:
    """(batch,) first position of each text in the packed sequence, each at least ``min_len`` long."""
    kept = lengths.clamp(min=model.min_len)
    return kept.cumsum(0) - kept


def _packed_inputs(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The convolutions' inputs at the packed positions: (total, embed_dim), ``model.embed``'s values
    (zero at the padding a text shorter than ``min_len`` keeps). Without positions only the packed
    tokens are looked up (half the lookups of the padded batch, for MR's sentences)."""
    batch, seq_len = ids.shape
    flat = length_mask(lengths.clamp(min=model.min_len), seq_len).flatten().nonzero().squeeze(1)  # (total,)
    real = length_mask(lengths, seq_len).flatten().index_select(0, flat)  # (total,) True at real tokens
    if model.config.positions == "none":
        x = model.embedding(ids.flatten().index_select(0, flat))  # (total, embed_dim)
    else:  # positions count from each text's start: add them in the padded batch
        x = model.positions(model.embedding(ids)).reshape(batch * seq_len, -1).index_select(0, flat)
    padding = (~real).nonzero().squeeze(1)
    if padding.numel():
        x = x.index_fill(0, padding, 0.0)
    return model.embed_dropout(x)


def _packed_outputs(model: TextCNN, ids: torch.Tensor, lengths: torch.Tensor, dtype: torch.dtype):
    """(conv, outputs, biased) for each kernel width: its (total - k + 1, num_filters) outputs over
    the packed texts, in ``dtype`` and without the bias for window products (bfloat16, a short
    sequence, unigram kernels), with the bias for the convolution (beyond ``WINDOW_GEMM_MAX_TOKENS``
    positions, oneDNN's convolution beats MKL's products; float32, or bfloat16 under autocast). The
    convolution runs channels last (``layers.conv_channels_last``): no reordering of the
    input or the outputs, and each window's outputs lie side by side for the maxima."""
    x = _packed_inputs(model, ids, lengths)  # (total, embed_dim)
    short = dtype == torch.bfloat16 or x.size(0) <= fast_kernels.WINDOW_GEMM_MAX_TOKENS
    kernels = fast_kernels.window_kernels(model, dtype)
    rows = x.to(dtype)[None]  # (1, total, embed_dim): the window products' input
    for index, conv in enumerate(model.convs):
        k = conv.kernel_size[0]
        if short or k == 1:  # one product (k = 1: a plain one, faster than the convolution at any length)
            yield conv, fast_kernels.window_products(rows, k, kernels[index], False)[0], False
        else:  # (total - k + 1, num_filters), stored so: each window's outputs side by side
            yield conv, conv_channels_last(x[None], conv)[0].T, True
