"""The one writer of result tables: run_dir/results/<name>.csv plus <name>.json (data source, profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from moede.config import RunConfig
from moede.distributed import run_on_main
from moede.io import write_csv, write_json
from moede.sources import DataSource

RESULTS = "results"


def source_of(item: Any) -> DataSource | str | None:
    """Return the data source recorded on a DataFrame/Figure/result (attrs["source"] or .source), or None."""
    attrs = getattr(item, "attrs", None) or {}
    source = attrs.get("source") if isinstance(attrs, dict) else None
    if source is None:
        source = getattr(item, "source", None)
    if isinstance(source, dict):
        return DataSource(**source)
    return source if isinstance(source, (DataSource, str)) and source else None


def save_result(frame: pd.DataFrame, name: str, cfg: RunConfig, index: bool = True) -> Path:
    """Write a result table to run_dir/results/<name>.csv plus <name>.json (source, profile) atomically (under
    torchrun rank 0 writes, the others wait for it)."""
    target = Path(cfg.run_dir) / RESULTS / f"{name}.csv"
    source = source_of(frame)
    text = source.banner() if isinstance(source, DataSource) else str(source or "source not recorded")
    meta = {"name": name, "profile": cfg.profile, "banner": text,
            "source": source.as_dict() if isinstance(source, DataSource) else None,
            "interval": frame.attrs.get("interval")}  # how its bootstrap intervals were drawn, if it has them

    def write() -> None:
        write_csv(frame, target, index=index)
        write_json(meta, target.with_suffix(".json"))

    run_on_main(write)
    return target
