"""``textcnn serve`` under faults, as a real process on 127.0.0.1, for a few seconds at once:

- a client sends correct requests the whole time (/predict, KServe, /explain, /ready), and bursts
  of concurrent correct and bad requests come every half second;
- other clients send malformed JSON, wrong types, bodies and texts over the limits, bodies that are
  not UTF-8, broken HTTP, and bodies cut off by the client;
- slowloris-style clients send a request a byte at a time, then finish it or hang up;
- the bundle's files on disk are overwritten with another bundle's, with garbage, or removed.

The server read the bundle once, at start: it keeps serving that model. Every correct request must
get the answer of the classifier itself, every bad one its 4xx (a 503 only with Retry-After), and
nothing a 5xx: neither on the wire, nor in the server's metrics, nor as a traceback in its log.
Every wait is bounded and the storm stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from textcnn import TextClassifier  # noqa: E402
from textcnn.inference.explain import explain_texts  # noqa: E402

from conftest import TINY_SETTINGS, chinese_corpus  # noqa: E402
from test_serve import cli_rows, metric_samples  # noqa: E402
from test_serve_cli import _ENV, _free_port, _wait_ready  # noqa: E402

STORM_S = 5.0  # how long the faults go on
LIMITS = {"max-texts": 8, "max-chars": 2000, "max-body-bytes": 65536, "max-in-flight": 64}
NAME = "faulty"
GOOD_TEXTS = [
    "the film was great", "this book was awful", "our hotel was lovely 👍🏽", "the meal was dreadful\x00",
    "THE FILM WAS SUPERB", "שלום the meal was horrible", "这家酒店很好", "cafe\u0301 👩\u200d👩\u200d👧 superb",
    "", "x" * 2000, "the\u202eboring\u202c film",
]  # fmt: skip

BAD_BODIES: list[tuple[str, str, bytes, int]] = [  # (what, path, body, status)
    ("not JSON", "/predict", b"texts=hello", 400),
    ("broken JSON", "/predict", b'{"texts": ["a"', 400),
    ("empty body", "/predict", b"", 400),
    ("not UTF-8", "/predict", b'{"texts": ["caf\xe9"]}', 400),
    ("a lone surrogate escape", "/predict", b'{"texts": ["\\ud800 x"]}', 400),
    ("JSON nested 20,000 deep", "/predict", b'{"texts": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400),
    ("an integer of 5,000 digits", "/predict", b'{"texts": [' + b"7" * 5_000 + b"]}", 400),
    ("texts not a list", "/predict", b'{"texts": "the film was great"}', 422),
    ("a text not a string", "/predict", b'{"texts": ["ok", 3, null]}', 422),
    ("no texts", "/predict", b'{"texts": []}', 422),
    ("null", "/predict", b"null", 422),
    ("a misspelt field", "/predict", b'{"texts": ["a"], "topk": 2}', 422),
    ("top_k a string", "/predict", b'{"texts": ["a"], "top_k": "two"}', 422),
    ("top_k 0", "/predict", b'{"texts": ["a"], "top_k": 0}', 422),
    ("too many texts", "/predict", json.dumps({"texts": ["a"] * 9}).encode(), 413),
    ("a text too long", "/predict", json.dumps({"texts": ["x" * 2001]}).encode(), 413),
    ("a body too large", "/predict", json.dumps({"texts": ["x" * 1000] * 70}).encode(), 413),
    ("too many texts to explain", "/explain", json.dumps({"texts": ["a"] * 17}).encode(), 413),
    ("an unknown target", "/explain", b'{"texts": ["a"], "target": "neutral"}', 422),
    ("KServe: no instances", f"/v1/models/{NAME}:predict", b'{"instances": []}', 422),
    ("KServe: another model", "/v1/models/other:predict", b'{"instances": ["a"]}', 404),
    ("no such path", "/predictions", b'{"texts": ["a"]}', 404),
]
REQUEST_HEAD = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
CHUNK = b"2000\r\n" + b" " * 0x2000 + b"\r\n"  # 8 KiB of a chunked body
RAW_REQUESTS: list[tuple[str, bytes, int]] = [  # (what, bytes sent, status): HTTP that httpx would not send
    ("not HTTP", b"HELLO\r\n\r\n", 400),
    ("a Content-Length that is not a number", (REQUEST_HEAD + "Content-Length: abc\r\n\r\n").encode(), 400),
    ("a declared body over the limit", (REQUEST_HEAD + "Content-Length: 10000000\r\n\r\n").encode() + b"{" * 1000, 413),
    ("a chunked body over the limit", (REQUEST_HEAD + "Transfer-Encoding: chunked\r\n\r\n").encode() + CHUNK * 9, 413),
]
CUT_SHORT = (REQUEST_HEAD + "Content-Length: 40\r\n\r\n").encode() + b'{"texts": ["th'  # then the client hangs up


def _close(got: Any, want: Any, tolerance: float = 1e-5) -> bool:
    """``got == want``, floats to within ``tolerance`` (a micro-batch may sum in another order)."""
    if isinstance(want, float) and isinstance(got, (int, float)):
        return abs(got - want) <= tolerance
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(_close(got[k], want[k], tolerance) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(_close(g, w, tolerance) for g, w in zip(got, want))
    return got == want


class Storm:
    """The clients' shared clock and the log of every answer: (client, what, status, correct)."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url, self.port = url, int(url.rsplit(":", 1)[1])
        self.deadline = time.monotonic() + seconds
        self.answers: list[tuple[str, str, int, bool]] = []
        self.failures: list[str] = []  # exceptions in a client, which fail the test

    def going(self) -> bool:
        return time.monotonic() < self.deadline

    def note(self, client: str, what: str, status: int, correct: bool) -> None:
        self.answers.append((client, what, status, correct))

    def run(self, client: Callable[..., None], *args: Any) -> threading.Thread:
        def guarded() -> None:
            try:
                client(self, *args)
            except Exception as error:  # noqa: BLE001 - reported by the test
                self.failures.append(f"{client.__name__}: {type(error).__name__}: {error}")

        thread = threading.Thread(target=guarded, name=client.__name__, daemon=True)
        thread.start()
        return thread


