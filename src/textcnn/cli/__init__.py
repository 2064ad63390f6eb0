"""The ``textcnn`` command: a thin layer of flags over the Python API, one module per command group.

``train`` and ``tune`` (train.py) build a configuration from flags derived from the config models
(options.py); ``evaluate`` and ``predict`` (use.py) apply a saved bundle; ``vectors``, ``export`` and
``demo`` live in tools.py; ``serve`` (serve.py) puts a bundle behind an HTTP server. Every command
runs through ``console.command``: logging on stderr, and a known error printed as one ``error: ...``
line with exit status 1.
"""

import os

# OpenMP threads that spin while they wait made torch ~50x slower whenever other processes kept the
# cores busy; waiting passively costs little on an idle machine. OpenMP reads this when torch is first
# imported, so it is set here, before the commands import torch-heavy modules (lazily, inside each
# command). A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from textcnn.cli import explain, serve, tools, train, use  # noqa: E402
from textcnn.cli.console import command, set_debug  # noqa: E402
from textcnn.cli.report import report  # noqa: E402

app = typer.Typer(
    name="textcnn",
    help="Train, evaluate and use convolutional text classifiers (Kim 2014) for English and Chinese.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

COMMANDS = {
    "train": train.train,
    "evaluate": use.evaluate,
    "predict": use.predict,
    "explain": explain.explain,
    "vectors": tools.vectors,
    "tune": train.tune,
    "export": tools.export,
    "demo": tools.demo,
    "report": report,
    "serve": serve.serve,
}
for _name, _function in COMMANDS.items():
    app.command(_name)(command(_function))


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="On an error, show the traceback (for a bug report) instead of one line.")] = False,
) -> None:
    set_debug(debug)


def main() -> None:  # pragma: no cover - console entry
    """Run the command line (the ``textcnn`` console script runs ``app`` itself)."""
    app()
