"""Seeding, device selection, and the facts that make a run reproducible (versions, data digests)."""

from __future__ import annotations

import platform
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textcnn.config import RunConfig, resolve_embedding_mode
from textcnn.data.provenance import file_sha256
from textcnn.errors import ConfigError
from textcnn.training import distributed
from textcnn.version import __version__


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a NumPy generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in torch's operators (``None``: leave torch's choice)."""
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available (else CPU); other names as given, checked. A rank of a
    distributed run on CUDA (``auto``, ``cuda``) takes the GPU of its local rank."""
    if name == "auto":
        return distributed.local_device(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} was asked for but CUDA is not available on this machine")
    return distributed.local_device(device)


def describe_device(device: torch.device) -> str:
    """``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu (AMD EPYC, x86_64, AVX512)``: the processor's
    name where Linux gives it, the architecture and PyTorch's CPU capability (the kernels it runs)."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    parts = [cpu_facts().get("model name") or platform.processor(), platform.machine(), torch.backends.cpu.get_cpu_capability()]
    return f"{device} ({', '.join(part for part in parts if part)})"


CPU_FACTS = ("vendor_id", "cpu family", "model", "model name")


def cpu_facts() -> dict[str, str]:
    """The processor's ``CPU_FACTS`` as /proc/cpuinfo gives them for its first CPU (Linux; elsewhere none)."""
    facts: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in CPU_FACTS:
                    facts.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return facts


def run_info(config: RunConfig, device: torch.device) -> dict[str, Any]:
    """What a reader needs to reproduce a run: seed, embeddings, versions, platform, device, threads,
    and the processes that trained it (``world_size``; ``backend``: gloo, nccl, or None for one).

    The embedding mode is resolved (``auto``: ``nonstatic`` with ``data.vectors``, else ``rand``); a
    model without the setting has random embeddings (Kim's ``rand``).
    """
    world = distributed.current()
    vectors = config.data.vectors
    mode = resolve_embedding_mode(config.model.embedding_mode, vectors is not None)
    if vectors is not None and Path(vectors).is_file():
        vectors = {"path": str(vectors), "sha256": file_sha256(vectors)}
    return {
        "seed": config.train.seed,
        "embedding_mode": mode,
        "vectors": vectors,
        "textcnn_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "world_size": world.size,
        "backend": world.backend,
    }
