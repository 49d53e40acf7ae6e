"""Paths as pages show them: relative to the repository, '../shared/...' for the shared data, never the builder's
own directories (two builds of one commit in two folders print the same text)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
END_OF_BASE = r"(/|(?=[\s'\",;:)\]]|\.(?:\s|$)|$))"
"""What follows a folder's path in a text for shown_in to rewrite it: a slash (a path below it) or the path's end."""


def _bases() -> list[tuple[Path, str]]:
    """(folder, how it is shown) from the most to the least specific: ../shared (as named beside the repository and
    where its link points), the repository, the folder holding the repository."""
    shared = REPO_ROOT.parent / "shared"
    bases = [(shared, "../shared"), (shared.resolve(), "../shared"), (REPO_ROOT, "")]
    return bases + ([(REPO_ROOT.parent, "..")] if REPO_ROOT.parent != REPO_ROOT.parent.parent else [])


def shown(path: str | os.PathLike[str] | None) -> str:
    """`path` as a page shows it: 'runs/demo' inside the repository, '../shared/data/...' inside ../shared,
    '../corpora/x' beside the repository, else the absolute path (a user's own corpus location is information)."""
    if path is None:
        return ""
    full = Path(os.path.abspath(Path(path).expanduser()))  # a relative path is the working directory's, as opened
    for base, name in _bases():
        if full.is_relative_to(base):
            rest = full.relative_to(base).as_posix()
            return rest if not name else name if rest == "." else f"{name}/{rest}"
    return full.as_posix()


def _written(match: re.Match[str], name: str) -> str:
    """What shown_in puts for one match of a base: its shown name, with the slash when a path below it follows."""
    if match.group(1):
        return f"{name}/" if name else ""
    return name or "."


def shown_in(text: str) -> str:
    """`text` with every absolute path under the repository, ../shared or the folder holding the repository written
    as shown() writes it (for what a page prints that no shown() call made: injected parameters, warnings)."""
    for base, name in _bases():
        pattern = re.escape(base.as_posix()) + END_OF_BASE
        text = re.sub(pattern, functools.partial(_written, name=name), text)
    return text
