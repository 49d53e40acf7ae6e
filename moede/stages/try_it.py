"""Chapter 9's stage: `moede predict` on real clips with bundles whose MoEDE never saw the clips' actors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from moede.config import RunConfig
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
