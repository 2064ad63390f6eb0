"""What the command prints and how: the consoles, the log handler, the progress bar, the error line.

Results go to stdout; log records of the ``textcnn`` logger, progress bars and errors to stderr.
Nothing is read as rich markup: file names, labels and texts print as they are (``data[v2].csv`` is
no style tag). A known error (``TextcnnError``) or a failed file operation (``OSError``: a full disk,
a permission) is one ``error: ...`` line, unless ``textcnn --debug`` asks for the traceback; a reader
of stdout that goes away (``| head -1``) ends the command quietly.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
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
_debug = {"on": False}
SIGPIPE_STATUS = 141  # a command killed by SIGPIPE exits with 128 + 13 in a shell


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


def set_debug(debug: bool) -> None:
    """``--debug``: let errors raise with their traceback instead of printing one line."""
    _debug["on"] = debug


def fail(error: Exception) -> None:
    """Print one ``error: ...`` line on stderr and exit with status 1."""
    err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
    raise typer.Exit(code=1)


def _os_error_line(error: OSError) -> str:
    """``out/model.safetensors: No space left on device``."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def _stdout_gone() -> None:
    """The reader of stdout went away: send what is left to /dev/null (Python flushes stdout on exit), exit 141."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's capture)
        pass
    raise typer.Exit(code=SIGPIPE_STATUS)


def command(function: Command) -> Command:
    """Run a command with logging on stderr; a known error becomes one line and exit 1 (see the module)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with stderr_logging():
            try:
                return function(*args, **kwargs)
            except BrokenPipeError:
                _stdout_gone()
            except TextcnnError as error:
                if _debug["on"]:
                    raise
                fail(error)
            except OSError as error:
                if _debug["on"]:
                    raise
                fail(TextcnnError(_os_error_line(error)))

    return run  # type: ignore[return-value]
