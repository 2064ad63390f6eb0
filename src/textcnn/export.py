"""Export a bundle's network to ONNX (and an int8 version), each checked against PyTorch.

``model.onnx`` takes (batch, seq_len) int64 token ids and (batch,) int64 lengths, both axes
dynamic, and returns (batch, num_classes) logits; tokenizing stays with the bundle's vocab.json.
Needs ``pip install "textcnn[onnx]"``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from textcnn.classifier import TextClassifier
from textcnn.data.provenance import file_sha256
from textcnn.data.encoding import EncodedTexts
from textcnn.errors import TextcnnError
from textcnn.models.fast_kernels import export_form
from textcnn.inference.onnx_runtime import ONNX_FILES, OnnxModel, import_onnx_package, predict_logits_onnx
from textcnn.inference.logits import predict_logits, sigmoid, softmax
from textcnn.inference.thresholds import apply_thresholds
from textcnn.version import __version__


@dataclass
class ExportCheck:
    """How an exported file predicts against PyTorch on random texts."""

    path: Path
    num_texts: int
    max_probability_diff: float  # largest |p_onnx - p_torch| over all texts and classes
    same_label_share: float  # share of texts whose most probable label is the same

    def describe(self) -> str:
        size = self.path.stat().st_size / 2**20
        return (
            f"wrote {self.path} ({size:.1f} MiB); against PyTorch on {self.num_texts} random texts: "
            f"same label {100 * self.same_label_share:.1f}%, max probability difference {self.max_probability_diff:.1e}"
        )


def export_onnx(
    bundle_dir: str | Path, output: str | Path | None = None, *, int8: bool = False, check_texts: int = 1000
) -> list[ExportCheck]:
    """Write ``model.onnx`` (and ``model.int8.onnx`` with ``int8``) for a bundle and check each one.

    Args:
        bundle_dir: a bundle written by ``textcnn train`` or ``TextClassifier.save``.
        output: where ``model.onnx`` goes; default: into the bundle, where
            ``TextClassifier.load(dir, runtime="onnx")`` finds it. The int8 file goes next to it.
        int8: also write a copy with int8 weights (ONNX Runtime dynamic quantization).
        check_texts: random texts (lengths 1 to max_len) on which the files are compared with PyTorch.

    Raises:
        TextcnnError: the ONNX packages are missing, or the export does not match PyTorch.
    """
    for package in ("onnx", "onnxscript", "onnxruntime"):
        import_onnx_package(package)
    bundle_dir = Path(bundle_dir)
    classifier = TextClassifier.load(bundle_dir)
    model = classifier.model.eval()
    path = Path(output) if output is not None else bundle_dir / ONNX_FILES["onnx"]
    path.parent.mkdir(parents=True, exist_ok=True)
    min_len = max(2, model.min_len)
    metadata = {
        "textcnn_version": __version__,
        "model_name": classifier.config.model.name,
        "weights_sha256": file_sha256(bundle_dir / "model.safetensors"),
        "min_len": str(min_len),
    }
    _write_atomically(path, lambda tmp: _export(model, tmp, min_len, metadata))
    written = [path]
    if int8:
        int8_path = path.with_name(path.name.removesuffix(".onnx") + ".int8.onnx")
        _write_atomically(int8_path, lambda tmp: _quantize(path, tmp))
        written.append(int8_path)
    encoded = _random_texts(len(classifier.vocab), int(classifier.config.tokenizer.max_len), check_texts)
    # a multi-label model is compared on its per-label sigmoids and the labels over their thresholds
    thresholds = classifier.thresholds if classifier.multi_label else None
    probabilities = sigmoid if classifier.multi_label else softmax
    expected = probabilities(predict_logits(model, encoded))
    checks = [_check(file, encoded, expected, probabilities, thresholds) for file in written]
    if checks[0].max_probability_diff > 1e-4:
        raise TextcnnError(f"the export does not match PyTorch: {checks[0].describe()}")
    return checks


def _export(model: torch.nn.Module, path: Path, min_len: int, metadata: dict[str, str]) -> None:
    model = export_form(model)  # TextCNNs with few kernels gather precomputed kernel products, as in PyTorch
    batch, seq_len = torch.export.Dim("batch"), torch.export.Dim("seq_len", min=min_len)
    ids = torch.full((2, min_len + 1), 2, dtype=torch.long)
    lengths = torch.tensor([min_len + 1, 1])
    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (ids, lengths),
            dynamo=True,
            input_names=["ids", "lengths"],
            output_names=["logits"],
            dynamic_shapes={"ids": {0: batch, 1: seq_len}, "lengths": {0: batch}},
            verbose=False,
        )
    program.model.metadata_props.update(metadata)
    program.save(path, external_data=False)


def _quantize(source: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The embedding table (Gather) and matrix products become int8, activations are quantized on the
    # fly. Conv stays float: ONNX Runtime's ConvInteger ran 3.4x slower than its float Conv (Kim-size).
    with _quiet_logging():
        quantize_dynamic(source, path, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])


@contextmanager
def _quiet_logging() -> Iterator[None]:
    # The exporter and the quantizer log warnings that do not concern the user (torchvision missing,
    # "consider pre-processing").
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".onnx")
    os.close(handle)
    try:
        write(Path(name))
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def _random_texts(vocab_size: int, max_len: int, count: int, seed: int = 0) -> EncodedTexts:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, size=count)
    ids = rng.integers(1, vocab_size, size=int(lengths.sum())).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return EncodedTexts(ids, offsets, lengths.astype(np.int64))


def _check(
    path: Path,
    encoded: EncodedTexts,
    expected: np.ndarray,
    probabilities: Callable[[np.ndarray], np.ndarray] = softmax,
    thresholds: np.ndarray | None = None,
) -> ExportCheck:
    got = probabilities(predict_logits_onnx(OnnxModel(path), encoded, num_classes=expected.shape[1]))
    if thresholds is None:
        same = float((got.argmax(axis=1) == expected.argmax(axis=1)).mean())
    else:  # the same label set
        same = float((apply_thresholds(got, thresholds) == apply_thresholds(expected, thresholds)).all(axis=1).mean())
    return ExportCheck(path, len(encoded), float(np.abs(got - expected).max()), same)
