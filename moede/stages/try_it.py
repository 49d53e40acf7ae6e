"""Chapter 9's stage: `moede predict` on real clips with bundles whose MoEDE never saw the clips' actors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from moede.config import RunConfig
from moede.evaluation import bootstrap
from moede.evaluation.metrics import confusion
from moede.predict import predict
from moede.predict.bundle import bundle_from_run
from moede.predict.media import against_truth, real_media
from moede.stages.dynamic import DFERFeatures
from moede.stages.outputs import save_result


def held_out_clips(features: DFERFeatures, partition: int) -> pd.DataFrame:
    """The test clips of `partition` (1-based) as media to predict: path, truth (the label the models learned),
    actor, source (in words)."""
    part = features.partitions[partition - 1]
    rows = part[part["split"] == "test"].sort_values("sample_id")
    return pd.DataFrame({"path": rows["path"].map(Path).to_numpy(), "truth": rows["label"].to_numpy(),
                         "actor": rows["speaker"].astype(str).to_numpy(),
                         "source": f"CREMA-D test clips of partition {partition} ({features.source.kind})"})


def try_it_media(features: DFERFeatures, partition: int, folder: Path) -> pd.DataFrame:
    """What chapter 9 predicts: the real test clips of `partition` with their truth, or on the drawn demo corpus the
    real media shipped by installed packages (moede.predict.media.real_media; no truth)."""
    if features.source.kind == "demo":
        return real_media(folder)
    return held_out_clips(features, partition)


def partition_testing(features: DFERFeatures, actor: str) -> int | None:
    """The first partition (1-based) whose test set holds `actor`'s clips (its models never saw them), else None."""
    for k, part in enumerate(features.partitions, start=1):
        if (part.loc[part["split"] == "test", "speaker"].astype(str) == actor).any():
            return k
    return None


def leave_actors_out(cfg: RunConfig, features: DFERFeatures) -> pd.DataFrame:
    """Every clip of the partitions' test sets predicted by `moede predict` (its own alignment of the whole clip, the
    bundle's models) with the models of the partition that tested it: one row per clip (file, partition, actor,
    truth, prediction, correct). Written to results/leave_actors_out.csv."""
    tables = []
    for k in range(1, len(features.partitions) + 1):
        media = held_out_clips(features, k)
        whole = predict(list(media["path"]), model=bundle_from_run(cfg.run_dir, k), device=cfg.torch_device())
        tables.append(against_truth(whole, media).assign(partition=k, actor=media["actor"].to_numpy()))
    table = pd.concat(tables)
    table.attrs.update(source=features.source, caption="moede predict on every test clip, with the bundle of the "
                                                       "partition that never saw its actor")
    save_result(table, "leave_actors_out", cfg)
    return table


def predict_scores(every: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Accuracy and F1-macro of `leave_actors_out`'s predictions (truth, prediction, actor per clip) with 95%
    bootstrap intervals that resample the actors (each actor's clips together); a clip predicted as no class
    (no face) counts as wrong."""
    n = len(classes)
    index = {name: k for k, name in enumerate(classes)}
    truth = every["truth"].map(index).to_numpy(dtype=int)
    prediction = every["prediction"].map(index).fillna(n).to_numpy(dtype=int)  # n: no class
    actors = every["actor"].astype(str).tolist()
    draws = bootstrap.resampling(actors, "actors")

    def scores(matrices: np.ndarray) -> dict[str, np.ndarray]:
        """Accuracy and F1-macro over the n classes (not 'no class') of (resamples, n + 1, n + 1) counts."""
        return {"Accuracy": bootstrap.accuracy(matrices), "F1-macro": bootstrap.class_f1(matrices)[:, :n].mean(axis=1)}

    samples = scores(bootstrap.resampled_confusion(truth, prediction, actors, n + 1, draws))
    point = {metric: value[0] for metric, value in scores(confusion(truth, prediction, n + 1)[None]).items()}
    row = {"clips": len(every), "actors": len(set(actors))}
    for metric in ("Accuracy", "F1-macro"):
        low, high = bootstrap.percentile_interval(samples[metric])
        row.update({metric: round(float(point[metric]), 2),
                    f"{metric} [95% interval]": bootstrap.interval_text(low, high)})
    table = pd.DataFrame({"moede predict, each clip by the bundle that never saw its actor": row}).T
    table.attrs.update(source=every.attrs.get("source"), interval=draws.describe(),
                       caption=f"Every clip predicted by moede predict (chance: accuracy {100 / n:.1f}%)")
    return table
