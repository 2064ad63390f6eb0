"""The HTTP server: a FastAPI app over one loaded classifier, its micro-batcher and its metrics.

``create_app(classifier, settings)`` builds it; ``textcnn serve`` runs it with uvicorn. Bodies are
read and validated here (``schemas.py``) rather than by FastAPI, so that every malformed body gets a
4xx that says what is wrong; the OpenAPI schema still shows the request models.
"""

from __future__ import annotations

import functools
import gc
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from textcnn.classifier import TextClassifier
from textcnn.data.labels import as_label_list
from textcnn.serve.batcher import BatcherClosed, InFlight, MicroBatcher
from textcnn.serve.metrics import GuardMiddleware, ServeMetrics
from textcnn.serve.model import ModelRunner, ModelThread, ModelUnavailable, PredictJob, ServedModel
from textcnn.serve.model_process import ModelProcess
from textcnn.serve.page import add_page_routes
from textcnn.serve.schemas import (
    REQUEST_MODELS, ApiError, ErrorResponse, ExplainRequest, KServeRequest, PredictRequest, PredictResponse,
    check_texts, parse_body, read_body,
)  # fmt: skip
from textcnn.serve.settings import ServeSettings
from textcnn.version import __version__

MODEL_CALLS_OUT = 2  # batches out at a model process at once: one computes while the last one's answers travel
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": why}
    for code, why in {
        400: "The body is not UTF-8 or not JSON.",
        413: "The body, the number of texts or a text is over its limit.",
        422: "The JSON has the wrong shape: a missing field, a wrong type, an empty list.",
        503: "Too many requests in flight (see Retry-After), or the model is not ready.",
    }.items()
}


@dataclass
class Server:
    """What the endpoints share: settings, the model (its facts here, its computing in ``runner``),
    the batcher and the metrics."""

    settings: ServeSettings
    model: ServedModel
    runner: ModelRunner
    batcher: MicroBatcher
    metrics: ServeMetrics
    started: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Warmed up, and the model running (not restarting after its process died)."""
        return self.started and self.runner.alive

    async def body(self, request: Request, model: type) -> Any:
        """The request's body read within the byte limit and validated as ``model``."""
        return parse_body(await read_body(request, self.settings.max_body_bytes), model)

    async def predict(self, texts: list[str], top_k: int = 1) -> bytes:
        """The response body of ``texts``' prediction rows, computed in a micro-batch with other requests' texts."""
        check_texts(texts, self.settings)
        try:
            return await self.batcher.submit(PredictJob(texts, top_k), len(texts))
        except (BatcherClosed, ModelUnavailable) as error:
            raise self.unavailable(error) from None

    def unavailable(self, error: Exception) -> ApiError:
        return ApiError(503, str(error), headers={"Retry-After": str(self.settings.retry_after_s)})

    async def warm_up(self) -> None:
        """Start the model (it predicts once, so that the first request pays no start-up cost), then the batcher.

        Then every object alive (the model, the app, the libraries' modules: hundreds of thousands)
        is moved out of the garbage collector's view (``gc.freeze``): a full collection walked them
        all, about 100 ms during which no request was answered, every second or two under load.
        """
        await self.runner.start()
        self.batcher.start()
        gc.collect()
        gc.freeze()
        self.started = True

    async def stop(self) -> None:
        """Report not ready, answer every queued request, stop the model, give the frozen objects
        back to the garbage collector."""
        self.started = False
        await self.batcher.stop()
        await self.runner.stop()
        gc.unfreeze()


def create_app(
    classifier: TextClassifier, settings: ServeSettings | None = None, *, directory: str | Path | None = None, runtime: str | None = None
) -> FastAPI:
    """A FastAPI app that serves ``classifier`` with ``settings``.

    With ``directory``, the bundle ``classifier`` was loaded from (with ``runtime``; by default the
    one ``classifier`` runs), the model computes in a child process that loads it too (unless
    ``settings.model_process`` is off); without, in a thread of this process. A script that
    serves with a model process needs the ``if __name__ == "__main__":`` guard: the child starts
    a fresh interpreter, which imports the script's main module.
    """
    settings = settings or ServeSettings()
    metrics = ServeMetrics()
    model = ServedModel(classifier)
    in_process = directory is not None and settings.model_process
    runner: ModelRunner = (
        ModelProcess(str(directory), runtime=runtime or model.runtime, threads=settings.threads) if in_process else ModelThread(model)
    )
    in_flight = InFlight()
    batcher = MicroBatcher(
        runner.predict, window_s=settings.batch_window_s, max_texts=settings.max_batch_texts,
        on_batch=metrics.on_batch, in_flight=in_flight, max_calls=MODEL_CALLS_OUT if in_process else 1,
    )  # fmt: skip
    metadata = {"name": settings.model_name, "model_runs_in": "process" if in_process else "thread", **model.metadata()}
    server = Server(settings, model, runner, batcher, metrics, metadata=metadata)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.warm_up()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(
        title="textcnn",
        version=__version__,
        description="Predictions of a convolutional text classifier, micro-batched.",
        lifespan=lifespan,
    )
    app.state.server = server
    app.add_middleware(GuardMiddleware, settings=settings, metrics=metrics, in_flight=in_flight)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Exception, _internal_error)
    _prediction_routes(app, server)
    _status_routes(app, server)
    add_page_routes(app, classifier)
    app.openapi = functools.partial(_openapi, app)  # type: ignore[method-assign]
    return app


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _internal_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"detail": f"internal error: {type(error).__name__}: {error}"}, status_code=500)


