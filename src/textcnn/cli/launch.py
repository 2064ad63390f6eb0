"""``textcnn train --nproc N``: the same command as N processes on this machine, started by torchrun.

``launch`` runs ``python -m torch.distributed.run --standalone --nproc_per_node N -m textcnn <the
arguments without --nproc>`` and returns torchrun's exit status. Each process it starts sees
torchrun's environment and trains as one rank (training/distributed.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from textcnn.errors import ConfigError

NPROC_HELP = (
    "Train with this many processes on this machine (PyTorch DDP started by torchrun, one thread each unless "
    "OMP_NUM_THREADS or --threads says otherwise): the global batch stays --batch-size, split over the processes. "
    "For several machines run torchrun yourself (docs/guide.md)."
)


def without_nproc(arguments: list[str]) -> list[str]:
    """The command-line ``arguments`` with ``--nproc N`` (or ``--nproc=N``) left out."""
    kept, skip = [], False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--nproc":
            skip = True
        elif not argument.startswith("--nproc="):
            kept.append(argument)
    return kept


def torchrun_command(nproc: int, arguments: list[str]) -> list[str]:
    """The torchrun command that runs ``textcnn <arguments>`` (``--nproc`` left out) as ``nproc`` processes."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
        "-m", "textcnn", *without_nproc(arguments),
    ]  # fmt: skip


def launch(nproc: int, arguments: list[str]) -> int:
    """Run ``textcnn <arguments>`` as ``nproc`` processes under torchrun; its exit status.

    Ctrl-C reaches torchrun from the terminal and SIGTERM is passed on to it; torchrun passes them to
    the processes (which stop after their next checkpoint), and this process waits for it.
    """
    if "WORLD_SIZE" in os.environ:
        raise ConfigError("--nproc: this command runs under torchrun already (WORLD_SIZE is set); leave --nproc out")
    environment = {**os.environ}
    environment.setdefault("OMP_NUM_THREADS", "1")  # what torchrun would choose, without its warning
    process = subprocess.Popen(torchrun_command(nproc, arguments), env=environment)

    def forward(signum: int, frame: Any) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN), signal.SIGTERM: signal.signal(signal.SIGTERM, forward)}
    try:
        status = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - status if status < 0 else status


def other_rank() -> bool:
    """Whether this process is a rank other than 0 of a distributed run (it prints no results)."""
    return os.environ.get("RANK", "0") != "0" and "WORLD_SIZE" in os.environ
