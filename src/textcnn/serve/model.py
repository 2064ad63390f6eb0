"""The model behind the server: one call for a whole micro-batch, then each request's own rows.

The rows are ``inference.rows.prediction_rows``, the ones ``textcnn predict`` writes, so the
server and the command line answer alike. Runs in the model's worker thread, never on the event loop.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from textcnn.classifier import TextClassifier
from textcnn.inference.rows import prediction_rows
from textcnn.version import __version__

Rows = list[dict[str, Any]]


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
        """The rows of every job, from one model call over all their texts."""
        texts = [text for job in jobs for text in job.texts]
        probabilities = self.predictor.proba(texts, batch_size=max(256, len(texts)))
        answers: list[Rows] = []
        start = 0
        for job in jobs:
            part = probabilities[start : start + len(job.texts)]
            start += len(job.texts)
            answers.append(self._rows(job, part))
        return answers

    def _rows(self, job: PredictJob, probabilities: np.ndarray) -> Rows:
        top = self.predictor.top_k_from(probabilities, job.top_k)
        chosen = self.predictor.scored_from(probabilities) if self.multi_label else None
        return prediction_rows(job.texts, top, chosen, job.top_k)

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
