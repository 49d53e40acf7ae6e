"""The architecture figure and module table of the book, drawn from the package's own module structure."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

PACKAGE_DIR = Path(__file__).resolve().parents[1]

# (module that implements the block, block title, what it does), left to right: the static then the dynamic path.
STATIC_PATH = (
    ("moede.align", "face alignment", "dlib face + 68 landmarks,\neyes levelled, 224x224 crop"),
    ("moede.models.mobilenet", "SFER", "MobileNetV2, 8 emotions\n(weighted CE, Adam)"),
    ("moede.models.experts", "8 emotion experts", "binary 'emotion vs rest',\nbalanced re-sampling"),
    ("moede.models.fusion", "static fusion", "8 x FC 1280->256 -> 8-way\n(FFE frozen / FTFE tuned)"),
)
DYNAMIC_PATH = (
    ("moede.align", "video frames", "aligned frame by frame,\nmissing faces reuse neighbours"),
    ("moede.features", "expert features", "frozen experts, cached\n(T, 8, 1280) float16"),
    ("moede.models.dfer", "8 x LSTM_emo", "1280 -> 256 each,\nauxiliary classifier each"),
    ("moede.models.dfer", "LSTM_mix", "concat 2048 -> 256,\nsoftmax on last real frame"),
)


def _summary(path: Path) -> str:
    """First line of a module's docstring, read with ast (no import, so it stays fast and side-effect free)."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except SyntaxError:
        return "(syntax error)"
    return doc.strip().splitlines()[0] if doc else ""


def package_modules(package_dir: Path = PACKAGE_DIR) -> pd.DataFrame:
    """One row per module of the `moede` package: its dotted name and the first line of its docstring."""
    rows = []
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if "__pycache__" in parts or parts[-1] == "__main__":
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        rows.append({"module": name, "what it does": _summary(path)})
    return pd.DataFrame(rows).drop_duplicates("module").set_index("module")


def modules_markdown(package_dir: Path = PACKAGE_DIR) -> str:
    """The module table as a Markdown table."""
    table = package_modules(package_dir)
    lines = ["| module | what it does |", "|---|---|"]
    lines += [f"| `{name}` | {text.replace('|', '/')} |" for name, text in table["what it does"].items()]
    return "\n".join(lines) + "\n"


def _row(ax, y: float, blocks: tuple, known: set[str], colour: str) -> None:
    width, gap = 2.1, 0.5
    for k, (module, title, text) in enumerate(blocks):
        x = 0.3 + k * (width + gap)
        present = module in known
        ax.add_patch(FancyBboxPatch((x, y), width, 1.3, boxstyle="round,pad=0.05", fc=colour if present else "white",
                                    ec="black", ls="-" if present else "--"))
        ax.text(x + width / 2, y + 1.02, title, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(x + width / 2, y + 0.6, text, ha="center", va="center", fontsize=7.5)
        ax.text(x + width / 2, y + 0.15, module if present else f"{module} (missing)", ha="center", va="center",
                fontsize=7, family="monospace", color="#333333")
        if k:
            ax.add_patch(FancyArrowPatch((x - gap + 0.05, y + 0.65), (x - 0.05, y + 0.65), arrowstyle="-|>",
                                         mutation_scale=12))


def architecture_figure(package_dir: Path = PACKAGE_DIR) -> Figure:
    """Block diagram of MoEDE, each block labelled with the `moede` module implementing it (dashed if absent)."""
    known = set(package_modules(package_dir).index)
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0, 10.8)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    ax.text(0.3, 3.95, "Static training (AffectNet): the experts", fontsize=11, weight="bold")
    _row(ax, 2.35, STATIC_PATH, known, "#dbe9f6")
    ax.text(0.3, 1.7, "Dynamic FER (CREMA-D, MSP-IMPROV): MoEDE on frozen expert features", fontsize=11, weight="bold")
    _row(ax, 0.1, DYNAMIC_PATH, known, "#fde2c8")
    ax.add_patch(FancyArrowPatch((5.9, 2.3), (3.9, 1.45), arrowstyle="-|>", mutation_scale=12, ls=":",
                                 connectionstyle="arc3,rad=0.15"))
    ax.text(5.0, 1.95, "frozen experts", fontsize=8, ha="center", style="italic")
    return fig
