"""``textcnn report``: a bundle's metrics and training curves as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from textcnn.cli.console import log


def report(
    model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    png: Annotated[Optional[Path], typer.Option("--png", metavar="DIR", help='Also draw the charts as PNG files in DIR (needs pip install "textcnn[plots]").')] = None,
) -> None:
    """Write an HTML report of bundle DIR: metrics, per-class table, confusion heat map, F1 bars, training curves.

    One file with inline CSS and SVG: it opens offline and needs no script.
    """
    from textcnn.report import write_report

    path = write_report(model_dir, out_file, png_dir=png)
    log.info(f"wrote the report of {model_dir} to {path}" + (f", its charts as PNG files to {png}" if png else ""))
