"""The students' version of the book: every cell tagged `solution` left out, of the site and of the notebooks."""

from __future__ import annotations

from pathlib import Path

from moede.book.chapters import CHAPTERS, NOTEBOOK_DIR, Chapter

SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
STUDENT_DIR = "student"  # under the build folder: the student site (html/) and notebooks (notebooks/)


def is_solution(cell: dict) -> bool:
    """True for a cell tagged `solution`."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def write_student_notebooks(target_dir: Path, notebook_dir: Path = NOTEBOOK_DIR,
                            chapters: tuple[Chapter, ...] = CHAPTERS) -> list[Path]:
    """Write each chapter as an unexecuted .ipynb without its solution cells, for students to open; return them."""
    import jupytext

    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters:
        notebook = jupytext.read(chapter.source(notebook_dir))
        notebook.cells = [cell for cell in notebook.cells if not is_solution(cell)]
        written.append(target_dir / f"{chapter.name}.ipynb")
        jupytext.write(notebook, written[-1], fmt="ipynb")
    return written
