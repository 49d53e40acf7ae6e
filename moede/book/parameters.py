"""The notebooks' papermill parameters: one typed variable per setting, rendered from the settings schema, and the
check of what a notebook (and papermill's injected cell) bound before `start_chapter`.

A setting that a profile sets (image_size, the epochs ...) and run_dir default to None, "the profile's value", so
`-p profile full` gets the full profile's values and `-p image_size 224` wins over the profile's. Every other
setting shows its own default.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moede.config import PROFILES, RunConfig, settings
from moede.errors import SettingError
from moede.settings import Setting, field_comments

CELL_IMPORT = "from typing import Optional"
CELL_TYPES = {bool: "bool", int: "int", float: "float", str: "str", Path: "str", dict: "dict"}
INJECTABLE = (str, bool, int, float, list, dict, type(None))  # the values papermill's Python translator writes
IPYTHON_NAMES = frozenset({"In", "Out"})
CELL_PATTERN = re.compile(r"^# %% tags=\[\"parameters\"\]\n(.*?)(?=\n# %%|\Z)", flags=re.DOTALL | re.MULTILINE)


def profile_settings() -> frozenset[str]:
    """The settings whose default is the profile's (None in the cell): those a profile sets, and run_dir."""
    return frozenset({"run_dir"}.union(*PROFILES.values()))


@functools.cache
def _run_defaults() -> dict[str, Any]:
    """RunConfig's own defaults, as the JSON-friendly values a notebook cell holds."""
    return RunConfig().as_dict()


def _default(name: str) -> Any:
    """The cell's default of setting `name`: None for the profile's, else RunConfig's default."""
    return None if name in profile_settings() else _run_defaults()[name]


def _help(name: str, setting: Setting, comments: Mapping[str, str]) -> str:
    """The cell's comment on `name`: what it is, and the profiles' values where None means them."""
    text = comments.get(name) or setting.allowed()
    if name in profile_settings() and name != "run_dir":
        values = ", ".join(f"{profile} {PROFILES[profile].get(name, _run_defaults()[name])}" for profile in PROFILES)
        text += f"; None takes the profile's ({values})"
    return text


def parameter_line(name: str, setting: Setting, comments: Mapping[str, str]) -> str:
    """One annotated assignment of the parameters cell, e.g. `seed: int = 0  # seeds Python ...`."""
    default = _default(name)
    kind = CELL_TYPES[setting.kind]
    annotation = f"Optional[{kind}]" if default is None else kind
    literal = json.dumps(default) if isinstance(default, str) else repr(default)
    return f"{name}: {annotation} = {literal}  # {_help(name, setting, comments)}"


def parameters_cell() -> str:
    """The source of every notebook's `parameters` cell: one typed, commented variable per setting."""
    comments = field_comments(RunConfig)
    lines = [CELL_IMPORT, ""] + [parameter_line(name, setting, comments) for name, setting in settings().items()]
    return "\n".join(lines)


def parameters_markdown() -> str:
    """The parameters as a Markdown table (name, type, default, meaning) for the book's map page."""
    comments = field_comments(RunConfig)
    rows = ["| parameter | type | default | meaning |", "|---|---|---|---|"]
    for line in (parameter_line(name, setting, comments) for name, setting in settings().items()):
        assignment, _, meaning = line.partition("  # ")
        name, _, rest = assignment.partition(": ")
        kind, _, default = rest.partition(" = ")
        rows.append(f"| `{name}` | `{kind}` | `{default}` | {meaning.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def notebook_settings(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a notebook bound before importing `start_chapter` (its parameters cell, then papermill's
    injected one), from its `globals()`; a name that is not a setting is refused with one SettingError."""
    values: dict[str, Any] = {}
    for name, value in namespace.items():
        if name == "start_chapter":
            break
        if not name.startswith("_") and name not in IPYTHON_NAMES and isinstance(value, INJECTABLE):
            values[name] = value
    unknown = sorted(set(values) - set(settings()))
    if unknown:
        close = {name: difflib.get_close_matches(name, settings(), n=1) for name in unknown}
        hints = [f"{name} (did you mean {match[0]}?)" if match else name for name, match in close.items()]
        raise SettingError(f"parameter(s) {', '.join(hints)} not a setting, so nothing would read it; the settings "
                           f"are {', '.join(settings())}")
    return values


def write_parameters_cells(notebook_dir: Path) -> list[Path]:
    """Rewrite every notebook's `parameters` cell whose source differs from parameters_cell(); return those."""
    cell, rewritten = parameters_cell(), []
    for notebook in sorted(Path(notebook_dir).glob("*.py")):
        text = notebook.read_text()
        match = CELL_PATTERN.search(text)
        if match is None:
            raise ValueError(f"{notebook} has no `# %% tags=[\"parameters\"]` cell")
        if match.group(1).strip() != cell:
            notebook.write_text(text[:match.start(1)] + cell + "\n" + text[match.end(1):])
            rewritten.append(notebook)
    return rewritten


if __name__ == "__main__":  # python -m moede.book.parameters: bring the notebooks' cells in line with the schema
    from moede.book.chapters import NOTEBOOK_DIR

    changed = write_parameters_cells(NOTEBOOK_DIR)
    print(f"rewrote the parameters cell of {len(changed)} notebook(s): {', '.join(p.name for p in changed) or '-'}")
