"""A streamed training run's peak memory does not grow with the number of rows of its file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import random, resource, sys
from pathlib import Path
from textcnn.config import build_config
from textcnn.data import stream_order
from textcnn.workflows import train_on_files

rows, folder = int(sys.argv[1]), Path(sys.argv[2])
stream_order.WINDOW_ROWS, stream_order.BLOCK_ROWS = 1 << 14, 1 << 9  # both files span many windows
rng, words = random.Random(rows), [f"w{i}" for i in range(500)]
with open(folder / "train.csv", "w") as out:
    out.write("text,label\n")
    for _ in range(rows):
        label = rng.randrange(4)
        out.write(" ".join(rng.choices(words, k=rng.randint(4, 10))) + f" m{label},c{label}\n")
(folder / "dev.csv").write_text("text,label\n" + "".join(f"w1 w2 m{i % 4},c{i % 4}\n" for i in range(200)))
settings = {
    "data.stream": True, "embed_dim": 8, "num_filters": 2, "kernel_sizes": [2], "batch_size": 128, "epochs": 1,
    "patience": 1, "refit": "never", "device": "cpu", "nb.ngrams": 0, "threads": 1,
}
train_on_files(build_config(None, settings), folder / "train.csv", dev_path=folder / "dev.csv")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB
"""


def _peak_kib(rows: int, folder: Path) -> int:
    folder.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEXTCNN_CACHE_DIR": str(folder / "cache")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(folder)], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def test_four_times_the_rows_take_no_more_memory_per_row_than_a_few_bytes(tmp_path):
    small, large = _peak_kib(50_000, tmp_path / "small"), _peak_kib(200_000, tmp_path / "large")

    per_row = (large - small) * 1024 / 150_000
    assert per_row < 16  # holding offsets, lengths and labels of every row took ~90 bytes a row
