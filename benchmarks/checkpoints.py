"""What checkpoints cost: training time per epoch without a checkpoint folder, with a checkpoint at each
epoch's end, and with one every N steps too; the time of each write and the size of one checkpoint.

Default settings on a set's train and dev files, ``--epochs`` epochs (patience as long), no refit and
no n-gram model (neither is what is measured). Each mode trains the same seeded run; the writes are
timed where they happen (``Slot.write``: serialise, write, fsync, rename).

    python benchmarks/checkpoints.py --set thucnews --epochs 2 --every 1000 500 --threads 1

On a machine shared with other jobs the time per epoch moves by more than what the writes cost: the
"write s / fit s" column (the writes timed where they happen) is the cost, and the CPU seconds of the
process per epoch (dev evaluation and writes included; waits for the disk not) move less with the
load than wall time; run again with ``--reverse`` to see the load drift apart from the modes.
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _data import split_path
from textcnn import TextClassifier
from textcnn.config import build_config
from textcnn.data.sources import read_labelled_files
from textcnn.training import checkpoint_files
from textcnn.training.resume import Checkpoints

WRITES: list[tuple[float, int]] = []  # (seconds, bytes) of every checkpoint write


def _timed_write(original):
    def write(self, tensors, state):
        started = time.perf_counter()
        entry = original(self, tensors, state)
        seconds = time.perf_counter() - started
        WRITES.append((seconds, sum(path.stat().st_size for path in entry.iterdir())))
        return entry

    return write


def _train(config, files, folder: Path | None) -> tuple[float, list[float], float]:
    """(fit seconds, per-epoch training seconds, CPU seconds of the process) of one run; checkpoints in
    ``folder`` (None: none)."""
    checkpoints = Checkpoints(folder) if folder is not None else None
    dev = (files.dev.texts, files.dev.labels)
    cpu = time.process_time()
    classifier = TextClassifier(config).fit_tokenized(
        files.train.texts, files.train.labels, dev, kind=files.train.tokenizer, checkpoints=checkpoints
    )
    fit = classifier.fit_result
    return fit.seconds, [record.seconds for record in fit.history], time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="thucnews")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--every", type=int, nargs="*", default=[1000], help="checkpoint_every_steps values to time")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reverse", action="store_true", help="time the modes in the reverse order (last first)")
    args = parser.parse_args()
    settings = {
        "train.epochs": args.epochs, "train.patience": args.epochs, "train.refit": "never", "nb.ngrams": 0,
        "train.threads": args.threads, "train.device": "cpu",
    }  # fmt: skip
    files = read_labelled_files(build_config(None, settings), split_path(args.set, "train"), dev_path=split_path(args.set, "dev"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"{args.set}: {len(files.train.texts):,} train texts, {args.epochs} epochs, {args.threads} thread(s), commit {commit}")
    checkpoint_files.Slot.write = _timed_write(checkpoint_files.Slot.write)
    modes = [("no checkpoints", None)] + [("epoch ends", "epoch")] + [(f"every {n} steps", n) for n in args.every]
    modes = modes[::-1] if args.reverse else modes
    print("| checkpoints | s/epoch (training) | fit s | CPU s/epoch | writes | s per write | write s / fit s | checkpoint MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, mode in modes:
        WRITES.clear()
        folder = Path(tempfile.mkdtemp(prefix="textcnn-ckpt-")) / "checkpoint" if mode is not None else None
        every = mode if isinstance(mode, int) else None
        config = build_config(None, {**settings, "train.checkpoint_every_steps": every})
        seconds, epochs, cpu = _train(config, files, folder)
        written = sum(write for write, _ in WRITES)
        size = max((size for _, size in WRITES), default=0)
        per_write = written / len(WRITES) if WRITES else 0.0
        print(
            f"| {name} | {sum(epochs) / len(epochs):.1f} | {seconds:.1f} | {cpu / len(epochs):.1f} | {len(WRITES)} | {per_write:.3f} | "
            f"{100 * written / seconds:.2f}% | {size / 1e6:.1f} |",
            flush=True,
        )
        if folder is not None:
            shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
