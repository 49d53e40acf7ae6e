"""Build the HTML book with jupyter-book from book/ plus the executed notebooks, without re-executing anything.

The site is built in a staging folder and an output folder next to `_build/html`, then renamed into place, so a
failed or partial build never replaces the published site.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from moede.book.chapters import BUILD_DIR, CHAPTERS, Chapter
from moede.book.runner import read_status
from moede.book.student import STUDENT_DIR, is_solution
from moede.io import write_json
from moede.paths import shown, shown_in
from moede.sources import REPO_ROOT

SITE_FILES = ("_config.yml", "_toc.yml")
BUILD_INFO_MARK = "<!-- moede:build-info -->"
MODULES_MARK = "<!-- moede:modules -->"
PARAMETERS_MARK = "<!-- moede:parameters -->"
SITE_RECORD = "moede-build.json"


class BookIncomplete(RuntimeError):
    """Some chapter has not been executed successfully, so the site is not built."""


def check_executed(build_dir: Path = BUILD_DIR, chapters: tuple[Chapter, ...] = CHAPTERS) -> dict:
    """Return the status records of `chapters`; raise BookIncomplete if one is missing, failed or from another run."""
    status = read_status(build_dir)
    problems = []
    for chapter in chapters:
        record = status.get(chapter.name, {})
        executed = Path(build_dir) / "notebooks" / f"{chapter.name}.ipynb"
        if record.get("status") != "ok" or not executed.is_file():
            problems.append(f"{chapter.name}: {record.get('status', 'not run')}")
    if problems:
        raise BookIncomplete("the site is not built because these notebooks have not run successfully: "
                             + "; ".join(problems) + ". Run `python -m moede book` (or `--only NAME`) first.")
    runs = {(status[c.name]["parameters"]["profile"], status[c.name]["parameters"]["run_dir"]) for c in chapters}
    if len(runs) > 1:
        raise BookIncomplete(f"the executed notebooks come from different runs {sorted(runs)}; re-run the book with "
                             "one profile and run directory")
    return {c.name: status[c.name] for c in chapters}


def _build_info(records: dict) -> str:
    params = next(iter(records.values()))["parameters"]
    lines = [f"Profile **{params['profile']}**, run directory `{shown(params['run_dir'])}`, seed {params['seed']}, "
             f"device `{params['device']}`; site built {time.strftime('%Y-%m-%d %H:%M')}.", "",
             "| notebook | executed | seconds |", "|---|---|---|"]
    lines += [f"| {name} | {r.get('finished', '')} | {r.get('seconds', '')} |" for name, r in records.items()]
    return "\n".join(lines) + "\n"


TEXT_OUTPUTS = ("text/plain", "text/html", "text/markdown")


def _paths_shown(cell: dict) -> None:
    """Write the builder's absolute paths in a cell's source and text outputs as moede.paths.shown does (the injected
    parameters hold absolute paths; a warning may name a file)."""
    cell["source"] = shown_in(cell["source"])
    for output in cell.get("outputs", []):
        if "text" in output:
            output["text"] = shown_in(output["text"])
        for kind in TEXT_OUTPUTS:
            if isinstance(output.get("data", {}).get(kind), str):
                output["data"][kind] = shown_in(output["data"][kind])


def present(executed: Path, target_dir: Path, student: bool = False) -> Path:
    """Copy an executed notebook for the site: drop the default `parameters` cell (papermill's injected cell,
    holding this run's values, stays, folded), and for students the solutions; fold the configuration cell's code;
    write the builder's paths relative (moede.paths.shown_in)."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    cells = [c for c in notebook.cells if "parameters" not in c.get("metadata", {}).get("tags", [])
             and not (student and is_solution(c))]
    for cell in cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        folded = "injected-parameters" in tags or "start_chapter(" in cell.source
        if cell.cell_type == "code" and folded and "hide-input" not in tags:
            tags.append("hide-input")
        _paths_shown(cell)
    notebook.cells = cells
    notebook.metadata = nbformat.from_dict(json.loads(shown_in(json.dumps(notebook.metadata))))  # papermill's paths
    target = target_dir / executed.name
    nbformat.write(notebook, target)
    return target


