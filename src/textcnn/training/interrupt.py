"""SIGINT (Ctrl-C) and SIGTERM while training: stop at the next checkpoint, or at once.

Signal handlers can only be installed from the main thread; elsewhere these contexts change nothing.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from textcnn.errors import TrainingInterrupted
from textcnn.reporting import logger

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _handling(handler: Callable[[int, Any], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class SignalStop:
    """A request to stop, made by SIGINT or SIGTERM, that training honours after its next checkpoint.

    A second signal stops at once (the checkpoint before it is whole on disk).
    """

    def __init__(self) -> None:
        self.pending: int | None = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pending is not None:
            raise TrainingInterrupted(signum)
        self.pending = signum
        logger.warning(f"{signal.Signals(signum).name}: stopping after the next checkpoint (once more to stop at once)")

    @contextmanager
    def installed(self) -> Iterator["SignalStop"]:
        """While active, SIGINT and SIGTERM ask this to stop."""
        with _handling(self._handle):
            yield self

    def check(self, directory: str | Path | None = None) -> None:
        """Raise ``TrainingInterrupted`` if a stop was asked (the checkpoint in ``directory`` is up to date)."""
        if self.pending is not None:
            raise TrainingInterrupted(self.pending, directory)


def _raise(signum: int, frame: Any) -> None:
    raise TrainingInterrupted(signum)


@contextmanager
def signals_stop_at_once() -> Iterator[None]:
    """While active, SIGINT and SIGTERM raise ``TrainingInterrupted`` where the program is
    (a training run inside installs its own ``SignalStop``, and restores this when it ends)."""
    with _handling(_raise):
        yield
