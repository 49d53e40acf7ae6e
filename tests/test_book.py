"""The book machinery: notebook pairing and shape, the papermill runner, the jupyter-book site, the Chromium check."""

from __future__ import annotations

import importlib
import json
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from moede.book.chapters import CHAPTERS, NOTEBOOK_DIR, Chapter, find_chapter, select_chapters
from moede.book.check import check_site, find_chromium
from moede.book.parameters import parameters_cell
from moede.book.runner import NotebookFailed, notebook_parameters, read_status, run_notebooks
from moede.book.site import BookIncomplete, build_site
from moede.book.student import write_student_notebooks
from moede.config import RunConfig, settings
from moede.sources import REPO_ROOT

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.py"))
MAX_CELL_LINES = 15


def test_every_chapter_has_a_notebook_and_the_toc_lists_them_in_order():
    assert [p.stem for p in NOTEBOOKS] == [c.name for c in CHAPTERS]
    toc = (REPO_ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*notebooks/(\S+)", toc)
    assert listed == [c.name for c in CHAPTERS]
    for page in re.findall(r"(?:file|root):\s*(book/\S+)", toc):
        assert (REPO_ROOT / f"{page}.md").is_file(), page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_pairing_round_trip_is_exact(path: Path, tmp_path: Path):
    """.py -> .ipynb -> .py gives the committed text back, and `jupytext --sync` on a copy leaves it unchanged."""
    text = path.read_text()
    ipynb = tmp_path / f"{path.stem}.ipynb"
    jupytext.write(jupytext.read(path), ipynb, fmt="ipynb")
    assert jupytext.writes(jupytext.read(ipynb), fmt="py:percent") == text
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    shutil.copy(REPO_ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    ipynb.unlink()
    from jupytext.cli import jupytext as jupytext_cli

    jupytext_cli(["--sync", str(copy), "--quiet"])
    assert ipynb.is_file(), "jupytext --sync did not create the paired .ipynb (pairing config missing?)"
    assert copy.read_text() == text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path: Path):
    """The kernelspec is in the file; the first code cell is the generated `parameters` cell; the next builds cfg
    from the notebook's variables; the other cells stay short."""
    notebook = jupytext.read(path)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: no python3 kernelspec"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell is not `parameters`"
    assert code[0].source == parameters_cell(), (f"{path.name}: the parameters cell differs from the settings schema;"
                                                 " run `python -m moede.book.parameters` to rewrite it")
    assert "cfg = start_chapter(globals())" in code[1].source, f"{path.name}: second cell does not call start_chapter"
    for cell in code[1:]:
        lines = cell.source.strip().splitlines()
        assert len(lines) <= MAX_CELL_LINES, f"{path.name}: a code cell has {len(lines)} lines:\n{cell.source}"
    assert any("banner(cfg" in c.source for c in code[:4]), f"{path.name}: no banner near the top"


def test_map_names_existing_functions_shown_in_their_notebooks():
    """Every function of book/map.md exists in `moede` and its notebook(s) call it."""
    text = (REPO_ROOT / "book" / "map.md").read_text()
    rows = re.findall(r"^\|([^|]+)\|(?:[^|]+\|)?\s*(`moede\.[^|]+)\|([^|]*)\|\s*$", text, flags=re.MULTILINE)
    assert len(rows) >= 15
    missing = []
    for _, functions, notebooks in rows:
        for dotted in re.findall(r"`(moede\.[\w.]+)`", functions):
            module, _, name = dotted.rpartition(".")
            try:
                if not hasattr(importlib.import_module(module), name):
                    missing.append(dotted)
            except ImportError:
                missing.append(dotted)
            for stem in re.findall(r"`(\d\d_\w+)`", notebooks):
                assert name in (NOTEBOOK_DIR / f"{stem}.py").read_text(), f"{stem} does not call {name}"
    assert not missing, f"functions named in book/map.md but not found in the package: {missing}"


def test_map_names_each_chapters_parameters():
    """book/map.md's chapter -> parameters table is chapters.CHAPTERS' own, and each is a setting."""
    text = (REPO_ROOT / "book" / "map.md").read_text()
    rows = dict(re.findall(r"^\| `(\d\d_\w+)` \| (`\w+`(?:, `\w+`)*) \|$", text, flags=re.MULTILINE))
    assert rows == {c.name: ", ".join(f"`{s}`" for s in c.settings) for c in CHAPTERS}
    assert {s for c in CHAPTERS for s in c.settings} <= set(settings())
    assert "<!-- moede:parameters -->" in text


def test_teaching_page_shows_measured_lab_timings():
    """book/teaching.md times the chapters with exercises, on a fresh and on a reused run directory."""
    text = (REPO_ROOT / "book" / "teaching.md").read_text()
    rows = dict(re.findall(r"^\| `(\d\d_\w+)` \| (\d+ s \| \d+ s) \|", text, flags=re.MULTILINE))
    assert {c.name for c in CHAPTERS if c.exercises} <= set(rows), rows
    assert re.search(r"commit [0-9a-f]{7}", text) and "<!-- timings -->" not in text


def test_chapter_selection():
    assert find_chapter("5").name == "05_dfer" and find_chapter("03_experts").number == "03"
    assert [c.name for c in select_chapters(start_from="06")] == ["06_statistics", "07_msp_improv", "08_summary",
                                                                  "09_try_it", "10_proposals"]
    assert [c.name for c in select_chapters(["07", "2"])] == ["02_sfer", "07_msp_improv"]
    with pytest.raises(ValueError, match="names 0 notebooks"):
        find_chapter("nonexistent")


def test_parameters_carry_non_default_fields():
    cfg = RunConfig.for_profile("demo", run_dir="somewhere", dfer_epochs=1, partitions=3)
    params = notebook_parameters(cfg)
    assert params == {"profile": "demo", "run_dir": str(Path("somewhere").absolute()), "seed": 0, "device": "auto",
                      "dfer_epochs": 1, "partitions": 3}
    assert RunConfig.from_params(params) == cfg.with_(run_dir=Path("somewhere").absolute())


# --- the runner and the site on tiny notebooks ------------------------------------------------------------------

TINY_HEADER = f"# %% tags=[\"parameters\"]\n{parameters_cell()}\n\n"
TINY_OK = TINY_HEADER + """# %%
import pandas as pd
from matplotlib.figure import Figure
from moede.book.display import show_figure
from moede.book.header import start_chapter
cfg = start_chapter(globals())
print(f"profile {cfg.profile} seed {cfg.seed}")
fig = Figure(figsize=(3, 2)); fig.subplots().plot([0, 1], [1, 0])
show_figure(fig)
pd.DataFrame({"a": [1, 2], "b": [3, 4]})

# %% tags=["exercise"]
# Exercise: your one call here

# %% tags=["solution", "hide-input"]
print("the tiny solution")
"""
TINY_BAD = TINY_HEADER + "# %%\nraise ValueError('the tiny notebook fails here')\n"


def _tiny_book(tmp_path: Path, sources: dict[str, str]) -> tuple[Path, list[Chapter]]:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name, text in sources.items():
        (notebooks / f"{name}.py").write_text(text)
    return notebooks, [Chapter(name, name, "test", tables=1, figures=1) for name in sources]


def _tiny_site_root(tmp_path: Path, chapters: list[Chapter]) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(REPO_ROOT / "_config.yml", root)
    shutil.copytree(REPO_ROOT / "book", root / "book")
    (root / "book" / "map.md").write_text("# Map\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<!-- moede:modules -->\n")
    files = "".join(f"  - file: notebooks/{c.name}\n" for c in chapters)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: book/intro\nchapters:\n{files}  - file: book/map\n")
    return root


def test_runner_stops_at_a_failing_notebook_and_keeps_its_copy(tmp_path: Path):
    notebooks, chapters = _tiny_book(tmp_path, {"01_ok": TINY_OK, "02_bad": TINY_BAD, "03_never": TINY_OK})
    build = tmp_path / "_build"
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run")
    with pytest.raises(NotebookFailed) as failure:
        run_notebooks(cfg, build_dir=build, notebook_dir=notebooks, chapters=chapters)
    assert failure.value.name == "02_bad"
    assert "ValueError: the tiny notebook fails here" in str(failure.value)
    assert "02_bad" in str(failure.value)
    kept = nbformat.read(build / "notebooks" / "02_bad.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in kept.cells for o in c.get("outputs", []))
    status = read_status(build)
    assert status["01_ok"]["status"] == "ok" and status["02_bad"]["status"] == "failed"
    assert "03_never" not in status and not (build / "notebooks" / "03_never.ipynb").exists()
    with pytest.raises(BookIncomplete, match="02_bad: failed"):
        build_site(build, repo_root=_tiny_site_root(tmp_path, chapters), chapters=tuple(chapters))
    assert not (build / "html").exists()


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built site of one tiny executed notebook plus the book's own pages."""
    tmp_path = tmp_path_factory.mktemp("site")
    notebooks, chapters = _tiny_book(tmp_path, {"01_tiny": TINY_OK})
    build = tmp_path / "_build"
    run_notebooks(RunConfig.for_profile("demo", run_dir=tmp_path / "run", seed=7), build_dir=build,
                  notebook_dir=notebooks, chapters=chapters)
    root = _tiny_site_root(tmp_path, chapters)
    build_site(build, repo_root=root, chapters=tuple(chapters))
    build_site(build, repo_root=root, chapters=tuple(chapters), student=True)
    return build


def test_the_student_site_has_the_exercises_without_their_solutions(tiny_site: Path):
    full = (tiny_site / "html" / "notebooks" / "01_tiny.html").read_text()
    student = (tiny_site / "student" / "html" / "notebooks" / "01_tiny.html").read_text()
    assert "the tiny solution" in full and "tag_solution" in full
    assert "tag_exercise" in student and "profile demo seed 7" in student
    assert "the tiny solution" not in student and "tag_solution" not in student


def test_student_notebooks_keep_the_exercises_and_drop_the_solutions(tmp_path: Path):
    written = write_student_notebooks(tmp_path)
    assert [p.stem for p in written] == [c.name for c in CHAPTERS]
    assert sum(c.exercises for c in CHAPTERS) >= 3
    for path, chapter in zip(written, CHAPTERS):
        tags = [t for cell in nbformat.read(path, as_version=4).cells for t in cell.get("metadata", {}).get("tags", [])]
        assert "solution" not in tags and tags.count("exercise") == chapter.exercises, chapter.name
        source = jupytext.read(chapter.source())
        solutions = [c for c in source.cells if "solution" in c.metadata.get("tags", [])]
        assert len(solutions) == chapter.exercises, f"{chapter.name}: every exercise has one solution cell"


def test_site_builds_from_executed_notebooks(tiny_site: Path):
    html = tiny_site / "html"
    page = (html / "notebooks" / "01_tiny.html").read_text()
    assert "profile demo seed 7" in page, "papermill parameters did not reach the notebook"
    assert "<table" in page and "<img" in page
    assert (html / "book" / "intro.html").is_file() and (html / "_images" / "architecture.png").stat().st_size > 0
    assert "moede:modules" not in (html / "book" / "map.html").read_text()
    assert not (tiny_site / ".site-output").exists(), "the temporary build folder was not cleaned up"


needs_chromium = pytest.mark.skipif(find_chromium() is None,
                                    reason="Chromium is not installed (apt-get install chromium); "
                                           "browser check skipped")


@needs_chromium
def test_chromium_sees_tables_and_figures(tiny_site: Path):
    expect = {"notebooks/01_tiny.html": (1, 1), "book/intro.html": (1, 1)}
    reports = {r.page: r for r in check_site(tiny_site, expectations=expect)}
    assert reports["notebooks/01_tiny.html"].ok, reports["notebooks/01_tiny.html"].problems
    student = {r.page: r for r in check_site(tiny_site / "student", expectations=expect)}
    assert student["notebooks/01_tiny.html"].ok, student["notebooks/01_tiny.html"].problems
    assert reports["notebooks/01_tiny.html"].images >= 1 and reports["notebooks/01_tiny.html"].tables >= 1
    assert Path(reports["notebooks/01_tiny.html"].screenshot).stat().st_size > 1000


@needs_chromium
def test_chromium_check_reports_a_broken_image(tiny_site: Path, tmp_path: Path):
    broken = tmp_path / "_build"
    shutil.copytree(tiny_site, broken)
    for image in (broken / "html" / "_images").glob("*.png"):
        if image.name != "architecture.png":
            image.write_bytes(b"")
    report = next(r for r in check_site(broken, expectations={}) if r.page == "notebooks/01_tiny.html")
    assert any("is empty" in p for p in report.problems)


@needs_chromium
def test_chromium_check_reports_a_page_that_does_not_say_what_its_chapter_must(tiny_site: Path) -> None:
    page = "notebooks/01_tiny.html"
    text = (tiny_site / "html" / page).read_text()
    said = next(word for word in ("tiny", "Tiny", "html") if word in text)
    reports = {r.page: r for r in check_site(tiny_site, expectations={}, phrases={page: (said, "95% interval")})}
    assert reports[page].problems == ["the page does not say '95% interval'"]


@needs_chromium
def test_chromium_check_reports_a_solution_on_a_student_page(tiny_site: Path, tmp_path: Path):
    leaky = tmp_path / "_build"
    shutil.copytree(tiny_site, leaky)
    record = leaky / "html" / "moede-build.json"
    record.write_text(json.dumps(json.loads(record.read_text()) | {"student": True}))
    report = next(r for r in check_site(leaky, expectations={}) if r.page == "notebooks/01_tiny.html")
    assert any("solution(s) shown on a student page" in p for p in report.problems)


@pytest.mark.slow
def test_alignment_notebook_executes_and_shows_its_figures(tmp_path: Path):
    build = tmp_path / "_build"
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", max_frames=8)
    [executed] = run_notebooks(cfg, names=["01"], build_dir=build)
    notebook = nbformat.read(executed, as_version=4)
    outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    assert any("<table" in o.get("data", {}).get("text/html", "") for o in outputs)
    assert any("Profile: demo" in o.get("text", "") for o in outputs)


SMALLEST = dict(image_size=32, sfer_epochs=1, expert_epochs=1, fusion_epochs=1, dfer_epochs=1, partitions=2,
                max_frames=8, batch_size=32)


@pytest.mark.slow
def test_whole_book_on_the_smallest_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every notebook executes under papermill (embedded demo data, 1 epoch), the site builds, Chromium sees it."""
    monkeypatch.setenv("MOEDE_SHARED_DATA", str(tmp_path / "no-shared-data"))  # the fresh-clone situation
    build = tmp_path / "_build"
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", **SMALLEST)
    executed = run_notebooks(cfg, build_dir=build)
    assert [p.stem for p in executed] == [c.name for c in CHAPTERS]
    for path, chapter in zip(executed, CHAPTERS):
        cells = nbformat.read(path, as_version=4).cells
        outputs = [o for c in cells for o in c.get("outputs", [])]
        html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert sum(h.count("<table") for h in html) >= chapter.tables, chapter.name
        assert len(images) >= chapter.figures, chapter.name
        assert any("Profile: demo" in o.get("text", "") for o in outputs), f"{chapter.name}: no banner"
        said = " ".join([*html, *(c.source for c in cells if c.cell_type == "markdown")])
        assert all(phrase in said for phrase in chapter.says), f"{chapter.name}: {chapter.says}"
    written = {p.stem for p in (tmp_path / "run" / "results").glob("*.csv")}
    assert {"table1", "table5", "table8", "complexity"} <= written
    build_site(build)
    build_site(build, student=True)
    for chapter in CHAPTERS:
        page = (build / "student" / "html" / "notebooks" / f"{chapter.name}.html").read_text()
        assert page.count("tag_exercise") == chapter.exercises and "tag_solution" not in page, chapter.name
    if find_chromium() is not None:
        failed = [r for r in check_site(build) + check_site(build / "student") if not r.ok]
        assert not failed, [(r.page, r.problems) for r in failed]
