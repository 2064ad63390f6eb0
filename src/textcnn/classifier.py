"""``TextClassifier``: the façade over the training pipeline, the predictor and the bundle.

It holds the settings asked for and, once trained or loaded, one ``TrainedClassifier`` (an immutable
value) with the ``Predictor`` that runs it; every step of training and prediction lives below it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np
import torch

from textcnn.bundle import load_bundle, save_bundle
from textcnn.bundle_checks import bundle_file
from textcnn.bundle_checks.limits import MAX_ONNX_BYTES
from textcnn.config import RunConfig, build_config
from textcnn.data.encoding import EncodedTexts, TokenizedTexts
from textcnn.data.provenance import file_sha256
from textcnn.data.stream_cache import StreamedFile
from textcnn.data.vocab import Vocab
from textcnn.errors import BundleError, NotFittedError, TextcnnError
from textcnn.estimator import EstimatorMixin
from textcnn.inference.explain import Explanation, explain
from textcnn.inference.onnx_runtime import ONNX_FILES, RUNTIMES, OnnxModel, import_onnx_package
from textcnn.inference.predictor import Predictor, Scored
from textcnn.inference.trained import TrainedClassifier
from textcnn.reporting import Progress, verbose_logging
from textcnn.training.pipeline import tokenize_job, train_classifier
from textcnn.training.reproducibility import resolve_device, set_threads
from textcnn.training.distributed_checkpoints import checkpoints_for
from textcnn.training.resume import Checkpoints
from textcnn.training.stream_pipeline import train_streamed
from textcnn.training.trainer import FitResult

Texts = Sequence[str] | EncodedTexts


class TextClassifier(EstimatorMixin):
    """Train a TextCNN on labelled texts, predict, evaluate, save and load.

    Settings are given as sections or as bare field names, which are the YAML keys and CLI flags::

        TextClassifier(model={"kernel_sizes": [3, 4, 5]}, epochs=10, tokenizer={"kind": "char"})

    Labels given as lists (``[["joy", "love"], ["anger"]]``) train a multi-label model: one sigmoid
    per label, with per-label decision thresholds tuned on dev; ``predict`` then returns lists.
    Works as a scikit-learn estimator (``get_params``/``set_params``, ``clone``, ``Pipeline``,
    ``cross_val_score``, ``GridSearchCV``) on lists of texts.
    """

    def __init__(self, config: RunConfig | None = None, **overrides: Any) -> None:
        self.params = build_config(config, overrides)  # the settings asked for, `auto` values unresolved
        self.fit_result: FitResult | None = None
        self._trained: TrainedClassifier | None = None
        self._predictor: Predictor | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Hashable],
        *,
        dev: tuple[Sequence[str], Sequence[Hashable]] | None = None,
        verbose: bool = False,
        progress: Progress | None = None,
        checkpoint_dir: str | Path | None = None,
        resume_from: str | Path | None = None,
    ) -> "TextClassifier":
        """Train on ``texts``/``labels``; the best epoch on ``dev`` is kept.

        Without ``dev``, a stratified, seeded ``data.dev_fraction`` of the training texts is held out.
        Multi-label (labels are lists, or ``data.multi_label: true``): texts with an empty label list
        are left out and counted in the log. ``verbose`` prints the log (the ``textcnn`` logger) to
        stderr; ``progress`` draws a progress bar (see ``textcnn.reporting.Progress``).

        ``checkpoint_dir``: write checkpoints to this folder (at each epoch's end, and every
        ``train.checkpoint_every_steps`` steps); SIGINT and SIGTERM then stop training after the next
        one, raising ``TrainingInterrupted``. ``resume_from``: continue the run whose checkpoints are in
        this folder, with the same data and settings (else ``CheckpointError``), writing checkpoints
        there. The folder is removed when ``fit`` returns, unless ``train.keep_checkpoints``.
        """
        checkpoints = _checkpoints(checkpoint_dir, resume_from)
        texts, labels = list(texts), list(labels)
        kind, train, tokenized_dev = tokenize_job(self.params, texts, labels, dev)
        with verbose_logging(verbose):
            self.fit_tokenized(train, labels, tokenized_dev, kind=kind, progress=progress, checkpoints=checkpoints)
        if checkpoints is not None and not self.params.train.keep_checkpoints:
            checkpoints.remove()
        return self

    def fit_tokenized(
        self,
        train: TokenizedTexts,
        labels: Sequence[Hashable],
        dev: tuple[TokenizedTexts, list[Hashable]] | None,
        *,
        kind: str,
        progress: Progress | None = None,
        checkpoints: Checkpoints | None = None,
    ) -> "TextClassifier":
        """``fit`` on texts tokenized (by the tokenizer ``kind``) already, as read from a file or the cache.

        ``checkpoints``: the folder to checkpoint to or resume from, left in place (the caller removes it).
        """
        result = train_classifier(self.params, train, list(labels), dev, kind=kind, progress=progress, checkpoints=checkpoints)
        self.fit_result = result.fit
        self._use(result.classifier, Predictor(result.classifier, device=result.device))
        return self

    def fit_streamed(
        self,
        data: StreamedFile,
        dev: tuple[TokenizedTexts, list[Hashable]] | None,
        *,
        progress: Progress | None = None,
        checkpoints: Checkpoints | None = None,
    ) -> "TextClassifier":
        """``fit`` on a training file streamed to disk (``data.stream_cache.read_streamed``); without ``dev``, on its hashed split."""
        result = train_streamed(self.params, data, dev, progress=progress, checkpoints=checkpoints)
        self.fit_result = result.fit
        self._use(result.classifier, Predictor(result.classifier, device=result.device))
        return self

    def _use(self, trained: TrainedClassifier, predictor: Predictor) -> None:
        self._trained, self._predictor = trained, predictor

    # ---------------------------------------------------------------- what it is
    @property
    def trained(self) -> TrainedClassifier:
        """The trained classifier (network, vocabulary, labels, thresholds, n-gram model, metrics, config)."""
        if self._trained is None:
            raise NotFittedError("this TextClassifier is not trained yet: call fit() or TextClassifier.load()")
        return self._trained

    @property
    def config(self) -> RunConfig:
        """The settings: as resolved by training once trained (tokenizer kind, max_len, n-gram weight), else as asked."""
        return self._trained.config if self._trained is not None else self.params

    @config.setter
    def config(self, config: RunConfig) -> None:
        """Train (next) and, once trained, predict with these settings: say another ``tokenizer.long_text``."""
        self.params = config
        if self._trained is None:
            return
        trained = replace(self._trained, config=config)
        predictor = self._predictor
        self._use(trained, Predictor(trained, device=predictor.device, onnx=predictor.onnx, precision=predictor.precision))

    @property
    def model(self) -> torch.nn.Module:
        return self.trained.model

    @property
    def vocab(self) -> Vocab:
        return self.trained.vocab

    @property
    def labels(self):
        return self.trained.labels

    @property
    def thresholds(self) -> np.ndarray | None:
        """Multi-label: each label's decision threshold, tuned on dev."""
        return self.trained.thresholds

    @property
    def naive_bayes(self):
        """The n-gram model whose scores join the network's (None: the network alone)."""
        return self.trained.ngram_model

    @property
    def metrics(self) -> dict[str, Any]:
        """Dev (and test) reports and the facts of the run, as saved in metrics.json."""
        return self.trained.metrics

    @property
    def history(self) -> list[dict[str, Any]]:
        """One row per epoch trained (member, run, epoch, train loss, dev scores, speed, learning rate), as saved in history.json."""
        return list(self.trained.history)

    @property
    def tokenizer(self):
        return self._require_predictor().tokenizer

    @property
    def multi_label(self) -> bool:
        """Whether the model gives each text a set of labels (one sigmoid per label)."""
        return self.config.data.multi_label is True

    @property
    def classes(self) -> list[Hashable]:
        """The labels, in the order of ``predict_proba``'s columns."""
        return list(self.trained.labels.labels)

    # ---------------------------------------------------------------- prediction
    @property
    def predictor(self) -> Predictor:
        """What predicts: the trained classifier on its device, or its ONNX export."""
        return self._require_predictor()

    def _require_predictor(self) -> Predictor:
        self.trained  # noqa: B018 - raises when not trained
        return self._predictor

    def encode(self, texts: Sequence[str]) -> EncodedTexts:
        """Token ids of ``texts`` as the model sees them (``truncation_note()`` tells what was cut)."""
        return self._require_predictor().encode(texts)

    def encode_tokenized(self, texts: TokenizedTexts) -> EncodedTexts:
        """``encode`` for texts tokenized by the model's tokenizer already."""
        return self._require_predictor().encode_tokenized(texts)

    def predict_logits(self, texts: Texts, *, batch_size: int = 256) -> np.ndarray:
        """Raw scores (num_texts, num_classes) of texts (or of texts already ``encode``d)."""
        return self._require_predictor().logits(texts, batch_size=batch_size)

    def predict_proba(self, texts: Texts, *, batch_size: int = 256) -> np.ndarray:
        """Probabilities (num_texts, num_classes), columns in the order of ``classes``: softmax, or one sigmoid per label."""
        return self._require_predictor().proba(texts, batch_size=batch_size)

    def predict(self, texts: Texts, *, batch_size: int = 256) -> list:
        """The most probable label of each text; multi-label: the list of labels over their thresholds."""
        return self._require_predictor().predict(texts, batch_size=batch_size)

    def predict_scored(self, texts: Texts, *, batch_size: int = 256) -> Scored:
        """The predicted (label, probability) pairs of each text, most probable first (multi-label: all over their thresholds)."""
        return self._require_predictor().scored(texts, batch_size=batch_size)

    def predict_top_k(self, texts: Texts, k: int = 1) -> Scored:
        """The ``k`` most probable (label, probability) pairs of each text, best first."""
        return self._require_predictor().top_k(texts, k)

    def evaluate(self, texts: Texts, labels: Sequence[Hashable], *, source: str = "data") -> dict[str, Any]:
        """Accuracy, macro-F1, per-class figures and the confusion matrix (multi-label: micro/macro/samples-F1 and more)."""
        return self._require_predictor().evaluate(texts, labels, source=source)

    def explain(self, texts: Sequence[str], target: Hashable | Sequence[Hashable] | None = None, top: int | None = 10) -> list[Explanation]:
        """Why each text got its scores: the n-grams that drive each explained logit, and the bias.

        Explains the predicted class (multi-label: each label over its threshold) or ``target``.
        For the default TextCNN (max pooling) with its n-gram model the explanation is exact:
        ``bias + sum of contributions + rest == logit``; ``rest`` holds what ``top`` left out (none: all
        contributions). Other models are explained by occlusion (``exact`` false). See ``textcnn.inference.explain``.
        """
        return explain(self._require_predictor(), texts, target=target, top=top)

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | Path, *, extra_info: dict[str, Any] | None = None) -> Path:
        """Write the bundle (safetensors weights + JSON) to ``directory``."""
        return save_bundle(directory, self.trained, extra_info=extra_info)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        device: str = "cpu",
        threads: int | None = None,
        runtime: str = "torch",
        long_text: str | None = None,
    ) -> "TextClassifier":
        """A classifier from a bundle written by ``save``; never unpickles anything.

        Args:
            threads: CPU threads for prediction (none: the runtime's default).
            runtime: ``torch``; ``torch-bf16``, the network's products in bfloat16 with float32
                sums (about twice the batch speed on CPUs with AVX512-BF16 or AMX, logits within
                about 0.01 of float32; explanations stay float32); or ``onnx`` / ``onnx-int8`` to
                predict with the model that ``textcnn export DIR --onnx [--int8]`` wrote into the
                bundle (CPU, ONNX Runtime).
            long_text: read texts longer than ``max_len`` this way (``truncate``, ``head-tail``,
                ``windows``) instead of as in training.
        """
        if runtime not in RUNTIMES:
            raise TextcnnError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        set_threads(threads)
        torch_device = resolve_device(device)
        trained = load_bundle(directory, device=torch_device)
        if long_text is not None:
            config = build_config(trained.config, {"tokenizer.long_text": long_text}, source="long_text")
            trained = replace(trained, config=config)
        onnx = _load_onnx(Path(directory), runtime, threads) if runtime in ONNX_FILES else None
        precision = "bfloat16" if runtime == "torch-bf16" else "float32"
        classifier = cls(trained.config)
        classifier._use(trained, Predictor(trained, device=torch_device, onnx=onnx, precision=precision))
        return classifier


