"""The package's shape, checked on the source with ast: imports point one way, files and functions stay small.

``LAYERS`` lists the package from the outside in. A module may import modules of its own layer entry
(the files of one package, say ``textcnn.data``) and of any layer below; never a layer above, and
never a sibling entry of its own layer (siblings are independent of each other).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "textcnn"

LAYERS: list[list[str]] = [
    ["textcnn.__main__"],
    ["textcnn.cli"],
    ["textcnn.serve"],
    ["textcnn.tuning", "textcnn.export", "textcnn.demo", "textcnn.word2vec", "textcnn.workflows", "textcnn.report"],
    ["textcnn.classifier"],
    ["textcnn.estimator"],
    ["textcnn.bundle", "textcnn.training"],
    ["textcnn.bundle_checks"],
    ["textcnn.inference"],
    ["textcnn.models"],
    ["textcnn.data"],
    ["textcnn.evaluation", "textcnn.config"],
    ["textcnn.reporting", "textcnn.errors", "textcnn.version"],
]
PUBLIC_API = "textcnn"  # the package itself re-exports the façade: nothing inside imports it
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every textcnn module a file imports, anywhere in it (also inside functions)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
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
            found.update(f"{source}.{alias.name}" for alias in node.names)  # `from textcnn import cli`
    return {name for name in found if name == "textcnn" or name.startswith("textcnn.")}


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


FILES = sorted(PACKAGE_DIR.rglob("*.py"))
MODULES = {_module_name(path): _imports(_parse(path), _module_name(path), path.name == "__init__.py") for path in FILES}


def layer_of(module: str, layers: list[list[str]] = LAYERS) -> tuple[int, str] | None:
    """(layer index, entry) of ``module``; None for modules no layer names (a name that is no module)."""
    for index, entries in enumerate(layers):
        for entry in entries:
            if module == entry or module.startswith(entry + "."):
                return index, entry
    return None


def layer_violations(modules: dict[str, set[str]], layers: list[list[str]] = LAYERS) -> list[str]:
    """'importer -> imported (why)' for every import that points up or sideways."""
    problems = []
    for module, imported in sorted(modules.items()):
        if module == PUBLIC_API:
            continue
        own = layer_of(module, layers)
        for name in sorted(imported):
            if name == PUBLIC_API:
                problems.append(f"{module} -> {name} (the public API re-exports the façade; import the module itself)")
                continue
            target = layer_of(name, layers)
            if own is None or target is None or target[1] == own[1]:
                continue
            if target[0] < own[0]:
                problems.append(f"{module} -> {name} (a lower layer imports a higher one)")
            elif target[0] == own[0]:
                problems.append(f"{module} -> {name} (siblings of one layer are independent)")
    return problems


def test_every_module_belongs_to_a_layer():
    assert [module for module in MODULES if module != PUBLIC_API and layer_of(module) is None] == []


def test_imports_point_from_outer_layers_to_inner_ones():
    assert layer_violations(MODULES) == []


def test_the_layer_check_catches_an_upward_and_a_sideways_import():
    modules = {
        "textcnn.models.textcnn": {"textcnn.training.trainer", "textcnn.data.vocab"},
        "textcnn.bundle": {"textcnn.training.trainer"},
        "textcnn.data.readers": {"textcnn.data.vocab"},
    }

    assert layer_violations(modules) == [
        "textcnn.bundle -> textcnn.training.trainer (siblings of one layer are independent)",
        "textcnn.models.textcnn -> textcnn.training.trainer (a lower layer imports a higher one)",
    ]


@pytest.mark.parametrize("module", ["textcnn.config", "textcnn.errors", "textcnn.reporting"])
def test_the_foundation_does_not_import_torch(module):
    path = next(path for path in FILES if _module_name(path) == module)
    tree = _parse(path)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert not {name for name in imported if name == "torch" or name.startswith("torch.")}


def oversized(files: list[Path], root: Path = PACKAGE_DIR.parent) -> list[str]:
    """Files over ``MAX_FILE_LINES`` lines and functions over ``MAX_FUNCTION_LINES`` lines (paths relative to ``root``)."""
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root)
        if text.count("\n") > MAX_FILE_LINES:
            found.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_file_or_function_is_oversized():
    assert oversized(FILES) == []


def test_the_size_check_catches_a_long_function_and_a_long_file(tmp_path):
    (tmp_path / "long.py").write_text("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES, encoding="utf-8")
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_FILE_LINES + 1), encoding="utf-8")
    (tmp_path / "short.py").write_text("def g():\n    return 1\n", encoding="utf-8")

    found = oversized(sorted(tmp_path.glob("*.py")), root=tmp_path)

    assert found == [f"big.py: {MAX_FILE_LINES + 1} lines", f"long.py:1 f: {MAX_FUNCTION_LINES + 1} lines"]
