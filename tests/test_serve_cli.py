"""``textcnn serve`` as a real process on 127.0.0.1: ready, predicts, and on SIGTERM answers the
request in flight and exits 0. Every wait is bounded, so the test cannot hang."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from test_serve import cli_rows, metric_samples  # noqa: E402

START_TIMEOUT_S = 60
_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate(timeout=5)
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server was not ready within {START_TIMEOUT_S} s")


def _wait_in_flight(url: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        samples = metric_samples(httpx.get(f"{url}/metrics", timeout=2).text)
        if samples.get(("textcnn_requests_in_flight", ())) == count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} request(s) never came to be in flight")


def test_serve_predicts_then_answers_in_flight_requests_on_sigterm_and_exits_0(tiny_bundle, tiny_classifier):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "textcnn", "serve", str(tiny_bundle), "--port", str(port)]
    process = subprocess.Popen(command, env=_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(process, url)
        texts = ["the film was great", "this book was awful"]
        answer = httpx.post(f"{url}/predict", json={"texts": texts}, timeout=10)
        assert answer.status_code == 200 and answer.json() == {"predictions": cli_rows(tiny_classifier, texts)}

        late: dict = {}
        release = threading.Event()

        def slow_body():  # the request is in flight, its body half sent, when SIGTERM comes
            yield b'{"texts": ["the film '
            release.wait(timeout=20)
            yield b'was great"]}'

        sender = threading.Thread(target=lambda: late.update(answer=httpx.post(f"{url}/predict", content=slow_body(), timeout=20)))
        sender.start()
        _wait_in_flight(url, 1)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        release.set()
        sender.join(timeout=20)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)

    assert late["answer"].status_code == 200, late
    assert late["answer"].json() == {"predictions": cli_rows(tiny_classifier, texts[:1])}
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_serve_of_a_missing_bundle_exits_1_with_one_error_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "textcnn", "serve", str(tmp_path / "nothing"), "--port", str(_free_port())],
        capture_output=True, text=True, env=_ENV, timeout=60,
    )  # fmt: skip

    assert result.returncode == 1 and result.stderr.startswith("error: ")
    assert "nothing is not a bundle directory" in result.stderr and "Traceback" not in result.stderr
