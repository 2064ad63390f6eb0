"""The checkpoint folder of a training run: what run it belongs to, and where its pipeline stands.

    run.json             the run: format, textcnn version, its settings (as asked), the sha256 of its data
    member-0-selection/  a slot (training/checkpoint_files.py) per training run of the pipeline, whose
    member-0-refit/      newest entry is a position inside the run, or the finished run (its kept
    member-1-.../        weights and its FitResult)
    ngrams/              the fitted n-gram model and what fitting it settled

A resumed run skips the finished stages (reading their results) and continues the unfinished one
from its newest checkpoint. It refuses a folder made from other data or other settings; only the
checkpoint settings themselves and ``data.cache`` may differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

import numpy as np
import torch

from textcnn.config import RunConfig
from textcnn.data.encoding import TokenizedTexts
from textcnn.errors import CheckpointError, TrainingInterrupted
from textcnn.models.naive_bayes import NaiveBayes
from textcnn.reporting import logger
from textcnn.training.checkpoint import FORMAT, capture, fit_from_json, fit_to_json, restore
from textcnn.training.checkpoint_files import Slot
from textcnn.training.interrupt import SignalStop
from textcnn.training.ngram_step import NgramFit
from textcnn.training.trainer import FitResult, Position, _Step
from textcnn.version import __version__

CHECKPOINT_FOLDER = "checkpoint"  # inside the --out folder of `textcnn train`
MANIFEST = "run.json"
NGRAM_STAGE = "ngrams"
IGNORED_KEYS = ("train.checkpoint_every_steps", "train.keep_checkpoints", "data.cache")
_STAGE = re.compile(rf"member-\d+-(selection|refit)|{NGRAM_STAGE}")


def data_sha256(train: TokenizedTexts, labels: list[Hashable], dev: tuple[TokenizedTexts, list[Hashable]] | None) -> str:
    """The sha256 of tokenized texts and labels (and the dev split): the data a checkpoint was made from."""
    digest = hashlib.sha256()
    for texts, text_labels in ((train, labels), dev or (None, None)):
        if texts is None:
            digest.update(b"no dev split")
            continue
        digest.update("\0".join(texts.tokens).encode("utf-8", "surrogatepass"))
        digest.update(np.ascontiguousarray(texts.flat_ids(), dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(texts.lengths, dtype=np.int64).tobytes())
        digest.update(json.dumps(text_labels, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def matched_settings(config: RunConfig) -> dict[str, Any]:
    """The dotted settings that must match for a resume."""
    flat = {
        f"{section}.{key}": value
        for section, values in config.model_dump(mode="json").items()
        for key, value in values.items()
    }
    return {key: value for key, value in flat.items() if key not in IGNORED_KEYS}


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = sorted(set(saved) | set(current))
    shown = [f"{key} {json.dumps(saved.get(key))} there, {json.dumps(current.get(key))} here" for key in keys if saved.get(key) != current.get(key)]
    return shown[:5] + ([f"{len(shown) - 5} more"] if len(shown) > 5 else [])


def _ours(name: str) -> bool:
    """Whether a file or folder of that name in a checkpoint folder is one that training writes."""
    return name == MANIFEST or name.startswith(".tmp-") or _STAGE.fullmatch(name) is not None


def _write_json_atomically(path: Path, data: Any) -> None:
    temporary = path.with_name(f".tmp-{path.name}")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class Checkpoints:
    """A training run's checkpoint folder: made fresh, or (``resume``) read to continue the run it holds."""

    stop_kind = SignalStop  # what turns signals into a stop (a distributed run agrees on it over the ranks)

    def __init__(self, directory: str | Path, *, resume: bool = False) -> None:
        self.directory = Path(directory)
        self.resume = resume
        self.every_steps: int | None = None
        self.stop = self.stop_kind()

    def begin(self, config: RunConfig, data: str) -> None:
        """Check the folder against this run's settings and data digest (``resume``), or start it afresh."""
        self.every_steps = config.train.checkpoint_every_steps
        self.stop = self.stop_kind()
        manifest = {"format": FORMAT, "textcnn_version": __version__, "data_sha256": data, "config": matched_settings(config)}
        path = self.directory / MANIFEST
        if path.exists() and self.resume:
            self._check(path, manifest)
            logger.info(f"resuming the run whose checkpoint is in {self.directory}")
            return
        if path.exists():
            logger.warning(f"{self.directory}: starting over; the checkpoint of an earlier run there is replaced (--resume would continue it)")
        elif self.resume:
            logger.warning(f"{self.directory}: no checkpoint to resume (none was written yet): training from the start")
        self._clear()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_json_atomically(path, manifest)
        except OSError as error:
            raise CheckpointError(f"cannot write the checkpoint {self.directory}: {error.strerror or error}") from None

    def _check(self, path: Path, manifest: dict[str, Any]) -> None:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{path}: cannot read the checkpoint's run description: {error}") from None
        hint = "resume with the same data and settings, or train without --resume (resume_from) to start over"
        if saved.get("format") != FORMAT:
            raise CheckpointError(f"{path}: checkpoint format {saved.get('format')!r}, this textcnn reads {FORMAT}: train without --resume")
        if saved.get("data_sha256") != manifest["data_sha256"]:
            raise CheckpointError(
                f"{self.directory} was made from other data (sha256 of its texts and labels {str(saved.get('data_sha256'))[:12]}..., "
                f"of these {manifest['data_sha256'][:12]}...): {hint}"
            )
        differences = _differences(saved.get("config", {}), manifest["config"])
        if differences:
            raise CheckpointError(f"{self.directory} was made with other settings ({'; '.join(differences)}): {hint}")
        if saved.get("textcnn_version") != __version__:
            logger.warning(f"{path}: made by textcnn {saved.get('textcnn_version')}, resumed by {__version__}")

    def _clear(self) -> None:
        """Remove what this folder holds of an earlier run (anything else there is an error)."""
        if not self.directory.exists():
            return
        if not self.directory.is_dir():
            raise CheckpointError(f"{self.directory} exists and is not a folder")
        ours = [child for child in self.directory.iterdir() if _ours(child.name)]
        foreign = sorted(child.name for child in self.directory.iterdir() if not _ours(child.name))
        if foreign:
            raise CheckpointError(f"{self.directory} is no checkpoint folder: it holds {', '.join(foreign[:3])}")
        (self.directory / MANIFEST).unlink(missing_ok=True)  # first: a folder without it holds no run
        for child in ours:
            shutil.rmtree(child) if child.is_dir() else child.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete what the run wrote to the folder, and the folder if nothing else is left in it."""
        if not self.directory.is_dir():
            return
        for child in self.directory.iterdir():
            if _ours(child.name):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        try:
            self.directory.rmdir()
        except OSError:
            logger.warning(f"{self.directory}: left in place, it holds files that training did not write")

    @contextmanager
    def watching_signals(self) -> Iterator[None]:
        """While active, SIGINT and SIGTERM stop training after its next checkpoint."""
        try:
            with self.stop.installed():
                yield
                self.stop.check()
        except TrainingInterrupted as stop:
            raise stop.at(self.directory) from None

    def slot(self, name: str) -> Slot:
        """The slot of a stage (``member-0-selection``, ``ngrams``) in the folder."""
        return Slot(self.directory / name)

    def stage(self, name: str) -> "StageCheckpoint":
        """The checkpoints of one training run of the pipeline (``member-0-selection``)."""
        self.stop.check(self.directory)
        return StageCheckpoint(self, name)

    def ngram_fit(self, fit: Callable[[], NgramFit]) -> NgramFit:
        """The n-gram fit: read from the folder if it finished before, else ``fit()`` and saved."""
        self.stop.check(self.directory)
        slot = self.slot(NGRAM_STAGE)
        saved = slot.read()
        if saved is not None:
            tensors, state = saved
            model = NaiveBayes.from_state({name: tensor.numpy() for name, tensor in tensors.items()}) if tensors else None
            thresholds = np.array(state["thresholds"], dtype=np.float64) if state["thresholds"] is not None else None
            logger.info(f"n-gram model: read from the checkpoint in {self.directory}")
            return NgramFit(model, state["settings"], state["report"], thresholds, state["summary"])
        result = fit()
        tensors = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in result.model.state().items()} if result.model else {}
        thresholds = result.thresholds.tolist() if result.thresholds is not None else None
        state = {"format": FORMAT, "settings": result.settings, "report": result.report, "thresholds": thresholds, "summary": result.summary}
        slot.write(tensors, state)
        self.stop.check(self.directory)
        return result


class StageCheckpoint:
    """The ``FitHook`` of one training run: it resumes the run and writes its checkpoints."""

    def __init__(self, owner: Checkpoints, name: str) -> None:
        self.owner, self.name = owner, name
        self.slot = owner.slot(name)

    def start(self, step: _Step, rng: np.random.Generator) -> FitResult | Position | None:
        saved = self.slot.read()
        if saved is None:
            return None
        tensors, state = saved
        if state.get("format") != FORMAT:
            raise CheckpointError(f"{self.slot.directory}: checkpoint format {state.get('format')!r}, this textcnn reads {FORMAT}")
        try:
            if state["kind"] == "finished":
                step.model.load_state_dict({name[len("model.") :]: tensor for name, tensor in tensors.items()})
                step.model.eval()
                logger.info(f"{self.name}: finished before; its model read from the checkpoint")
                return fit_from_json(state["fit"])
            position = restore(step, tensors, state, rng)
        except (KeyError, RuntimeError, TypeError, ValueError) as error:
            raise CheckpointError(f"{self.slot.directory}: cannot resume from this checkpoint: {error}") from None
        logger.info(f"{self.name}: resuming epoch {position.epoch} after {position.step} of its batches")
        return position

    def step_done(self, step: _Step, at: Position, rng: np.random.Generator) -> None:
        every, stop = self.owner.every_steps, self.owner.stop
        due = every is not None and at.steps % every == 0 and at.step < step.steps_per_epoch  # an epoch's end saves anyway
        if due or stop.pending is not None:
            self._save(step, at, rng)
            stop.check(self.owner.directory)

    def epoch_done(self, step: _Step, at: Position, rng: np.random.Generator) -> None:
        self._save(step, at, rng)
        self.owner.stop.check(self.owner.directory)

    def finish(self, step: _Step, fit: FitResult) -> None:
        tensors = {f"model.{name}": tensor for name, tensor in step.model.state_dict().items()}
        self.slot.write(tensors, {"format": FORMAT, "kind": "finished", "fit": fit_to_json(fit)})
        self.owner.stop.check(self.owner.directory)

    def _save(self, step: _Step, at: Position, rng: np.random.Generator) -> None:
        tensors, state = capture(step, at, rng)
        self.slot.write(tensors, state)
