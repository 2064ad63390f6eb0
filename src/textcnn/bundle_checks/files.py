"""The files of a bundle as the loader may read them: its own regular files, of bounded size, and JSON
read with a size limit, no key twice and bounded nesting."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from textcnn.bundle_checks.limits import MAX_JSON_DEPTH
from textcnn.errors import BundleError


def bundle_file(directory: Path, name: str, max_bytes: int) -> Path | None:
    """``directory / name`` once checked, or None when the bundle has no such file.

    Refused: a symbolic link that resolves outside the bundle directory (the loader reads only the
    bundle's own files; a link inside it, say to share one file between names, is followed), a broken
    link, anything but a regular file (a FIFO or a device would block or never end), and a file
    over ``max_bytes``.
    """
    path = directory / name
    if not os.path.lexists(path):
        return None
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(directory.resolve()):
            raise BundleError(f"is a symbolic link to {target}, outside the bundle directory: refused", path=path)
    try:
        info = path.stat()
    except OSError as error:
        raise BundleError(f"cannot be read ({error.strerror or error})", path=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise BundleError("is not a regular file", path=path)
    if info.st_size > max_bytes:
        raise BundleError(f"is {info.st_size:,} bytes, more than any real bundle's {name} (limit {max_bytes:,})", path=path)
    return path


def required_file(directory: Path, name: str, max_bytes: int) -> Path:
    """``bundle_file``, with a missing file an error that says the directory is no bundle."""
    path = bundle_file(directory, name, max_bytes)
    if path is None:
        raise BundleError(f"{directory} is not a textcnn bundle: {name} is missing")
    return path


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def read_json(path: Path, max_bytes: int) -> Any:
    """The JSON value of ``path``, read with at most ``max_bytes`` bytes (the file may have grown since it was checked)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise BundleError(f"{path.parent} is not a textcnn bundle: {path.name} is missing") from None
    except OSError as error:
        raise BundleError(f"cannot be read ({error.strerror or error})", path=path) from None
    if len(raw) > max_bytes:
        raise BundleError(f"is more than {max_bytes:,} bytes, more than any real bundle's {path.name}", path=path)
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as error:
        raise BundleError(f"not valid JSON (not UTF-8 at byte {error.start})", path=path) from None
    except json.JSONDecodeError as error:
        raise BundleError(f"not valid JSON ({error.msg}, line {error.lineno})", path=path) from None
    except RecursionError:
        raise BundleError("not valid JSON (nested too deeply)", path=path) from None
    except ValueError as error:  # a key twice, an integer of more than 4,300 digits
        raise BundleError(f"not valid JSON ({error})", path=path) from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise BundleError(f"nested more than {MAX_JSON_DEPTH} levels deep, deeper than any real bundle's {path.name}", path=path)
    return value


def _depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (a scalar: 0), found without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
