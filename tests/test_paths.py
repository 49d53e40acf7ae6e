"""Pages show paths relative to the repository or as ../shared/...: two copies of the repository in two folders
print the same banners and captions (moede.paths.shown)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import nbformat
import numpy as np
import pytest

from moede.book.site import present
from moede.paths import REPO_ROOT, shown, shown_in

# What a chapter prints about its paths: the banner (run dir, ../shared's photos read through the ../shared link,
# a corpus beside the repository), a preflight line, the DFER experts' line and chapter 8's results folder.
PAGE_TEXT = """
from pathlib import Path
from moede.book.display import banner
from moede.config import RunConfig
from moede.paths import shown
from moede.sources import DataSource
from moede.stages.dynamic import _experts_text
from moede.stages.preflight import RootCheck
from moede.stages.resolve import resolve_static

cfg = RunConfig(run_dir=Path("runs/demo").resolve())
corpus = Path("..", "corpora", "CREMA-D").resolve()
banner(cfg, resolve_static(cfg).attrs["source"], DataSource("CREMA-D", "corpus", str(corpus)))
print(RootCheck("CREMA-D", corpus, 3, 2, "clips").describe())
print(_experts_text(cfg, cfg))
print(f"found in {shown(cfg.run_dir)}/results")
"""


def _photos(folder: Path) -> None:
    """A two-photo image-folder corpus (labels.csv + images/), the layout of ../shared's facial_expressions."""
    (folder / "images").mkdir(parents=True)
    for name in ("Ann_0001.jpg", "Bob_0001.jpg"):
        cv2.imwrite(str(folder / "images" / name), np.full((32, 32, 3), 128, np.uint8))
    (folder / "labels.csv").write_text("image,emotion\nAnn_0001.jpg,happiness\nBob_0001.jpg,anger\n")


def _start_copy(top: Path, shared: Path) -> subprocess.Popen:
    """Copy the package into top/repo with top/shared linked to `shared`; start PAGE_TEXT there."""
    shutil.copytree(REPO_ROOT / "moede", top / "repo" / "moede", ignore=shutil.ignore_patterns("__pycache__"))
    (top / "shared").symlink_to(shared, target_is_directory=True)
    (top / "corpora" / "CREMA-D").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "MOEDE_SHARED_DATA"} | {"PYTHONPATH": str(top / "repo")}
    return subprocess.Popen([sys.executable, "-c", PAGE_TEXT], cwd=top / "repo", env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _printed(process: subprocess.Popen) -> str:
    """What a started copy printed (it must succeed)."""
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    return out


def test_two_copies_in_two_folders_print_the_same_page_text(tmp_path: Path) -> None:
    _photos(tmp_path / "store" / "data" / "facial_expressions")
    started = [_start_copy(tmp_path / name, tmp_path / "store") for name in ("a", "b")]
    first, second = (_printed(process) for process in started)
    assert first == second
    assert str(tmp_path) not in first
    assert "run dir: runs/demo |" in first and "Data: facial_expressions at ../shared/data/facial_expressions" in first
    assert "CREMA-D at ../corpora/CREMA-D" in first and "(runs/demo/models)" in first
    assert "found in runs/demo/results" in first


def test_shown_keeps_the_repository_and_shared_relative_and_other_paths_absolute(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    assert shown(REPO_ROOT / "runs" / "demo") == "runs/demo" == shown("runs/demo")
    assert shown(REPO_ROOT) == "."
    assert shown(REPO_ROOT.parent / "shared" / "data" / "crema-d") == "../shared/data/crema-d"
    assert shown(REPO_ROOT.parent / "corpora" / "x") == "../corpora/x"
    assert shown("/nonexistent-corpora/AffectNet") == "/nonexistent-corpora/AffectNet"
    assert shown(None) == ""


def test_shown_in_rewrites_the_paths_inside_a_text() -> None:
    repo, beside = REPO_ROOT.as_posix(), REPO_ROOT.parent.as_posix()
    text = f'run_dir = "{repo}/runs/demo"\ncremad_root = "{beside}/shared/data/crema-d"; {beside}/corpora/A, {repo}.'
    assert shown_in(text) == ('run_dir = "runs/demo"\ncremad_root = "../shared/data/crema-d"; ../corpora/A, ..')
    assert shown_in(f"{beside}/sharedx /nonexistent/x") == "../sharedx /nonexistent/x"


def test_a_published_page_shows_the_injected_run_dir_and_warnings_relative(tmp_path: Path) -> None:
    run_dir = (REPO_ROOT / "runs" / "demo").as_posix()
    injected = nbformat.v4.new_code_cell(f'run_dir = "{run_dir}"', metadata={"tags": ["injected-parameters"]})
    injected.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f"{run_dir}/x.jpg: 2 faces found\n"),
                        nbformat.v4.new_output("execute_result", {"text/plain": f"'{run_dir}'"}, execution_count=1)]
    papermill = {"papermill": {"parameters": {"run_dir": run_dir}, "input_path": f"{REPO_ROOT}/_build/01.ipynb"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[injected], metadata=papermill), tmp_path / "01.ipynb")
    (tmp_path / "site").mkdir()
    presented = nbformat.read(present(tmp_path / "01.ipynb", tmp_path / "site"), as_version=4)
    assert presented.metadata.papermill == {"parameters": {"run_dir": "runs/demo"}, "input_path": "_build/01.ipynb"}
    page = presented.cells[0]
    assert page.source == 'run_dir = "runs/demo"' and "hide-input" in page.metadata.tags
    assert page.outputs[0].text == "runs/demo/x.jpg: 2 faces found\n"
    assert page.outputs[1].data["text/plain"] == "'runs/demo'"