def stage_book(staging: Path, build_dir: Path = BUILD_DIR, records: dict | None = None,
               repo_root: Path = REPO_ROOT, chapters: tuple[Chapter, ...] = CHAPTERS, student: bool = False) -> Path:
    """Assemble the book's sources in `staging`: config, book/ pages (with generated parts) and executed notebooks
    (without their solutions for a `student` build)."""
    from moede.book.diagram import architecture_figure, modules_markdown
    from moede.book.parameters import parameters_markdown

    if staging.exists():
        shutil.rmtree(staging)
    (staging / "notebooks").mkdir(parents=True)
    for name in SITE_FILES:
        shutil.copy2(repo_root / name, staging / name)
    shutil.copytree(repo_root / "book", staging / "book")
    for chapter in chapters:
        present(Path(build_dir) / "notebooks" / f"{chapter.name}.ipynb", staging / "notebooks", student)
    architecture_figure().savefig(staging / "book" / "architecture.png", dpi=110)
    info = _build_info(records) if records else "(no run record)\n"
    for page, mark, text in (("intro.md", BUILD_INFO_MARK, info), ("map.md", MODULES_MARK, modules_markdown()),
                             ("map.md", PARAMETERS_MARK, parameters_markdown())):
        path = staging / "book" / page
        path.write_text(path.read_text().replace(mark, text))
    return staging


def _publish(built: Path, target: Path) -> None:
    """Swap the freshly built site into `target` (the old one is removed only after the new one is in place)."""
    old = target.with_name(f".{target.name}-old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    built.rename(target)
    if old.exists():
        shutil.rmtree(old)


def site_dir(build_dir: Path = BUILD_DIR, student: bool = False) -> Path:
    """The folder holding a built site's html/: the build folder, or its student/ folder for the student build."""
    return Path(build_dir) / STUDENT_DIR if student else Path(build_dir)


def build_site(build_dir: Path = BUILD_DIR, repo_root: Path = REPO_ROOT,
               chapters: tuple[Chapter, ...] = CHAPTERS, quiet: bool = True, student: bool = False) -> Path:
    """Build `build_dir/html` (a `student` build, without solutions: `build_dir/student/html`) with jupyter-book from
    the executed notebooks (execution off); return index.html."""
    build_dir = Path(build_dir)
    records = check_executed(build_dir, chapters)
    staging, output = build_dir / ".site-staging", build_dir / ".site-output"
    stage_book(staging, build_dir, records, repo_root, chapters, student)
    if output.exists():
        shutil.rmtree(output)
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(staging),
               "--path-output", str(output), "--all"] + (["--quiet"] if quiet else [])
    began = time.monotonic()
    print(f"building the site with jupyter-book ({len(chapters)} chapters) ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    html = output / "_build" / "html"
    if done.returncode != 0 or not (html / "index.html").is_file():
        log = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"jupyter-book build failed (exit {done.returncode}); the published site is unchanged. "
                           f"Staged sources kept in {staging}. Last output:\n{log}")
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if "WARNING" in line]
    pages = sorted(str(p.relative_to(html)) for p in html.rglob("*.html") if not p.name.startswith("_"))
    pages = [p for p in pages if not p.startswith(("_", "genindex", "search"))]
    write_json({"built": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.monotonic() - began, 1),
                "pages": pages, "notebooks": records, "warnings": warnings, "student": student}, html / SITE_RECORD)
    target = site_dir(build_dir, student) / "html"
    target.parent.mkdir(parents=True, exist_ok=True)
    _publish(html, target)
    shutil.rmtree(output, ignore_errors=True)
    print(f"site built in {time.monotonic() - began:.1f} s: {target / 'index.html'}"
          + (f" ({len(warnings)} sphinx warnings, listed in {SITE_RECORD})" if warnings else ""), flush=True)
    return target / "index.html"


def site_record(build_dir: Path = BUILD_DIR) -> dict:
    """Return the record the last successful site build left (pages, notebooks, warnings)."""
    path = Path(build_dir) / "html" / SITE_RECORD
    if not path.is_file():
        raise FileNotFoundError(f"no built site at {path.parent}; run `python -m moede book` first")
    return json.loads(path.read_text())
