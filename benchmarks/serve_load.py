"""Load test of `textcnn serve` on loopback: requests/s and p50/p99 latency per endpoint and load.

Starts the server in a child process on 127.0.0.1 (one server process; its model in a process of its
own, or with --model thread in one thread of the server) and drives it from
this process with an asyncio HTTP/1.1 keep-alive client (one connection per concurrent client, so
the client costs little next to the server). Cells: concurrency 1, 8, 32, 128 x 1 and 32 texts per
request, for
  constant   a FastAPI endpoint that answers a fixed body: the HTTP stack's own ceiling
  plain      one request, one forward: a sync FastAPI endpoint calling the model (threadpool)
  batched    POST /predict with micro-batching (--window-ms, default 2)
  unbatched  POST /predict with batching off (window 0: one request per model call)
  +bad       batched, with every --bad-every-th request a bad one (not JSON, not UTF-8, empty
             list, texts not a list, too many texts); those are counted apart, as `bad`
constant, plain and batched run on the same server (same settings); unbatched on a second one.
Every cell stops after --seconds or --requests, whichever comes first, and the whole run after
--budget-s. `failed` counts good requests not answered 200 and bad ones not answered 4xx. The
`cores` columns are the CPU each process used during the cell (CPU seconds per second, from
/proc): the server process, its model process, this client.

    textcnn train ../shared/data/mr/train.csv --dev ../shared/data/mr/dev.csv --out /tmp/mr-model
    python benchmarks/serve_load.py --bundle /tmp/mr-model --texts-file ../shared/data/mr/test.csv
    python benchmarks/serve_load.py --bundle DIR --seconds 0.5 --requests 100 --concurrency 1 8   # smoke
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import asyncio
import json
import os
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from textcnn.serve.schemas import PredictRequest  # at module level: FastAPI resolves the plain endpoint's annotation here
from textcnn.serve.settings import ServeSettings

MAX_BATCH = ServeSettings.model_fields["max_batch_texts"].default  # the server's own default

BAD_BODIES = [b"texts=hello", b'{"texts": ["caf\xe9"]}', b'{"texts": []}', b'{"texts": "a text"}', b'{"texts": ["x"' + b', "x"' * 400 + b"]}"]
WORDS = ("the film is a quiet and moving portrait of love loss and hope , but its plot drags and the jokes fall flat "
         "while the cast gives warm funny sharp performances in a story that never quite earns its ending").split()  # fmt: skip


# ---------------------------------------------------------------------------------------- server
def server_app(bundle: str, window_ms: float, threads: int, runtime: str = "torch", model_process: bool = True, max_batch: int = MAX_BATCH):
    """The textcnn app on ``bundle`` plus the two reference endpoints, under the same middleware."""
    from fastapi.responses import JSONResponse

    from textcnn.classifier import TextClassifier
    from textcnn.inference.rows import prediction_rows
    from textcnn.serve import create_app

    classifier = TextClassifier.load(bundle, threads=threads, runtime=runtime)
    settings = ServeSettings(
        batch_window_ms=window_ms, max_in_flight=1024, threads=threads, model_process=model_process, max_batch_texts=max_batch
    )
    app = create_app(classifier, settings, directory=bundle, runtime=runtime)
    constant = {"predictions": [{"text": "constant", "label": "positive", "probability": 0.5}]}

    @app.post("/ref/constant")
    async def reference_constant() -> JSONResponse:
        return JSONResponse(constant)

    @app.post("/ref/plain")
    def reference_plain(body: PredictRequest) -> JSONResponse:
        top = classifier.predict_top_k(body.texts, body.top_k)
        return JSONResponse({"predictions": prediction_rows(body.texts, top, None, body.top_k)})

    return app


def run_server(args: argparse.Namespace) -> None:
    import uvicorn

    app = server_app(args.bundle, args.window_ms, args.threads, args.runtime, args.model == "process", args.max_batch)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


def start_server(
    bundle: str, window_ms: float, threads: int, runtime: str = "torch", model: str = "process", max_batch: int = MAX_BATCH
) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, __file__, "--serve", "--bundle", bundle, "--port", str(port), "--window-ms", str(window_ms),
               "--threads", str(threads), "--runtime", runtime, "--model", model, "--max-batch", str(max_batch)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen(command, env=env), port


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# ---------------------------------------------------------------------------------------- client
class Connection:
    """One keep-alive HTTP/1.1 connection: POST a body, read status and body (Content-Length framing)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            await self.close()
        return int(status_line.split()[1])

    async def get(self, path: str) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode())
        status = int((await reader.readline()).split()[1])
        writer.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def wait_ready(port: int, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            if await Connection(port).get("/ready") == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"the server was not ready within {timeout_s} s")


