"""What DFER training settings get from the book's CREMA-D clips (with ../shared: 78 real clips in folds by actor).

    python benchmarks/bench_dfer_recipes.py --base runs/demo --seeds 3 --set dfer_epochs=15 \
        --set dfer_learning_rate=0.001,max_frames=24

For the base run's settings and each `--set` variant, MoEDE (auxiliary classifiers, FFE features) is trained on every
partition once per DFER seed (the run's seed, plus 1, 2, ...: the static models, the folds and the features stay
those of the run's seed). It is scored on the development clips (the epoch kept, pooled over
partitions) and on the test clips (pooled: with folds by actor every clip once, by models that never saw its
actor). The script prints the mean and spread over seeds, and the accuracy of the seeds' averaged probabilities.
It also prints linear probes on each feature bank (moede.evaluation.floors), pooled the same way. Choose settings by
the development column; the test column only reports.

Each variant trains in a scratch run folder beside `--base`. It starts from a copy of the base run's static models and
aligned frames, so only the features a variant changes are recomputed, and the folder is deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import softmax

from moede.config import RunConfig
from moede.evaluation.floors import probe_predictions
from moede.evaluation.predictions import Predictions
from moede.stages.dynamic import DFERFeatures, cremad_features, moede_model, run_models
from variants import parse_variant, variant_run

COPIED = ("models", "results", "aligned", "frozen", "data")  # what a variant reuses of the base run (results:
# the static models' outputs, which their reuse checks)


def _dev_accuracy(features: DFERFeatures, histories: list[pd.DataFrame], select_by: str) -> float:
    """The kept epochs' development accuracy, pooled over partitions (weighted by their development clips)."""
    ffe = features.caches["ffe"].index.index
    sizes = [int(((part["split"] == "dev") & part["sample_id"].isin(ffe)).sum()) for part in features.partitions]
    kept = [history.loc[history[f"dev_{select_by}"].idxmax(), "dev_accuracy"] for history in histories]
    return float(np.average(kept, weights=sizes))


def measure(cfg: RunConfig, seeds: int) -> dict[str, object]:
    """MoEDE trained on every partition for `seeds` seeds of `cfg`: development and test accuracy (pooled), their
    spread over seeds, the seeds' ensemble and the seconds it took."""
    start = time.perf_counter()
    dev, pooled = [], []
    features = cremad_features(cfg)  # the static models, folds and features of cfg's seed; the seeds vary DFER only
    for seed in range(seeds):
        seeded = cfg.with_(seed=cfg.seed + seed)
        trained = run_models(seeded, features, {"MoEDE": moede_model(seeded)})
        pooled.append(Predictions.pooled(trained.predictions["MoEDE"]))  # the same clips in the same order each seed
        dev.append(_dev_accuracy(features, trained.histories["MoEDE"], cfg.dfer_select_by))
    test = [100 * float((p.y_pred == p.y_true).mean()) for p in pooled]
    ensemble = np.mean([softmax(p.logits, axis=1) for p in pooled], axis=0).argmax(1)
    ensemble_accuracy = 100 * float((ensemble == pooled[0].y_true).mean())
    return {"dev accuracy": round(np.mean(dev), 1), "test accuracy": round(np.mean(test), 1),
            "test spread (std)": round(np.std(test), 1), "test, seeds' ensemble": round(ensemble_accuracy, 1),
            "clips": len(pooled[0].y_true), "seconds": round(time.perf_counter() - start)}


def probes(cfg: RunConfig) -> pd.Series:
    """Pooled test accuracy of a linear probe on each feature bank of the run (moede.evaluation.floors)."""
    features = cremad_features(cfg)
    scores = {}
    for bank, cache in features.caches.items():
        pooled = Predictions.pooled(probe_predictions(cache, features.partitions, features.classes))
        scores[f"probe on {bank}"] = round(100 * float((pooled.y_pred == pooled.y_true).mean()), 1)
    return pd.Series(scores, name="test accuracy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("runs/demo"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--set", action="append", default=[],
                        help="name=value[,name=value...]: one variant each")
    args = parser.parse_args()
    base = RunConfig.for_profile("demo", run_dir=args.base)
    rows = {}
    for item in ["demo (base)", *args.set]:
        variant = {} if item == "demo (base)" else parse_variant(item)
        with variant_run(args.base, item, COPIED) as run:
            rows[item] = measure(base.with_(run_dir=run, **variant), args.seeds)
        print(pd.DataFrame.from_dict(rows, orient="index").to_string(), flush=True)
    print(probes(base).to_string())


if __name__ == "__main__":
    main()
