"""The model in a process of its own, fed by the event loop over a socket pair.

In one process a model thread and the event loop share one interpreter lock: each time the model's
thread comes back from a PyTorch call it waits for the lock while the loop parses requests, so the
two take turns on one core however many the machine has (a Python loop spinning beside
``predict`` made 16 texts take 527 ms instead of 2.4). In a child process the model computes beside
the loop. The loop writes each batch to the socket and reads the answers itself (no thread of its
own in the server process), and the child answers each request with its finished JSON body, so
the loop only forwards bytes.

Frames, both ways: 8 bytes (header length, body length; big-endian), a JSON header, a body.
  predict   {"kind": "predict", "texts": [...], "jobs": [[texts, top_k], ...]}
            -> {"sizes": [bytes of each job's body, ...]} + the bodies end to end
  explain   {"kind": "explain", "texts": [...], "target": [...] | null, "top": k} -> {} + the body
  failure   -> {"error": "what went wrong"}
The child loads the bundle from its directory as ``TextClassifier.load`` does (safetensors and
JSON), answers one frame at a time in order, ignores SIGINT and SIGTERM (the server answers what is
in flight, then closes the socket) and exits when the socket closes. A child that dies is started
again; the requests it held are answered 503.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import multiprocessing
import os
import signal
import socket
import struct
from typing import Any

from textcnn.reporting import logger
from textcnn.classifier import TextClassifier
from textcnn.serve.model import ModelUnavailable, PredictJob, ServedModel

FRAME = struct.Struct("!II")
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0
RESTARTS = 5  # attempts to start a child again after it died, RESTART_PAUSE_S, then twice as long each time
RESTART_PAUSE_S = 1.0


class ModelProcessError(RuntimeError):
    """The model's process could not load the bundle, or failed to answer a frame (its message)."""


def encode_frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return FRAME.pack(len(head), len(body)) + head + body


