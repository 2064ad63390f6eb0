"""``textcnn serve``: a saved bundle behind an HTTP server (FastAPI, uvicorn), micro-batched."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from textcnn.cli.use import RUNTIME_HELP
from textcnn.errors import TextcnnError
from textcnn.serve.settings import ServeSettings

MISSING = 'the server needs FastAPI and uvicorn: pip install "textcnn[serve]"'


def _help(name: str) -> str:
    return ServeSettings.model_fields[name].description or ""


def _default(name: str) -> Any:
    return ServeSettings.model_fields[name].default


def _require_server_packages() -> None:
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise TextcnnError(f"{MISSING} ({error})") from None


def serve(
    model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory (on this machine).")],
    host: Annotated[str, typer.Option(help=_help("host"))] = _default("host"),
    port: Annotated[int, typer.Option(min=0, max=65535, help=_help("port"))] = _default("port"),
    workers: Annotated[int, typer.Option(min=1, help=_help("workers"))] = _default("workers"),
    threads: Annotated[Optional[int], typer.Option(min=1, help=_help("threads"))] = None,
    model_process: Annotated[bool, typer.Option("--model-process/--model-thread", help=_help("model_process"))] = _default(
        "model_process"
    ),
    batch_window_ms: Annotated[float, typer.Option(min=0, max=1000, help=_help("batch_window_ms"))] = _default("batch_window_ms"),
    max_batch: Annotated[int, typer.Option(min=1, help=_help("max_batch_texts"))] = _default("max_batch_texts"),
    max_texts: Annotated[int, typer.Option(min=1, help=_help("max_texts_per_request"))] = _default("max_texts_per_request"),
    max_chars: Annotated[int, typer.Option(min=1, help=_help("max_chars_per_text"))] = _default("max_chars_per_text"),
    max_body_bytes: Annotated[int, typer.Option(min=64, help=_help("max_body_bytes"))] = _default("max_body_bytes"),
    max_in_flight: Annotated[int, typer.Option(min=1, help=_help("max_in_flight"))] = _default("max_in_flight"),
    model_name: Annotated[Optional[str], typer.Option(help=_help("model_name") + " [default: the name of DIR].")] = None,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = "torch",
    access_log: Annotated[bool, typer.Option(help="Log one line per request (uvicorn's access log).")] = False,
) -> None:
    """Serve bundle DIR over HTTP: POST /predict, /v1/models/NAME:predict (KServe v1), /explain;
    GET /health, /ready, /metadata, /metrics (Prometheus), /docs (OpenAPI).

    Requests that arrive within --batch-window-ms share one model call. Binds to 127.0.0.1 unless
    --host says otherwise; SIGTERM or Ctrl-C answers the requests in flight, then exits.
    Needs pip install "textcnn[serve]".
    """
    _require_server_packages()
    from textcnn.serve.run import serve as run_server

    settings = ServeSettings(
        host=host, port=port, workers=workers, threads=threads, model_process=model_process, batch_window_ms=batch_window_ms,
        max_batch_texts=max_batch, max_texts_per_request=max_texts, max_chars_per_text=max_chars,
        max_body_bytes=max_body_bytes, max_in_flight=max_in_flight, model_name=model_name or model_dir.resolve().name,
    )  # fmt: skip
    run_server(model_dir, settings, runtime=runtime, access_log=access_log)
