"""Peak memory and wall time of `textcnn train` streaming a file vs reading it whole.

    python benchmarks/stream_memory.py --rows 1000000            # a generated file of short texts
    python benchmarks/stream_memory.py --file ../shared/data/thucnews/train.csv --dev ../shared/data/thucnews/dev.csv

Each run is a fresh `textcnn train` subprocess (1 epoch, 2 filters per width, 16-dimensional embeddings, refit off) with its own
empty tokenization cache, so the streamed run includes building its memory-mapped entry; the peak
resident set size is the child's ``ru_maxrss`` (file pages of the memory-mapped ids count in it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIG = "model: {num_filters: 2, embed_dim: 16}\ntrain: {epochs: 1, refit: never}\n"


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of ``rows`` short texts (8-24 Zipf-distributed words of 50,000) in 4 classes, each with its marker words."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write("text,label\n")
        for start in range(0, rows, 100_000):
            count = min(100_000, rows - start)
            labels = rng.integers(0, 4, count)
            lengths = rng.integers(8, 25, count)
            words = np.minimum(rng.zipf(1.2, int(lengths.sum())), 50_000)
            cuts = np.cumsum(lengths)[:-1]
            lines = []
            for label, text in zip(labels, np.split(words, cuts)):
                text[: 2] = 50_001 + label * 10 + rng.integers(0, 10, 2)  # the words that give the class away
                lines.append(" ".join(f"w{w}" for w in text) + f",c{label}\n")
            out.write("".join(lines))


def run(train: Path, dev: Path | None, stream: bool, work: Path) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `textcnn train` subprocess."""
    config = work / "small.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    name = "stream" if stream else "memory"
    env = {**os.environ, "TEXTCNN_CACHE_DIR": str(work / f"cache-{name}"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "textcnn", "train", str(train), "--out", str(work / f"out-{name}"), "--config", str(config),
               "--stream" if stream else "--no-stream", "-q"] + (["--dev", str(dev)] if dev else [])  # fmt: skip
    started = time.perf_counter()
    code = f"import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    done = subprocess.run([sys.executable, "-c", code, *command], env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    print(done.stdout.strip().splitlines()[:-1])
    return int(done.stdout.strip().splitlines()[-1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--dev", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        train = args.file
        if train is None:
            train = work / "train.csv"
            generate(train, args.rows)
        print(f"{train}: {train.stat().st_size / 2**20:,.0f} MiB")
        for stream in (True, False):
            peak, seconds = run(train, args.dev, stream, work)
            print(f"{'streamed' if stream else 'in memory'}: peak RSS {peak:,.0f} MiB, {seconds:,.1f} s")


if __name__ == "__main__":
    main()
