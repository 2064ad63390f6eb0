"""Checkpoint entries on disk, each one safetensors file of tensors and one JSON file; never a pickle.

A slot is a folder of numbered entries, each a folder holding ``tensors.safetensors`` and
``state.json``. ``write`` builds the next entry in a temporary folder (``.tmp-NNNNNN``), fsyncs both
files and the folder, renames it to ``NNNNNN`` and fsyncs the slot; only then are older entries
removed. So the slot always holds a whole entry: a process killed at any moment leaves either the
previous entry or the new one (and perhaps a temporary folder, which ``read`` ignores and the next
``write`` removes).

Test-only: ``TEXTCNN_TEST_CHECKPOINT_PAUSE`` (seconds) makes every ``write`` wait that long between
writing the temporary folder and renaming it, so a test can kill a process in the middle of a write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from textcnn.errors import CheckpointError

TENSORS = "tensors.safetensors"
STATE = "state.json"
PAUSE_VARIABLE = "TEXTCNN_TEST_CHECKPOINT_PAUSE"
_ENTRY = re.compile(r"\d{6}")


def _fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _plain(value: Any) -> Any:
    """JSON for NumPy scalars and arrays (a label read as ``np.int64``)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _own_storage(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors on the CPU, contiguous, none sharing memory with another (safetensors refuses shared ones)."""
    owned, seen = {}, set()
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        pointer = tensor.untyped_storage().data_ptr() if tensor.numel() else None
        if pointer in seen:
            tensor = tensor.clone()
        elif pointer is not None:
            seen.add(pointer)
        owned[name] = tensor
    return owned


class Slot:
    """A folder of checkpoint entries, the newest of which is the checkpoint."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def entries(self) -> list[Path]:
        """The whole entries, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if _ENTRY.fullmatch(path.name) and path.is_dir())

    def write(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
        """Write a new entry atomically, then remove the older ones; the new entry's folder.

        Raises:
            CheckpointError: the entry could not be written (a full disk); the previous one is kept.
        """
        data = save(_own_storage(tensors))
        text = json.dumps(state, ensure_ascii=False, default=_plain) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entries = self.entries()
            number = int(entries[-1].name) + 1 if entries else 1
            for stale in self.directory.glob(".tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            staging = self.directory / f".tmp-{number:06d}"
            staging.mkdir()
            try:
                _write_synced(staging / TENSORS, data)
                _write_synced(staging / STATE, text.encode("utf-8"))
                _fsync_path(staging)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            pause = float(os.environ.get(PAUSE_VARIABLE) or 0)
            if pause > 0:
                time.sleep(pause)
            entry = self.directory / f"{number:06d}"
            os.replace(staging, entry)
            _fsync_path(self.directory)
        except OSError as error:
            raise CheckpointError(f"cannot write the checkpoint {self.directory}: {error.strerror or error}") from None
        for old in entries:
            shutil.rmtree(old, ignore_errors=True)
        return entry

    def read(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The newest entry's (tensors, state), or None when the slot holds none."""
        entries = self.entries()
        if not entries:
            return None
        entry = entries[-1]
        try:
            tensors = load((entry / TENSORS).read_bytes())
            state = json.loads((entry / STATE).read_text(encoding="utf-8"))
        except (OSError, SafetensorError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{entry}: cannot read the checkpoint: {error}") from None
        return tensors, state

    def remove(self) -> None:
        """Delete the slot and everything in it."""
        shutil.rmtree(self.directory, ignore_errors=True)