@dataclass
class Cell:
    endpoint: str
    concurrency: int
    texts: int
    requests: int = 0
    seconds: float = 0.0
    bad: int = 0
    failed: int = 0
    cores: tuple[float, float, float] = (float("nan"),) * 3  # CPU used: server, its model process, this client
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def figures(self) -> dict:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        rps = self.requests / self.seconds if self.seconds else 0.0
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return {"endpoint": self.endpoint, "concurrency": self.concurrency, "texts": self.texts, "requests": self.requests,
                "rps": rps, "texts_per_s": rps * self.texts, "p50_ms": statistics.median(ordered), "p99_ms": p99,
                "bad": self.bad, "failed": self.failed, "server_cores": self.cores[0], "model_cores": self.cores[1],
                "client_cores": self.cores[2]}  # fmt: skip


async def drive(cell: Cell, port: int, path: str, pool: list[str], args: argparse.Namespace, bad_every: int) -> Cell:
    """``cell.concurrency`` clients, each sending its next request as soon as the last is answered."""
    deadline = time.perf_counter() + args.seconds
    budget = [args.requests]

    async def client(number: int) -> None:
        connection, rng, sent = Connection(port), random.Random(number), 0
        try:
            while budget[0] > 0 and time.perf_counter() < deadline:
                budget[0] -= 1
                sent += 1
                is_bad = bad_every and sent % bad_every == 0
                body = BAD_BODIES[sent % len(BAD_BODIES)] if is_bad else json.dumps({"texts": rng.sample(pool, cell.texts)}).encode()
                start = time.perf_counter()
                try:
                    status = await connection.post(path, body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    status = 0
                    await connection.close()
                if is_bad:
                    cell.bad += 1
                    cell.failed += not 400 <= status < 500
                    continue
                cell.latencies_ms.append(1000 * (time.perf_counter() - start))
                cell.requests += 1
                cell.failed += status != 200
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(cell.concurrency)))
    cell.seconds = time.perf_counter() - start
    return cell


