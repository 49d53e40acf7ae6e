"""book/open_choices.md: every row says what the paper says (stated rows quote it, verbatim) and names real settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moede.config import settings
from moede.sources import REPO_ROOT

PAGE = REPO_ROOT / "book" / "open_choices.md"
SAYS = ("stated", "inferred", "unstated")
NEW_SETTINGS = ("align_landmarks", "static_select_by", "dfer_select_by", "sfe_layers")


def _rows() -> list[list[str]]:
    """The cells of each row of the page's first table, the choices (header and rule left out)."""
    text = PAGE.read_text()
    table = text[text.index("| choice |"):].split("\n\n")[0]
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in table.splitlines()[2:]]


def _quotes(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def test_every_row_says_how_the_paper_speaks_and_stated_rows_quote_it() -> None:
    rows = _rows()
    assert len(rows) >= 32 and all(len(row) == 6 for row in rows), [row[0] for row in rows if len(row) != 6]
    for choice, said, says, *_ in rows:
        assert says.split()[0] in SAYS, f"{choice}: {says!r}"
        if says.startswith("stated"):
            assert _quotes(said), f"{choice} is marked stated without quoting the paper"


def test_the_settings_column_names_only_settings_and_their_values() -> None:
    schema = settings()
    known = set(schema) | {value for s in schema.values() for value in (s.choices or ())}
    for choice, *_, where in _rows():
        named = re.findall(r"`([^`]+)`", where.split(";")[0])
        unknown = [n for n in named if n not in known and not n.startswith("--")]
        assert not unknown, f"{choice}: {unknown} are not settings (put code names after the ';')"
    page = PAGE.read_text()
    assert all(f"`{name}`" in page for name in NEW_SETTINGS)


def test_quoted_sentences_are_the_paper_s_own_words(shared_data: Path) -> None:
    paper_file = shared_data.parent / "paper" / "moede-paper.txt"
    if not paper_file.is_file():
        pytest.skip(f"{paper_file} is absent")
    paper = " ".join(paper_file.read_text().split())
    for choice, said, *_ in _rows():
        for quote in _quotes(said):
            assert " ".join(quote.split()) in paper, f"{choice}: not in the paper: {quote!r}"
