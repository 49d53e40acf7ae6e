"""How Table 4's expert diversity and the experts' in-face CAM share depend on what the demo changes from the paper.

    python benchmarks/bench_diversity.py --base runs/demo [--set expert_epochs=6] [--set trainable_from=0] ...

Each `--set` variant (and the base run itself, first) trains the eight experts in its own run folder beside
`--base` (runs/demo-<setting>-<value>), reusing the base run's aligned faces and, when the variant leaves the SFER's
settings alone, its SFER; it prints the mean off-diagonal cosine of Table 4 (the paper: 0.33), Table 1's mean
F1-macro, the experts' mean in-face CAM share (moede.stages.cams) and the seconds the experts took to train. The
demo differs from the paper in expert_epochs (2 vs 20), trainable_from (14 vs 0) and augment (False vs True).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from moede.config import RunConfig
from moede.evaluation.cams import pooled_share
from moede.evaluation.similarity import mean_off_diagonal
from moede.tables.static_tables import table1
from moede.stages.cams import cams_stage
from moede.stages.static import train_experts_stage


def _value(text: str) -> object:
    """A --set value: int, bool or text."""
    if text.isdigit():
        return int(text)
    return {"true": True, "false": False}.get(text.lower(), text)


def _variant_dir(base: Path, name: str, value: object) -> Path:
    """A run folder beside `base` holding a copy of its aligned faces, SFER and frozen activations."""
    run = base.parent / f"{base.name}-{name}-{value}"
    for part in ("aligned", "frozen", "models/sfer.pt", "results/sfer"):
        source, target = base / part, run / part
        if source.exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    return run


def measure(cfg: RunConfig) -> dict[str, object]:
    """Train (or reuse) the experts of `cfg`; their diversity, Table 1 mean F1-macro, in-face share and seconds."""
    start = time.perf_counter()
    experts = train_experts_stage(cfg)
    seconds = time.perf_counter() - start
    cams = cams_stage(cfg, experts)
    shares = [pooled_share(cams.maps[e], cams.masks) for e in experts.emotions]
    return {"mean cosine": round(mean_off_diagonal(experts.similarity), 3),
            "Table 1 F1-macro": float(table1(experts).loc["Average", "F1-macro"]),
            "mean in-face share": round(float(np.mean(shares)), 3),
            "lowest in-face share": round(float(np.min(shares)), 3), "seconds": round(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("runs/demo"))
    parser.add_argument("--set", action="append", default=[], help="name=value, one variant each")
    args = parser.parse_args()
    base = RunConfig.for_profile("demo", run_dir=args.base)
    rows = {"demo (base)": measure(base)}
    for item in args.set:
        name, _, text = item.partition("=")
        value = _value(text)
        rows[item] = measure(base.with_(run_dir=_variant_dir(args.base, name, value), **{name: value}))
    print(pd.DataFrame.from_dict(rows, orient="index").to_string())


if __name__ == "__main__":
    main()