def load(
    directory: str | Path, *, device: str = "cpu", threads: int | None = None, runtime: str = "torch", long_text: str | None = None
) -> TextClassifier:
    """Load a saved bundle (same as ``TextClassifier.load``)."""
    return TextClassifier.load(directory, device=device, threads=threads, runtime=runtime, long_text=long_text)


def _checkpoints(checkpoint_dir: str | Path | None, resume_from: str | Path | None) -> Checkpoints | None:
    if checkpoint_dir is not None and resume_from is not None and Path(checkpoint_dir) != Path(resume_from):
        raise TextcnnError(f"fit: checkpoint_dir {checkpoint_dir} and resume_from {resume_from} name two folders; give one")
    if resume_from is not None:
        return checkpoints_for(resume_from, resume=True)
    return checkpoints_for(checkpoint_dir, resume=False) if checkpoint_dir is not None else None


def _load_onnx(directory: Path, runtime: str, threads: int | None) -> OnnxModel:
    import_onnx_package("onnxruntime")
    export = f"textcnn export {directory} --onnx" + (" --int8" if runtime == "onnx-int8" else "")
    path = bundle_file(directory, ONNX_FILES[runtime], MAX_ONNX_BYTES)
    if path is None:
        raise BundleError(f"{directory / ONNX_FILES[runtime]} does not exist: run `{export}` first")
    model = OnnxModel(path, threads=threads)
    if model.weights_sha256 != file_sha256(directory / "model.safetensors"):
        raise BundleError(f"{path} was exported from other weights than {directory / 'model.safetensors'}: run `{export}` again")
    return model
