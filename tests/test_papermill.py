"""Papermill used directly, as its users do: `jupytext --to ipynb`, `papermill --help-notebook`, `papermill -p`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from moede.book.chapters import NOTEBOOK_DIR
from moede.book.parameters import notebook_settings, parameters_cell, write_parameters_cells
from moede.config import settings
from moede.errors import SettingError
from moede.sources import REPO_ROOT

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.py"))


def _tool(*args: str) -> subprocess.CompletedProcess:
    """Run a console tool of this environment (jupytext, papermill) from the repository root."""
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every notebook converted with plain `jupytext --to ipynb` (no --set-kernel)."""
    folder = tmp_path_factory.mktemp("ipynb")
    out = {}
    for path in NOTEBOOKS:
        done = _tool("jupytext", "--to", "ipynb", "--output", str(folder / f"{path.stem}.ipynb"), str(path))
        assert done.returncode == 0, done.stderr
        out[path.stem] = folder / f"{path.stem}.ipynb"
    return out


def test_help_notebook_lists_every_setting_with_its_type(converted: dict[str, Path]) -> None:
    for name, notebook in converted.items():
        done = _tool("papermill", "--help-notebook", str(notebook))
        assert done.returncode == 0, done.stderr
        listed = dict(line.strip().split(": ", 1) for line in done.stdout.splitlines()
                      if line.startswith("  ") and " (default " in line)
        assert list(listed) == list(settings()), f"{name}: papermill lists {list(listed)}"
        assert sum("Unknown type" not in kind for kind in listed.values()) >= 10
        assert listed["seed"].startswith("int (default 0)") and listed["image_size"].startswith("Optional[int]")


def _papermill(notebook: Path, out: Path, *pairs: str) -> subprocess.CompletedProcess:
    return _tool("papermill", str(notebook), str(out), "--cwd", str(REPO_ROOT), *pairs)


def test_p_values_change_the_run(converted: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    run_dir = tmp_path / "run"
    done = _papermill(converted["08_summary"], out, "-p", "seed", "7", "-p", "image_size", "64", "-p", "run_dir",
                      str(run_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "seed: 7" in text and f"run dir: {run_dir}" in text and "64x64 faces" in text
    assert f"result tables found in {run_dir}/results" in text


def test_an_unknown_p_name_fails_with_one_clear_line(converted: dict[str, Path], tmp_path: Path) -> None:
    done = _papermill(converted["08_summary"], tmp_path / "out.ipynb", "-p", "sead", "7")
    assert done.returncode != 0
    assert "SettingError: parameter(s) sead (did you mean seed?) not a setting" in done.stderr


def test_p_profile_full_without_corpora_stops(converted: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOEDE_SHARED_DATA", str(tmp_path / "no-shared-data"))
    done = _papermill(converted["08_summary"], tmp_path / "out.ipynb", "-p", "profile", "full", "-p", "run_dir",
                      str(tmp_path / "run"))
    assert done.returncode != 0 and "SettingError" in done.stderr
    assert "give the corpora with --affectnet (or --ferplus), --cremad, --msp-improv" in done.stderr  # moede book's own words


def test_start_chapter_reads_the_names_bound_before_it() -> None:
    namespace = {"In": [], "_i1": "x", "Optional": object, "seed": 7, "image_size": 64, "start_chapter": print,
                 "tables": {"later": 1}}
    assert notebook_settings(namespace) == {"seed": 7, "image_size": 64}
    with pytest.raises(SettingError, match=r"imagesize \(did you mean image_size\?\)"):
        notebook_settings({"seed": 7, "imagesize": 64, "start_chapter": print})


def test_drifted_parameters_cells_are_rewritten(tmp_path: Path) -> None:
    for path in NOTEBOOKS[:2]:
        (tmp_path / path.name).write_text(path.read_text())
    drifted = tmp_path / NOTEBOOKS[0].name
    drifted.write_text(drifted.read_text().replace(parameters_cell(), "params = {'profile': 'demo'}"))
    assert write_parameters_cells(tmp_path) == [drifted]
    assert drifted.read_text() == NOTEBOOKS[0].read_text()


def test_papermill_parses_every_generated_parameter() -> None:
    """papermill's parameter inspection gives up on a line whose comment holds '=' ("Unable to parse line"): the
    generated cell's comments must not (the comments come from moede/config.py)."""
    from papermill.translators import PythonTranslator

    cell = parameters_cell()
    parsed = {p.name for p in PythonTranslator.inspect({"source": cell})}
    assert parsed == set(settings())
