"""Imports point one way (inner layers never import outer ones), checked on the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "textcnn"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every textcnn module that ``path`` imports, anywhere in the file (also inside functions)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            # `from textcnn import cli` imports the module textcnn.cli
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "textcnn" or name.startswith("textcnn.")}


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _importers_of(target: str, among: str) -> list[str]:
    """Modules under ``among`` that import ``target`` or anything inside it."""
    return sorted(
        module
        for module, imported in MODULES.items()
        if (module == among or module.startswith(among + "."))
        and any(name == target or name.startswith(target + ".") for name in imported)
    )


def test_the_walk_finds_the_package():
    assert {"textcnn.cli", "textcnn.models.textcnn", "textcnn.data.readers", "textcnn.training.trainer"} <= set(MODULES)
    assert "textcnn.classifier" in MODULES["textcnn.cli"]


OUTER_OF_DATA_AND_MODELS = [
    "textcnn.training",
    "textcnn.evaluation",
    "textcnn.bundle",
    "textcnn.classifier",
    "textcnn.cli",
    "textcnn.demo",
    "textcnn.tuning",
    "textcnn.word2vec",
    "textcnn.runtime",
    "textcnn.export",
]


@pytest.mark.parametrize("inner", ["textcnn.models", "textcnn.data"])
@pytest.mark.parametrize("outer", OUTER_OF_DATA_AND_MODELS)
def test_data_and_models_do_not_import_outer_layers(inner, outer):
    assert _importers_of(outer, among=inner) == []


def test_models_do_not_import_data():
    assert _importers_of("textcnn.data", among="textcnn.models") == []


@pytest.mark.parametrize("outer", ["textcnn.bundle", "textcnn.classifier", "textcnn.cli", "textcnn.demo", "textcnn.tuning", "textcnn.runtime", "textcnn.export"])
def test_training_does_not_import_outer_layers(outer):
    assert _importers_of(outer, among="textcnn.training") == []


@pytest.mark.parametrize("outer", ["textcnn.bundle", "textcnn.classifier", "textcnn.cli", "textcnn.tuning", "textcnn.export"])
def test_the_onnx_runtime_does_not_import_outer_layers(outer):
    assert _importers_of(outer, among="textcnn.runtime") == []


@pytest.mark.parametrize("outer", ["textcnn.classifier", "textcnn.cli"])
def test_bundle_does_not_import_classifier_or_cli(outer):
    assert _importers_of(outer, among="textcnn.bundle") == []


@pytest.mark.parametrize("entry", ["textcnn.cli", "textcnn.demo", "textcnn.tuning", "textcnn.export"])
def test_only_the_cli_and_main_import_the_entry_points(entry):
    allowed = {"textcnn.cli", "textcnn.__main__"}

    assert [module for module in _importers_of(entry, among="textcnn") if module not in allowed] == []


@pytest.mark.parametrize("module", ["textcnn.config", "textcnn.errors"])
def test_config_and_errors_do_not_import_torch(module):
    path = PACKAGE_DIR / f"{module.split('.')[1]}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert not {name for name in imported if name == "torch" or name.startswith("torch.")}
