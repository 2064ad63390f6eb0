"""A `textcnn train` killed with SIGKILL (or stopped by SIGTERM) and run again with --resume saves the
same model.safetensors, byte for byte, as a run that was never stopped.

Each case starts a real training subprocess (CPU, one thread), watches its checkpoint folder, and
kills it at a chosen point: inside an epoch, in the middle of a checkpoint write, during the refit,
during the second member of an ensemble.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import english_corpus, write_dataset

FLAGS = [
    "--epochs", "5", "--patience", "5", "--kernel-sizes", "2,3", "--batch-size", "8", "--lr", "0.03",
    "--embed-dim", "16", "--num-filters", "8", "--device", "cpu", "--threads", "1", "--no-cache",
    "--ensemble", "2", "--checkpoint-every-steps", "3",
]  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
PAUSE = "TEXTCNN_TEST_CHECKPOINT_PAUSE"


def command(train: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "textcnn", "train", str(train), "--out", str(out), *FLAGS, *extra]


def run(train: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in ENV.items() if key != PAUSE}
    result = subprocess.run(command(train, out, *extra), capture_output=True, text=True, encoding="utf-8", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def start(train: Path, out: Path, *extra: str, env: dict[str, str] = ENV) -> subprocess.Popen:
    """The training subprocess, its stderr in a file beside ``out`` (a pipe could fill up and block it)."""
    log = open(out.parent / f"{out.name}-{time.monotonic_ns()}.log", "w+", encoding="utf-8")
    process = subprocess.Popen(command(train, out, *extra), stdout=subprocess.DEVNULL, stderr=log, text=True, env=env)
    process.log = log  # type: ignore[attr-defined]
    return process


def stderr_of(process: subprocess.Popen) -> str:
    """What the process wrote on stderr, once it has ended."""
    process.wait(timeout=30)
    process.log.seek(0)  # type: ignore[attr-defined]
    text = process.log.read()  # type: ignore[attr-defined]
    process.log.close()  # type: ignore[attr-defined]
    return text


def newest_state(out: Path, stage: str) -> dict | None:
    """The state.json of the newest checkpoint entry of ``stage``, or None (none yet, or removed under us)."""
    slot = out / "checkpoint" / stage
    try:
        entries = sorted(path for path in slot.iterdir() if path.name.isdigit())
        return json.loads((entries[-1] / "state.json").read_text(encoding="utf-8")) if entries else None
    except (OSError, ValueError):
        return None


def stop_when(process: subprocess.Popen, ready: Callable[[], bool], signum: int = signal.SIGKILL) -> None:
    """Send ``signum`` to the training process as soon as ``ready()`` holds (polled every few ms)."""
    deadline = time.monotonic() + 90
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            process.send_signal(signum)
            return
        time.sleep(0.002)
    process.kill()
    pytest.fail(f"the run ended before the stop point (exit {process.returncode}): {stderr_of(process)[-2000:]}")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    texts, labels = english_corpus()
    return write_dataset(tmp_path_factory.mktemp("kill") / "train.csv", texts, labels)


@pytest.fixture(scope="module")
def reference(data: Path, tmp_path_factory) -> bytes:
    """model.safetensors of the run that nobody stopped."""
    out = tmp_path_factory.mktemp("reference") / "model"
    run(data, out)
    assert not (out / "checkpoint").exists()
    return (out / "model.safetensors").read_bytes()


def mid_epoch(out: Path) -> bool:
    state = newest_state(out, "member-0-selection")
    return state is not None and state["kind"] == "position" and state["position"]["step"] > 0 and state["position"]["epoch"] >= 2


def mid_write(out: Path) -> bool:
    return any((out / "checkpoint").glob("member-0-selection/.tmp-*/state.json"))


def in_refit(out: Path) -> bool:
    state = newest_state(out, "member-0-refit")
    return state is not None and state["kind"] == "position"


def in_second_member(out: Path) -> bool:
    state = newest_state(out, "member-1-selection")
    return state is not None and state["kind"] == "position" and state["position"]["steps"] >= 6


KILL_POINTS = {"mid-epoch": mid_epoch, "checkpoint-write": mid_write, "refit": in_refit, "second-member": in_second_member}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_and_resumed_saves_the_same_model(point: str, data: Path, reference: bytes, tmp_path: Path):
    out = tmp_path / "model"
    env = {**ENV, PAUSE: "0.4"} if point == "checkpoint-write" else {k: v for k, v in ENV.items() if k != PAUSE}
    process = start(data, out, env=env)
    stop_when(process, lambda: KILL_POINTS[point](out))
    stderr_of(process)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "model.safetensors").exists()
    if point == "checkpoint-write":
        assert list((out / "checkpoint").glob("member-0-selection/.tmp-*")), "the kill came after the write"

    resumed = run(data, out, "--resume")

    assert "resuming the run" in resumed.stderr
    assert (out / "model.safetensors").read_bytes() == reference
    assert not (out / "checkpoint").exists()


def test_sigterm_writes_a_checkpoint_says_how_to_resume_and_a_second_kill_costs_nothing(
    data: Path, reference: bytes, tmp_path: Path
):
    out = tmp_path / "model"
    process = start(data, out)
    stop_when(process, lambda: mid_epoch(out), signal.SIGTERM)
    stderr = stderr_of(process)

    assert process.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("stopped by SIGTERM") and str(out / "checkpoint") in last and last.endswith("--resume"), last
    again = start(data, out, "--resume")
    stop_when(again, lambda: in_refit(out))
    stderr_of(again)
    run(data, out, "--resume")
    assert (out / "model.safetensors").read_bytes() == reference
