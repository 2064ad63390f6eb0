"""Micro-batching: concurrent requests share model calls, and each gets exactly its own answer; the
batcher answers everything queued before it stops."""

from __future__ import annotations

import asyncio
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from textcnn.serve.batcher import BatcherClosed, InFlight, MicroBatcher  # noqa: E402

from test_serve import metric_samples, run, served  # noqa: E402


def _requests(count: int) -> list[dict]:
    """Distinct requests of 1 to 3 texts, some with top_k 2."""
    subjects, words = ["the film", "this book", "our hotel", "the meal"], ["great", "awful", "lovely", "boring", "fine"]
    bodies = []
    for i in range(count):
        texts = [f"{subjects[(i + j) % 4]} was {words[(i * 3 + j) % 5]} number {i}" for j in range(1 + i % 3)]
        bodies.append({"texts": texts, "top_k": 1 + i % 2})
    return bodies


def test_concurrent_requests_are_merged_and_each_gets_its_own_answer(tiny_classifier):
    bodies = _requests(50)

    async def scenario():
        async with served(tiny_classifier, batch_window_ms=0) as client:  # one request per model call
            alone = [(await client.post("/predict", json=body)).json() for body in bodies]
        async with served(tiny_classifier, batch_window_ms=20, max_batch_texts=64) as client:
            together = await asyncio.gather(*(client.post("/predict", json=body) for body in bodies))
            return alone, together, (await client.get("/metrics")).text

    alone, together, metrics = run(scenario())

    assert [response.status_code for response in together] == [200] * len(bodies)
    for body, single, batched in zip(bodies, alone, together):
        assert [row["text"] for row in batched.json()["predictions"]] == body["texts"]
        assert batched.json() == single
    samples = metric_samples(metrics)
    calls = samples[("textcnn_batch_requests_count", ())]
    assert samples[("textcnn_batch_requests_sum", ())] == len(bodies)
    assert calls < len(bodies) / 2  # requests were merged
    assert samples[("textcnn_batch_texts_sum", ())] == sum(len(body["texts"]) for body in bodies)


def test_a_model_call_never_holds_more_than_max_batch_texts_and_a_larger_request_runs_alone(tiny_classifier):
    bodies = [{"texts": [f"the film was great {i}", f"the meal was awful {i}", f"our hotel {i}"]} for i in range(12)]
    bodies.append({"texts": [f"this book was lovely {i}" for i in range(9)]})

    async def scenario():
        async with served(tiny_classifier, batch_window_ms=20, max_batch_texts=7) as client:
            answers = await asyncio.gather(*(client.post("/predict", json=body) for body in bodies))
            return answers, (await client.get("/metrics")).text

    answers, metrics = run(scenario())
    samples = metric_samples(metrics)

    assert all(answer.status_code == 200 for answer in answers)
    assert [row["text"] for row in answers[-1].json()["predictions"]] == bodies[-1]["texts"]
    calls = samples[("textcnn_batch_texts_count", ())]
    assert samples[("textcnn_batch_texts_bucket", (("le", "8.0"),))] == calls - 1  # all but the 9-text request
    assert samples[("textcnn_batch_requests_bucket", (("le", "2.0"),))] == calls  # 3-text requests: 2 per call at most


def _batcher(log: list, *, window_s: float = 0.05, fail_on: str | None = None, in_flight: InFlight | None = None) -> MicroBatcher:
    async def run_batch(jobs):
        log.append(list(jobs))
        await asyncio.sleep(0.001)  # the model computes elsewhere; the loop waits for it
        if fail_on in jobs:
            raise ValueError(f"cannot run {fail_on}")
        return [job.upper() for job in jobs]

    return MicroBatcher(run_batch, window_s=window_s, max_texts=100, in_flight=in_flight)


def _watching(log: list, *, window_s: float) -> tuple[InFlight, MicroBatcher]:
    """A started batcher that watches the requests in flight, as the server's middleware counts them."""
    in_flight = InFlight()
    batcher = _batcher(log, window_s=window_s, in_flight=in_flight)
    batcher.start()
    return in_flight, batcher


def test_the_batcher_answers_every_queued_job_before_it_stops_and_then_refuses_new_ones():
    log: list = []

    async def scenario():
        batcher = _batcher(log, window_s=0.2)
        batcher.start()
        jobs = [asyncio.create_task(batcher.submit(f"job {i}", 1)) for i in range(5)]
        await asyncio.sleep(0.01)  # queued, waiting for the window
        await batcher.stop()
        with pytest.raises(BatcherClosed):
            await batcher.submit("late", 1)
        return [job.result() for job in jobs]

    assert run(scenario()) == [f"JOB {i}" for i in range(5)]
    assert log == [[f"job {i}" for i in range(5)]]


def test_a_failing_model_call_fails_its_own_requests_only_and_the_batcher_keeps_running():
    log: list = []

    async def scenario():
        batcher = _batcher(log, fail_on="bad")
        batcher.start()
        first = await asyncio.gather(batcher.submit("a", 1), batcher.submit("bad", 1), return_exceptions=True)
        second = await batcher.submit("c", 1)
        await batcher.stop()
        return first, second

    first, second = run(scenario())

    assert all(isinstance(result, ValueError) and "cannot run bad" in str(result) for result in first)
    assert second == "C"


def test_a_cancelled_request_does_not_disturb_the_others_of_its_batch():
    log: list = []

    async def scenario():
        batcher = _batcher(log)
        batcher.start()
        left, stays = asyncio.create_task(batcher.submit("left", 1)), asyncio.create_task(batcher.submit("stays", 1))
        await asyncio.sleep(0.01)
        left.cancel()
        answer = await stays
        await batcher.stop()
        return answer

    assert run(scenario()) == "STAYS"


def test_the_window_ends_as_soon_as_every_request_in_flight_is_queued():
    log: list = []

    async def lone_job(others: int) -> float:
        in_flight, batcher = _watching(log, window_s=0.5)
        for _ in range(1 + others):
            in_flight.enter()  # as the middleware does; the others never reach the batcher
        start = time.perf_counter()
        await batcher.submit("lone", 1)
        waited = time.perf_counter() - start
        await batcher.stop()
        return waited

    assert run(lone_job(0)) < 0.25  # nobody else could join: no wait
    assert run(lone_job(1)) >= 0.45  # another request in flight: wait for it, at most the window


def test_a_request_leaving_ends_the_wait_for_it():
    log: list = []

    async def scenario():
        in_flight, batcher = _watching(log, window_s=5)
        other = in_flight.enter()
        in_flight.enter()
        job = asyncio.create_task(batcher.submit("waits", 1))
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        in_flight.leave(other)  # the other request was answered without the model (a 4xx)
        answer = await job
        waited = time.perf_counter() - start
        await batcher.stop()
        return answer, waited

    answer, waited = run(scenario())

    assert answer == "WAITS" and waited < 1


def test_a_request_sending_its_answer_back_does_not_hold_the_next_batch():
    log: list = []

    async def scenario():
        in_flight, batcher = _watching(log, window_s=5)

        async def request(job: str) -> str:  # as the middleware and an endpoint do, in a task of its own
            in_flight.enter()
            return await batcher.submit(job, 1)

        first = await asyncio.create_task(request("first"))  # answered, but still in flight (not left)
        start = time.perf_counter()
        second = await asyncio.create_task(request("second"))
        waited = time.perf_counter() - start
        await batcher.stop()
        return first, second, waited, in_flight.count

    first, second, waited, count = run(scenario())

    assert (first, second, count) == ("FIRST", "SECOND", 2)
    assert waited < 1  # nobody else could join: no wait for the window of 5 s
