"""How Table 4's expert diversity and the experts' in-face CAM share depend on what the demo changes from the paper.

    python benchmarks/bench_diversity.py --base runs/demo [--set expert_learning_rate=0.001] \
        [--set trainable_from=0,augment=true] ...

Each `--set` variant (and the base run itself, first) trains the eight experts in its own run folder beside
`--base` (runs/demo-variant-<settings>), reusing the base run's aligned faces and, when the variant leaves the SFER's
settings alone, its SFER; it prints the SFER's development accuracy, the mean off-diagonal cosine of Table 4 (the
paper: 0.33), Table 1's mean F1-macro, each expert's in-face CAM share and their mean (moede.stages.cams) and the
seconds the SFER and the experts took to train. The demo differs from the paper in expert_epochs (2 vs 20),
trainable_from (14 vs 0), augment (False vs True) and the experts' Adam rate (expert_learning_rate: 3e-4 vs 1e-3).
A variant is one `--set`, several settings joined by commas (trainable_from=0,augment=true); its run folder is
deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from moede.config import RunConfig
from moede.evaluation.cams import pooled_share
from moede.evaluation.similarity import mean_off_diagonal
from moede.tables.static_tables import table1
from moede.stages.cams import cams_stage
from moede.stages.static import train_experts_stage, train_sfer_stage
from variants import parse_variant, variant_run

COPIED = ("aligned", "frozen", "models/sfer.pt", "results/sfer")  # a variant reuses the base run's faces and,
# when it leaves the SFER's settings alone, its SFER


def measure(cfg: RunConfig) -> dict[str, object]:
    """Train (or reuse) the SFER and experts of `cfg`: the SFER's dev accuracy, the experts' diversity, Table 1's mean
    F1-macro, their in-face CAM shares and the seconds each stage took."""
    start = time.perf_counter()
    sfer = train_sfer_stage(cfg)
    sfer_done = time.perf_counter()
    experts = train_experts_stage(cfg)
    experts_done = time.perf_counter()
    cams = cams_stage(cfg, experts)
    shares = [pooled_share(cams.maps[e], cams.masks) for e in experts.emotions]
    return {"SFER dev accuracy": round(float(sfer.metrics["dev"]["accuracy"]), 1),
            "mean cosine": round(mean_off_diagonal(experts.similarity), 3),
            "Table 1 F1-macro": float(table1(experts).loc["Average", "F1-macro"]),
            "mean in-face share": round(float(np.mean(shares)), 3),
            **{f"in-face {emotion}": round(share, 3) for emotion, share in zip(experts.emotions, shares)},
            "SFER seconds": round(sfer_done - start), "expert seconds": round(experts_done - sfer_done)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("runs/demo"))
    parser.add_argument("--set", action="append", default=[],
                        help="name=value[,name=value...]: one variant each")
    args = parser.parse_args()
    base = RunConfig.for_profile("demo", run_dir=args.base)
    rows = {"demo (base)": measure(base)}
    print(pd.DataFrame(rows).to_string(), flush=True)
    for item in args.set:
        with variant_run(args.base, item, COPIED) as run:
            rows[item] = measure(base.with_(run_dir=run, **parse_variant(item)))
        print(pd.DataFrame(rows).to_string(), flush=True)


if __name__ == "__main__":
    main()
