"""A safetensors file's header, read and checked here before safetensors or torch allocate anything.

The format: 8 bytes (little-endian length N), N bytes of JSON ``{name: {dtype, shape, data_offsets},
"__metadata__": {str: str}}``, then the tensors' bytes, back to back. The header is read with a
bounded size; every entry must be well formed, its byte count must be its shape times its dtype's
size, and the entries must tile the rest of the file exactly (no gap, no overlap, nothing past the end).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textcnn.errors import BundleError

DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
_OTHER_FORMATS = (
    (b"PK\x03\x04", "a zip archive (torch.save's format)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x89HDF", "an HDF5 file"),
)


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it; ``begin`` and ``end`` count from the end of the header."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _format_of(head: bytes) -> str | None:
    """What a file that is not safetensors looks like, from its first bytes (None: nothing known)."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle (the format of torch.save)"
    return next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)), None)


def read_header(path: Path, max_header_bytes: int) -> dict[str, TensorEntry]:
    """The tensors of safetensors file ``path`` by name, checked against the file's size; reads only the header."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        other = _format_of(head)
        if other is not None:
            raise BundleError(f"is {other}, not safetensors: refused (reading it could run code)", path=path)
        if len(head) < 8:
            raise BundleError(f"is {size} bytes, too short for a safetensors file", path=path)
        length = int.from_bytes(head, "little")
        if length > size - 8:
            raise BundleError(
                f"not safetensors: its header claims {length:,} bytes, the file has {size - 8:,} after the first 8", path=path
            )
        if length > max_header_bytes:
            raise BundleError(
                f"its safetensors header is {length:,} bytes, more than these tensors need (limit {max_header_bytes:,})", path=path
            )
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError("not safetensors: its header is not valid JSON", path=path) from None
    if not isinstance(header, dict):
        raise BundleError("not safetensors: its header is no JSON object", path=path)
    _check_metadata(path, header.pop("__metadata__", {}))
    entries = {name: _entry(path, name, value) for name, value in header.items()}
    _check_layout(path, entries, size - 8 - length)
    return entries


def _check_metadata(path: Path, metadata: Any) -> None:
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise BundleError("its safetensors __metadata__ is not a mapping of strings", path=path)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: Path, name: str, value: Any) -> TensorEntry:
    """One header entry, checked: known dtype, a shape of counts, offsets whose span is the shape's bytes."""
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        raise BundleError(f"tensor {name!r}: expected the keys dtype, shape and data_offsets", path=path)
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPE_BYTES:
        raise BundleError(f"tensor {name!r}: unknown dtype {dtype!r}", path=path)
    if not isinstance(shape, list) or len(shape) > 8 or not all(_is_count(n) for n in shape):
        raise BundleError(f"tensor {name!r}: shape {shape!r} is not a list of at most 8 non-negative integers", path=path)
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(n) for n in offsets) or offsets[0] > offsets[1]:
        raise BundleError(f"tensor {name!r}: data_offsets {offsets!r} are not [begin, end] with begin <= end", path=path)
    nbytes = math.prod(shape) * DTYPE_BYTES[dtype]
    if offsets[1] - offsets[0] != nbytes:
        raise BundleError(
            f"tensor {name!r}: shape {shape} of {dtype} is {nbytes:,} bytes, its data_offsets span {offsets[1] - offsets[0]:,}", path=path
        )
    return TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(path: Path, entries: dict[str, TensorEntry], data_bytes: int) -> None:
    """The tensors lie back to back from the end of the header to the end of the file."""
    position = 0
    for name, entry in sorted(entries.items(), key=lambda item: (item[1].begin, item[1].end)):
        if entry.end > data_bytes:
            raise BundleError(
                f"tensor {name!r} ends at byte {entry.end:,} of the data, the file holds {data_bytes:,}: truncated or damaged",
                path=path,
            )
        if entry.begin != position:
            raise BundleError(
                f"tensor {name!r} starts at byte {entry.begin:,} of the data, expected {position:,}: overlapping or a gap", path=path
            )
        position = entry.end
    if position != data_bytes:
        raise BundleError(
            f"the tensors end at byte {position:,} of the data, the file holds {data_bytes:,}: not a file safetensors wrote", path=path
        )
