"""Training in several processes with ``torch.distributed``: the process group, its ranks, and the
few collectives the pipeline needs.

``torchrun`` (or a scheduler) starts one process per rank and sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``; ``session()`` joins the group (gloo on a CPU, nccl on CUDA, one GPU per local rank)
and leaves it at the end. Outside such an environment everything here is a no-op for one process,
so the single-process path is unchanged.

Every rank holds all of the data and draws the same batch order; the ranks split each batch
(training/distributed_step.py), share the dev evaluation (``predict_logits``) and agree on stops.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from textcnn.data.encoding import EncodedTexts
import textcnn.errors as errors
from textcnn.errors import DistributedError, TextcnnError
from textcnn.inference import logits as inference_logits
from textcnn.reporting import logger

ENVIRONMENT = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
Result = TypeVar("Result")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None  # None: one process, no group

    @property
    def main(self) -> bool:
        """Whether this is rank 0: the one that logs, writes checkpoints and saves the bundle."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def from_environment() -> World:
    """The world ``torchrun`` describes in ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (one process without them)."""
    if not all(name in os.environ for name in ENVIRONMENT):
        return World()
    try:
        size, rank, local = (int(os.environ[name]) for name in ENVIRONMENT)
    except ValueError:
        raise DistributedError(f"torchrun environment: {', '.join(f'{n}={os.environ[n]!r}' for n in ENVIRONMENT)} are not numbers") from None
    if size < 1 or not 0 <= rank < size or local < 0:
        raise DistributedError(f"torchrun environment: RANK {rank} of WORLD_SIZE {size} (LOCAL_RANK {local}) is impossible")
    return World(size, rank, local)


def current() -> World:
    """The world of the process group this process has joined (one process when none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return World(dist.get_world_size(), dist.get_rank(), local, str(dist.get_backend()))


SMALL_SHARE = 64  # texts per CPU process and step under which the exchange and optimizer step outweigh the split


def batch_note(world: World, batch_size: int) -> str | None:
    """A note for CPU processes that each train few texts a step: at 16 texts per process (the default
    batch of 32 on 2) the exchange and the optimizer step, which every process pays whole, cost more
    than the halved batch saves (docs/benchmarks.md, "Distributed training"). None where it does not apply."""
    share = batch_size / max(world.size, 1)
    if not world.active or world.backend != "gloo" or share >= SMALL_SHARE:
        return None
    return (
        f"{world.size} processes share each batch of {batch_size}: {share:g} texts per process a step, where the gradient "
        f"exchange and the optimizer step outweigh the split work on CPUs; a global batch of {SMALL_SHARE * world.size} "
        f"or more (--batch-size, and --lr with it) lets the processes pay off"
    )


def restarts() -> int:
    """How often torchrun restarted the workers of this job (``--max-restarts``): 0 on the first start."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def backend_for(device_name: str) -> str:
    """nccl where the run trains on CUDA (``auto`` with a GPU, ``cuda``), gloo elsewhere."""
    wants_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    return "nccl" if wants_cuda else "gloo"


@contextmanager
def session(device_name: str = "auto") -> Iterator[World]:
    """Join the process group that torchrun's environment describes, for as long as the block runs.

    One process (no torchrun environment, or ``WORLD_SIZE=1``), or a group joined already: nothing
    to do. Other ranks than 0 log errors only.
    """
    world = from_environment()
    if not world.active or dist.is_initialized():
        yield current() if dist.is_initialized() else world
        return
    backend = backend_for(device_name)
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    store, _, _ = next(dist.rendezvous("env://", rank=world.rank, world_size=world.size))
    # the keys of each start apart: after torchrun restarted the workers, the store still holds the
    # old workers' addresses, and a new worker that read one would connect to a process gone
    store = dist.PrefixStore(f"textcnn/start-{restarts()}", store)
    dist.init_process_group(backend=backend, store=store, rank=world.rank, world_size=world.size)
    previous = logger.level
    if not world.main:  # rank 0 tells what happens
        logger.setLevel(logging.ERROR)
    try:
        yield current()
    except RuntimeError as error:
        if not _peer_lost(error):
            raise
        raise DistributedError(f"rank {world.rank}: another process of the run is gone ({_summary(error)})") from None
    finally:
        logger.setLevel(previous)
        dist.destroy_process_group()


def _peer_lost(error: RuntimeError) -> bool:
    """Whether a collective failed because another rank went away (killed, crashed)."""
    text = str(error)
    return isinstance(error, dist.DistError) or any(
        sign in text for sign in ("Connection reset by peer", "Connection closed by peer", "Broken pipe")
    )


def _summary(error: BaseException) -> str:
    """The last line of an error message, at most 200 characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(error).__name__


def local_device(device: torch.device) -> torch.device:
    """A CUDA device of a distributed run is the one of its local rank; others stay."""
    world = current()
    if device.type == "cuda" and world.active and device.index is None:
        return torch.device("cuda", world.local_rank)
    return device


def _collective_device() -> torch.device:
    """Where tensors for the group's collectives live: the local GPU for nccl, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait until every rank gets here (no-op for one process)."""
    if current().active:
        dist.barrier()


