"""The web page of the server: ``GET /`` (type a text, see the label, the bars and the highlighted
n-grams), its static files (no build step, no CDN), and ``GET /report`` (the bundle's metrics and
training curves, the HTML of ``textcnn report``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from textcnn.classifier import TextClassifier
from textcnn.report import STYLE, history_section, metrics_section

STATIC = Path(__file__).resolve().parent / "static"


def report_fragment(classifier: TextClassifier) -> str:
    """The metrics and training curves of ``classifier``'s bundle, as an HTML fragment with its style."""
    trained = classifier.trained
    history = history_section(list(trained.history), multi_label=trained.multi_label) if trained.history else ""
    return f"<style>{STYLE}</style>{metrics_section(trained.metrics)}{history}"


def add_page_routes(app: FastAPI, classifier: TextClassifier) -> None:
    """``GET /``, ``/static/...`` and ``GET /report``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    fragment = report_fragment(classifier)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/report", response_class=HTMLResponse)
    async def report() -> HTMLResponse:
        """The bundle's metrics (per-class table, confusion heat map, F1 bars) and training curves."""
        return HTMLResponse(fragment)
