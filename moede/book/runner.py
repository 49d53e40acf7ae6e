"""Execute the book's notebooks headlessly with papermill, in dependency order, sharing one run directory."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moede.book.chapters import BUILD_DIR, NOTEBOOK_DIR, Chapter, select_chapters
from moede.config import PROFILES, RunConfig
from moede.io import write_json
from moede.sources import REPO_ROOT

# Settings papermill injects into every notebook, even at their defaults: the status records and the site show them.
RUN_PARAMETERS = ("profile", "run_dir", "seed", "device")
STATUS_FILE = "status.json"
# Environment of the notebook kernels: tqdm redraws at most every 2 s, so executed notebooks stay small.
KERNEL_ENV = {"TQDM_MININTERVAL": "2"}


class NotebookFailed(RuntimeError):
    """A notebook raised an error: names the notebook, the failing cell and where the executed copy was kept."""

    def __init__(self, name: str, cell: str, error: str, executed: Path) -> None:
        self.name, self.cell, self.error, self.executed = name, cell, error, executed
        super().__init__(
            f"notebook {name} failed in {cell}:\n{error}\n"
            f"The executed copy (with the error output) is kept at {executed}; fix the cause and re-run with "
            f"`python -m moede book --from {name[:2]}` (earlier chapters' artifacts in the run directory are reused)."
        )


def notebook_parameters(cfg: RunConfig) -> dict[str, Any]:
    """Return the variables papermill injects into a notebook: RUN_PARAMETERS and every setting `cfg` changes from
    its profile's. Paths are made absolute here, against this process's directory: the kernels run in the repository."""
    values = cfg.as_dict()
    defaults = RunConfig.for_profile(cfg.profile).as_dict()
    params = {k: v for k, v in values.items() if k in RUN_PARAMETERS or v != defaults[k]}
    for key, value in params.items():
        if isinstance(getattr(cfg, key), Path):
            params[key] = os.path.abspath(value)
    return params


def to_ipynb(source: Path, target: Path) -> Path:
    """Convert a percent-format text notebook to .ipynb with jupytext (into a build folder, never into git)."""
    import jupytext

    if not source.is_file():
        raise FileNotFoundError(f"notebook source {source} not found; the book's notebooks live in notebooks/*.py")
    notebook = jupytext.read(source)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, target, fmt="ipynb")
    return target


def read_status(build_dir: Path = BUILD_DIR) -> dict[str, Any]:
    """Return the per-notebook execution records of the last runs (empty when none ran yet)."""
    path = Path(build_dir) / "notebooks" / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _record(build_dir: Path, name: str, **record: Any) -> None:
    status = read_status(build_dir)
    status[name] = record
    write_json(status, Path(build_dir) / "notebooks" / STATUS_FILE)


def _failure(error: BaseException) -> tuple[str, str]:
    """Return (which cell, error text) of a papermill or kernel failure."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        source = error.source if len(error.source) < 600 else error.source[:600] + " ..."
        return f"cell {error.exec_count} (cell index {error.cell_index}):\n{source}", f"{error.ename}: {error.evalue}"
    return "the kernel", f"{type(error).__name__}: {error}"


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables the user has not set, for the duration of the block (kernels inherit them)."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def run_notebooks(
    cfg: RunConfig | str = "demo",
    names: list[str] | None = None,
    start_from: str | None = None,
    build_dir: Path = BUILD_DIR,
    notebook_dir: Path = NOTEBOOK_DIR,
    stream: bool = False,
    chapters: list[Chapter] | None = None,
) -> list[Path]:
    """Execute the chosen notebooks in order into `build_dir/notebooks/`; stop at the first failure.

    `cfg` is a RunConfig or a profile name. `stream` copies the notebooks' stdout/stderr (their tqdm bars) to this
    terminal; otherwise papermill shows a per-cell progress bar. Returns the executed notebooks' paths. Raises
    NotebookFailed naming the notebook and the failing cell; the executed copy is kept, its status "failed".
    """
    import papermill

    if isinstance(cfg, str):
        cfg = RunConfig.for_profile(cfg)
    if cfg.profile not in PROFILES:
        raise ValueError(f"unknown profile {cfg.profile!r}; choose one of {sorted(PROFILES)}")
    chapters = chapters if chapters is not None else select_chapters(names, start_from)
    build_dir, out_dir = Path(build_dir), Path(build_dir) / "notebooks"
    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
    params = notebook_parameters(cfg)
    executed: list[Path] = []
    start = time.monotonic()
    for i, chapter in enumerate(chapters, 1):
        tag = f"[{i}/{len(chapters)}] {chapter.name}"
        print(f"{tag}: running (profile {cfg.profile}, run dir {params['run_dir']})", flush=True)
        source = to_ipynb(chapter.source(Path(notebook_dir)), out_dir / ".source" / f"{chapter.name}.ipynb")
        target = out_dir / f"{chapter.name}.ipynb"
        _record(build_dir, chapter.name, status="running", parameters=params)
        began = time.monotonic()
        try:
            with _environment(KERNEL_ENV):
                papermill.execute_notebook(
                    str(source), str(target), parameters=params, kernel_name="python3",
                    cwd=str(REPO_ROOT), progress_bar=not stream, stdout_file=sys.stdout if stream else None,
                    stderr_file=sys.stderr if stream else None,
                )
        except KeyboardInterrupt:  # SIGINT/SIGTERM: moede.signals has stopped the kernel and its children
            _record(build_dir, chapter.name, status="interrupted", parameters=params,
                    seconds=round(time.monotonic() - began, 1))
            raise
        except Exception as error:  # papermill's execution error, a dead kernel, a timeout
            cell, text = _failure(error)
            _record(build_dir, chapter.name, status="failed", parameters=params, error=text,
                    seconds=round(time.monotonic() - began, 1))
            print(f"{tag}: FAILED after {time.monotonic() - began:.1f} s", flush=True)
            raise NotebookFailed(chapter.name, cell, text, target) from error
        seconds = time.monotonic() - began
        _record(build_dir, chapter.name, status="ok", parameters=params, seconds=round(seconds, 1),
                finished=time.strftime("%Y-%m-%d %H:%M:%S"))
        print(f"{tag}: done in {seconds:.1f} s (elapsed {time.monotonic() - start:.1f} s)", flush=True)
        executed.append(target)
    return executed

