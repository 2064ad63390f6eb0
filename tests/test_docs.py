"""The documentation stays true to the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_cli", ROOT / "docs" / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_help():
    generator = _load_generator()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == generator.render(), (
        "docs/cli.md is stale: run `python docs/gen_cli.py`"
    )


def test_readme_opens_with_the_demo_and_test_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^python -m venv .*$", readme, flags=re.M)[:2]
    assert "pip install torch==2.13.0" in commands[0] and commands[0].endswith("textcnn demo")
    assert "pip install torch==2.13.0" in commands[1] and commands[1].endswith("python -m pytest -q")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install torch==2.13.0" in ci and "python -m pytest -q" in ci
