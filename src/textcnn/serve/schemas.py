"""What the endpoints read and answer, as pydantic models (the OpenAPI schema is made from them), and
how a raw request body becomes one: read within the byte limit, decoded, parsed, validated, checked
against the per-request limits, each failure a 4xx that says what is wrong."""

from __future__ import annotations

import json
from typing import Any, Optional, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect, Request

from textcnn.serve.settings import ServeSettings

CLIENT_CLOSED = 499  # the client left before sending the whole body (nginx's "client closed request")
Label = Union[str, int, float, bool]
Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    """An answer other than 200: ``status``, a message for the client, and headers (Retry-After)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, errors: list | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.errors = status, message, headers or {}, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer: what is wrong, and for a body that failed validation each problem."""

    detail: str = Field(description="What is wrong, in one sentence.")
    errors: Optional[list[dict[str, Any]]] = Field(None, description="Validation problems: loc (where), msg, type.")


class PredictRequest(BaseModel):
    """Texts to classify."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, description="The texts, at least one.")
    top_k: int = Field(1, ge=1, description="Also list the K most probable labels of each text (K > 1).")


class RankedLabel(BaseModel):
    label: Label
    probability: float


class PredictionRow(BaseModel):
    """One text's prediction: the rows ``textcnn predict`` writes as JSON lines."""

    text: str
    label: Optional[Label] = Field(None, description="Single-label models: the most probable label.")
    probability: Optional[float] = Field(None, description="Single-label models: its probability.")
    labels: Optional[list[Label]] = Field(None, description="Multi-label models: the labels over their thresholds.")
    probabilities: Optional[list[float]] = Field(None, description="Multi-label models: their probabilities.")
    top_k: Optional[list[RankedLabel]] = Field(None, description="With top_k > 1: the K most probable labels, best first.")


class PredictResponse(BaseModel):
    predictions: list[PredictionRow] = Field(description="One row per text, in the order of the texts.")


class KServeInstance(BaseModel):
    text: str


class KServeRequest(BaseModel):
    """The KServe v1 (TF-Serving) predict body: instances are texts, or objects with a ``text``."""

    instances: list[Union[str, KServeInstance]] = Field(min_length=1)

    def texts(self) -> list[str]:
        return [item if isinstance(item, str) else item.text for item in self.instances]


class ExplainRequest(BaseModel):
    """Texts to explain: the n-grams that drive the predicted class, or ``target``'s."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1)
    target: Optional[Label] = Field(None, description="Explain this class or label instead of the predicted one(s).")
    top: Optional[int] = Field(None, ge=1, description="At most this many n-grams per explained class (the rest summed in `rest`) [default: all, as `textcnn explain --json`].")


REQUEST_MODELS: list[type[BaseModel]] = [PredictRequest, KServeRequest, ExplainRequest]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body has {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the body has more than {limit:,} bytes; the limit is {limit:,}")
            chunks.append(chunk)
    except ClientDisconnect:  # no one reads the answer; the metrics count it as nginx does, not as a 500
        raise ApiError(CLIENT_CLOSED, f"the client closed the connection after {size:,} bytes of the body") from None
    return b"".join(chunks)


def parse_body(body: bytes, model: type[Model]) -> Model:
    """``body`` as ``model``: 400 when it is not UTF-8 or not JSON, 422 when its shape is wrong."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)
        unreadable = [problem["msg"] for problem in problems if problem["type"] == "json_invalid"]
        if unreadable:
            _raise_unreadable(body, unreadable[0].removeprefix("Invalid JSON: "))
        raise ApiError(422, "; ".join(_describe(problem) for problem in problems), errors=_jsonable(problems)) from None


def _raise_unreadable(body: bytes, reason: str) -> None:
    """400 with what makes ``body`` unreadable: the first byte that is not UTF-8, or where the JSON breaks.

    ``reason`` is the parser's own word, for JSON that Python reads but the parser refuses (a lone
    surrogate escape) or that neither reads in bounds (nesting too deep, an integer too long).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the body is not UTF-8: byte {error.start} ({body[error.start]:#04x}) {error.reason}") from None
    if not text.strip():
        raise ApiError(400, "the body is empty: send a JSON object")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except (RecursionError, ValueError):  # past Python's nesting or integer-digit limits
        pass
    raise ApiError(400, f"the body is not JSON the server can read: {reason}")


def _describe(problem: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {problem['msg']}"


def _jsonable(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]} for problem in problems]


def check_texts(texts: list[str], settings: ServeSettings) -> None:
    """413 past the per-request limits: too many texts, or a text too long."""
    if len(texts) > settings.max_texts_per_request:
        raise ApiError(
            413, f"{len(texts):,} texts in one request; the limit is {settings.max_texts_per_request:,}: split the request"
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_chars_per_text:
            raise ApiError(413, f"texts[{index}] has {len(text):,} characters; the limit is {settings.max_chars_per_text:,}")
