"""The model behind the server: one call for a whole micro-batch, then each request's own rows.

The rows are ``inference.rows.prediction_rows``, the ones ``textcnn predict`` writes, so the
server and the command line answer alike; each request gets them as its finished JSON body.
``ServedModel`` computes them wherever it runs: in the model's child process (``model_process.py``,
the default of ``textcnn serve``) or, through ``ModelThread``, in one worker thread of the server
process. Both runners answer the same ``ModelRunner`` calls, never computing on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
import torch

from textcnn.classifier import TextClassifier
from textcnn.inference.explain import explain_texts
from textcnn.inference.rows import prediction_rows
from textcnn.version import __version__

Rows = list[dict[str, Any]]
WARM_UP_TEXT = "warm up"


def json_body(value: Any) -> bytes:
    """``value`` as a JSON response body, rendered as Starlette's ``JSONResponse`` renders it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class PredictJob:
    """One request's share of a batch: its texts and how many ranked labels it asked for."""

    texts: list[str]
    top_k: int = 1


class ServedModel:
    """A loaded classifier as the server uses it: batched predictions and the facts of ``/metadata``."""

    def __init__(self, classifier: TextClassifier) -> None:
        self.classifier = classifier
        self.predictor = classifier.predictor
        self.multi_label = classifier.multi_label

    @property
    def runtime(self) -> str:
        """What runs the network: ``torch``, ``torch-bf16`` or ``onnx``."""
        if self.predictor.onnx is not None:
            return "onnx"
        return "torch-bf16" if self.predictor.precision == "bfloat16" else "torch"

    def predict_batch(self, jobs: Sequence[PredictJob]) -> list[Rows]:
        """The rows of every job, from one model call over all their texts (and one ranking of them
        for the largest ``top_k`` asked, which each job cuts to its own)."""
        texts = [text for job in jobs for text in job.texts]
        probabilities = self.predictor.proba(texts, batch_size=max(256, len(texts)))
        k = max(job.top_k for job in jobs)
        top = self.predictor.top_k_from(probabilities, k)  # a stable ranking: its first k' are top_k_from(..., k')
        chosen = self.predictor.scored_from(probabilities) if self.multi_label else None
        answers: list[Rows] = []
        start = 0
        for job in jobs:
            end = start + len(job.texts)
            ranked = top[start:end] if job.top_k == k else [pairs[: job.top_k] for pairs in top[start:end]]
            answers.append(prediction_rows(job.texts, ranked, chosen[start:end] if chosen is not None else None, job.top_k))
            start = end
        return answers

    def warm_up(self) -> None:
        """Predict once, so that the first request pays none of the start-up cost."""
        self.predictor.prepare()
        self.predict_bodies([PredictJob([WARM_UP_TEXT])])

    def predict_bodies(self, jobs: Sequence[PredictJob]) -> list[bytes]:
        """Each job's response body, ``{"predictions": rows}``, from one model call."""
        return [json_body({"predictions": rows}) for rows in self.predict_batch(jobs)]

    def explain_body(self, texts: list[str], target: list[Any] | None, top: int) -> bytes:
        """The response body of ``/explain``: ``explain_texts`` of ``texts``."""
        return json_body(explain_texts(self.predictor, texts, target=target, top=top))

    def metadata(self) -> dict[str, Any]:
        """Labels, whether multi-label (and the thresholds), the settings, the saved metrics, versions."""
        classifier = self.classifier
        thresholds = classifier.thresholds
        return {
            "labels": classifier.classes,
            "multi_label": self.multi_label,
            "thresholds": None if thresholds is None else [float(value) for value in thresholds],
            "runtime": self.runtime,
            "config": classifier.config.model_dump(mode="json"),
            "metrics": classifier.metrics,
            "versions": {"textcnn": __version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        }


class ModelUnavailable(RuntimeError):
    """The model is not running: starting, restarting after its process died, or stopped."""


class ModelRunner(Protocol):
    """Where the server's model computes: started before the first request, stopped after the last."""

    @property
    def alive(self) -> bool: ...

    gave_up: str | None  # why the model cannot run again (its process would not restart): the server is unhealthy

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def predict(self, jobs: list[PredictJob]) -> list[bytes]: ...

    async def explain(self, texts: list[str], target: list[Any] | None, top: int) -> bytes: ...


class ModelThread:
    """``ServedModel`` in one worker thread of the server process (explanations between batches).

    The thread shares the interpreter lock with the event loop, so under load the two mostly take
    turns on one core; the child process (``ModelProcess``) does not. This runner serves classifiers
    that exist only in memory, and ``--model-thread``.
    """

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        self.gave_up: str | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def alive(self) -> bool:
        return self._executor is not None

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textcnn-model")
        await self._run(self.model.warm_up)

    async def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def predict(self, jobs: list[PredictJob]) -> list[bytes]:
        return await self._run(self.model.predict_bodies, jobs)

    async def explain(self, texts: list[str], target: list[Any] | None, top: int) -> bytes:
        return await self._run(self.model.explain_body, texts, target, top)

    async def _run(self, function: Any, *args: Any) -> Any:
        if self._executor is None:
            raise ModelUnavailable("the model thread is not running")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
