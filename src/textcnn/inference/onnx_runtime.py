"""Prediction with a model exported to ONNX (``textcnn export DIR --onnx``), run by ONNX Runtime.

Tokenizer, vocabulary and labels stay those of the bundle; only the network runs in ONNX Runtime.
Needs the optional packages of ``pip install "textcnn[onnx]"``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from textcnn.data.batching import iter_batches
from textcnn.data.encoding import EncodedTexts
from textcnn.data.long_texts import WindowedTexts
from textcnn.errors import BundleError, TextcnnError
from textcnn.inference.logits import pool_windows

RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8")  # torch-bf16: the network's products in bfloat16
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}


def import_onnx_package(name: str) -> ModuleType:
    """``onnx``, ``onnxruntime`` or ``onnxscript``, or an error that says how to install them."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise TextcnnError(f'ONNX export and prediction need {name}: pip install "textcnn[onnx]"') from None


class OnnxModel:
    """An exported network in an ONNX Runtime session: (batch, seq_len) ids and (batch,) lengths -> logits."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        ort = import_onnx_package("onnxruntime")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(f"{path}: cannot load the ONNX model: {error}") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.min_len = int(metadata.get("min_len", 1))  # the export needs at least this many positions
        self.weights_sha256 = metadata.get("weights_sha256", "")  # of the model.safetensors it came from

    def __call__(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"ids": ids, "lengths": lengths})[0]


def predict_logits_onnx(model: OnnxModel, encoded: EncodedTexts, *, num_classes: int, batch_size: int = 256) -> np.ndarray:
    """Logits (num_texts, num_classes) in the order of ``encoded``, as ``predict_logits`` gives them.

    Windows (``tokenizer.long_text: windows``) are pooled into their texts, as ``predict_logits`` does.
    """
    out = np.zeros((len(encoded), num_classes), dtype=np.float32)
    for batch in iter_batches(encoded, batch_size, min_len=model.min_len):
        out[batch.index] = model(batch.ids.numpy(), batch.lengths.numpy())  # (batch, num_classes)
    if isinstance(encoded, WindowedTexts):
        return pool_windows(out, encoded.window_text, encoded.pool)
    return out
