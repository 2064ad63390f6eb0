"""``TextClassifier``: the façade that composes data, models, training and the bundle."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np
import torch

from textcnn.bundle import load_bundle, save_bundle
from textcnn.config import REFIT_AUTO_MAX_TEXTS, RunConfig, TokenizerConfig, build_config, resolve_embedding_mode
from textcnn.data.provenance import file_sha256
from textcnn.data.encoding import (
    EncodedTexts,
    TokenizedTexts,
    build_compact_vocab,
    choose_max_len,
    concat_compact,
    encode_compact,
    tokenize_compact,
)
from textcnn.data.long_texts import WindowedTexts, fit_long_texts
from textcnn.data.labels import LabelSet
from textcnn.data.splits import rarest_labels, stratified_split
from textcnn.data.tokenizers import Tokenizer, build_tokenizer, resolve_tokenizer_kind
from textcnn.data.vectors import read_vectors
from textcnn.data.vocab import Vocab
from textcnn.errors import BundleError, ConfigError, DataError, TextcnnError
from textcnn.evaluation import classification_report, multilabel_report
from textcnn.models import Ensemble, build_model
from textcnn.inference.onnx_runtime import ONNX_FILES, RUNTIMES, OnnxModel, import_onnx_package, predict_logits_onnx
from textcnn.inference.logits import pool_windows, predict_logits, sigmoid, softmax
from textcnn.models.naive_bayes import NaiveBayes, fit_naive_bayes, fit_nb_logistic, fit_weight
from textcnn.training.reproducibility import resolve_device, run_info, seed_everything, set_threads
from textcnn.inference.thresholds import apply_thresholds
from textcnn.training.trainer import FitResult, Trainer, report_key, resolve_select_metric, score_logits

Log = Callable[[str], None]


def _stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class TextClassifier:
    """Train a TextCNN on labelled texts, predict, evaluate, save and load.

    Settings are given as sections or as bare field names, which are the YAML keys and CLI flags::

        TextClassifier(model={"kernel_sizes": [3, 4, 5]}, epochs=10, tokenizer={"kind": "char"})

    Labels given as lists (``[["joy", "love"], ["anger"]]``) train a multi-label model: one sigmoid
    per label, with per-label decision thresholds tuned on dev; ``predict`` then returns lists.
    """

    def __init__(self, config: RunConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(config, overrides)
        self.model: torch.nn.Module | None = None
        self.vocab: Vocab | None = None
        self.labels: LabelSet | None = None
        self.metrics: dict[str, Any] = {}
        self.fit_result: FitResult | None = None
        self.thresholds: np.ndarray | None = None  # multi-label: per-label decision thresholds
        self.naive_bayes: NaiveBayes | None = None  # added to the logits with weight config.nb.weight
        self._run: _Run | None = None  # the encoded data of the last training run
        self._tokenizer = None
        self._device = torch.device("cpu")
        self._onnx: OnnxModel | None = None  # set by load(..., runtime="onnx")

    # ------------------------------------------------------------------ training
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Hashable],
        *,
        dev: tuple[Sequence[str], Sequence[Hashable]] | None = None,
        verbose: bool = True,
        log: Log | None = None,
    ) -> "TextClassifier":
        """Train on ``texts``/``labels``; the best epoch on ``dev`` is kept.

        Without ``dev``, a stratified, seeded ``data.dev_fraction`` of the training texts is held out.
        Multi-label (labels are lists, or ``data.multi_label: true``): texts with an empty label list
        are left out and counted in the log.
        """
        log = log or (_stderr_log if verbose else (lambda message: None))
        texts, labels = list(texts), list(labels)
        if len(texts) != len(labels):
            raise DataError(f"{len(texts)} texts but {len(labels)} labels")
        kind = resolve_tokenizer_kind(self.config.tokenizer.kind, texts)
        tokenizer = _make_tokenizer(kind, self.config.tokenizer)
        tokenized_dev = None
        if dev is not None:
            dev_texts, dev_labels = list(dev[0]), list(dev[1])
            if not dev_texts:
                raise DataError("the dev set is empty")
            tokenized_dev = (tokenize_compact(dev_texts, tokenizer), dev_labels)
        return self._fit(tokenize_compact(texts, tokenizer), labels, tokenized_dev, kind, verbose=verbose, log=log)

    def _fit(
        self,
        train: TokenizedTexts,
        labels: list[Hashable],
        dev: tuple[TokenizedTexts, list[Hashable]] | None,
        kind: str,
        *,
        verbose: bool,
        log: Log,
    ) -> "TextClassifier":
        """``fit`` on texts tokenized (by the tokenizer ``kind``) already."""
        train, labels, dev, multi_label = self._check_labels(train, list(labels), dev, log)
        metric = resolve_select_metric(self.config.train.select_metric, multi_label)
        self.config = config = build_config(self.config, {"data.multi_label": multi_label, "train.select_metric": metric})
        set_threads(config.train.threads)
        carved = dev is None
        if dev is None:
            strata = rarest_labels(labels) if multi_label else labels
            keep, held = stratified_split(strata, config.data.dev_fraction, config.train.seed)
            log(
                f"no dev set given: holding out {len(held):,} of {len(train):,} training texts "
                f"({100 * config.data.dev_fraction:.0f}%, stratified, seed {config.train.seed}) as dev"
            )
            dev = (train.select(held), [labels[i] for i in held])
            train, labels = train.select(keep), [labels[i] for i in keep]
        dev_tokens, dev_labels = dev

        size = config.train.ensemble
        with_naive_bayes = config.nb.ngrams > 0 and (config.nb.for_multi_label or not multi_label)
        members, member_logits, member_scores, seconds = [], [], [], 0.0
        for index in range(size):
            if size > 1:
                log(f"ensemble member {index + 1} of {size}: seed {config.train.seed + index}")
            self.config = config  # each member resolves max_len: auto from its own training texts
            logits, selection, final = self._fit_member(
                train, labels, dev_tokens, dev_labels, carved, seed=config.train.seed + index, kind=kind,
                verbose=verbose, log=log, dev_logits=size > 1 or with_naive_bayes,
            )
            members.append(self.model)
            member_logits.append(logits)
            member_scores.append(self.fit_result.best_score)
            seconds += self.fit_result.seconds
        if size > 1:
            self._join_members(members, member_logits, member_scores, dev_labels, seconds, log)
        if with_naive_bayes:  # members share their data: the last one's runs stand for all
            self._add_naive_bayes(selection, final, np.mean(member_logits, axis=0), log)
        else:
            self.config = build_config(self.config, {"nb.weight": 0.0})
        self.metrics["run"] = run_info(self.config, self._device)
        return self

    def _fit_member(
        self,
        train: TokenizedTexts,
        labels: list[Hashable],
        dev_tokens: TokenizedTexts,
        dev_labels: list[Hashable],
        carved: bool,
        *,
        seed: int,
        kind: str,
        verbose: bool,
        log: Log,
        dev_logits: bool,
    ) -> tuple[np.ndarray | None, "_Run", "_Run"]:
        """Train one model with ``seed``: pick its best epoch on dev, then refit on train + dev if
        ``train.refit`` says so.

        Returns the dev logits of the selection run's model (if ``dev_logits``), and the encoded data
        of the selection run and of the final run (the same run without a refit).
        """
        config = self.config
        rng = seed_everything(seed)
        self._fit_once(train, labels, dev_tokens, dev_labels, kind=kind, rng=rng, verbose=verbose, log=log)
        result = self.fit_result
        selection = self._run
        logits = None
        if dev_logits:
            logits = predict_logits(self.model, selection.dev, device=self._device)
        refit = self.config.train.refit
        # with a dev file, `auto` refits small single-label sets: multi-label thresholds are tuned on the
        # selection run's dev scores, and a refit model's scores drift from them
        small = not self.multi_label and len(train) + len(dev_tokens) <= REFIT_AUTO_MAX_TEXTS
        if refit == "always" or (refit == "auto" and (carved or small)):
            log(
                f"refit: training a fresh model on train + dev ({len(train) + len(dev_tokens):,} texts) "
                f"for the best epoch count, {result.best_epoch}"
            )
            rng = seed_everything(seed)
            self.config = config  # let max_len: auto follow all the texts
            self._fit_once(
                concat_compact(train, dev_tokens), labels + dev_labels, None, None, kind=kind, rng=rng,
                verbose=verbose, log=log, epochs=result.best_epoch,
            )
            self.thresholds = result.thresholds  # the refit has no dev: keep the selection run's thresholds
            self.metrics["refit"] = {"epochs": result.best_epoch, "texts": len(train) + len(dev_tokens)}
            self.fit_result = FitResult(
                result.best_epoch, result.best_score, result.history + self.fit_result.history,
                result.stopped_early, result.seconds + self.fit_result.seconds, result.best_report, result.thresholds,
            )
        self.metrics["dev"] = result.best_report
        return logits, selection, self._run

    def _join_members(
        self,
        members: list[torch.nn.Module],
        member_logits: list[np.ndarray],
        member_scores: list[float],
        dev_labels: list[Hashable],
        seconds: float,
        log: Log,
    ) -> None:
        """Make the trained ``members`` one ``Ensemble``, scored on dev by the mean of their selection runs' logits."""
        self.model = Ensemble(members).eval()
        logits = np.mean(member_logits, axis=0)  # (num_dev, num_classes)
        if self.multi_label:
            targets = self.labels.encode_multi_hot(dev_labels, source="dev")
        else:
            targets = self.labels.encode(dev_labels, source="dev")
        report, thresholds = score_logits(logits, targets, self.labels.labels)
        key = report_key(self.config.train.select_metric, self.multi_label)
        self.thresholds = thresholds
        self.metrics["dev"] = report
        self.metrics["ensemble"] = {
            "members": len(members),
            "seeds": [self.config.train.seed + index for index in range(len(members))],
            f"member_dev_{key}": member_scores,
        }
        self.fit_result = FitResult(
            self.fit_result.best_epoch, report[key], self.fit_result.history, self.fit_result.stopped_early,
            seconds, report, thresholds,
        )
        log(
            f"ensemble of {len(members)}: dev {key} {100 * report[key]:.2f} "
            f"(members {', '.join(f'{100 * score:.2f}' for score in member_scores)}), trained in {seconds:.1f}s"
        )

    def _add_naive_bayes(self, selection: "_Run", final: "_Run", dev_logits: np.ndarray, log: Log) -> None:
        """Fit the n-gram Naive Bayes and weigh it against the network on dev (``nb.weight: auto``).

        The weight is fitted with the selection run's data (Naive Bayes counted on train, scored with
        the network on dev, by likelihood: ``fit_weight``); the saved Naive Bayes is counted on the
        final run's texts (train + dev after a refit), as the saved network was trained on them.
        """
        settings = self.config.nb
        key = report_key(self.config.train.select_metric, self.multi_label)

        def fit(run: _Run) -> NaiveBayes:
            if settings.method == "logistic":
                return fit_nb_logistic(
                    run.train, run.train_targets, vocab_size=run.vocab_size, ngrams=settings.ngrams,
                    smoothing=settings.smoothing, c=settings.c,
                )
            return fit_naive_bayes(
                run.train, run.train_targets, vocab_size=run.vocab_size, ngrams=settings.ngrams, smoothing=settings.smoothing
            )

        naive_bayes = fit(selection)
        nb_logits = _naive_bayes_logits(naive_bayes, selection.dev)
        if settings.weight == "auto":
            # fit_weight keeps scale >= 1e-3, which 4 decimals keep above 0
            scale, weight = (round(value, 4) for value in fit_weight(dev_logits, nb_logits, selection.dev_targets))
        else:
            scale, weight = settings.scale, float(settings.weight)
        if weight == 0:
            scale = 1.0  # the network alone, as trained
        network_report, _ = score_logits(dev_logits, selection.dev_targets, self.labels.labels)
        report, thresholds = score_logits(scale * dev_logits + weight * nb_logits, selection.dev_targets, self.labels.labels)
        if weight > 0 and final is not selection:
            naive_bayes = fit(final)
        self.naive_bayes = naive_bayes if weight > 0 else None
        self.config = build_config(self.config, {"nb.weight": weight, "nb.scale": scale})
        self.metrics["dev"] = report
        if thresholds is not None:
            self.thresholds = thresholds
        self.metrics["naive_bayes"] = {
            "ngrams": settings.ngrams,
            "weight": weight,
            "scale": scale,
            "features": int(len(naive_bayes.keys)),
            f"dev_{key}_network": network_report[key],
            f"dev_{key}_with_naive_bayes": report[key],
        }
        log(
            f"n-gram model ({settings.method}, 1-{settings.ngrams}-grams, {len(naive_bayes.keys):,} of them): scores = {scale:g} x network + {weight:g} x n-gram model, "
            f"dev {key} {100 * network_report[key]:.2f} -> {100 * report[key]:.2f}"
        )

    def _fit_once(
        self,
        train: TokenizedTexts,
        labels: list[Hashable],
        dev_tokens: TokenizedTexts | None,
        dev_labels: list[Hashable] | None,
        *,
        kind: str,
        rng: np.random.Generator,
        verbose: bool,
        log: Log,
        epochs: int | None = None,
    ) -> None:
        """Build labels, vocabulary and model from ``train`` and train it (keeping the best dev epoch)."""
        config = self.config
        if config.data.multi_label:
            label_set = LabelSet.from_labels(label for item in labels for label in item)
            train_targets = label_set.encode_multi_hot(labels, source="train")
            dev_targets = label_set.encode_multi_hot(dev_labels, source="dev") if dev_tokens is not None else None
        else:
            label_set = LabelSet.from_labels(labels)
            train_targets = label_set.encode(labels, source="train")
            dev_targets = label_set.encode(dev_labels, source="dev") if dev_tokens is not None else None
        vocab = build_compact_vocab(train, min_freq=config.tokenizer.min_freq, max_size=config.tokenizer.max_vocab)
        max_len = config.tokenizer.max_len
        if max_len == "auto":
            max_len = choose_max_len(train.lengths)
        positions = getattr(config.model, "positions", "none")  # no position table: no length limit
        max_positions = getattr(config.model, "max_positions", None) if positions != "none" else None
        if max_positions is not None and max_len > max_positions:
            raise ConfigError(
                f"tokenizer.max_len: {max_len} is longer than model.max_positions ({max_positions}) of {config.model.name}"
            )
        noun = "labels (multi-label)" if config.data.multi_label else "classes"
        log(f"tokenizer {kind}, vocabulary {len(vocab):,} tokens, max_len {max_len}, {len(label_set)} {noun}")
        vectors, model_changes = _pretrained_vectors(config, vocab, train, log)
        self.config = config = build_config(config, {"tokenizer": {"kind": kind, "max_len": max_len}, "model": model_changes})
        train_encoded = _encode(train, vocab, config.tokenizer, training=True)
        dev_encoded = _encode(dev_tokens, vocab, config.tokenizer) if dev_tokens is not None else None
        for split, encoded in (("train", train_encoded), ("dev", dev_encoded)):
            if encoded is not None and encoded.num_truncated:
                log(f"{split}: {encoded.truncation_note()}")

        self._device = resolve_device(config.train.device)
        model = build_model(config.model, vocab_size=len(vocab), num_classes=len(label_set), vectors=vectors)
        trainer = Trainer(config.train, device=self._device, rng=rng, progress=verbose, log=log)
        self.fit_result = trainer.fit(
            model, train_encoded, train_targets, dev_encoded, dev_targets, label_set.labels, epochs=epochs
        )
        if dev_tokens is not None:
            log(
                f"best epoch {self.fit_result.best_epoch} (dev {config.train.select_metric} "
                f"{100 * self.fit_result.best_score:.2f}), trained in {self.fit_result.seconds:.1f}s"
            )
        self.model, self.vocab, self.labels = model, vocab, label_set
        self._run = _Run(train_encoded, train_targets, dev_encoded, dev_targets, len(vocab))
        self._tokenizer = _make_tokenizer(kind, config.tokenizer)
        self.thresholds = self.fit_result.thresholds
        self.metrics = {"dev": self.fit_result.best_report}

    def _check_labels(
        self, texts: TokenizedTexts, labels: list, dev: tuple | None, log: Log
    ) -> tuple[TokenizedTexts, list, tuple | None, bool]:
        """Validated (texts, labels, dev, multi_label); multi-label labels become lists, empty ones left out."""
        if len(texts) != len(labels):
            raise DataError(f"{len(texts)} texts but {len(labels)} labels")
        setting = self.config.data.multi_label
        lists = [isinstance(item, (list, tuple, set, frozenset)) for item in labels]
        if setting is False and any(lists):
            raise DataError(f"label {lists.index(True) + 1} is a list, but data.multi_label is false")
        multi_label = setting is True or any(lists)
        if multi_label:
            texts, labels = _drop_empty_label_lists(texts, [_as_list(item) for item in labels], "train", log)
            if dev is not None:
                dev = _drop_empty_label_lists(dev[0], [_as_list(item) for item in dev[1]], "dev", log)
        if len(texts) < 2:
            raise DataError("need at least 2 training texts")
        distinct = {label for item in labels for label in item} if multi_label else set(labels)
        if len(distinct) < 2:
            raise DataError(f"need at least 2 classes to train a classifier, found only {next(iter(distinct))!r}")
        return texts, labels, dev, multi_label

    # ---------------------------------------------------------------- prediction
    def _require_fitted(self) -> None:
        if self.model is None:
            raise TextcnnError("this TextClassifier is not trained yet: call fit() or TextClassifier.load()")

    def encode(self, texts: Sequence[str]) -> EncodedTexts:
        """Token ids of ``texts`` as the model sees them (fitted to ``max_len`` as ``tokenizer.long_text`` says).

        ``truncation_note()`` of the result tells how many texts were longer than ``max_len``.
        """
        self._require_fitted()
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        tokenized = tokenize_compact(list(texts), self._tokenizer)
        return _encode(tokenized, self.vocab, self.config.tokenizer)

    def predict_logits(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> np.ndarray:
        """Raw scores (num_texts, num_classes) of texts (or of texts already ``encode``d)."""
        encoded = texts if isinstance(texts, EncodedTexts) else self.encode(texts)
        if self._onnx is not None:
            logits = predict_logits_onnx(self._onnx, encoded, num_classes=len(self.labels), batch_size=batch_size)
        else:
            logits = predict_logits(self.model, encoded, batch_size=batch_size, device=self._device)
        if self.naive_bayes is not None:
            nb = self.config.nb
            logits = np.float32(nb.scale) * logits + np.float32(nb.weight) * _naive_bayes_logits(self.naive_bayes, encoded)
        return logits

    @property
    def multi_label(self) -> bool:
        """Whether the model gives each text a set of labels (one sigmoid per label)."""
        return self.config.data.multi_label is True

    def predict_proba(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> np.ndarray:
        """Probabilities (num_texts, num_classes), columns in the order of ``classes``.

        Single-label: a softmax over the classes; multi-label: one independent sigmoid per label.
        """
        logits = self.predict_logits(texts, batch_size=batch_size)
        return sigmoid(logits) if self.multi_label else softmax(logits)

    def predict(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> list[Hashable] | list[list[Hashable]]:
        """The most probable label of each text; multi-label: the list of labels over their thresholds."""
        if self.multi_label:
            return [[label for label, _ in pairs] for pairs in self.predict_scored(texts, batch_size=batch_size)]
        logits = self.predict_logits(texts, batch_size=batch_size)
        return self.labels.decode(logits.argmax(axis=1))

    def predict_scored(self, texts: Sequence[str] | EncodedTexts, *, batch_size: int = 256) -> list[list[tuple[Hashable, float]]]:
        """The predicted (label, probability) pairs of each text, most probable first.

        Single-label: one pair. Multi-label: every label whose probability reaches its threshold;
        a text where none does gets its single most probable label.
        """
        probabilities = self.predict_proba(texts, batch_size=batch_size)
        if not self.multi_label:
            best = probabilities.argmax(axis=1)
            return [[(self.labels.labels[j], float(row[j]))] for row, j in zip(probabilities, best)]
        chosen = apply_thresholds(probabilities, self.thresholds)
        order = np.argsort(-probabilities, axis=1, kind="stable")
        return [
            [(self.labels.labels[j], float(row[j])) for j in ranked if keep[j]]
            for row, ranked, keep in zip(probabilities, order, chosen)
        ]

    def predict_top_k(self, texts: Sequence[str] | EncodedTexts, k: int = 1) -> list[list[tuple[Hashable, float]]]:
        """The ``k`` most probable (label, probability) pairs of each text, best first."""
        probabilities = self.predict_proba(texts)
        k = max(1, min(k, probabilities.shape[1]))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        return [
            [(self.labels.labels[j], float(row[j])) for j in top] for row, top in zip(probabilities, order)
        ]

    def evaluate(
        self, texts: Sequence[str] | EncodedTexts, labels: Sequence[Hashable], *, source: str = "data"
    ) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class figures and the confusion matrix on labelled texts.

        Multi-label (labels are lists): micro-, macro- and samples-F1, subset accuracy, hamming loss
        and per-label figures with each label's threshold.
        """
        self._require_fitted()
        if self.multi_label:
            targets = self.labels.encode_multi_hot([_as_list(item) for item in labels], source=source)
            predicted = apply_thresholds(self.predict_proba(texts), self.thresholds)
            return multilabel_report(targets, predicted, self.labels.labels, self.thresholds)
        targets = self.labels.encode(list(labels), source=source)
        predictions = self.predict_logits(texts).argmax(axis=1)
        return classification_report(targets, predictions, self.labels.labels)

    @property
    def classes(self) -> list[Hashable]:
        """The labels, in the order of ``predict_proba``'s columns."""
        self._require_fitted()
        return list(self.labels.labels)

    # --------------------------------------------------------------- persistence
    def save(self, directory: str | Path, *, extra_info: dict[str, Any] | None = None) -> Path:
        """Write the bundle (safetensors weights + JSON) to ``directory``."""
        self._require_fitted()
        return save_bundle(
            directory,
            config=self.config,
            model=self.model,
            vocab=self.vocab,
            labels=self.labels,
            metrics=self.metrics,
            extra_info=extra_info,
            thresholds=self.thresholds.tolist() if self.thresholds is not None else None,
            naive_bayes=self.naive_bayes,
        )

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
            runtime: ``torch``, or ``onnx`` / ``onnx-int8`` to predict with the model that
                ``textcnn export DIR --onnx [--int8]`` wrote into the bundle (CPU, ONNX Runtime).
            long_text: read texts longer than ``max_len`` this way (``truncate``, ``head-tail``,
                ``windows``) instead of as in training.
        """
        if runtime not in RUNTIMES:
            raise TextcnnError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        set_threads(threads)
        torch_device = resolve_device(device)
        bundle = load_bundle(directory, device=torch_device)
        config = bundle.config
        if long_text is not None:
            config = build_config(config, {"tokenizer.long_text": long_text}, source="long_text")
        classifier = cls(config)
        classifier.model, classifier.vocab, classifier.labels = bundle.model, bundle.vocab, bundle.labels
        classifier.metrics = bundle.metrics
        classifier.thresholds = np.array(bundle.thresholds, dtype=np.float64) if bundle.thresholds is not None else None
        classifier.naive_bayes = bundle.naive_bayes
        classifier._tokenizer = _make_tokenizer(bundle.config.tokenizer.kind, bundle.config.tokenizer)
        classifier._device = torch_device
        if runtime != "torch":
            classifier._onnx = _load_onnx(Path(directory), runtime, threads)
        return classifier


@dataclass
class _Run:
    """The encoded data of one training run (what the Naive Bayes is counted on and weighed with)."""

    train: EncodedTexts
    train_targets: np.ndarray
    dev: EncodedTexts | None
    dev_targets: np.ndarray | None
    vocab_size: int


def _make_tokenizer(kind: str, settings: TokenizerConfig) -> Tokenizer:
    """The tokenizer ``kind`` (resolved, not ``auto``) with the case settings of ``settings``."""
    return build_tokenizer(kind, settings.lowercase, settings.case_markers)


def _naive_bayes_logits(naive_bayes: NaiveBayes, encoded: EncodedTexts) -> np.ndarray:
    """(num_texts, num_classes) Naive Bayes scores; windows of a text pooled as its logits are."""
    scores = naive_bayes.logits(encoded)
    if isinstance(encoded, WindowedTexts):
        return pool_windows(scores, encoded.window_text, encoded.pool)
    return scores


def _encode(texts: TokenizedTexts, vocab: Vocab, config: TokenizerConfig, *, training: bool = False) -> EncodedTexts:
    """Token ids of whole texts, made to fit ``config.max_len`` as ``config.long_text`` says.

    With ``windows``, training texts are truncated: trained on every window with its text's label, the
    model scored lower on ChnSentiCorp's dev split (docs/benchmarks.md, "Long texts").
    """
    mode = "truncate" if training and config.long_text == "windows" else config.long_text
    if mode == "truncate":  # the head only: no need to look up the whole texts
        return encode_compact(texts, vocab, int(config.max_len))
    whole = encode_compact(texts, vocab, max_len=None)
    return fit_long_texts(whole, int(config.max_len), mode=mode, stride=config.window_stride, pool=config.window_pool)


def _pretrained_vectors(
    config: RunConfig, vocab: Vocab, train: TokenizedTexts, log: Log
) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """The vectors of ``data.vectors`` for ``vocab`` (or None), and the model settings they resolve."""
    mode = resolve_embedding_mode(config.model.embedding_mode, config.data.vectors is not None)
    if config.data.vectors is None:
        return None, {"embedding_mode": mode}
    counts = dict(zip(train.tokens, np.bincount(train.flat_ids(), minlength=len(train.tokens)).tolist()))
    pretrained = read_vectors(config.data.vectors, vocab, token_counts=counts, seed=config.train.seed)
    log(pretrained.coverage.describe())
    dim = pretrained.coverage.dim
    if dim != config.model.embed_dim:
        log(f"model.embed_dim: {dim}, the size of the pretrained vectors (configured: {config.model.embed_dim})")
    log(f"model.embedding_mode: {mode}")
    return torch.from_numpy(pretrained.matrix), {"embedding_mode": mode, "embed_dim": dim}


def load(directory: str | Path, *, device: str = "cpu", threads: int | None = None, runtime: str = "torch") -> TextClassifier:
    """Load a saved bundle (same as ``TextClassifier.load``)."""
    return TextClassifier.load(directory, device=device, threads=threads, runtime=runtime)


def _load_onnx(directory: Path, runtime: str, threads: int | None) -> OnnxModel:
    import_onnx_package("onnxruntime")
    path = directory / ONNX_FILES[runtime]
    export = f"textcnn export {directory} --onnx" + (" --int8" if runtime == "onnx-int8" else "")
    if not path.exists():
        raise BundleError(f"{path} does not exist: run `{export}` first")
    model = OnnxModel(path, threads=threads)
    if model.weights_sha256 != file_sha256(directory / "model.safetensors"):
        raise BundleError(f"{path} was exported from other weights than {directory / 'model.safetensors'}: run `{export}` again")
    return model


def _as_list(item: Any) -> list:
    return list(item) if isinstance(item, (list, tuple, set, frozenset)) else [item]


def _drop_empty_label_lists(
    texts: TokenizedTexts, labels: list[list], split: str, log: Log
) -> tuple[TokenizedTexts, list[list]]:
    keep = [i for i, item in enumerate(labels) if item]
    if len(keep) == len(labels):
        return texts, labels
    log(f"{split}: left out {len(labels) - len(keep)} texts with an empty label list")
    return texts.select(keep), [labels[i] for i in keep]

