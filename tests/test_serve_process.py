"""The model in its own process (``textcnn serve``'s default): the same answers as in a thread of the
server, computed in another process; a model process that dies answers its requests 503 and is
started again; a bundle the model process cannot load stops the server from starting."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
import torch

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from textcnn import TextClassifier  # noqa: E402
from textcnn.serve.model import PredictJob  # noqa: E402
from textcnn.serve.model_process import ModelProcess, ModelProcessError  # noqa: E402

from test_serve import run, served  # noqa: E402

BODIES = [
    {"texts": ["the film was great"]},
    {"texts": ["the meal was awful", "our hotel was lovely", "这部电影很好看"], "top_k": 2},
    {"texts": ["", "a " * 300]},
]
EXPLAIN = {"texts": ["the film was great", "the meal was awful"], "top": 3}


async def _answers(client: httpx.AsyncClient) -> list:
    answers = [(await client.post("/predict", json=body)).json() for body in BODIES]
    together = await asyncio.gather(*(client.post("/predict", json=body) for body in BODIES * 4))  # micro-batched
    answers += [response.json() for response in together]
    answers.append((await client.post("/v1/models/textcnn:predict", json={"instances": ["the film was great"]})).json())
    answers.append((await client.post("/explain", json=EXPLAIN)).json())
    return answers


def test_the_model_process_answers_exactly_what_the_model_thread_answers(tiny_bundle):
    classifier = TextClassifier.load(tiny_bundle)  # what the model process loads
    threads = torch.get_num_threads()  # both sides compute on as many threads, so they sum alike

    async def scenario():
        async with served(classifier, threads=threads) as client:
            in_thread = await _answers(client)
        async with served(classifier, directory=tiny_bundle, threads=threads) as client:
            runner = client._transport.app.state.server.runner  # noqa: SLF001 (which process computes)
            in_process = await _answers(client)
            return in_thread, in_process, runner.pid

    in_thread, in_process, pid = run(scenario())

    assert in_process == in_thread
    assert pid is not None and pid != os.getpid()


def test_a_model_process_that_dies_answers_503_then_is_started_again(tiny_bundle):
    async def scenario():
        async with served(TextClassifier.load(tiny_bundle), directory=tiny_bundle, retry_after_s=2) as client:
            server = client._transport.app.state.server  # noqa: SLF001
            before = (await client.post("/predict", json=BODIES[1])).json()
            first_pid = server.runner.pid
            os.kill(first_pid, signal.SIGKILL)
            down = await client.post("/predict", json=BODIES[1])
            while not server.runner.alive:  # bounded by the scenario's timeout
                assert (await client.get("/ready")).status_code == 503
                await asyncio.sleep(0.05)
            after = await client.post("/predict", json=BODIES[1])
            ready = await client.get("/ready")
            return before, down, after, ready, first_pid, server.runner.pid, server.runner.starts

    before, down, after, ready, first_pid, second_pid, starts = run(scenario())

    assert down.status_code == 503 and down.headers["retry-after"] == "2"
    assert "model process" in down.json()["detail"]
    assert after.status_code == 200 and after.json() == before
    assert ready.status_code == 200
    assert second_pid != first_pid and starts == 2


def test_a_bundle_the_model_process_cannot_load_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-bundle"

    async def scenario():
        runner = ModelProcess(str(missing))
        with pytest.raises(ModelProcessError, match="no-such-bundle"):
            await runner.start()
        return runner.alive

    assert run(scenario()) is False


def test_a_request_cancelled_while_the_model_computes_leaves_the_others_answered(tiny_bundle):
    async def scenario():
        runner = ModelProcess(str(tiny_bundle))
        await runner.start()
        left = asyncio.create_task(runner.explain(["the film was great"] * 16, None, 10))
        for _ in range(3):
            await asyncio.sleep(0)  # its frame is out at the model, not answered yet
        left.cancel()
        await asyncio.gather(left, return_exceptions=True)
        after = await runner.predict([PredictJob(["the film was great"])])
        alive = runner.alive
        await runner.stop()
        return left.cancelled(), after, alive

    cancelled, after, alive = run(scenario())

    assert cancelled and alive
    assert json.loads(after[0])["predictions"][0]["text"] == "the film was great"


def test_stopping_while_the_model_process_starts_again_leaves_no_process(tiny_bundle):
    async def scenario():
        runner = ModelProcess(str(tiny_bundle))
        await runner.start()
        first = runner._process  # noqa: SLF001
        os.kill(first.pid, signal.SIGKILL)
        while runner.alive:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the restart is under way
        await runner.stop()
        return first, runner

    first, runner = run(scenario())

    assert not first.is_alive() and runner.pid is None and not runner.alive
