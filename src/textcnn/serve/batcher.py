"""Micro-batching: requests that arrive within a short window share one model call.

A model call costs about the same for one text as for dozens, so merging the requests that arrive
close together raises throughput at a latency cost of at most the window. The event loop only
queues and answers; the model computes elsewhere (a child process or a worker thread, see
``model.py``), so the loop keeps accepting requests while a batch computes, and those requests form
the next batch.

The window is an upper bound: the batcher waits only while requests have arrived (``InFlight``,
kept by the server's middleware) that are not queued yet and so may still join. A lone request
never waits, and neither does a batch for requests that are only sending their answers back.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

RunBatch = Callable[[list[Any]], Awaitable[Sequence[Any]]]  # jobs -> one result per job, in order
OnBatch = Callable[[int, int], None]  # (texts, requests) of each model call


class Arrival:
    """One request in flight; ``queued`` once it has reached the batcher (or can no longer)."""

    __slots__ = ("queued",)

    def __init__(self) -> None:
        self.queued = False


_ARRIVAL: contextvars.ContextVar[Arrival | None] = contextvars.ContextVar("textcnn_arrival", default=None)


class InFlight:
    """The requests being answered, counted by the server's middleware and watched by the batcher:
    ``count`` in all, ``arriving`` of them not queued yet. Each request runs in its own task, so
    the arrival that ``enter`` makes is the one its ``submit`` finds."""

    def __init__(self) -> None:
        self.count = 0
        self.arriving = 0
        self.on_change: Callable[[], None] = lambda: None

    def enter(self) -> Arrival:
        arrival = Arrival()
        _ARRIVAL.set(arrival)
        self.count += 1
        self.arriving += 1
        return arrival

    def queued(self) -> None:
        """The current request has reached the batcher."""
        self._settle(_ARRIVAL.get())

    def leave(self, arrival: Arrival | None = None) -> None:
        self.count -= 1
        self._settle(arrival or _ARRIVAL.get())
        self.on_change()

    def _settle(self, arrival: Arrival | None) -> None:
        if arrival is not None and not arrival.queued:
            arrival.queued = True
            self.arriving -= 1


class BatcherClosed(RuntimeError):
    """The batcher is not running (not started yet, or shutting down)."""


@dataclass
class _Item:
    job: Any
    size: int  # texts in the job, what max_texts counts
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Queues jobs and runs them in batches of up to ``max_texts`` texts through ``run_batch``.

    ``run_batch`` is awaited with a list of jobs and returns one result per job, in order; it must
    not compute on the event loop. At most ``max_calls`` batches are out at once: with 2, the next
    batch waits at the model while the last one's answers travel back. A window of 0 runs one job
    per call. With ``in_flight``, the window ends early once every request that has arrived is
    queued; without it, each batch waits the whole window.
    """

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        window_s: float,
        max_texts: int,
        on_batch: OnBatch | None = None,
        in_flight: InFlight | None = None,
        max_calls: int = 1,
    ) -> None:
        self.run_batch = run_batch
        self.window_s = window_s
        self.max_texts = max_texts
        self.on_batch = on_batch or (lambda texts, requests: None)
        self.in_flight = in_flight
        self.max_calls = max_calls
        self._items: collections.deque[_Item] = collections.deque()
        self._queued_texts = 0
        self._wake: asyncio.Event | None = None  # a job was queued, or the batcher is closing
        self._changed: asyncio.Event | None = None  # a job was queued, or a request left
        self._task: asyncio.Task | None = None
        self._calls: set[asyncio.Task] = set()  # batches out at the model
        self._free: asyncio.Semaphore | None = None  # of max_calls
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._closing

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        if self._task is None:
            self._closing = False
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            self._free = asyncio.Semaphore(self.max_calls)
            if self.in_flight is not None:
                self.in_flight.on_change = self._changed.set
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="textcnn-batcher")

    async def stop(self) -> None:
        """Refuse new jobs, answer every queued one and every batch out at the model, then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        await self._task
        while self._calls:
            await asyncio.gather(*self._calls)
        self._task = None

    async def submit(self, job: Any, size: int) -> Any:
        """Queue ``job`` (``size`` texts) and wait for its own result."""
        if not self.running:
            raise BatcherClosed("the model is not ready: the server is starting or shutting down")
        item = _Item(job, size, asyncio.get_running_loop().create_future())
        self._items.append(item)
        self._queued_texts += size
        if self.in_flight is not None:
            self.in_flight.queued()
        self._wake.set()
        self._changed.set()
        return await item.future

    async def _loop(self) -> None:
        while True:
            if not self._items:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._free.acquire()  # a batch waits here while max_calls are out, and grows
            if self.window_s > 0:
                await self._gather()
            call = asyncio.get_running_loop().create_task(self._run(self._take()))
            self._calls.add(call)
            call.add_done_callback(self._finished)

    def _finished(self, call: asyncio.Task) -> None:
        self._calls.discard(call)
        self._free.release()

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
        """Whether a request has arrived that is not queued yet (unknown without ``in_flight``: assume so)."""
        return self.in_flight is None or self.in_flight.arriving > 0

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
            results = await self.run_batch(jobs)
        except Exception as error:  # every request of the batch learns why
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        self.on_batch(sum(item.size for item in batch), len(batch))
        for item, result in zip(batch, results):
            if not item.future.done():  # a request whose client left was cancelled
                item.future.set_result(result)
