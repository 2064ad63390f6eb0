"""`textcnn train --stream` on a file under a memory cap that reading it whole does not fit in.

The cap is RLIMIT_DATA (the heap and private writable mappings): RLIMIT_AS would count the memory-mapped
token ids and the address space torch reserves, which are not memory in use. It is set at the peak
resident size of training on a tiny file (torch, the model, the interpreter) plus ``HEADROOM``, less
than the file's texts and token ids take in memory.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

HEADROOM = 48 * 2**20
CONFIG = (
    "model: {num_filters: 2, embed_dim: 8, kernel_sizes: [2]}\ntokenizer: {max_len: 8}\n"
    "train: {epochs: 1, refit: never, batch_size: 64, device: cpu}\nnb: {ngrams: 0}\n"
)


def _write(path: Path, rows: int, words: int) -> int:
    """Long texts of ``words`` random words (the first gives the label away); the number of tokens written."""
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(20_000)]
    with open(path, "w", encoding="utf-8") as out:
        out.write("text,label\n")
        for _ in range(rows):
            label = rng.choice("ab")
            out.write(("good " if label == "a" else "bad ") + " ".join(rng.choices(vocab, k=words)) + f",{label}\n")
    return rows * (words + 1)


def _train(tmp_path: Path, data: Path, mode: str, cap: int | None) -> tuple[subprocess.CompletedProcess, int]:
    """Run `textcnn train` in a child under ``cap`` bytes of RLIMIT_DATA: its result and peak RSS in bytes."""
    config = tmp_path / "small.yaml"
    config.write_text(CONFIG, encoding="utf-8")

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEXTCNN_CACHE_DIR": str(tmp_path / f"cache-{mode}-{data.stem}")}
    command = [sys.executable, "-m", "textcnn", "train", str(data), "--out", str(tmp_path / f"out-{mode}-{data.stem}"),
               "--config", str(config), f"--{mode}", "-q"]  # fmt: skip
    code = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[2:], preexec_fn=None if sys.argv[1] == 'none' else "
        "lambda: resource.setrlimit(resource.RLIMIT_DATA, (int(sys.argv[1]),) * 2), capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr[-2000:]); print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(cap) if cap else "none", *command], env=env, capture_output=True, text=True)
    returncode, peak = done.stdout.split()
    return subprocess.CompletedProcess(command, int(returncode), "", done.stderr), int(peak) * 1024


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA caps mmap'd memory on Linux only")
def test_streaming_trains_under_a_memory_cap_the_file_does_not_fit_in(tmp_path):
    tiny, big = tmp_path / "tiny.csv", tmp_path / "big.csv"
    _write(tiny, 500, 20)
    tokens = _write(big, 20_000, 300)
    in_memory_bytes = big.stat().st_size + 4 * tokens  # its texts as read, and their int32 token ids
    done, baseline = _train(tmp_path, tiny, "stream", None)
    assert done.returncode == 0, done.stderr
    cap = baseline + HEADROOM
    assert HEADROOM < in_memory_bytes  # the cap leaves less room than holding the file takes

    streamed, _ = _train(tmp_path, big, "stream", cap)
    whole, _ = _train(tmp_path, big, "no-stream", cap)

    assert streamed.returncode == 0, streamed.stderr
    assert whole.returncode != 0 and "MemoryError" in whole.stderr  # the cap is real: the file read whole does not fit
    assert (tmp_path / "out-stream-big" / "model.safetensors").exists()
