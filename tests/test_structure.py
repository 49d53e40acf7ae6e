"""The package's layering: every module imports, each part imports only its own layer and the ones below, and no
two modules import each other, directly or around a loop (function-level imports included)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import moede

PACKAGE = Path(moede.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "moede."))
LAZY = {"moede.cli"}  # imports its subcommands inside them so that `moede --help` answers at once

# Bottom to top. A part (a subpackage, or a module directly under moede/) imports only parts of its own layer or of
# lower ones: a move that breaks this is a design change, to be written down here.
LAYERS = [
    {"moede", "errors", "settings", "paths", "sources", "io", "threads", "signals", "processes",
     "distributed"},  # utilities
    {"data", "align", "models"},  # corpora, face alignment, networks (and where a run keeps them)
    {"features"},  # expert features of aligned clips, cached
    {"evaluation"},  # metrics, t-tests, floors, FLOPs
    {"training"},  # training loops, retrain-or-reuse
    {"predict"},  # a bundle applied to new faces: models, align, data, features, io only
    {"config"},  # RunConfig: the settings of a run, validated against every layer's choices
    {"tables"},  # the paper's tables and figures from training outcomes
    {"stages"},  # a RunConfig's corpora, pipeline steps and their reuse
    {"book"},  # notebooks, papermill, the site
    {"cli", "__main__"},
]
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """The layer part of a module: its subpackage under moede/, or its own name for a top-level module."""
    return module.split(".")[1] if module != "moede" else "moede"


def _source(module: str) -> Path:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"


def _imported(module: str) -> set[str]:
    """The moede modules `module`'s source imports, at the top or inside functions (TYPE_CHECKING included)."""
    names = set()
    for node in ast.walk(ast.parse(_source(module).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                         for alias in node.names)
    return {name for name in names if name in MODULES or name == "moede"}


IMPORTS = {module: _imported(module) - {module} for module in MODULES}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module: str) -> None:
    assert importlib.import_module(module).__name__ == module


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_part(m) for m in MODULES} <= set(LAYER_OF), "a new subpackage or module needs a row in LAYERS"


def test_no_part_imports_a_higher_layer() -> None:
    offenders = sorted(f"{module} -> {name}" for module, names in IMPORTS.items() for name in names
                       if LAYER_OF[_part(name)] > LAYER_OF[_part(module)])
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    graph = {module: names for module, names in IMPORTS.items() if module not in LAZY}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_loop() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
