"""The paper's own numbers (Tables 1-8 and Section IV.C), kept in one data file, and 'paper vs this run' views."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

MATRIX_TABLES = ("table4", "table6")
# Our column -> the paper's column that means the same thing, where the paper's labels say otherwise. Table 1: the
# paper's text calls P the target emotion, but its numbers only add up with P = the 3,500 "other" images (its
# F1-weighted is 0.875 P + 0.125 N in every row); our P is the target emotion, so it sits beside the paper's N.
SAME_MEANING: dict[str, dict[str, str]] = {
    "table1": {f"{a} {m}": f"{b} {m}" for a, b in (("P", "N"), ("N", "P"))
               for m in ("Precision", "Recall", "F1-score")},
}
MEANING_NOTES: dict[str, str] = {
    "table1": "paper's P/N columns swapped to line up by meaning: our P is the target emotion, the paper's numbers "
              "have P = the other emotions (its F1-weighted = 0.875 P + 0.125 N)",
}


@lru_cache(maxsize=1)
def _paper_values() -> dict[str, Any]:
    return json.loads(resources.files("moede.tables").joinpath("paper_values.json").read_text())


def paper_citation() -> str:
    """Return the citation of the paper whose values are stored."""
    return str(_paper_values()["source"])


def paper_table(name: str) -> pd.DataFrame:
    """Return the paper's table `name` ('table1' ... 'table8') as a DataFrame in percent (matrices as fractions)."""
    values = _paper_values()
    if name not in values or name in ("source", "complexity"):
        tables = sorted(k for k in values if k.startswith("table"))
        raise KeyError(f"no paper table {name!r}; known tables: {tables}")
    table = values[name]
    frame = pd.DataFrame(table["data"], index=table["index"], columns=table["columns"])
    frame.attrs["caption"] = table["caption"]
    frame.attrs["notes"] = table.get("notes", "")
    frame.attrs["significant"] = table.get("significant", [])
    return frame


def paper_complexity() -> pd.Series:
    """Return the paper's complexity figures of Section IV.C."""
    return pd.Series(_paper_values()["complexity"]["values"], name="paper")


def paper_vs_run(run: pd.DataFrame, name: str) -> pd.DataFrame:
    """Put this run's table beside the paper's, with a two-level column header (column, 'paper'/'this run').

    Rows and columns are matched by label (by meaning where `SAME_MEANING` says the paper's labels differ); a row or
    column that only one side has is kept with blanks.
    """
    paper = paper_table(name)
    paper = paper.rename(columns={theirs: ours for ours, theirs in SAME_MEANING.get(name, {}).items()})
    columns = [c for c in paper.columns if c in run.columns] + [c for c in run.columns if c not in paper.columns]
    index = list(paper.index) + [i for i in run.index if i not in paper.index]
    starred, printed = paper.attrs.get("significant", []), set(paper.index)
    paper = paper.reindex(index=index, columns=columns)
    if starred and "significant" in columns:  # the paper's stars beside this run's tests
        paper["significant"] = pd.Series({i: i in starred for i in printed}, dtype=object)
    ours = run.reindex(index=index, columns=columns)
    joined = pd.concat({"paper": paper, "this run": ours}, axis=1).swaplevel(axis=1)
    joined = joined[[(c, side) for c in columns for side in ("paper", "this run")]]
    joined.attrs.update(run.attrs)
    note = MEANING_NOTES.get(name)
    joined.attrs["caption"] = paper.attrs.get("caption", "") + (f" ({note})" if note else "")
    return joined
