"""Where the data of a run came from: the sha256 of each file, recorded in the bundle and the cache key."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(splits: dict[str, str | Path | None]) -> dict[str, dict[str, str]]:
    """``{split: {"path", "sha256"}}`` of the data files given (none: left out)."""
    return {split: {"path": str(path), "sha256": file_sha256(path)} for split, path in splits.items() if path is not None}