# ------------------------------------------------------------------------------------------ main
def text_pool(args: argparse.Namespace) -> list[str]:
    if args.texts_file:
        from textcnn.data.readers import read_records

        texts = read_records(Path(args.texts_file), label_column=None).texts
    else:
        rng = random.Random(13)
        texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))) for _ in range(2000)]
    return texts if len(texts) >= 64 else texts * (64 // max(1, len(texts)) + 1)


ENDPOINTS = {"constant": "/ref/constant", "plain": "/ref/plain", "batched": "/predict", "+bad": "/predict", "unbatched": "/predict"}


def cpu_seconds(server_pid: int) -> tuple[float, float, float]:
    """CPU seconds so far of the server process, of its children (the model process), of this client (Linux /proc)."""
    import resource

    def of(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        tasks = Path(f"/proc/{server_pid}/task").iterdir()
        children = [int(pid) for task in tasks for pid in (task / "children").read_text().split()]
        model = sum(of(pid) for pid in children)
        server = of(server_pid)
    except (OSError, ValueError):
        return (float("nan"),) * 3
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return server, model, usage.ru_utime + usage.ru_stime


async def measure(port: int, endpoints: list[str], pool: list[str], args: argparse.Namespace, started: float, server_pid: int) -> list[Cell]:
    cells = []
    for texts in args.texts:
        for concurrency in args.concurrency:
            for endpoint in endpoints:
                if endpoint == "+bad" and texts != 1:
                    continue
                if time.monotonic() - started > args.budget_s:
                    print(f"# budget of {args.budget_s} s spent: cells left out", file=sys.stderr)
                    return cells
                cell = Cell(endpoint, concurrency, texts)
                await drive(Cell(endpoint, concurrency, texts), port, ENDPOINTS[endpoint], pool, _warm_up(args), 0)
                before = cpu_seconds(server_pid)
                cells.append(await drive(cell, port, ENDPOINTS[endpoint], pool, args, args.bad_every if endpoint == "+bad" else 0))
                cell.cores = tuple((after - first) / cell.seconds for after, first in zip(cpu_seconds(server_pid), before))
    return cells


def _warm_up(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "seconds": min(0.2, args.seconds), "requests": 20})


def run_all(args: argparse.Namespace) -> list[Cell]:
    pool, started, cells = text_pool(args), time.monotonic(), []
    for window_ms, endpoints in ((args.window_ms, ["constant", "plain", "batched", "+bad"]), (0.0, ["unbatched"])):
        process, port = start_server(args.bundle, window_ms, args.threads, args.runtime, args.model, args.max_batch)
        try:
            asyncio.run(wait_ready(port, process))
            cells += asyncio.run(measure(port, endpoints, pool, args, started, process.pid))
        finally:
            stop_server(process)
    return cells


def report(cells: list[Cell], args: argparse.Namespace, argv: list[str]) -> None:
    import fastapi
    import torch
    import uvicorn

    print(f"# textcnn serve load: {os.cpu_count()} CPUs, client and server on this machine (loopback), torch {torch.__version__}, "
          f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, model in a {args.model}, threads {args.threads}, window {args.window_ms} ms")  # fmt: skip
    print(f"# per cell: at most {args.seconds} s or {args.requests} requests; +bad: 1 in {args.bad_every} requests bad")
    header = (f"{'endpoint':<10} {'conc':>4} {'texts':>5} {'requests':>8} {'req/s':>8} {'texts/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'bad':>5} "
              f"{'failed':>6} {'cores: server model client':>26}")  # fmt: skip
    print(header)
    for cell in cells:
        f = cell.figures()
        print(f"{f['endpoint']:<10} {f['concurrency']:>4} {f['texts']:>5} {f['requests']:>8} {f['rps']:>8.0f} {f['texts_per_s']:>9.0f} "
              f"{f['p50_ms']:>7.2f} {f['p99_ms']:>7.2f} {f['bad']:>5} {f['failed']:>6} "
              f"{f['server_cores']:>12.2f} {f['model_cores']:>6.2f} {f['client_cores']:>6.2f}")  # fmt: skip
    print("# reproduce: python " + " ".join(shlex.quote(part) for part in ["benchmarks/serve_load.py", *argv]))
    if args.json:
        Path(args.json).write_text(json.dumps([cell.figures() for cell in cells], indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True, help="Model bundle directory to serve.")
    parser.add_argument("--texts-file", help="Texts to send (CSV/TSV/JSONL text column or lines) [default: synthetic].")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--texts", type=int, nargs="+", default=[1, 32], help="Texts per request.")
    parser.add_argument("--seconds", type=float, default=3.0, help="Longest run of one cell.")
    parser.add_argument("--requests", type=int, default=20_000, help="Most requests of one cell.")
    parser.add_argument("--budget-s", type=float, default=600.0, help="Longest whole run; later cells are left out.")
    parser.add_argument("--window-ms", type=float, default=2.0, help="Batch window of the batched server.")
    parser.add_argument("--threads", type=int, default=1, help="Server CPU threads for the model.")
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH, help="Most texts in one model call (textcnn serve --max-batch).")
    parser.add_argument("--runtime", default="torch", help="The server's runtime: torch, torch-bf16 or onnx (textcnn serve --runtime).")
    parser.add_argument("--model", choices=["process", "thread"], default="process",
                        help="Where the model computes: its own process (textcnn serve's default) or a thread (--model-thread).")  # fmt: skip
    parser.add_argument("--bad-every", type=int, default=10, help="+bad cells: every Nth request is bad.")
    parser.add_argument("--json", help="Also write the figures here.")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        run_server(args)
        return
    report(run_all(args), args, argv)


if __name__ == "__main__":
    main()
