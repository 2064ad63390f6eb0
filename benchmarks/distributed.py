"""One epoch in one process against one epoch with torchrun and N processes, one thread each.

Both train the same seeded run with the same global batch (``train.batch_size``, each of
``--batch-size``) on a set's train file: one epoch, dev evaluated once, no refit, no n-gram model, no
step checkpoints (none of which is what is measured). The figure is the epoch's training time as the log line ``epoch 1/1 ... 12.3s``
gives it (the dev evaluation and the reading of the files are not in it). The runs alternate (one
process, N processes, one process, ...), so a change of the machine's load hits both; the load
averages before and after are printed, and each run's CPU seconds (all its processes, the whole
run): what it would take of an idle machine's cores.

    nice -n 10 python benchmarks/distributed.py --set thucnews --repeats 3 --grad-sync float32 bfloat16
    python benchmarks/distributed.py --set thucnews --repeats 3 --batch-size 32 128 256
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _data import split_path

EPOCH_LINE = re.compile(r"epoch\s+1/1\s+loss\s+(?P<loss>[\d.]+)\s+dev acc\s+(?P<acc>[\d.]+).*?\s(?P<seconds>[\d.]+)s\s")


def train_arguments(name: str, out: Path, batch_size: int, lr: float | None) -> list[str]:
    train, dev = split_path(name, "train"), split_path(name, "dev")
    if train is None or dev is None:
        sys.exit(f"no train.csv and dev.csv for {name} under the data folder (TEXTCNN_DATA)")
    return [
        "train", str(train), "--dev", str(dev), "--out", str(out), "--epochs", "1", "--batch-size", str(batch_size),
        "--threads", "1", "--nb-ngrams", "0", "--set", "train.refit=never", "--set", "train.checkpoint_every_steps=null",
    ] + (["--lr", f"{lr:g}"] if lr is not None else [])  # fmt: skip


def commands(name: str, out: Path, batch_size: int, nproc: int, syncs: list[str], lr: float | None = None) -> dict[str, list[str]]:
    """The command of each run: one process, then torchrun with each ``train.grad_sync`` of ``syncs``."""
    runs = {"1 process": [sys.executable, "-m", "textcnn", *train_arguments(name, out / "single", batch_size, lr)]}
    for sync in syncs:
        runs[f"torchrun {nproc} {sync}"] = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "textcnn", *train_arguments(name, out / sync, batch_size, lr), "--set", f"train.grad_sync={sync}",
        ]  # fmt: skip
    return runs


def cpu_seconds() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def epoch_seconds(command: list[str], environment: dict[str, str]) -> tuple[float, float, float]:
    """(epoch training seconds, dev accuracy %, CPU seconds of the whole run, all its processes) of ``command``."""
    before = cpu_seconds()
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    cpu = cpu_seconds() - before
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {shlex.join(command)}\n{result.stderr[-3000:]}")
    match = EPOCH_LINE.search(result.stderr)
    if match is None:
        sys.exit(f"no epoch line in the log of {shlex.join(command)}\n{result.stderr[-3000:]}")
    return float(match["seconds"]), float(match["acc"]), cpu


def sweep(name: str, folder: Path, batch_size: int, args: argparse.Namespace, environment: dict[str, str]) -> dict[str, float]:
    """The alternating runs of one global batch size; the median epoch seconds of each run."""
    runs = commands(name, folder, batch_size, args.nproc, args.grad_sync, args.lr)
    times: dict[str, list[float]] = {label: [] for label in runs}
    accuracy: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(args.repeats):
        for label, command in runs.items():
            seconds, acc, cpu = epoch_seconds(command, environment)
            times[label].append(seconds)
            accuracy[label].append(acc)
            print(f"batch {batch_size:>4} {label:>22}: epoch {seconds:6.1f}s  dev accuracy {acc:.2f}  CPU {cpu:.0f}s (whole run, all processes)", flush=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, values in times.items():
        shown = ", ".join(f"{value:.1f}" for value in values)
        print(f"batch {batch_size:>4} {label:>22}: median {medians[label]:.1f}s ({shown}); dev accuracy {', '.join(f'{a:.2f}' for a in accuracy[label])}")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="thucnews", help="data set under the data folder (default thucnews)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32], help="the global batch of both; several: one sweep each (default 32)")
    parser.add_argument("--lr", type=float, help="the peak learning rate of every run (default: textcnn's)")
    parser.add_argument("--grad-sync", nargs="+", default=["float32"], choices=["float32", "bfloat16"], help="train.grad_sync of the torchrun runs")
    args = parser.parse_args()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    src = Path(__file__).resolve().parents[1] / "src"
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), environment.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="textcnn-distributed-") as folder:
        environment.setdefault("TEXTCNN_CACHE_DIR", str(Path(folder) / "cache"))
        first = commands(args.set, Path(folder), args.batch_size[0], args.nproc, [], args.lr)["1 process"]
        subprocess.run(first, capture_output=True, env=environment, check=True)  # fills the cache
        load_before = os.getloadavg()
        started = time.monotonic()
        medians = {size: sweep(args.set, Path(folder), size, args, environment) for size in args.batch_size}
        load_after = os.getloadavg()
    print(f"\n{args.set}, one thread per process, {args.repeats} repeats in {time.monotonic() - started:.0f}s")
    print(f"load average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")  # fmt: skip
    for size, times in medians.items():
        for label in list(times)[1:]:
            print(f"global batch {size}: {label} {times[label]:.1f}s / 1 process {times['1 process']:.1f}s = {times[label] / times['1 process']:.2f}x the epoch time")
    print("\nreproduce (OMP_NUM_THREADS=1, PYTHONPATH=src):")
    for label, command in commands(args.set, Path("/tmp/out"), args.batch_size[0], args.nproc, args.grad_sync, args.lr).items():
        print(f"  {label}: nice -n 10 {shlex.join(['python', *command[1:]])}")


if __name__ == "__main__":
    main()
