"""The server's settings: where it listens, how it batches, and the limits that keep one client from
taking it down. One pydantic model, filled by ``textcnn serve`` flags or by Python keywords."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    """How ``textcnn serve`` listens, batches and limits requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 exposes the server to the network.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port).")
    workers: int = Field(1, ge=1, description="Server processes, each with its own copy of the model.")
    model_process: bool = Field(
        True,
        description="Compute in a child process that loads the bundle too, beside the event loop (off: in a thread of the "
        "server process, which takes turns with the event loop on one core).",
    )
    threads: Optional[int] = Field(None, ge=1, description="CPU threads per model call [default: the runtime's choice].")
    model_name: str = Field("textcnn", min_length=1, description="The name KServe clients use: /v1/models/NAME:predict.")
    batch_window_ms: float = Field(
        2.0, ge=0, le=1000, description="Wait this long for more requests to join a model call (0: one request per call)."
    )
    max_batch_texts: int = Field(256, ge=1, description="Most texts in one model call (a larger request runs alone).")
    max_texts_per_request: int = Field(256, ge=1, description="Most texts in one request (more: 413).")
    max_explain_texts: int = Field(
        16, ge=1, description="Most texts in one /explain request (more: 413); an explanation costs far more than a prediction."
    )
    max_chars_per_text: int = Field(10_000, ge=1, description="Most characters in one text (more: 413).")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=64, description="Largest request body in bytes (more: 413).")
    max_in_flight: int = Field(512, ge=1, description="Most POST requests being answered at once (more: 503 with Retry-After).")
    retry_after_s: int = Field(1, ge=0, description="The Retry-After seconds of a 503.")

    @property
    def batch_window_s(self) -> float:
        return self.batch_window_ms / 1000.0
