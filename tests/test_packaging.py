"""`pip install .` gives a package that imports: the wheel declares every third-party distribution moede imports."""

from __future__ import annotations

import ast
import os
import importlib.metadata
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from moede.sources import REPO_ROOT

PACKAGE = REPO_ROOT / "moede"
BOOK_ONLY = PACKAGE / "book"  # the `book` extra: papermill, jupytext, jupyter-book run the notebooks


def _top_level_imports(paths: list[Path]) -> set[str]:
    """Top-level names of every absolute import in `paths` (function-level ones included)."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _third_party(names: set[str]) -> set[str]:
    """The distributions (lower-case names) that provide the non-standard-library, non-moede `names`."""
    provided = importlib.metadata.packages_distributions()
    return {provided[name][0].lower() for name in names
            if name not in sys.stdlib_module_names and name != "moede" and name in provided}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "--wheel-dir", str(out), str(REPO_ROOT)], check=True, capture_output=True)
    return next(out.glob("moede-*.whl"))


def _requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    return [Requirement(line.split(":", 1)[1].strip()) for line in lines if line.startswith("Requires-Dist:")]


def test_the_wheel_declares_what_moede_imports_and_the_pins_satisfy_it(wheel: Path):
    requirements = _requirements(wheel)
    runtime = {r.name.lower() for r in requirements if r.marker is None}
    book = {r.name.lower() for r in requirements if r.marker is not None and r.marker.evaluate({"extra": "book"})}
    modules = [p for p in PACKAGE.rglob("*.py")]
    core = _third_party(_top_level_imports([p for p in modules if BOOK_ONLY not in p.parents]))
    assert core <= runtime, f"imported outside moede/book but not in [project] dependencies: {sorted(core - runtime)}"
    book_needs = _third_party(_top_level_imports([p for p in modules if BOOK_ONLY in p.parents]))
    assert book_needs <= runtime | book, f"moede/book imports undeclared: {sorted(book_needs - runtime - book)}"
    pins = {Requirement(line.split("#")[0]).name.lower(): Requirement(line.split("#")[0])
            for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if line.split("#")[0].strip()}
    for requirement in requirements:
        pin = pins.get(requirement.name.lower())
        if pin is not None:  # the exact set the book is tested with lies inside every declared range
            version = next(iter(pin.specifier)).version
            assert requirement.specifier.contains(version, prereleases=True), f"{pin} outside {requirement}"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(n.endswith(".tflite") for n in names), "the shipped ImageNet weights are not in the wheel"


@pytest.mark.slow
def test_the_wheel_installs_offline_into_a_fresh_environment_and_imports(wheel: Path, tmp_path: Path):
    """A fresh venv that sees this environment's packages (a .pth file, no index): the wheel's dependencies are
    satisfied by them (checked directly: torch's CUDA wheels' own dependencies are not the wheel's business), and
    `moede` imports and answers from outside the repository."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv itself sees
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True, env=clean)  # the outer editable moede is not it
    check = ("import importlib.metadata as m\nfrom packaging.requirements import Requirement\n"
             "for line in m.requires('moede'):\n    r = Requirement(line)\n"
             "    if r.marker is None and not r.specifier.contains(m.version(r.name), prereleases=True):\n"
             "        raise SystemExit(f'{r} not satisfied')")
    subprocess.run([str(python), "-c", check], cwd=tmp_path, check=True)  # what pip would resolve, offline
    shown = subprocess.run([str(python), "-c", "import moede, moede.predict; print(moede.__file__)"], cwd=tmp_path,
                           check=True, capture_output=True, text=True, env=clean).stdout
    assert shown.startswith(site), f"imported {shown.strip()}, not the installed wheel"
    assert "usage: moede" in subprocess.run([str(venv / "bin" / "moede"), "--help"], cwd=tmp_path, check=True,
                                            capture_output=True, text=True, env=clean).stdout
