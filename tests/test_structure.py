"""The package's layering: every module imports, and lower layers never import the ones above them."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import moede

PACKAGE = Path(moede.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "moede."))


def _imported(module: str) -> set[str]:
    """Every module name `module`'s source imports, at the top or inside functions (TYPE_CHECKING included)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update([node.module] + [f"{node.module}.{alias.name}" for alias in node.names])
    return names


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module: str) -> None:
    assert importlib.import_module(module).__name__ == module


@pytest.mark.parametrize(("layer", "forbidden"), [("moede.models.", "moede.models.checkpoint"),
                                                  ("moede.results.", "moede.stages")])
def test_lower_layers_do_not_import_upper_ones(layer: str, forbidden: str) -> None:
    modules = [m for m in MODULES if m.startswith(layer) and m != forbidden]
    assert modules
    offenders = {m: sorted(n for n in _imported(m) if n == forbidden or n.startswith(forbidden + "."))
                 for m in modules}
    assert {m: names for m, names in offenders.items() if names} == {}