def _raw(port: int, data: bytes, *, pace_s: float = 0.0, hang_up_after: int | None = None) -> tuple[int, dict[str, str], bytes] | None:
    """Send ``data`` on a socket (a byte each ``pace_s``; stop and hang up after ``hang_up_after`` bytes), read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if pace_s:
            for i in range(len(data) if hang_up_after is None else hang_up_after):
                sock.sendall(data[i : i + 1])
                time.sleep(pace_s)
        else:
            sock.sendall(data[:hang_up_after])
        if hang_up_after is not None:
            return None
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _content_length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _content_length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


class Answers:
    """The correct requests of the storm and the classifier's own answers to them."""

    def __init__(self, classifier: TextClassifier) -> None:
        rng = random.Random(13)
        self.requests = [rng.sample(GOOD_TEXTS, rng.randint(1, 4)) for _ in range(12)]
        self.predict = [(texts, top_k, {"predictions": cli_rows(classifier, texts, top_k)}) for texts in self.requests for top_k in (1, 2)]
        self.kserve = [{"predictions": cli_rows(classifier, texts)} for texts in self.requests]
        self.explained = {text: explain_texts(classifier.predictor, [text], top=3) for text in GOOD_TEXTS[:4]}
        body = json.dumps({"texts": GOOD_TEXTS[:1]}).encode()
        self.slow_body_bytes = len(body)
        self.slow_request = (REQUEST_HEAD + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.slow_answer = {"predictions": cli_rows(classifier, GOOD_TEXTS[:1])}


def _ask_correctly(client: httpx.Client, storm: Storm, answers: Answers, i: int) -> None:
    """The ``i``-th correct request: /predict mostly, KServe each third, /explain each seventh."""
    if i % 7 == 6:
        text = GOOD_TEXTS[i % 4]
        got = client.post("/explain", json={"texts": [text], "top": 3})
        storm.note("correct", "/explain", got.status_code, got.status_code == 200 and _close(got.json(), answers.explained[text], 1e-4))
    elif i % 3 == 2:
        texts, want = answers.requests[i % len(answers.requests)], answers.kserve[i % len(answers.requests)]
        got = client.post(f"/v1/models/{NAME}:predict", json={"instances": texts})
        storm.note("correct", "kserve", got.status_code, got.status_code == 200 and _close(got.json(), want))
    else:
        texts, top_k, want = answers.predict[i % len(answers.predict)]
        got = client.post("/predict", json={"texts": texts, "top_k": top_k})
        storm.note("correct", "/predict", got.status_code, got.status_code == 200 and _close(got.json(), want))


def steady(storm: Storm, answers: Answers) -> None:
    """Correct requests one after the other, and /ready now and then, the whole time."""
    with httpx.Client(base_url=storm.url, timeout=20) as client:
        i = 0
        while storm.going():
            _ask_correctly(client, storm, answers, i)
            if i % 10 == 0:
                ready = client.get("/ready")
                storm.note("correct", "/ready", ready.status_code, ready.status_code == 200)
            i += 1


def bad(storm: Storm, answers: Answers) -> None:
    """Each bad body in turn, and a GET of /predict, on one connection."""
    with httpx.Client(base_url=storm.url, timeout=20) as client:
        i = 0
        while storm.going():
            what, path, body, status = BAD_BODIES[i % len(BAD_BODIES)]
            got = client.post(path, content=body, headers={"content-type": "application/json"})
            storm.note("bad", what, got.status_code, _refused_as(got.status_code, got.headers, status) and "detail" in got.json())
            wrong_method = client.get("/predict")
            storm.note("bad", "GET /predict", wrong_method.status_code, wrong_method.status_code == 405)
            i += 1


def raw(storm: Storm, answers: Answers) -> None:
    """Broken HTTP and bodies over the limit on raw sockets, each followed by a body cut short."""
    i = 0
    while storm.going():
        what, data, status = RAW_REQUESTS[i % len(RAW_REQUESTS)]
        got, headers, _ = _raw(storm.port, data)
        storm.note("raw", what, got, _refused_as(got, headers, status))
        _raw(storm.port, CUT_SHORT, hang_up_after=len(CUT_SHORT))
        i += 1


def slowloris(storm: Storm, answers: Answers) -> None:
    """A correct request a byte each 12 ms (about 2 s); or hang up half-way through its headers or body."""
    request = answers.slow_request
    i = 0
    while storm.going():
        if i % 3 == 0:
            status, _, body = _raw(storm.port, request, pace_s=0.012)
            storm.note("slowloris", "a slow correct request", status, status == 200 and _close(json.loads(body), answers.slow_answer))
        else:
            cut = answers.slow_body_bytes // 2 if i % 3 == 1 else answers.slow_body_bytes + 30
            _raw(storm.port, request, pace_s=0.01, hang_up_after=len(request) - cut)
        i += 1


async def _burst(client: httpx.AsyncClient, storm: Storm, answers: Answers, round_: int) -> None:
    """16 correct requests and a third of the bad bodies, all at once."""
    picks = [answers.predict[(round_ * 16 + j) % len(answers.predict)] for j in range(16)]
    bad_bodies = BAD_BODIES[round_ % 3 :: 3]
    calls = [client.post("/predict", json={"texts": texts, "top_k": top_k}) for texts, top_k, _ in picks]
    calls += [client.post(path, content=body) for _, path, body, _ in bad_bodies]
    got = await asyncio.gather(*calls)
    for (_, _, want), answer in zip(picks, got):
        storm.note("correct", "burst /predict", answer.status_code, answer.status_code == 200 and _close(answer.json(), want))
    for (what, _, _, status), answer in zip(bad_bodies, got[len(picks) :]):
        storm.note("bad", f"burst: {what}", answer.status_code, _refused_as(answer.status_code, answer.headers, status))


def bursts(storm: Storm, answers: Answers) -> None:
    """A burst of concurrent requests each half second."""

    async def all_bursts() -> None:
        async with httpx.AsyncClient(base_url=storm.url, timeout=20, limits=httpx.Limits(max_connections=64)) as client:
            round_ = 0
            while storm.going():
                await _burst(client, storm, answers, round_)
                round_ += 1
                await asyncio.sleep(0.5)

    asyncio.run(all_bursts())


CLIENTS = [steady, bad, raw, slowloris, slowloris, slowloris, bursts]


def _refused_as(status: int, headers: Any, wanted: int) -> bool:
    """The wanted 4xx, or a 503 that says when to retry."""
    return status == wanted or (status == 503 and "retry-after" in headers)


def _tamper(directory: Path, other: Path, storm: Storm) -> list[str]:
    """Overwrite, corrupt and remove the served bundle's files until the storm ends; what was done."""
    original = {path.name: path.read_bytes() for path in directory.iterdir()}
    faults: list[tuple[str, Callable[[], None]]] = [
        ("another bundle's weights", lambda: shutil.copyfile(other / "model.safetensors", directory / "model.safetensors")),
        ("garbage weights", lambda: (directory / "model.safetensors").write_bytes(b"\x00garbage" * 100)),
        ("empty weights", lambda: (directory / "model.safetensors").write_bytes(b"")),
        ("another bundle's vocabulary and labels", lambda: [shutil.copyfile(other / name, directory / name) for name in ("vocab.json", "labels.json")]),
        ("a config that is not JSON", lambda: (directory / "config.json").write_text("{not json")),
        ("no weights", lambda: (directory / "model.safetensors").unlink(missing_ok=True)),
        ("the n-gram model removed", lambda: (directory / "naive_bayes.safetensors").unlink(missing_ok=True)),
    ]
    done: list[str] = []
    while storm.going():
        what, fault = faults[len(done) % len(faults)]
        fault()
        done.append(what)
        time.sleep(0.25)
    for name, content in original.items():
        (directory / name).write_bytes(content)
    return done


@pytest.fixture(scope="module")
def other_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of another model (Chinese characters: other vocabulary, other shapes)."""
    texts, labels = chinese_corpus()
    return TextClassifier(**TINY_SETTINGS).fit(texts, labels, dev=(texts, labels)).save(tmp_path_factory.mktemp("other") / "zh")


def test_the_server_answers_correct_requests_correctly_and_never_a_5xx_through_a_storm_of_faults(tiny_bundle, other_bundle, tmp_path):
    directory = shutil.copytree(tiny_bundle, tmp_path / NAME)
    classifier = TextClassifier.load(directory)
    answers = Answers(classifier)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    flags = [item for name, value in LIMITS.items() for item in (f"--{name}", str(value))]
    command = [sys.executable, "-m", "textcnn", "serve", str(directory), "--port", str(port), *flags]
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log_file:  # a file, not a pipe: the log of a storm could fill a pipe and stall the server
        process = subprocess.Popen(command, env=_ENV, stdout=log_file, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_ready(process, url)
        storm = Storm(url, STORM_S)
        threads = [storm.run(client, answers) for client in CLIENTS]
        tampered = _tamper(directory, other_bundle, storm)
        for thread in threads:
            thread.join(timeout=30)
        after = httpx.post(f"{url}/predict", json={"texts": GOOD_TEXTS[:2]}, timeout=10)
        samples = metric_samples(httpx.get(f"{url}/metrics", timeout=10).text)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    log = log_path.read_text()

    assert not storm.failures, storm.failures
    assert not any(thread.is_alive() for thread in threads), "a client did not stop"
    wrong = [answer for answer in storm.answers if not answer[3]]
    assert not wrong, wrong[:10]
    assert not [answer for answer in storm.answers if answer[2] >= 500 and answer[2] != 503]
    by_client = {client: sum(1 for answer in storm.answers if answer[0] == client) for client in ("correct", "bad", "raw", "slowloris")}
    assert by_client["correct"] >= 50 and by_client["slowloris"] >= 3, by_client  # the storm did happen
    assert {what for _, what, _, _ in storm.answers} >= {what for what, *_ in BAD_BODIES} | {what for what, *_ in RAW_REQUESTS}
    assert len(set(tampered)) >= 5, tampered
    assert after.status_code == 200 and _close(after.json(), {"predictions": cli_rows(classifier, GOOD_TEXTS[:2])})
    statuses = {dict(labels)["status"] for (name, labels), value in samples.items() if name == "textcnn_requests_total" and value}
    assert not {status for status in statuses if status.startswith("5") and status != "503"}, statuses
    assert "499" in statuses  # the clients that hung up mid-body, counted as such
    assert process.returncode == 0, log
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]
