"""Run the server with uvicorn on a bundle directory: one process, or ``workers`` processes that each
load the bundle (uvicorn then imports the app by name, so the settings travel in the environment)."""

from __future__ import annotations

import json
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from fastapi import FastAPI

from textcnn.classifier import TextClassifier
from textcnn.errors import BundleError
from textcnn.reporting import logger
from textcnn.serve.app import create_app
from textcnn.serve.settings import ServeSettings

ENVIRONMENT = "TEXTCNN_SERVE_SPEC"  # JSON: directory, runtime, settings (for worker processes)
GRACEFUL_SHUTDOWN_S = 30  # on SIGTERM, answer what is in flight for at most this long


def load_local(directory: str | Path, settings: ServeSettings, runtime: str = "torch") -> TextClassifier:
    """The classifier of a bundle directory on this machine (nothing is fetched from anywhere)."""
    path = Path(directory)
    if not path.is_dir():
        raise BundleError(f"{path} is not a bundle directory on this machine")
    return TextClassifier.load(path, threads=settings.threads, runtime=runtime)


def app_from_environment() -> FastAPI:
    """The app of one worker process, from the spec ``serve`` left in the environment."""
    spec = json.loads(os.environ[ENVIRONMENT])
    settings = ServeSettings(**spec["settings"])
    classifier = load_local(spec["directory"], settings, spec["runtime"])
    return create_app(classifier, settings, directory=spec["directory"], runtime=spec["runtime"])


def serve(directory: str | Path, settings: ServeSettings, *, runtime: str = "torch", access_log: bool = False) -> None:
    """Serve the bundle at ``directory`` until SIGINT or SIGTERM, then answer what is in flight and exit."""
    import uvicorn

    options: dict[str, Any] = dict(
        host=settings.host, port=settings.port, access_log=access_log, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S
    )
    classifier = load_local(directory, settings, runtime)  # with several workers: fail here, once, not in each
    address = f"http://{settings.host}:{settings.port}"
    logger.info(f"serving {directory} as {settings.model_name!r} on {address} (API: {address}/docs)")
    with _exit_0_once_shut_down():
        if settings.workers == 1:
            uvicorn.run(create_app(classifier, settings, directory=directory, runtime=runtime), **options)
            return
        del classifier
        spec = {"directory": str(Path(directory).resolve()), "runtime": runtime, "settings": settings.model_dump()}
        os.environ[ENVIRONMENT] = json.dumps(spec)
        uvicorn.run("textcnn.serve.run:app_from_environment", factory=True, workers=settings.workers, **options)


@contextmanager
def _exit_0_once_shut_down() -> Iterator[None]:
    """uvicorn raises the signal that stopped it again once it has shut down; by then every request
    is answered, so the command ignores it and exits 0 rather than dying of SIGTERM or SIGINT."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, lambda *_: None) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
