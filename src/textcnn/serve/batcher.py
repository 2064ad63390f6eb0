"""Micro-batching: requests that arrive within a short window share one model call.

A model call costs about the same for one text as for dozens, so merging the requests that arrive
close together raises throughput at a latency cost of at most the window. The event loop only
queues and answers; the model runs in one worker thread, so the loop keeps accepting requests while
a batch computes, and those requests form the next batch.

The window is an upper bound: the batcher waits only while requests in flight (``InFlight``, kept
by the server's middleware) are not queued yet and so may still join. A lone request never waits.
"""

from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

RunBatch = Callable[[Sequence[Any]], Sequence[Any]]  # jobs -> one result per job, in order
OnBatch = Callable[[int, int], None]  # (texts, requests) of each model call


class InFlight:
    """The requests being answered: counted by the server's middleware, watched by the batcher."""

    def __init__(self) -> None:
        self.count = 0
        self.on_change: Callable[[], None] = lambda: None

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        self.on_change()


class BatcherClosed(RuntimeError):
    """The batcher is not running (not started yet, or shutting down)."""


@dataclass
class _Item:
    job: Any
    size: int  # texts in the job, what max_texts counts
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Queues jobs and runs them in batches of up to ``max_texts`` texts through ``run_batch``.

    ``run_batch`` gets a list of jobs and returns one result per job, in order; it runs in a single
    worker thread (``executor``), never on the event loop. A window of 0 runs one job per call.
    With ``in_flight``, the window ends early once every request in flight is queued; without it,
    each batch waits the whole window.
    """

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        window_s: float,
        max_texts: int,
        on_batch: OnBatch | None = None,
        executor: ThreadPoolExecutor | None = None,
        in_flight: InFlight | None = None,
    ) -> None:
        self.run_batch = run_batch
        self.window_s = window_s
        self.max_texts = max_texts
        self.on_batch = on_batch or (lambda texts, requests: None)
        self.executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="textcnn-model")
        self.in_flight = in_flight
        self._items: collections.deque[_Item] = collections.deque()
        self._queued_texts = 0
        self._wake: asyncio.Event | None = None  # a job was queued, or the batcher is closing
        self._changed: asyncio.Event | None = None  # a job was queued, or a request left
        self._task: asyncio.Task | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._closing

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        if self._task is None:
            self._closing = False
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            if self.in_flight is not None:
                self.in_flight.on_change = self._changed.set
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="textcnn-batcher")

    async def stop(self) -> None:
        """Refuse new jobs, answer every queued one, then stop the loop and the worker thread."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        await self._task
        self._task = None
        self.executor.shutdown(wait=True)

    async def submit(self, job: Any, size: int) -> Any:
        """Queue ``job`` (``size`` texts) and wait for its own result."""
        if not self.running:
            raise BatcherClosed("the model is not ready: the server is starting or shutting down")
        item = _Item(job, size, asyncio.get_running_loop().create_future())
        self._items.append(item)
        self._queued_texts += size
        self._wake.set()
        self._changed.set()
        return await item.future

    async def run_alone(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in the model's worker thread, between batches (explanations, warm-up)."""
        if self._closing:
            raise BatcherClosed("the server is shutting down")
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def _loop(self) -> None:
        while True:
            if not self._items:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.window_s > 0:
                await self._gather()
            await self._run(self._take())

    async def _gather(self) -> None:
        """Wait, at most the window, while the batch has room and requests in flight may still join it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window_s
        while self._queued_texts < self.max_texts and self._may_join() and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _may_join(self) -> bool:
        """Whether a request in flight is not queued yet (unknown without ``in_flight``: assume so)."""
        return self.in_flight is None or self.in_flight.count > len(self._items)

    def _take(self) -> list[_Item]:
        """The queued items for one call: the first always, more while they fit in ``max_texts``."""
        batch = [self._items.popleft()]
        texts = batch[0].size
        if self.window_s > 0:
            while self._items and texts + self._items[0].size <= self.max_texts:
                item = self._items.popleft()
                batch.append(item)
                texts += item.size
        self._queued_texts -= texts
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        jobs = [item.job for item in batch]
        try:
            results = await asyncio.get_running_loop().run_in_executor(self.executor, self.run_batch, jobs)
        except Exception as error:  # every request of the batch learns why
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        self.on_batch(sum(item.size for item in batch), len(batch))
        for item, result in zip(batch, results):
            if not item.future.done():  # a request whose client left was cancelled
                item.future.set_result(result)
