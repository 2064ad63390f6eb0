"""Whole jobs on data files: read them, train, evaluate on a test file, save the bundle."""

from __future__ import annotations

from pathlib import Path

from textcnn.classifier import TextClassifier
from textcnn.config import RunConfig
from textcnn.data.sources import read_labelled_files, read_streamed_files, should_stream
from textcnn.errors import TextcnnError
from textcnn.reporting import Progress, logger
from textcnn.training import distributed
from textcnn.training.distributed_checkpoints import checkpoints_for
from textcnn.training.resume import CHECKPOINT_FOLDER


def train_on_files(
    config: RunConfig,
    train_path: str | Path,
    *,
    dev_path: str | Path | None = None,
    test_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    resume: bool = False,
) -> TextClassifier:
    """Read the files, train, evaluate on ``test_path``, and save the bundle to ``out_dir``.

    Skipped rows of every file are reported (``textcnn`` logger, as warnings); the bundle's
    metrics.json holds the dev and test reports and the files' sha256. With ``out_dir``, training
    writes checkpoints to ``out_dir/checkpoint``, removed once the bundle is saved (unless
    ``train.keep_checkpoints``); ``resume`` continues the run they hold. A training file is streamed
    (read in chunks, trained on from memory-mapped files) as ``data.stream`` says.

    Started by torchrun (training/distributed.py), each process trains as one rank of the run: rank 0
    reads the files first (filling the tokenization cache), shows the progress and saves the bundle.
    """
    if resume and out_dir is None:
        raise TextcnnError("resume: there is no checkpoint to resume without out_dir (the checkpoint is out_dir/checkpoint)")
    with distributed.session(config.train.device) as world:
        note = distributed.batch_note(world, config.train.batch_size)
        if note is not None:
            logger.info(note)
        return _train_on_files(
            config, train_path, dev_path=dev_path, test_path=test_path, out_dir=out_dir,
            progress=progress if world.main else None, resume=resume, main=world.main,
        )  # fmt: skip


def _train_on_files(
    config: RunConfig, train_path: str | Path, *, dev_path: str | Path | None, test_path: str | Path | None,
    out_dir: str | Path | None, progress: Progress | None, resume: bool, main: bool,
) -> TextClassifier:  # fmt: skip
    checkpoints = checkpoints_for(Path(out_dir) / CHECKPOINT_FOLDER, resume=resume) if out_dir is not None else None
    if should_stream(config, train_path):
        files = distributed.read_once(lambda: read_streamed_files(config, train_path, dev_path=dev_path, test_path=test_path))
        dev = (files.dev.texts, files.dev.labels) if files.dev else None
        classifier = TextClassifier(config).fit_streamed(files.train, dev, progress=progress, checkpoints=checkpoints)
    else:
        files = distributed.read_once(lambda: read_labelled_files(config, train_path, dev_path=dev_path, test_path=test_path))
        dev = (files.dev.texts, files.dev.labels) if files.dev else None
        classifier = TextClassifier(config).fit_tokenized(
            files.train.texts, files.train.labels, dev, kind=files.train.tokenizer, progress=progress, checkpoints=checkpoints
        )
    if files.test is not None:
        encoded = classifier.encode_tokenized(files.test.texts)
        if encoded.num_truncated:
            logger.info(f"test: {encoded.truncation_note()}")
        classifier.metrics["test"] = classifier.evaluate(encoded, files.test.labels, source=str(test_path))
    provenance = files.describe()
    classifier.metrics["run"]["data"] = provenance
    if out_dir is not None and main:
        classifier.save(out_dir, extra_info={"data": provenance})
    if checkpoints is not None and not config.train.keep_checkpoints:
        checkpoints.remove()
    return classifier
