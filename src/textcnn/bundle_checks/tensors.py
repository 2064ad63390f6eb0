"""The tensors a bundle's config implies, computed without allocating them, compared with a safetensors header."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from textcnn.bundle_checks.limits import HEADER_BYTES_PER_TENSOR, HEADER_SLACK_BYTES, MAX_MODEL_BYTES
from textcnn.bundle_checks.safetensors_header import TensorEntry
from textcnn.config import RunConfig
from textcnn.errors import BundleError
from textcnn.models import build_model

SAFETENSORS_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.int8: "I8", torch.bool: "BOOL",
}  # fmt: skip
_FINITE_CHUNK = 1 << 22  # elements scanned at once: bounds the temporary mask to 4 MiB


@dataclass(frozen=True)
class TensorSpec:
    """The dtypes a tensor may have and its shape (None for a free dimension)."""

    dtypes: tuple[str, ...]
    shape: tuple[int | None, ...]


class _ParametersOnMeta(TorchFunctionMode):
    """While a model is built: the tensors ``torch.empty`` makes (every parameter of torch.nn's modules)
    go on the meta device, which holds shapes and no data, and filling them (random initialisation, a
    copy) does nothing; everything else runs as usual (the position table, under limits.MAX_POSITION_TABLE).

    Not ``with torch.device("meta")``: there the first fill or arithmetic on meta tensors imports torch's
    Python meta kernels, about 1.5 s and 75 MB, more than loading a whole small bundle.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func is torch.empty and kwargs.get("device") is None:
            return func(*args, **{**kwargs, "device": "meta"})
        target = args[0] if args else kwargs.get("tensor")
        if getattr(func, "__name__", "") in _FILLS and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        return func(*args, **kwargs)


_FILLS = {  # in-place writes that keep the target's shape
    "normal_", "uniform_", "fill_", "zero_", "copy_", "bernoulli_", "exponential_", "random_", "renorm_", "clamp_",
    "mul_", "div_", "add_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "constant_",
    "zeros_", "ones_", "trunc_normal_", "orthogonal_",
}  # fmt: skip


def expected_model_tensors(config: RunConfig, vocab_size: int, num_labels: int, path: Path) -> dict[str, TensorSpec]:
    """The state dict of config.json's model, by name, from a model whose parameters are on the meta device (no memory)."""
    try:
        with _ParametersOnMeta():
            model = build_model(config.model, vocab_size=vocab_size, num_classes=num_labels, ensemble=config.train.ensemble)
    except (ValueError, RuntimeError, TypeError) as error:
        raise BundleError(f"its model cannot be built: {error}", path=path) from None
    state = model.state_dict()
    total = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
    if total > MAX_MODEL_BYTES:
        raise BundleError(f"its model would take {total:,} bytes, more than any real model (limit {MAX_MODEL_BYTES:,})", path=path)
    return {name: TensorSpec((SAFETENSORS_DTYPES[tensor.dtype],), tuple(tensor.shape)) for name, tensor in state.items()}


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("*" if n is None else str(n) for n in shape) + "]"


def check_tensors(path: Path, entries: Mapping[str, TensorEntry], expected: Mapping[str, TensorSpec]) -> None:
    """Every expected tensor is there with an allowed dtype and its shape; nothing else is."""
    problem = "weights do not match config.json"
    missing = sorted(set(expected) - set(entries))
    if missing:
        raise BundleError(f"{problem}: lacks {len(missing)} tensors of its model ({', '.join(missing[:5])})", path=path)
    extra = sorted(set(entries) - set(expected))
    if extra:
        raise BundleError(f"{problem}: holds {len(extra)} tensors its model lacks ({', '.join(extra[:5])})", path=path)
    for name, spec in expected.items():
        entry = entries[name]
        if entry.dtype not in spec.dtypes:
            raise BundleError(f"{problem}: tensor {name} is {entry.dtype}, expected {' or '.join(spec.dtypes)}", path=path)
        fits = len(entry.shape) == len(spec.shape) and all(want in (None, got) for got, want in zip(entry.shape, spec.shape))
        if not fits:
            raise BundleError(
                f"{problem}: tensor {name} has shape {list(entry.shape)}, its model has {_shape_text(spec.shape)}", path=path
            )


def free_dimension(path: Path, entries: Mapping[str, TensorEntry], dims: Mapping[str, int]) -> int:
    """The one length that ``dims`` (tensor name -> dimension index) must share, e.g. the n-gram count."""
    lengths = {name: entries[name].shape[axis] for name, axis in dims.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise BundleError(f"tensors disagree on their shared length ({described})", path=path)
    return next(iter(lengths.values()))


def _all_finite(values: torch.Tensor) -> bool:
    """Whether every value is finite: a sum (one pass, no copy) is finite when they all are; where it is
    not (a NaN, an infinity, or a float16 sum that overflows), a scan in chunks decides."""
    if bool(torch.isfinite(values.sum())):
        return True
    flat = values.reshape(-1)
    return all(bool(torch.isfinite(flat[start : start + _FINITE_CHUNK]).all()) for start in range(0, flat.numel(), _FINITE_CHUNK))


def check_finite(path: Path, tensors: Mapping[str, torch.Tensor | np.ndarray]) -> None:
    """No NaN or infinity in any floating-point tensor (such weights make every score NaN)."""
    for name, tensor in tensors.items():
        values = torch.as_tensor(tensor)
        if values.is_floating_point() and not _all_finite(values):
            raise BundleError(f"tensor {name} holds NaN or infinite values", path=path)


def header_limit(num_tensors: int) -> int:
    """The longest header that ``num_tensors`` entries need (see limits.HEADER_BYTES_PER_TENSOR)."""
    return HEADER_SLACK_BYTES + HEADER_BYTES_PER_TENSOR * num_tensors
