"""Prometheus metrics of the server, and the ASGI middleware that records them and bounds the requests
in flight (503 with Retry-After past the bound, before any work is done for the request).

Each app has its own registry, so that several apps in one process (tests, benchmarks) never share
counts. With ``--workers N`` each process counts its own requests.
"""

from __future__ import annotations

import json
import time
from typing import Any, Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from textcnn.serve.batcher import InFlight
from textcnn.serve.settings import ServeSettings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
ENDPOINTS = ("/predict", "/explain", "/health", "/ready", "/metadata", "/metrics", "/docs", "/openapi.json")
KSERVE_PREFIX = "/v1/models/"


class ServeMetrics:
    """Request counts and latencies by endpoint and status; texts and requests per model call."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "textcnn_requests", "HTTP requests answered", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "textcnn_request_seconds", "Time to answer a request", ["endpoint", "status"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge("textcnn_requests_in_flight", "POST requests being answered", registry=self.registry)
        self.batch_texts = Histogram("textcnn_batch_texts", "Texts per model call", buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_requests = Histogram(
            "textcnn_batch_requests", "Requests merged into one model call", buckets=SIZE_BUCKETS, registry=self.registry
        )

    def on_batch(self, texts: int, requests: int) -> None:
        self.batch_texts.observe(texts)
        self.batch_requests.observe(requests)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(endpoint, method, code).inc()
        self.latency.labels(endpoint, code).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def endpoint_label(path: str) -> str:
    """The route a path belongs to: a bounded set of label values, whatever paths clients send."""
    if path in ENDPOINTS:
        return path
    if path.startswith(KSERVE_PREFIX):
        return "/v1/models/{name}" + (":predict" if path.endswith(":predict") else "")
    return "other"


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Answer with a JSON body directly on the ASGI channel."""
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class GuardMiddleware:
    """Counts and times every request; refuses POSTs past ``max_in_flight`` with 503 and Retry-After.

    A pure ASGI middleware (no per-request task or body copy), counting on the event loop's thread.
    """

    def __init__(self, app: Asgi, *, settings: ServeSettings, metrics: ServeMetrics, in_flight: InFlight) -> None:
        self.app, self.settings, self.metrics, self.in_flight = app, settings, metrics, in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, endpoint, method = time.perf_counter(), endpoint_label(scope["path"]), scope["method"]
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        bounded = method == "POST"
        try:
            if bounded and self.in_flight.count >= self.settings.max_in_flight:
                retry = {"Retry-After": str(self.settings.retry_after_s)}
                limit = self.settings.max_in_flight
                await send_json(send_and_note, 503, {"detail": f"the server is busy: {limit} requests in flight; retry later"}, retry)
                return
            arrival = self.in_flight.enter() if bounded else None
            if bounded:
                self.metrics.in_flight.inc()
            try:
                await self.app(scope, receive, send_and_note)
            finally:
                if bounded:
                    self.in_flight.leave(arrival)
                    self.metrics.in_flight.dec()
        finally:
            self.metrics.observe(endpoint, method, status, time.perf_counter() - start)
