"""`textcnn train` under torchrun (2 processes, gloo, CPU, one thread each) trains the model one process
trains with the same global batch, saves one bundle, and resumes after a rank is killed.

Each case starts real torchrun subprocesses on a small generated data set. Without dropout a
distributed run computes the single-process gradients up to rounding, so its weights stay within
rounding of the single-process ones; a run whose ranks' weights drifted apart fails (the fit
checks that every rank holds the same weights).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import write_dataset
from test_resume_kill import newest_state

MODEL_FLAGS = [
    "--epochs", "4", "--patience", "4", "--kernel-sizes", "2,3", "--batch-size", "15", "--lr", "0.01",
    "--embed-dim", "16", "--num-filters", "8", "--device", "cpu", "--threads", "1",
]  # fmt: skip
FLAGS = [*MODEL_FLAGS, "--nb-ngrams", "0"]  # the network alone
NO_DROPOUT = ["--dropout", "0", "--set", "model.embed_dropout=0", "--set", "model.token_dropout=0"]
KILL_FLAGS = ["--checkpoint-every-steps", "3", "--set", "train.refit=always", "--no-cache"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}


def torchrun(*arguments: str, restarts: int = 0) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "--max-restarts", str(restarts), "--monitor-interval", "0.1", "-m", "textcnn", "train", *arguments,
    ]  # fmt: skip


def run(command: list[str], expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=ENV, timeout=180)
    assert result.returncode == expect, result.stderr[-4000:]
    return result


def corpus(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Texts of random filler words with a class keyword in most of them (so accuracy is well below 100%)."""
    filler = [f"w{index}" for index in range(200)]
    keywords = {"pos": ["good", "great"], "neg": ["bad", "awful"], "mid": ["okay", "meh"]}
    texts, labels = [], []
    for _ in range(count):
        label = rng.choice(sorted(keywords))
        words = rng.choices(filler, k=rng.randint(3, 14))
        if rng.random() < 0.8:
            words.insert(rng.randrange(len(words) + 1), rng.choice(keywords[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("distributed-data")
    rng = random.Random(5)
    sizes = {"train": 450, "dev": 150, "test": 150}
    return {split: write_dataset(folder / f"{split}.csv", *corpus(size, rng)) for split, size in sizes.items()}


def files(data: dict[str, Path], out: Path) -> list[str]:
    return [str(data["train"]), "--dev", str(data["dev"]), "--test", str(data["test"]), "--out", str(out)]


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def test_two_processes_train_the_model_one_process_trains(data: dict[str, Path], tmp_path: Path):
    single, double = tmp_path / "single", tmp_path / "double"
    run([sys.executable, "-m", "textcnn", "train", *files(data, single), *FLAGS, *NO_DROPOUT])

    result = run(torchrun(*files(data, double), *FLAGS, *NO_DROPOUT))

    assert result.stdout.count("saved model bundle to") == 1, result.stdout  # rank 0 saves, and prints
    assert sorted(path.name for path in double.iterdir()) == sorted(path.name for path in single.iterdir())
    run_info = metrics(double)["run"]
    assert (run_info["world_size"], run_info["backend"]) == (2, "gloo")
    assert (metrics(single)["run"]["world_size"], metrics(single)["run"]["backend"]) == (1, None)
    assert abs(metrics(double)["test"]["accuracy"] - metrics(single)["test"]["accuracy"]) <= 0.01
    ours, theirs = load_file(double / "model.safetensors"), load_file(single / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-4, err_msg=name)
    history = json.loads((double / "history.json").read_text(encoding="utf-8"))
    assert len(history) == len(json.loads((single / "history.json").read_text(encoding="utf-8")))


def test_nproc_launches_torchrun_and_passes_its_exit_status_through(data: dict[str, Path], tmp_path: Path):
    out = tmp_path / "model"
    with_everything = [*MODEL_FLAGS, "--ensemble", "2"]  # two members, each refit, and the n-gram model
    launched = run([sys.executable, "-m", "textcnn", "train", *files(data, out), *with_everything, "--nproc", "2"])
    assert launched.stdout.count("saved model bundle to") == 1
    written = metrics(out)
    assert written["run"]["world_size"] == 2
    assert written["ensemble"]["members"] == 2 and written["refit"]["epochs"] >= 1  # members, refits
    assert written["naive_bayes"]  # and the n-gram model beside them

    missing = [sys.executable, "-m", "textcnn", "train", str(tmp_path / "none.csv"), "--out", str(tmp_path / "x"), "--nproc", "2"]
    failed = run(missing, expect=1)
    assert "none.csv" in failed.stderr


# --- a rank killed mid-training ---------------------------------------------------------------


def mid_epoch(out: Path) -> bool:
    state = newest_state(out, "member-0-selection")
    return state is not None and state["kind"] == "position" and state["position"]["step"] > 0 and state["position"]["epoch"] >= 2


def worker_of_rank(launcher: int, rank: int) -> int | None:
    """The pid of the torchrun worker of ``rank`` (a child of the ``launcher`` process), or None yet."""
    try:
        children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            environment = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environment:
            return int(child)
    return None


def kill_rank_mid_epoch(process: subprocess.Popen, out: Path, rank: int = 1) -> None:
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if mid_epoch(out):
            pid = worker_of_rank(process.pid, rank)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.002)
    process.kill()
    pytest.fail(f"the run ended before the stop point (exit {process.returncode})")


@pytest.fixture(scope="module")
def reference(data: dict[str, Path], tmp_path_factory) -> bytes:
    """model.safetensors of the distributed run that nobody stopped."""
    out = tmp_path_factory.mktemp("reference") / "model"
    run(torchrun(*files(data, out), *FLAGS, *KILL_FLAGS))
    assert not (out / "checkpoint").exists()
    return (out / "model.safetensors").read_bytes()


@pytest.fixture
def start():
    """Starts torchrun in a process group of its own, which is killed when the test ends (a failed
    case leaves no workers behind)."""
    started: list[subprocess.Popen] = []

    def starting(command: list[str], log: Path) -> subprocess.Popen:
        handle = open(log, "w", encoding="utf-8")
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, text=True, env=ENV, start_new_session=True)
        started.append(process)
        return process

    yield starting
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)


def test_a_killed_rank_and_resume_save_the_model_of_an_uninterrupted_run(
    data: dict[str, Path], reference: bytes, tmp_path: Path, start
):
    out = tmp_path / "model"
    process = start(torchrun(*files(data, out), *FLAGS, *KILL_FLAGS), tmp_path / "killed.log")
    kill_rank_mid_epoch(process, out)
    assert process.wait(timeout=60) != 0
    assert not (out / "model.safetensors").exists()

    resumed = run(torchrun(*files(data, out), *FLAGS, *KILL_FLAGS, "--resume"))

    assert "resuming the run" in resumed.stderr
    assert (out / "model.safetensors").read_bytes() == reference
    assert not (out / "checkpoint").exists()


def test_torchrun_restarts_the_workers_and_they_continue_from_the_checkpoint(
    data: dict[str, Path], reference: bytes, tmp_path: Path, start
):
    out = tmp_path / "model"
    log = tmp_path / "restarted.log"
    process = start(torchrun(*files(data, out), *FLAGS, *KILL_FLAGS, restarts=1), log)
    kill_rank_mid_epoch(process, out)

    assert process.wait(timeout=120) == 0, log.read_text(encoding="utf-8")[-4000:]
    text = log.read_text(encoding="utf-8")
    assert "torchrun restarted the workers" in text and "resuming the run" in text
    assert (out / "model.safetensors").read_bytes() == reference
