"""Checkpoint entries on disk: whole or absent, the newest one read, never a pickle."""

from __future__ import annotations

import shutil

import pytest
import torch

from textcnn.errors import CheckpointError
from textcnn.training.checkpoint_files import STATE, TENSORS, Slot


def _tensors(value: float) -> dict[str, torch.Tensor]:
    return {"weight": torch.full((2, 3), value), "step": torch.tensor(value), "ids": torch.arange(4)}


def test_an_entry_reads_back_as_written(tmp_path):
    slot = Slot(tmp_path / "stage")
    state = {"epoch": 3, "loss": 0.1 + 0.2, "rng": {"state": 2**127 + 1}, "name": "模型"}

    slot.write(_tensors(1.5), state)
    tensors, read = slot.read()

    assert read == state
    assert set(tensors) == {"weight", "step", "ids"}
    for name, tensor in _tensors(1.5).items():
        assert torch.equal(tensors[name], tensor) and tensors[name].dtype == tensor.dtype


def test_a_new_entry_replaces_the_old_one_only_once_it_is_whole(tmp_path):
    slot = Slot(tmp_path / "stage")
    first = slot.write(_tensors(1.0), {"n": 1})

    second = slot.write(_tensors(2.0), {"n": 2})

    assert slot.entries() == [second] and not first.exists()
    assert slot.read()[1] == {"n": 2}
    assert {path.name for path in second.iterdir()} == {TENSORS, STATE}


def test_a_write_cut_short_leaves_the_previous_entry_readable(tmp_path):
    slot = Slot(tmp_path / "stage")
    slot.write(_tensors(1.0), {"n": 1})
    partial = tmp_path / "stage" / ".tmp-000002"  # what a process killed inside `write` leaves
    partial.mkdir()
    (partial / TENSORS).write_bytes(b"\x00\x01")

    assert slot.read()[1] == {"n": 1}
    slot.write(_tensors(3.0), {"n": 3})
    assert not partial.exists() and slot.read()[1] == {"n": 3}


def test_a_kill_between_rename_and_cleanup_leaves_the_newest_entry_in_charge(tmp_path):
    slot = Slot(tmp_path / "stage")
    old = slot.write(_tensors(1.0), {"n": 1})
    shutil.copytree(old, tmp_path / "old-copy")
    slot.write(_tensors(2.0), {"n": 2})
    shutil.copytree(tmp_path / "old-copy", old)  # the old entry survived: the process died before removing it

    assert slot.read()[1] == {"n": 2}


def test_tensors_that_share_memory_are_saved_apart(tmp_path):
    base = torch.arange(6.0)
    slot = Slot(tmp_path / "stage")

    slot.write({"a": base, "b": base, "view": base[:3]}, {})
    tensors, _ = slot.read()

    assert torch.equal(tensors["a"], base) and torch.equal(tensors["b"], base) and torch.equal(tensors["view"], base[:3])


def test_a_damaged_entry_is_an_error_that_names_it(tmp_path):
    slot = Slot(tmp_path / "stage")
    entry = slot.write(_tensors(1.0), {"n": 1})
    (entry / STATE).write_text("{not json", encoding="utf-8")

    with pytest.raises(CheckpointError, match=str(entry)):
        slot.read()


def test_an_empty_slot_reads_as_none(tmp_path):
    assert Slot(tmp_path / "absent").read() is None


def test_entries_hold_no_pickle(tmp_path):
    entry = Slot(tmp_path / "stage").write(_tensors(1.0), {"n": 1})

    for path in entry.iterdir():
        data = path.read_bytes()
        assert not data.startswith(b"\x80") and not data.startswith(b"PK"), path


def test_a_full_disk_is_an_error_that_keeps_the_previous_entry(tmp_path, monkeypatch):
    import errno
    import os

    from textcnn.training import checkpoint_files

    slot = Slot(tmp_path / "stage")
    slot.write(_tensors(1.0), {"n": 1})

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoint_files, "_write_synced", full)

    with pytest.raises(CheckpointError, match=f"cannot write the checkpoint {tmp_path / 'stage'}: {os.strerror(errno.ENOSPC)}"):
        slot.write(_tensors(2.0), {"n": 2})
    assert slot.read()[1] == {"n": 1}
    assert not list((tmp_path / "stage").glob(".tmp-*"))
