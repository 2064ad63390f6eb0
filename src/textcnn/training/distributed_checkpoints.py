"""The checkpoint folder of a distributed run: rank 0 reads and writes it, every rank resumes from it.

Rank 0 checks or starts the folder and writes every checkpoint; the other ranks write nothing and
receive what rank 0 reads (``SharedSlot``), so every rank resumes from rank 0's checkpoint, also
on machines that do not share its disk. A stop asked by a signal on any rank stops every rank at
the same checkpoint: inside an epoch the step's all-reduce carries it (``DistributedStep``),
at the other boundaries ``AgreedStop.check`` asks the ranks. After torchrun restarted the workers
(``--max-restarts``), the run continues from its checkpoint as with ``--resume``.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load, save

from textcnn.config import RunConfig
from textcnn.errors import DistributedError, TrainingInterrupted
from textcnn.reporting import logger
from textcnn.training import distributed
from textcnn.training.checkpoint_files import Slot, _own_storage
from textcnn.training.interrupt import SignalStop
from textcnn.training.resume import Checkpoints, StageCheckpoint
from textcnn.training.trainer import Position, _Step

def _encode_entry(entry: tuple[dict[str, torch.Tensor], dict[str, Any]] | None) -> bytes:
    if entry is None:
        return b""
    tensors, state = entry
    text = json.dumps(state, ensure_ascii=False).encode("utf-8")
    return len(text).to_bytes(8, "little") + text + save(_own_storage(tensors))


def _decode_entry(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    if not data:
        return None
    size = int.from_bytes(data[:8], "little")
    return load(data[8 + size :]), json.loads(data[8 : 8 + size].decode("utf-8"))


class SharedSlot(Slot):
    """A slot that rank 0 reads (sending the entry to every rank) and writes (the others write nothing)."""

    def read(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        return distributed.on_main(super().read, _encode_entry, _decode_entry)

    def write(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
        if distributed.current().main:
            return super().write(tensors, state)
        return self.directory


class AgreedStop(SignalStop):
    """A ``SignalStop`` whose ``check`` asks every rank: a stop asked on one stops all (a collective)."""

    def check(self, directory: str | Path | None = None) -> None:
        signum = distributed.any_rank(self.pending or 0)
        if signum:
            raise TrainingInterrupted(self.pending or signum, directory)


def agreed_signal(stop: SignalStop, seen: float, ranks: float) -> int:
    """The signal to stop with, from a step's sums over the ranks of their signals and of the ranks with one."""
    if stop.pending is not None:
        return stop.pending
    mean = int(round(seen / ranks)) if ranks else 0
    return mean if mean in {int(signum) for signum in signal.Signals} else int(signal.SIGTERM)


class DistributedStage(StageCheckpoint):
    """The ``FitHook`` of a training run on one rank: the step tells it of stops asked on any rank."""

    def start(self, step: _Step, rng: np.random.Generator):
        step.stop = self.owner.stop  # the step's all-reduce carries this rank's pending signal
        return super().start(step, rng)

    def step_done(self, step: _Step, at: Position, rng: np.random.Generator) -> None:
        # decided on what the step's all-reduce said, identical on every rank: no collective here
        every = self.owner.every_steps
        due = every is not None and at.steps % every == 0 and at.step < step.steps_per_epoch
        asked = getattr(step, "stop_ranks", 0)
        if due or asked:
            self._save(step, at, rng)
        if asked:
            raise TrainingInterrupted(agreed_signal(self.owner.stop, step.stop_seen, asked), self.owner.directory)


class DistributedCheckpoints(Checkpoints):
    """``Checkpoints`` of a rank of a distributed run."""

    stop_kind = AgreedStop

    def begin(self, config: RunConfig, data: str) -> None:
        main_data = distributed.broadcast_bytes(data.encode() if distributed.current().main else None).decode()
        differs = distributed.any_rank(int(main_data != data))
        if differs:
            raise DistributedError("the ranks read different data (sha256 of their texts and labels differ): every rank needs the same files")
        distributed.on_main(lambda: super(DistributedCheckpoints, self).begin(config, data), lambda _: b"", lambda _: None)
        self.every_steps = config.train.checkpoint_every_steps
        self.stop = self.stop_kind()

    def slot(self, name: str) -> Slot:
        return SharedSlot(self.directory / name)

    def stage(self, name: str) -> StageCheckpoint:
        self.stop.check(self.directory)
        return DistributedStage(self, name)

    def remove(self) -> None:
        if distributed.current().main:
            super().remove()


def checkpoints_for(directory: str | Path, *, resume: bool) -> Checkpoints:
    """The checkpoints of a run in this process: of a rank when it is one of a distributed run. After
    torchrun restarted the workers, the run continues from its checkpoint (as ``resume``)."""
    restarted = distributed.restarts()
    if restarted and not resume:
        logger.info(f"torchrun restarted the workers ({restarted} time(s)): continuing from the checkpoint in {directory}")
        resume = True
    if distributed.current().active:
        return DistributedCheckpoints(directory, resume=resume)
    return Checkpoints(directory, resume=resume)