class ModelProcess:
    """A child process that holds the bundle at ``directory`` and answers batches in order."""

    def __init__(self, directory: str, *, runtime: str = "torch", threads: int | None = None) -> None:
        self.directory, self.runtime, self.threads = directory, runtime, threads
        self.starts = 0  # children started: 1, plus one per restart
        self.gave_up: str | None = None  # why the model could not be started again, once restarts ran out
        self._process: Any = None
        self._socket: socket.socket | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: list[asyncio.Future] = []  # one per frame sent, answered in order
        self._reading: asyncio.Task | None = None
        self._restart: asyncio.Task | None = None
        self._stopping = False
        atexit.register(self._abandon)  # before multiprocessing's own exit hook, which would wait for the child

    @property
    def alive(self) -> bool:
        return self._reading is not None and not self._reading.done()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the child and wait until it has loaded and warmed up the model."""
        self._stopping, self.gave_up = False, None
        await self._spawn()

    async def stop(self) -> None:
        """Let the child answer the frames it holds (at most ``STOP_TIMEOUT_S``), then wait for it to exit."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            await asyncio.gather(self._restart, return_exceptions=True)
        if self._writer is not None and self.alive:
            self._writer.write_eof()  # the child reads to the end, answers, exits; the reader then sees the end
            await asyncio.wait([self._reading], timeout=STOP_TIMEOUT_S)
        await self._close()

    async def predict(self, jobs: list[PredictJob]) -> list[bytes]:
        """Each job's response body (``{"predictions": [...]}``), from one model call."""
        texts = [text for job in jobs for text in job.texts]
        header, body = await self._ask({"kind": "predict", "texts": texts, "jobs": [[len(job.texts), job.top_k] for job in jobs]})
        bodies, start = [], 0
        for size in header["sizes"]:
            bodies.append(body[start : start + size])
            start += size
        return bodies

    async def explain(self, texts: list[str], target: list[Any] | None, top: int) -> bytes:
        """The response body of ``/explain`` on ``texts``."""
        return (await self._ask({"kind": "explain", "texts": texts, "target": target, "top": top}))[1]

    async def _spawn(self) -> None:
        parent, child = socket.socketpair()
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by OpenMP as the child loads torch
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked OpenMP or locks
        self._process = context.Process(
            target=_child_main, args=(child, self.directory, self.runtime, self.threads), name="textcnn-model", daemon=True
        )
        try:
            self._process.start()
            child.close()
            self.starts += 1
            self._socket = parent
            self._reader, self._writer = await asyncio.open_unix_connection(sock=parent)
            try:
                header, _ = await asyncio.wait_for(self._read_frame(), START_TIMEOUT_S)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                header = {"error": f"the model process exited while loading {self.directory}"}
        except BaseException:  # cancelled (stop during a restart) or failed to start: leave no child behind
            await self._close()
            raise
        if "error" in header:
            await self._close()
            raise ModelProcessError(header["error"])
        self._reading = asyncio.get_running_loop().create_task(self._read_answers(), name="textcnn-model-answers")

    async def _ask(self, header: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        frame = encode_frame(header)  # before the future joins the queue: a frame that cannot be made holds no place
        if not self.alive or self._writer is None:
            raise ModelUnavailable("the model process is not running (starting again after it exited)")
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            self._writer.write(frame)
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass  # the child is gone: the reader fails this frame's future with ModelUnavailable
        answer, body = await future
        if "error" in answer:
            raise ModelProcessError(answer["error"])
        return answer, body

    async def _read_frame(self) -> tuple[dict[str, Any], bytes]:
        assert self._reader is not None
        head_size, body_size = FRAME.unpack(await self._reader.readexactly(FRAME.size))
        header = json.loads(await self._reader.readexactly(head_size))
        return header, (await self._reader.readexactly(body_size) if body_size else b"")

    async def _read_answers(self) -> None:
        try:
            while True:
                answer = await self._read_frame()
                future = self._waiting.pop(0)
                if not future.done():  # a request cancelled while its frame was out
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the child exited
        except Exception as error:  # noqa: BLE001 (a frame out of step: the child cannot be trusted any more)
            logger.error(f"the model process answered a frame that cannot be read ({type(error).__name__}: {error})")
            if self._process is not None:
                self._process.kill()
        gone = ModelUnavailable("the model process exited; it is being started again")
        for future in self._waiting:
            if not future.done():
                future.set_exception(gone)
        self._waiting.clear()
        if not self._stopping:
            code = self._process.exitcode if self._process is not None else None
            logger.warning(f"the model process exited (code {code}); starting it again")
            self._restart = asyncio.get_running_loop().create_task(self._start_again(), name="textcnn-model-restart")

    async def _start_again(self) -> None:
        """Start a new child, retrying with growing pauses; after ``RESTARTS`` failures give up (``/health`` then fails)."""
        await self._close()
        why = ""
        for attempt in range(RESTARTS):
            if self._stopping:
                return
            try:
                await self._spawn()
                return
            except Exception as error:  # noqa: BLE001 (logged, then tried again)
                why = f"{type(error).__name__}: {error}"
                logger.error(f"the model process could not be started again (attempt {attempt + 1} of {RESTARTS}): {why}")
            await asyncio.sleep(RESTART_PAUSE_S * 2**attempt)
        self.gave_up = why
        logger.error("the model process could not be started again; /health answers 503 until the server is restarted")

    async def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reading is not None and self._reading is not asyncio.current_task():
            await asyncio.gather(self._reading, return_exceptions=True)
        self._reading = None
        process, self._process = self._process, None
        if process is not None:
            await asyncio.get_running_loop().run_in_executor(None, _end, process)

    def _abandon(self) -> None:
        """At interpreter exit without ``stop`` (a forced quit): close the socket, so the child exits, and reap it."""
        if self._socket is not None:
            self._socket.close()
        if self._process is not None:
            _end(self._process)


def _end(process: Any) -> None:
    """Wait for ``process`` to exit (``STOP_TIMEOUT_S``), kill it past that, and reap it."""
    process.join(STOP_TIMEOUT_S)
    if process.is_alive():
        process.kill()
        process.join()


# ------------------------------------------------------------------------------------ the child
def _child_main(connection: socket.socket, directory: str, runtime: str, threads: int | None) -> None:
    """Load the bundle, say ready, then answer frames until the server closes the socket."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    try:
        model = _load(directory, runtime, threads)
    except Exception as error:  # noqa: BLE001 (the server reports it)
        connection.sendall(encode_frame({"error": f"cannot load {directory}: {type(error).__name__}: {error}"}))
        return
    connection.sendall(encode_frame({"ready": True}))
    stream = connection.makefile("rb")
    while len(prefix := stream.read(FRAME.size)) == FRAME.size:
        head_size, body_size = FRAME.unpack(prefix)
        header = json.loads(stream.read(head_size))
        stream.read(body_size)
        connection.sendall(_answer(model, header))


def _load(directory: str, runtime: str, threads: int | None) -> ServedModel:
    model = ServedModel(TextClassifier.load(directory, threads=threads, runtime=runtime))
    model.warm_up()
    return model


def _answer(model: ServedModel, header: dict[str, Any]) -> bytes:
    try:
        if header["kind"] == "explain":
            return encode_frame({}, model.explain_body(header["texts"], header["target"], header["top"]))
        texts, jobs, start = header["texts"], [], 0
        for count, top_k in header["jobs"]:
            jobs.append(PredictJob(texts[start : start + count], top_k))
            start += count
        bodies = model.predict_bodies(jobs)
        return encode_frame({"sizes": [len(body) for body in bodies]}, b"".join(bodies))
    except Exception as error:  # noqa: BLE001 (the requests of this frame learn why)
        return encode_frame({"error": f"{type(error).__name__}: {error}"})
