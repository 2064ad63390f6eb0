"""The HTTP server (``textcnn serve``): FastAPI over one loaded bundle, with micro-batching, limits
and Prometheus metrics. Needs ``pip install "textcnn[serve]"``; ``ServeSettings`` does not (the
command line reads it before it knows whether FastAPI is installed)."""

from __future__ import annotations

from typing import Any

from textcnn.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from textcnn.serve.app import create_app

        return create_app
    raise AttributeError(f"module 'textcnn.serve' has no attribute {name!r}")
