"""Errors that textcnn raises on purpose; the CLI turns them into one line and exit code 1."""

from __future__ import annotations

from pathlib import Path


class TextcnnError(Exception):
    """Base class of every error textcnn raises for a user to read."""


class DataError(TextcnnError):
    """Bad input data: says which file, row (or line) and column, and what is wrong."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.row = row
        self.line = line
        self.column = column
        self.reason = reason
        where = []
        if self.path is not None:
            where.append(self.path)
        if row is not None:
            where.append(f"row {row}")
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


class ConfigError(TextcnnError):
    """An invalid configuration; the message names every bad key."""


class BundleError(TextcnnError):
    """A model bundle directory that is missing, incomplete, damaged, hostile or from an unknown format.

    The message is one line (line breaks of a wrapped library message become ``; ``), starting with
    the file when ``path`` is given: ``DIR/model.safetensors: tensor fc.weight holds NaN``.
    """

    def __init__(self, reason: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.reason = "; ".join(line.strip() for line in str(reason).splitlines() if line.strip())
        super().__init__(f"{self.path}: {self.reason}" if self.path is not None else self.reason)


class NotFittedError(TextcnnError, AttributeError):
    """A trained classifier's attribute was read before ``fit`` or ``load`` (also an ``AttributeError``,
    so ``hasattr`` and ``getattr(..., default)`` work, as scikit-learn expects)."""


class CheckpointError(TextcnnError):
    """A checkpoint folder that cannot be resumed: made from other data or settings, unreadable, or not one."""


class DistributedError(TextcnnError):
    """A distributed run (torchrun) that cannot go on: a bad environment, or ranks that disagree."""


class TrainingInterrupted(TextcnnError):
    """Training stopped by SIGINT (Ctrl-C) or SIGTERM, after writing a checkpoint to ``directory``."""

    def __init__(self, signum: int, directory: str | Path | None = None) -> None:
        import signal

        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.directory = Path(directory) if directory is not None else None
        where = f"; its checkpoint is in {self.directory}: fit(..., resume_from=...) with that folder continues it"
        super().__init__(f"training stopped by {self.signal_name}" + (where if self.directory is not None else ""))

    def at(self, directory: str | Path) -> "TrainingInterrupted":
        """The same stop, naming the checkpoint folder (kept if it names one already)."""
        return self if self.directory is not None else TrainingInterrupted(self.signum, directory)
