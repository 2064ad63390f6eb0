"""Regenerate docs/cli.md from the CLI's --help (run: python docs/gen_cli.py; CI checks it is current)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("cli.md")


def render() -> str:
    """The CLI reference as Typer renders it from the commands' help."""
    output = subprocess.run(
        [sys.executable, "-m", "typer", "textcnn.cli", "utils", "docs", "--name", "textcnn", "--title", "textcnn CLI reference"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return output.rstrip() + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