def any_rank(value: int) -> int:
    """The largest ``value`` over the ranks (e.g. a signal number, 0 for none)."""
    if not current().active:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=_collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def broadcast_bytes(data: bytes | None) -> bytes:
    """Rank 0's ``data`` on every rank (the others pass None)."""
    if not current().active:
        return data or b""
    device = _collective_device()
    size = torch.tensor([len(data) if data is not None else 0], dtype=torch.int64, device=device)
    dist.broadcast(size, src=0)
    buffer = torch.zeros(int(size.item()), dtype=torch.uint8, device=device)
    if data is not None and len(data):
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=0)
    return buffer.cpu().numpy().tobytes()


def broadcast_tensor(tensor: torch.Tensor) -> None:
    """Overwrite ``tensor`` (of the same shape and dtype on every rank) with rank 0's, in place."""
    device = _collective_device()
    moved = tensor.to(device)
    dist.broadcast(moved, src=0)
    if moved is not tensor:
        tensor.copy_(moved)


def all_gather_rows(rows: np.ndarray) -> list[np.ndarray]:
    """Every rank's (n_r, ...) float32 ``rows``, in rank order (n_r may differ)."""
    world = current()
    if not world.active:
        return [rows]
    device = _collective_device()
    counts = torch.zeros(world.size, dtype=torch.int64, device=device)
    counts[world.rank] = len(rows)
    dist.all_reduce(counts)
    padded = torch.zeros((int(counts.max().item()), *rows.shape[1:]), dtype=torch.float32, device=device)
    padded[: len(rows)] = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)).to(device)
    gathered = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(gathered, padded)
    return [part[: int(count)].cpu().numpy() for part, count in zip(gathered, counts.tolist())]


def predict_logits(model: nn.Module, encoded: EncodedTexts, *, device: torch.device, precision: str) -> np.ndarray:
    """``inference.logits.predict_logits`` of ``encoded`` with the ranks sharing the texts: each
    predicts a contiguous share, and every rank gets all the logits (so every rank computes the
    same dev figures, early stopping and best epoch)."""
    world = current()
    if not world.active or type(encoded) is not EncodedTexts:  # long texts' windows: whole, on every rank
        return inference_logits.predict_logits(model, encoded, device=device, precision=precision)
    bounds = np.linspace(0, len(encoded), world.size + 1).astype(np.int64)
    share = encoded.select(np.arange(bounds[world.rank], bounds[world.rank + 1]))
    logits = inference_logits.predict_logits(model, share, device=device, precision=precision)
    return np.concatenate(all_gather_rows(logits), axis=0)


def weights_digest(model: nn.Module) -> bytes:
    """The sha256 of ``model``'s state (names, shapes and bytes of every tensor)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        data = tensor.detach().cpu().contiguous()
        digest.update(str(tuple(data.shape)).encode() + str(data.dtype).encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.digest()


def check_same_weights(model: nn.Module, what: str) -> None:
    """Raise ``DistributedError`` unless every rank holds exactly the weights of rank 0."""
    world = current()
    if not world.active:
        return
    mine = weights_digest(model)
    theirs = broadcast_bytes(mine if world.main else None)
    same = any_rank(int(mine != theirs)) == 0
    if not same:
        raise DistributedError(f"{what}: the weights of the {world.size} ranks differ; their gradients were not averaged alike")
    logger.debug(f"{what}: the weights of all {world.size} ranks are identical (sha256 {mine.hex()[:12]})")


def on_main(work: Callable[[], Result], encode: Callable[[Result], bytes], decode: Callable[[bytes], Result]) -> Result:
    """``work()`` on rank 0, its result sent to every rank (``encode``d there, ``decode``d here); an
    error it raises (a ``TextcnnError``) is raised on every rank, as one line each."""
    world = current()
    if not world.active:
        return work()
    if not world.main:
        failure = json.loads(broadcast_bytes(None))
        if failure is not None:
            kind = getattr(errors, failure["kind"], DistributedError)
            raise kind(failure["message"]) if kind is not errors.TrainingInterrupted else DistributedError(failure["message"])
        return decode(broadcast_bytes(None))
    try:
        result = work()
    except TextcnnError as error:
        broadcast_bytes(json.dumps({"kind": type(error).__name__, "message": str(error)}).encode())
        raise
    broadcast_bytes(b"null")
    broadcast_bytes(encode(result))
    return result


def read_once(read: Callable[[], Result]) -> Result:
    """``read()`` on rank 0 first (it fills the tokenization cache), then on the others (which find
    the cache filled); an error of rank 0's is raised on every rank."""
    world = current()
    if not world.active:
        return read()
    if world.main:
        return on_main(read, lambda _: b"", lambda _: None)
    on_main(read, lambda _: b"", lambda _: None)
    return read()
