"""How textcnn tells what it does: records on the ``textcnn`` logger, and an optional progress bar.

The library is silent unless asked: the logger has only a ``NullHandler``, so nothing reaches stderr
until the application configures logging (the ``textcnn`` command installs a rich handler) or a call
is made with ``verbose=True``. A progress bar is whatever the caller passes as ``progress``: a
callable ``progress(description, total)`` returning a context manager that yields
``advance(texts, loss, texts_per_second)``.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Callable, ContextManager, Iterator, Protocol

logger = logging.getLogger("textcnn")
logger.addHandler(logging.NullHandler())

Advance = Callable[[int, float, float], None]


class Progress(Protocol):
    """A progress bar factory: ``with progress("epoch 1/10", total_texts) as advance: advance(32, loss, speed)``."""

    def __call__(self, description: str, total: int) -> ContextManager[Advance]: ...


@contextmanager
def no_progress(description: str, total: int) -> Iterator[Advance]:
    """The progress bar that shows nothing."""
    yield lambda texts, loss, speed: None


@contextmanager
def logger_level(level: int) -> Iterator[None]:
    """While active, the ``textcnn`` logger passes records of ``level`` and up; then its level is restored."""
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextmanager
def logging_to(handler: logging.Handler, level: int = logging.INFO) -> Iterator[None]:
    """While active, hand the ``textcnn`` logger's records of ``level`` and up to ``handler``."""
    logger.addHandler(handler)
    try:
        with logger_level(level):
            yield
    finally:
        logger.removeHandler(handler)


def _has_handler(start: logging.Logger) -> bool:
    """Whether records of ``start`` reach a handler that prints (its own or an ancestor's, as propagation goes)."""
    current: logging.Logger | None = start
    while current is not None:
        if any(not isinstance(handler, logging.NullHandler) for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


@contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """While active (and ``enabled``), print the ``textcnn`` logger's INFO records to stderr,
    unless the application has already given the logger a handler of its own."""
    if not enabled or _has_handler(logger):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    with logging_to(handler):
        yield
