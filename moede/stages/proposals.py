"""Chapter 10's stages: the paper's proposals tested on Table 5's clips, partitions and test subsets.

- LoRA experts (Section IV.C): for each rank of `lora_ranks`, the eight experts trained as LoRA adapters on the SFER
  (moede.models.lora; checkpoints models/expert_<emotion>_lora<r>.pt), their features of the clips
  (features/<dataset>_lora<r>_ffe.json) and MoEDE (auxiliary, FFE) trained on them per partition; results/lora.csv.
- Gating (Section VI): MoEDE behind a gate running k of the eight experts per clip (moede.models.gating), trained on
  the FFE features joined with the SFER's (the gate's input), for each k of `gate_ks`; results/gating.csv.
Every row is t-tested (one-tailed, matched pairs, Table 5's subsets) against Table 5's MoEDE, reused.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from moede.config import RunConfig
from moede.data.emotions import AFFECTNET, CANONICAL, PAPER_NAMES
from moede.evaluation.complexity import complexity_numbers, gated_clip_flops
from moede.evaluation.metrics import binary_row
from moede.features.cache import FeatureCache
from moede.models.checkpoint import load_checkpoint
from moede.models.gating import GatedMoEDE
from moede.models.run_layout import dfer_model_path
from moede.tables.dynamic_tables import MOEDE_ROW, score_table
from moede.tables.proposals import FULL_ROW, compute_quality_table, expert_storage, size_quality_table
from moede.stages.dynamic import (DFERFeatures, ModelFactory, VideoModel, _features, _padded_length, experts_config,
                                  moede_model, paired_test, run_models)
from moede.stages.outputs import save_result
from moede.evaluation.predictions import Predictions
from moede.training.outcomes import DFERResults

LORA_RANKS = {"demo": (), "full": (2, 4, 8, 16)}  # besides cfg.lora_rank
GATE_KS = {"demo": (1, 8), "full": (1, 2, 4, 8)}  # besides cfg.gate_k (k = 8: Table 5's MoEDE, reused)
GATED = "ffe+sfe"  # the joined features a gated MoEDE reads


def lora_ranks(cfg: RunConfig) -> tuple[int, ...]:
    """The LoRA ranks chapter 10 trains: cfg.lora_rank, and in the full profile 2, 4, 8 and 16."""
    return tuple(sorted({cfg.lora_rank, *LORA_RANKS.get(cfg.profile, ())}))


def gate_ks(cfg: RunConfig) -> tuple[int, ...]:
    """The numbers of experts per clip chapter 10 compares: cfg.gate_k, 1 and 8 (the demo's budget), and 2 and 4 too in
    the full profile."""
    return tuple(sorted({cfg.gate_k, *GATE_KS.get(cfg.profile, GATE_KS["full"])}))


def _reference(cfg: RunConfig, features: DFERFeatures) -> list[Predictions]:
    """Table 5's MoEDE (auxiliary, FFE) test predictions per partition (reused from chapter 5)."""
    return run_models(cfg, features, {MOEDE_ROW: moede_model(cfg)}).predictions[MOEDE_ROW]


def _quality(cfg: RunConfig, predictions: list[Predictions], reference: list[Predictions], classes: tuple[str, ...],
             name: str) -> dict[str, float]:
    """MoEDE F1-macro (mean over partitions) and the p of its one-tailed t-test against `reference`."""
    f1 = float(score_table({name: predictions}, classes, ["F1-macro"]).iloc[0, 0])
    test = paired_test(predictions, reference, (name, MOEDE_ROW), n_subsets=5, seed=cfg.seed)
    return {"MoEDE F1-macro": f1, "p (vs full MoEDE)": float(test.p)}


def _experts_f1(experts: dict) -> float:
    """Table 1's Average F1-macro of eight experts (their development predictions)."""
    return float(np.mean([binary_row(r.predictions["target"], r.predictions["prediction"])["F1-macro"]
                          for r in experts.values()]))


def _static(cfg: RunConfig, features: DFERFeatures) -> RunConfig:
    """The configuration whose static models made `features` (moede.stages.dynamic.experts_config)."""
    return experts_config(cfg, clips_are_demo=features.source is not None and features.source.kind == "demo")


def _experts(cfg: RunConfig) -> dict:
    """The eight experts of kind cfg.experts, trained or reused (emotion -> StaticResult)."""
    from moede.stages.static import prepare_static, train_experts

    return train_experts(cfg, prepare_static(cfg))


def _lora_checkpoints(static_cfg: RunConfig, banks: tuple[str, ...]) -> dict[str, list[Path]]:
    """The LoRA experts' checkpoints (canonical order) as the 'ffe' bank, trained or reused."""
    experts = _experts(static_cfg)
    return {"ffe": [experts[e].checkpoint for e in CANONICAL]}


def lora_features(cfg: RunConfig, features: DFERFeatures, rank: int) -> DFERFeatures:
    """`features`' clips and partitions with the features of the rank-`rank` LoRA experts ('ffe' bank only)."""
    lora = cfg.with_(experts="lora", lora_rank=rank)
    return _features(lora, f"{features.dataset}_lora{rank}", features.classes, features.clips, features.partitions,
                     ("ffe",), checkpoints=_lora_checkpoints)


def _size_row(name: str, static_cfg: RunConfig, experts: dict, sfer_path: Path) -> dict:
    """Stored size, trainable parameters and Table 1's mean F1 of one set of experts."""
    sfer, _ = load_checkpoint(sfer_path)
    models = [experts[e].model for e in AFFECTNET]
    return {"experts": name, **expert_storage(models, sfer, static_cfg.trainable_from),
            "experts F1-macro (Table 1)": _experts_f1(experts)}


def run_lora_sweep(cfg: RunConfig, features: DFERFeatures) -> pd.DataFrame:
    """(a) Full experts and LoRA experts of each rank of `lora_ranks`: stored size, trainable parameters, Table 1's
    mean expert F1-macro, and MoEDE (auxiliary, FFE) on Table 5's partitions; writes results/lora.csv."""
    static_cfg = _static(cfg.with_(experts="full"), features)
    reference = _reference(cfg, features)
    sfer_path = static_cfg.run_dir / "models" / "sfer.pt"
    rows = [{**_size_row(FULL_ROW, static_cfg, _experts(static_cfg), sfer_path),
             **_quality(cfg, reference, reference, features.classes, MOEDE_ROW)}]
    for rank in lora_ranks(cfg):
        lora_cfg = cfg.with_(experts="lora", lora_rank=rank)
        name = f"LoRA rank {rank}"
        variant = lora_features(lora_cfg, features, rank)
        trained = run_models(lora_cfg, variant, {MOEDE_ROW: moede_model(lora_cfg)})
        rows.append({**_size_row(name, _static(lora_cfg, features), _experts(_static(lora_cfg, features)),
                                 sfer_path),
                     **_quality(cfg, trained.predictions[MOEDE_ROW], reference, features.classes, name)})
    table = size_quality_table(rows)
    table.attrs["source"] = features.source
    save_result(table, "lora", cfg)
    return table


class JoinedFeatures:
    """Two feature caches of the same clips side by side on the expert axis: (T, E1 + E2, D) per clip (the gated
    MoEDE's input: the experts' features, then the SFER's)."""

    def __init__(self, first: FeatureCache, second: FeatureCache) -> None:
        if first.feature_dim != second.feature_dim:
            raise ValueError(f"cannot join features of size {first.feature_dim} and {second.feature_dim}")
        self.first, self.second = first, second
        self.index = first.index.loc[first.index.index.isin(second.index.index)]
        self.key = {"joined": [first.key, second.key]}
        self.feature_dim = first.feature_dim

    def clip(self, sample_id: str) -> np.ndarray:
        """The (T, E1 + E2, D) float16 features of one clip."""
        return np.concatenate([self.first.clip(sample_id), self.second.clip(sample_id)], axis=1)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self.index.index


def gated_factory(gate_k: int, readout: str = "last_valid") -> ModelFactory:
    """Factory of gated MoEDE models (auxiliary classifiers) running `gate_k` of the eight experts per clip."""
    return lambda shape: GatedMoEDE(feature_dim=shape.feature_dim, n_classes=shape.n_classes, gate_k=gate_k,
                                    padded_length=_padded_length(readout, shape))


def gated_row(k: int) -> str:
    """The row name of the gated MoEDE running k experts per clip."""
    return f"MoEDE, gate k={k}"


def gated_model(k: int, readout: str) -> VideoModel:
    """The gated MoEDE running k experts per clip on the joined features (stable id moede_gated_k<k>)."""
    return VideoModel(f"moede_gated_k{k}", GATED, gated_factory(k, readout))


def _gated_results(cfg: RunConfig, features: DFERFeatures, ks: tuple[int, ...]) -> DFERResults:
    """Gated MoEDE models for each k < 8 of `ks`, trained (or reused) on Table 5's partitions."""
    joined = replace(features, caches={GATED: JoinedFeatures(features.caches["ffe"], features.caches["sfe"])})
    return run_models(cfg, joined, {gated_row(k): gated_model(k, cfg.readout) for k in ks if k < 8})


def run_gating_sweep(cfg: RunConfig, features: DFERFeatures) -> pd.DataFrame:
    """(b) MoEDE gated to k experts per clip for each k of `gate_ks` (k = 8: Table 5's ungated MoEDE, whose logits
    the gate with k = 8 reproduces), with the TFLOP each executes per 2-second clip; writes results/gating.csv."""
    ks = gate_ks(cfg)
    reference = _reference(cfg, features)
    results = _gated_results(cfg, features, ks)
    ungated = complexity_numbers(len(features.classes), backbone=cfg.backbone)
    rows = [{"model": "MoEDE (ungated, Table 5)", "backbone passes per frame": 8,
             "TFLOP per 2-s clip": ungated["flops"] / 1e12,
             **_quality(cfg, reference, reference, features.classes, MOEDE_ROW)}]
    for k in ks:
        if k < 8:
            rows.append({"model": gated_row(k), "backbone passes per frame": k + 1,
                         "TFLOP per 2-s clip": gated_clip_flops(k, len(features.classes), backbone=cfg.backbone) / 1e12,
                         **_quality(cfg, results.predictions[gated_row(k)], reference, features.classes,
                                    gated_row(k))})
    table = compute_quality_table(rows)
    table.attrs["source"] = features.source
    save_result(table, "gating", cfg)
    return table


def gate_choices(cfg: RunConfig, features: DFERFeatures) -> pd.DataFrame:
    """How often the gated MoEDE with cfg.gate_k experts runs each expert, per true emotion of the test clips (share
    of clips, %), pooled over partitions."""
    k = cfg.gate_k
    if k == 8:
        return pd.DataFrame()
    joined = JoinedFeatures(features.caches["ffe"], features.caches["sfe"])
    results = _gated_results(cfg, features, (k,))
    rows = []
    for part, predictions in enumerate(results.predictions[gated_row(k)]):
        model, _ = load_checkpoint(dfer_model_path(cfg.run_dir, features.dataset, gated_model(k, cfg.readout).id,
                                                        part + 1))
        for sample_id, label in zip(predictions.sample_ids, predictions.y_true):
            clip = torch.from_numpy(joined.clip(sample_id).astype(np.float32))
            with torch.no_grad():
                run = model.choose(clip[None, :, -1], torch.tensor([clip.shape[0]]))[0].numpy()
            rows.append({"emotion": PAPER_NAMES[features.classes[label]],
                         **{PAPER_NAMES[e]: 100.0 * run[i] for i, e in enumerate(CANONICAL)}})
    table = pd.DataFrame(rows).groupby("emotion").mean().round(1)
    table.attrs["caption"] = f"Experts the gate runs (k={k}), % of test clips of each true emotion"
    return table