def _body_of(model: type) -> dict[str, Any]:
    """The ``openapi_extra`` that documents a body the endpoint reads itself."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _prediction_routes(app: FastAPI, server: Server) -> None:
    @app.post("/predict", response_model=PredictResponse, responses=ERRORS, openapi_extra=_body_of(PredictRequest))
    async def predict(request: Request) -> Response:
        """Labels and probabilities of each text (multi-label models: lists), as ``textcnn predict`` writes them."""
        body = await server.body(request, PredictRequest)
        return Response(await server.predict(body.texts, body.top_k), media_type="application/json")

    @app.post("/v1/models/{name}:predict", response_model=PredictResponse, responses=ERRORS, openapi_extra=_body_of(KServeRequest))
    async def kserve_predict(name: str, request: Request) -> Response:
        """KServe v1: ``{"instances": [...]}`` (texts, or objects with a ``text``) -> ``{"predictions": [...]}``."""
        if name != server.settings.model_name:
            raise ApiError(404, f"no model {name!r}: this server serves {server.settings.model_name!r}")
        body = await server.body(request, KServeRequest)
        return Response(await server.predict(body.texts()), media_type="application/json")

    @app.post("/explain", responses=ERRORS, openapi_extra=_body_of(ExplainRequest))
    async def explain(request: Request) -> Response:
        """Per text, the n-grams that drive each explained class, with their contributions and the bias."""
        body = await server.body(request, ExplainRequest)
        if server.batcher.in_flight is not None:
            server.batcher.in_flight.queued()  # an explanation joins no batch: none waits for it
        check_texts(body.texts, server.settings)
        if len(body.texts) > server.settings.max_explain_texts:
            raise ApiError(413, f"{len(body.texts):,} texts to explain; the limit is {server.settings.max_explain_texts:,}: split the request")
        labels = server.model.predictor.trained.labels
        target = [_known_label(labels, name) for name in as_label_list(body.target)] if body.target is not None else None
        try:
            answer = await server.runner.explain(body.texts, target, body.top)  # between batches, JSON made off the loop
        except ModelUnavailable as error:
            raise server.unavailable(error) from None
        return Response(answer, media_type="application/json")


def _known_label(labels: Any, name: Any) -> Any:
    """``name`` as the model's label (labels read from files may be ints; JSON may give strings), or a 422."""
    for label in labels.labels:
        if label == name or str(label) == str(name):
            return label
    raise ApiError(422, f"target {name!r} is not a label of this model (labels: {', '.join(map(str, labels.labels))})")


def _status_routes(app: FastAPI, server: Server) -> None:
    @app.get("/health", responses={503: {"model": ErrorResponse}})
    async def health() -> Response:
        """Liveness: 200 while the process runs, 503 once its model process could not be started again."""
        if server.runner.gave_up:
            return JSONResponse({"detail": f"the model process could not be started again: {server.runner.gave_up}"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/ready", responses={503: {"model": ErrorResponse}})
    async def ready() -> Response:
        """Readiness: 200 once the model is loaded and warmed up, 503 while starting or shutting down."""
        if not server.ready:
            return JSONResponse({"detail": "the model is not ready"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        """The model's labels, settings, saved metrics and versions, and the server's limits."""
        return {**server.metadata, "server": server.settings.model_dump()}

    @app.get("/v1/models/{name}")
    async def kserve_model(name: str) -> dict[str, Any]:
        """KServe v1 model status."""
        if name != server.settings.model_name:
            raise ApiError(404, f"no model {name!r}: this server serves {server.settings.model_name!r}")
        return {"name": name, "ready": server.ready}

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text format: requests and latencies by endpoint and status, texts and requests per model call."""
        content, content_type = server.metrics.exposition()
        return Response(content, media_type=content_type)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the request models, which the endpoints read themselves."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in REQUEST_MODELS:
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    app.openapi_schema = schema
    return schema
