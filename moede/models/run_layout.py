"""Where a run directory keeps its models: the static chapters' checkpoints, the second (drawn-face) expert set, and
each video model's per-partition checkpoints. The stages write there and `moede predict` reads there; neither asks
the other."""

from __future__ import annotations

from pathlib import Path

from moede.data.emotions import CANONICAL

DEMO_EXPERTS = "demo_experts"  # run_dir/<this>: experts trained on drawn faces for drawn clips (moede.stages.dynamic)
MOEDE_ROW = "MoEDE with auxiliary (FFE)"  # the label under which a run's tables record Table 5's MoEDE
MOEDE_ID = "moede_aux_ffe"  # the stable id of Table 5's MoEDE: the folder of its checkpoints


def expert_name(emotion: str, lora_rank: int | None = None) -> str:
    """The checkpoint name of `emotion`'s expert: expert_<emotion>, or expert_<emotion>_lora<rank> for LoRA experts."""
    return f"expert_{emotion}" + (f"_lora{lora_rank}" if lora_rank is not None else "")


def static_checkpoints(run_dir: str | Path, lora_rank: int | None = None) -> dict[str, list[Path]]:
    """The static stages' checkpoints DFER needs: the eight experts (canonical order; the rank-`lora_rank` LoRA ones
    when given), the FTFE fusion, the SFER."""
    models = Path(run_dir) / "models"
    return {"ffe": [models / f"{expert_name(e, lora_rank)}.pt" for e in CANONICAL], "ftfe": [models / "ftfe.pt"],
            "sfe": [models / "sfer.pt"]}


def dfer_model_path(run_dir: str | Path, dataset: str, model_id: str, partition: int) -> Path:
    """Where the checkpoint of the video model with stable id `model_id` (e.g. MOEDE_ID, not a table row's label) of
    `dataset` for partition (1-based) is kept."""
    return Path(run_dir) / "dfer" / dataset / model_id / f"partition_{partition}.pt"
