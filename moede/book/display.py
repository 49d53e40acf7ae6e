"""What the notebooks show: the run banner, tables beside the paper's, and the result files the summary gathers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from moede.config import RunConfig
from moede.paths import shown
from moede.tables.paper import paper_complexity, paper_vs_run
from moede.sources import DataSource
from moede.stages.outputs import RESULTS, source_of

__all__ = ["banner", "complexity_vs_paper", "load_results", "show_figure", "show_saved", "show_table", "show_vs_paper",
           "source_of", "source_text"]

BANNER_WIDTH = 100  # characters per banner line: the width of an output block in the book
SUMMARY_ORDER = ("table1", "table2", "table3", "table4", "table5", "significance", "table6", "table7", "complexity",
                 "table8")
SUMMARY_TITLES = {"significance": "Matched-pair t-tests against the single feature extractor",
                  "complexity": "Model complexity (Section IV.C)", "dfer_runs": "Table 5 runs, per partition",
                  "ablation_runs": "Table 7 runs, per partition", "msp_improv_runs": "Table 8 runs, per partition",
                  **{f"table{k}": f"Table {k}" for k in range(1, 9)}}


def banner(cfg: RunConfig, *sources: DataSource | str | None) -> None:
    """Print the profile, run directory and data source(s) at the top of a chapter's output."""
    lines = [f"Profile: {cfg.profile} | run dir: {shown(cfg.run_dir)} | device: {cfg.device} | seed: {cfg.seed} | "
             f"precision: {cfg.precision}",
             f"Initialisation: {cfg.initialisation().describe()}"
             + (f"; blocks 0-{cfg.trainable_from - 1} of every MobileNetV2 stay frozen at it"
                if cfg.trainable_from else "")]
    for source in sources:
        if isinstance(source, DataSource):
            lines.append(source.banner())
        elif source:
            lines.append(str(source))
    if cfg.profile == "demo":
        lines.append(f"Demo profile: {cfg.image_size}x{cfg.image_size} faces, Adam lr {cfg.learning_rate:g} (experts "
                     f"{cfg.expert_learning_rate:g}, DFER {cfg.dfer_learning_rate:g}), "
                     f"{'augmented' if cfg.augment else 'no augmentation'}, epochs SFER {cfg.sfer_epochs} / experts "
                     f"{cfg.expert_epochs} / fusion {cfg.fusion_epochs} / DFER {cfg.dfer_epochs} (paper 60/20/20/20), "
                     f"{cfg.partitions} partition(s): smaller settings than the paper's, not its data.")
    wrapped = (textwrap.fill(line, BANNER_WIDTH, subsequent_indent="    ", break_on_hyphens=False) for line in lines)
    print("\n".join(wrapped))


def show_figure(fig: Any, dpi: int = 100) -> None:
    """Display a matplotlib Figure (or a seaborn grid) once as a PNG, and close it so it is not shown twice."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    fig = getattr(fig, "figure", fig)  # seaborn FacetGrid/ClusterGrid -> its Figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(data=buffer.getvalue(), format="png"))
    plt.close(fig)


def source_text(item: Any) -> str:
    """The data-source banner of `item` ('source not recorded' when it has none)."""
    source = source_of(item)
    if source is None:
        return "source not recorded"
    return source.banner() if isinstance(source, DataSource) else str(source)


def _styled(frame: pd.DataFrame, caption: str) -> Any:
    numeric = frame.select_dtypes("number").columns
    others = [c for c in frame.columns if c not in numeric]  # e.g. intervals printed as text
    return (frame.style.format(precision=2, na_rep="–", subset=list(numeric)).format(na_rep="–", subset=others)
            .set_caption(caption + _interval_note(frame)))


def _interval_note(frame: pd.DataFrame) -> str:
    """'. <how the intervals were drawn>' of a table with bootstrap intervals (attrs['interval']), else ''."""
    note = frame.attrs.get("interval")
    return f". {note}" if note else ""


def load_results(cfg: RunConfig) -> dict[str, pd.DataFrame]:
    """Read every result table the stages wrote (moede.stages.outputs.save_result) to the run directory."""
    folder = Path(cfg.run_dir) / RESULTS
    tables: dict[str, pd.DataFrame] = {}
    for csv in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(csv, index_col=0)
        meta_path = csv.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        if meta.get("source"):
            frame.attrs["source"] = DataSource(**meta["source"])
        elif meta.get("banner"):
            frame.attrs["source"] = meta["banner"]
        frame.attrs["profile"] = meta.get("profile")
        if meta.get("interval"):
            frame.attrs["interval"] = meta["interval"]
        tables[csv.stem] = frame
    return tables


def show_vs_paper(ours: pd.DataFrame, name: str) -> None:
    """Display this run's `name` ('table1'...'table8') beside the paper's (the stages wrote it to results/)."""
    from IPython.display import display

    joined = paper_vs_run(ours, name)
    counts = sorted(set(ours.attrs.get("partitions", {}).values()))
    over = f"mean over {'/'.join(map(str, counts))} partition(s); " if counts else ""
    display(_styled(joined, f"{SUMMARY_TITLES.get(name, name)}: {joined.attrs['caption']} (paper vs this run) — "
                            f"this run: {over}{source_text(ours)}"))


def show_table(frame: pd.DataFrame, name: str, caption: str | None = None) -> None:
    """Display a result table that has no paper counterpart (e.g. the t-tests)."""
    from IPython.display import display

    caption = caption or frame.attrs.get("caption") or name
    display(_styled(frame, f"{caption} — this run: {source_text(frame)}"))


def complexity_vs_paper(ours: pd.DataFrame | pd.Series) -> None:
    """Display this run's complexity figures beside the paper's Section IV.C values (rows matched by label)."""
    from IPython.display import display

    if isinstance(ours, pd.DataFrame):
        frame = ours.copy()
    else:
        frame = ours.to_frame("this run")
    paper = paper_complexity()
    if "paper" not in frame.columns:
        frame.insert(0, "paper", paper.reindex(frame.index))
    missing = paper.index.difference(frame.index)
    if len(missing):
        frame = pd.concat([frame, paper[missing].to_frame("paper")])
    display(_styled(frame, "Model complexity (Section IV.C): paper vs this run"))


def show_saved(tables: dict[str, pd.DataFrame]) -> None:
    """Display every saved result table beside the paper's (the summary page)."""
    from IPython.display import Markdown, display

    for name in [n for n in SUMMARY_ORDER if n in tables]:
        frame = tables[name]
        display(Markdown(f"### {SUMMARY_TITLES.get(name, name)}\n\n{source_text(frame)}"
                         f" · profile {frame.attrs.get('profile') or 'not recorded'}"))
        if name.startswith("table"):
            joined = paper_vs_run(frame, name)
            display(_styled(joined, joined.attrs["caption"]))
        else:
            display(_styled(frame, SUMMARY_TITLES.get(name, name)))
    others = sorted(set(tables) - set(SUMMARY_ORDER))
    if others:
        display(Markdown("Also in the run directory's results/: " + ", ".join(f"`{n}.csv`" for n in others)))
