"""What the command prints and how: the consoles, the log handler, the progress bar, the error line.

Results go to stdout; log records of the ``textcnn`` logger, progress bars and errors to stderr.
Nothing is read as rich markup: file names, labels and texts print as they are (``data[v2].csv`` is
no style tag).
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from textcnn.errors import TextcnnError
from textcnn.reporting import Advance, logger, logging_to

err = Console(stderr=True, highlight=False, markup=False, emoji=False)
out = Console(highlight=False, markup=False, emoji=False)
log = logging.getLogger("textcnn.cli")  # the command's own lines; a child of the library's logger

Command = TypeVar("Command", bound=Callable[..., Any])


class ConsoleHandler(logging.Handler):
    """Prints each record's message on a rich console, as it is: no markup, no highlighting, no wrapping."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False, emoji=False, soft_wrap=True)
        except Exception:  # logging must never break the command
            self.handleError(record)


_handler = ConsoleHandler(err)


@contextmanager
def stderr_logging() -> Iterator[None]:
    """While a command runs, print the ``textcnn`` logger's INFO records and up on stderr."""
    with logging_to(_handler):
        yield


def set_quiet(quiet: bool) -> None:
    """``--quiet``: only warnings and errors from here on (the command's results still print on stdout)."""
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Advance]:
    """A transient rich bar with loss and texts/s (a ``textcnn.reporting.Progress``); nothing when stderr
    is no terminal, so a log file gets the per-epoch lines only."""
    if not err.is_terminal:
        yield lambda texts, loss, speed: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:,.0f} ex/s"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(description, total=total, loss=0.0, speed=0.0)
    with bar:
        yield lambda texts, loss, speed: bar.update(task, advance=texts, loss=loss, speed=speed)


def fail(error: Exception) -> None:
    """Print one ``error: ...`` line on stderr and exit with status 1."""
    err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
    raise typer.Exit(code=1)


def command(function: Command) -> Command:
    """Run a command with logging on stderr; a known error (``TextcnnError``) becomes one line and exit 1."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with stderr_logging():
            try:
                return function(*args, **kwargs)
            except TextcnnError as error:
                fail(error)

    return run  # type: ignore[return-value]
