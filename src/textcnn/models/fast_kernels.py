"""CPU kernels for a TextCNN with few filters per kernel size: the same convolution maps as
``TextCNN``'s Conv1d path, computed faster.

With few filters, Conv1d on a CPU is memory-bound (oneDNN, torch 2.13: 2 filters ran 3-8x slower
than the matmul form here; from 32 filters on, Conv1d is faster). Two forms:

- matmul: every kernel row of every width in one matrix product with the embedded inputs, then
  shifted sums. It is differentiable, and training with few filters on a CPU uses it too (the
  recorded regression weights were trained with it).
- folded (inference only): without positions or dropout, a token's products with the kernel rows
  depend on the token alone, so a (vocab_size, sum(k) * num_filters) table of them is worked out
  once per weights and gathered. Narrower than the embeddings when the kernels are few, which makes
  batch prediction several times faster. ``export_form`` freezes the table into a copy for ONNX.

``TextCNN`` calls ``conv_maps`` where ``applies`` says so; ``tests/models/test_fast_kernels.py``
checks that both forms equal the Conv1d path.

Predicting with max pooling, ``window_maxima`` computes each kernel width as one matrix product of
the text's windows, laid side by side, with the kernel: in bfloat16 (under ``torch.autocast(...,
dtype=torch.bfloat16)``), where oneDNN's products accumulate in float32 and, on CPUs with AVX512-BF16
or AMX, run several times faster than float32 Conv1d; and in float32 for batches of at most
``WINDOW_GEMM_MAX_TOKENS`` positions (one text, a few), where oneDNN's convolution costs more than
the products (a 20-token text: 230 against 140 us). ``window_products_maps`` gives the whole float32
maps of those products, for ``TextCNN.pooled`` (explanations) to pool as the prediction does.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from textcnn.models.textcnn import TextCNN

MATMUL_BELOW_FILTERS = 16  # filters per kernel size below which the matmul form is faster on a CPU
WINDOW_GEMM_MAX_TOKENS = 128  # float32 batches of at most this many positions: window products beat the convolution


class KernelCache:
    """A TextCNN's folded table, never saved: ``table`` is valid for the weights ``key`` names
    (each weight's storage and in-place version counter); ``frozen`` is fixed for an export. Also
    the window kernels of ``window_maxima`` and the table of ``token_products``."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.table: torch.Tensor | None = None
        self.frozen: torch.Tensor | None = None
        self.window_key: tuple | None = None
        self.window_kernels: dict[torch.dtype, list[torch.Tensor]] = {}  # window_maxima's, per dtype
        self.token_products = None  # token_products.TokenProducts: prediction's looked-up products


def applies(model: TextCNN, ids: torch.Tensor) -> bool:
    """Whether ``model``'s convolutions of ``ids`` are computed here: on a CPU, with few filters."""
    return ids.device.type == "cpu" and model.config.num_filters < MATMUL_BELOW_FILTERS


def can_fold(model: TextCNN) -> bool:
    """Whether inference can gather the kernel products per token: no positions, and a table
    narrower than the embeddings."""
    config = model.config
    columns = sum(config.kernel_sizes) * config.num_filters
    return config.positions == "none" and config.num_filters < MATMUL_BELOW_FILTERS and columns < config.embed_dim


def conv_maps(model: TextCNN, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Each kernel width's convolution outputs (batch, num_filters, out_len), as ``TextCNN`` computes
    them from (batch, seq_len) ``ids`` with the (batch, seq_len) real-token ``mask``."""
    products = _folded_products(model, ids, mask)
    if products is None:
        products = model.embed(ids, mask) @ kernel_rows(model.convs)  # (batch, seq_len, sum(k) * num_filters)
    return convolve_by_matmul(model.convs, model.config.padding == "same", products)


def kernel_rows(convs: nn.ModuleList) -> torch.Tensor:
    """Every kernel row of every convolution side by side: (embed_dim, sum(k) * num_filters)."""
    return torch.cat([conv.weight.permute(1, 2, 0).flatten(1) for conv in convs], dim=1)


# whether this PyTorch has oneDNN's matrix product, as ``linear`` calls it (private to PyTorch: checked, not assumed)
_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def linear(a: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``a @ weight.t()`` for contiguous (n, k) ``a`` and (m, k) ``weight``: by oneDNN where PyTorch
    has it, for float32 and bfloat16 (the float32 rate of oneDNN's own kernels, which MKL lacks on
    AMD CPUs), else ``torch.mm``."""
    if _ONEDNN_LINEAR and a.dtype in (torch.float32, torch.bfloat16):
        return torch.ops.mkldnn._linear_pointwise(a, weight, None, "none", [], "")
    return torch.mm(a, weight.t())


def convolve_by_matmul(convs: nn.ModuleList, same: bool, products: torch.Tensor) -> list[torch.Tensor]:
    """The outputs (batch, num_filters, out_len) of each of ``convs`` from the (batch, seq_len,
    sum(k) * num_filters) ``products`` of its inputs with ``kernel_rows(convs)``: row i of a kernel
    meets token t + i of the window starting at t, so a window's output is a sum of shifted columns."""
    seq_len = products.size(1)
    widths = [conv.kernel_size[0] for conv in convs]
    before = max((k - 1) // 2 for k in widths) if same else 0
    if same:  # zeros around the text, enough for the widest kernel on each side
        products = F.pad(products, (0, 0, before, max(widths) // 2))  # (batch, padded_len, ...)
    maps, column = [], 0
    for conv, k in zip(convs, widths):
        filters = conv.out_channels
        block = products[..., column : column + k * filters].unflatten(2, (k, filters))  # (batch, padded_len, k, num_filters)
        column += k * filters
        start, out_len = (before - (k - 1) // 2, seq_len) if same else (0, seq_len - k + 1)  # first window, outputs
        h = block[:, start : start + out_len, 0]  # (batch, out_len, num_filters)
        for i in range(1, k):
            h = h + block[:, start + i : start + i + out_len, i]
        maps.append((h + conv.bias).transpose(1, 2))  # (batch, num_filters, out_len)
    return maps


def fold_table(model: TextCNN) -> torch.Tensor:
    """Every token's products with the kernel rows: (vocab_size, sum(k) * num_filters)."""
    tokens = torch.arange(model.embedding.num_embeddings, device=model.embedding.weight.device)
    return model.embedding(tokens) @ kernel_rows(model.convs)  # (vocab_size, embed_dim) @ (embed_dim, ...)


def _folded_products(model: TextCNN, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """``model.embed(ids, mask) @ kernel_rows(model.convs)`` gathered from the folded table, zero at
    padding: (batch, seq_len, sum(k) * num_filters). None where folding does not apply: in training,
    outside ``torch.inference_mode`` (autograd must see the weights), or when ``can_fold`` is false."""
    cache = model.kernel_cache
    if cache.frozen is not None:  # fixed for an export: a table in the graph
        return cache.frozen[ids] * mask[:, :, None]
    if model.training or not torch.is_inference_mode_enabled() or not can_fold(model):
        return None
    key = weights_key(model)
    if cache.table is None or cache.key != key:  # new weights (an optimizer step, a load, a copy): redo
        cache.key, cache.table = key, fold_table(model)
    return cache.table[ids] * mask[:, :, None]


def weights_key(model: TextCNN) -> tuple:
    """What a table of the embeddings' products with the kernels is valid for: the storage and
    in-place version counter of each embedding table and kernel (an optimizer step, a load or a
    copy changes one)."""
    embedding = model.embedding
    tables = [embedding.weight] + ([embedding.static.weight] if embedding.static is not None else [])
    return tuple((weight.data_ptr(), weight._version) for weight in tables + [conv.weight for conv in model.convs])


def export_form(model: nn.Module) -> nn.Module:
    """``model``, or a copy in which every TextCNN that ``can_fold`` gathers from a frozen folded
    table in every later forward pass: the form PyTorch itself predicts with, for an ONNX export."""
    from textcnn.models.textcnn import TextCNN  # textcnn.py imports this module

    if not any(isinstance(module, TextCNN) and can_fold(module) for module in model.modules()):
        return model
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, TextCNN) and can_fold(module):
            with torch.no_grad():
                module.kernel_cache.frozen = fold_table(module)
    return model


def window_dtype(model: TextCNN, ids: torch.Tensor) -> torch.dtype | None:
    """The dtype in which ``window_maxima`` computes the prediction over (batch, seq_len) ``ids``, or
    None where Conv1d (or ``conv_maps``) is faster: bfloat16 under bfloat16 autocast, float32 for a
    small batch on a CPU with enough filters that the matmul form of ``conv_maps`` does not apply."""
    device = ids.device.type
    if torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.bfloat16:
        return torch.bfloat16
    if device == "cpu" and ids.numel() <= WINDOW_GEMM_MAX_TOKENS and not applies(model, ids):
        return torch.float32
    return None


def window_maxima(
    model: TextCNN, ids: torch.Tensor, mask: torch.Tensor, windows: list[torch.Tensor] | None, dtype: torch.dtype
) -> list[torch.Tensor]:
    """Each kernel width's (batch, num_filters) float32 maximum, bias included, of its outputs over
    the text's windows, the products in ``dtype``: (batch, out_len, k * embed_dim) windows of the
    embedded (batch, seq_len) ``ids`` times the (k * embed_dim, num_filters) kernel. ``windows``: one
    (batch, out_len) mask of the text's windows per width, or None when the batch has no padding."""
    x = model.embed(ids, mask).to(dtype)  # (batch, seq_len, embed_dim)
    maxima = []
    for index, (conv, kernel) in enumerate(zip(model.convs, window_kernels(model, dtype))):
        h = window_products(x, conv.kernel_size[0], kernel, model.config.padding == "same")  # (batch, out_len, num_filters)
        if windows is not None:
            h = h.masked_fill(~windows[index][:, :, None], float("-inf"))
        maxima.append(h.amax(dim=1).float() + conv.bias)  # max(h + b) == max(h) + b
    return maxima


def window_products_maps(model: TextCNN, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Each kernel width's float32 outputs (batch, num_filters, out_len) from the products of
    ``window_maxima``: the maps whose maxima it takes, so that pooling them (to find the winning
    windows, as explanations do) gives the very features the prediction of the same batch reads."""
    x = model.embed(ids, mask)  # (batch, seq_len, embed_dim)
    maps = []
    for conv, kernel in zip(model.convs, window_kernels(model, torch.float32)):
        h = window_products(x, conv.kernel_size[0], kernel, model.config.padding == "same")  # (batch, out_len, num_filters)
        maps.append((h + conv.bias).transpose(1, 2))  # (batch, num_filters, out_len)
    return maps


def window_products(x: torch.Tensor, k: int, kernel: torch.Tensor, same: bool) -> torch.Tensor:
    """(batch, out_len, num_filters) products of the width-``k`` windows of the (batch, seq_len,
    embed_dim) inputs ``x``, laid side by side, with the (k * embed_dim, num_filters) ``kernel``."""
    padded = F.pad(x, (0, 0, (k - 1) // 2, k // 2)) if same else x
    windows_of_k = padded.unfold(1, k, 1).transpose(2, 3)  # (batch, out_len, k, embed_dim): row i is token t + i
    batch, out_len = windows_of_k.shape[:2]
    rows = _rows(windows_of_k) if x.dtype == torch.bfloat16 else windows_of_k.reshape(batch * out_len, -1)
    return (rows @ kernel)[: batch * out_len].view(batch, out_len, -1)


def _rows(windows: torch.Tensor) -> torch.Tensor:
    """The (batch, out_len, k, embed_dim) ``windows`` as (rows, k * embed_dim) rows, their number
    rounded up (with rows of zeros) to one of about eight sizes per power of two: oneDNN builds a
    bfloat16 kernel for each new shape of a product (about half a millisecond), so few shapes keep
    a stream of texts of every length from paying it again and again. (Float32 products go to MKL,
    which builds none: there the extra rows would only cost.)"""
    count = windows.shape[0] * windows.shape[1]
    step = max(8, 1 << max(count.bit_length() - 4, 0))
    rounded = -(-count // step) * step
    rows = windows.new_empty((rounded, windows.shape[2] * windows.shape[3]))
    rows[:count].view(windows.shape).copy_(windows)
    rows[count:].zero_()
    return rows


def window_kernels(model: TextCNN, dtype: torch.dtype) -> list[torch.Tensor]:
    """The (k * embed_dim, num_filters) kernels of ``window_maxima`` in ``dtype``, redone when the weights change."""
    cache = model.kernel_cache
    key = tuple((conv.weight.data_ptr(), conv.weight._version) for conv in model.convs)
    if cache.window_key != key:
        cache.window_key, cache.window_kernels = key, {}
    if dtype not in cache.window_kernels:
        with torch.no_grad():
            cache.window_kernels[dtype] = [conv.weight.permute(2, 1, 0).flatten(0, 1).to(dtype).contiguous() for conv in model.convs]
    return cache.window_kernels[dtype]


def window_maps(model: TextCNN, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Each kernel width's outputs (batch, num_filters, out_len) in bfloat16, differentiable: the
    (batch, out_len, k * embed_dim) windows of the embedded ``ids``, laid side by side by shifted
    copies, times the (k * embed_dim, num_filters) kernel. Training under bfloat16 autocast uses it:
    oneDNN's bfloat16 products, forward and backward, beat its bfloat16 Conv1d on a CPU."""
    x = model.embed(ids, mask).to(torch.bfloat16)  # (batch, seq_len, embed_dim)
    maps = []
    for conv in model.convs:
        k = conv.kernel_size[0]
        padded = F.pad(x, (0, 0, (k - 1) // 2, k // 2)) if model.config.padding == "same" else x
        out_len = padded.size(1) - k + 1
        windows = torch.cat([padded[:, i : i + out_len] for i in range(k)], dim=2)  # (batch, out_len, k * embed_dim)
        kernel = conv.weight.permute(0, 2, 1).flatten(1)  # (num_filters, k * embed_dim): row i * embed_dim + e
        h = F.linear(windows, kernel.to(torch.bfloat16), conv.bias.to(torch.bfloat16))  # (batch, out_len, num_filters)
        maps.append(h.transpose(1, 2))
    return maps
