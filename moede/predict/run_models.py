"""The trained models of a run directory, read from their checkpoints (moede.models.checkpoint, one format for every
model): the only module of moede.predict that reads a run directory's checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from moede.data.colour import COLOURS
from moede.data.emotions import CANONICAL
from moede.errors import InputDataError
from moede.io import digest
from moede.models.checkpoint import checkpoint_digest, code_version, load_checkpoint
from moede.models.lora import own_entries, with_base
from moede.models.registry import build_model, model_spec
from moede.models.run_layout import DEMO_EXPERTS, MOEDE_ID, MOEDE_ROW, dfer_model_path, static_checkpoints

DATASET = "cremad"


class RunModelsError(InputDataError):
    """A run directory lacks a model the bundle needs."""


def _require(path: Path, chapter: str) -> Path:
    if not path.is_file():
        raise RunModelsError(f"{path} does not exist; run the book's chapter {chapter} on this run directory first "
                             "(moede book --only ...)")
    return path


def _static_entry(path: Path) -> dict[str, Any]:
    """One static checkpoint as a bundle entry: spec, weights and its recorded metadata."""
    model, meta = load_checkpoint(path)
    return {"spec": model_spec(model), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "classes": list(meta["classes"]), "metrics": meta["metrics"], "source": meta["source"],
            "init": meta["init"], "config": meta["config"], "checkpoint_sha256": meta["sha256"],
            "code_version": meta["code_version"]}


def _lora_ranks(root: Path) -> list[int]:
    """The ranks of the LoRA expert sets saved under root/models (expert_<emotion>_lora<rank>.pt)."""
    prefix = f"expert_{CANONICAL[0]}_lora"
    return sorted(int(p.stem[len(prefix):]) for p in (root / "models").glob(f"{prefix}*.pt")
                  if p.stem[len(prefix):].isdigit())


def _experts_set(run_dir: Path) -> tuple[Path, list[Path]]:
    """The run's expert set whose features the MoEDE learned from: the one whose checkpoint digests the CREMA-D FFE
    feature cache names (the static chapters' full or LoRA experts in models/, or demo_experts/models/); the full
    experts of models/ when no cache says."""
    index = run_dir / "features" / f"{DATASET}_ffe.json"
    if index.is_file():
        used = json.loads(index.read_text())["key"].get("checkpoints")
        for root in (run_dir, run_dir / DEMO_EXPERTS):
            for rank in (None, *_lora_ranks(root)):
                paths = static_checkpoints(root, rank)["ffe"]
                if all(p.is_file() for p in paths) and [checkpoint_digest(p) for p in paths] == used:
                    return root, paths
    return run_dir, static_checkpoints(run_dir)["ffe"]


def _colour(config: dict[str, Any], path: Path) -> str:
    """The colour the MoEDE's experts saw the frames in, as its checkpoint records it (older runs: RGB)."""
    colour = config.get("frame_colour", "rgb")
    if colour not in COLOURS:
        raise RunModelsError(f"{path} records frame_colour={colour!r}, not one of {', '.join(COLOURS)}; retrain it "
                             "with this version (moede book --only 05_dfer)")
    return colour


def _moede_entry(run_dir: Path, partition: int) -> dict[str, Any]:
    """The MoEDE (auxiliary, FFE) of one partition as a bundle entry, with its dev accuracy and test scores."""
    path = _require(dfer_model_path(run_dir, DATASET, MOEDE_ID, partition), "05_dfer")
    model, meta = load_checkpoint(path)
    metrics: dict[str, Any] = {k: meta["metrics"].get(k) for k in ("best_epoch", "best_dev_accuracy")}
    runs = run_dir / "results" / "dfer_runs.csv"
    if runs.is_file():
        table = pd.read_csv(runs)
        row = table[(table["model"] == MOEDE_ROW) & (table["partition"] == partition)]
        if len(row):
            metrics["test"] = {k: v for k, v in row.iloc[0].to_dict().items() if k not in ("model", "reused")}
    return {"spec": model_spec(model), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "metrics": metrics, "partition": partition, "row": MOEDE_ROW, "checkpoint": str(path),
            "colour": _colour(meta["config"], path), "source": meta["source"],
            "training_key": digest(meta["metrics"].get("key"))}


def read_run_models(run_dir: str | Path, partition: int = 1) -> dict[str, Any]:
    """Every model a bundle holds, read from a run directory: the experts the MoEDE learned from, the MoEDE of
    `partition`, the static chapters' SFER, and their FTFE when the MoEDE's experts are another set."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunModelsError(f"run directory {run_dir} does not exist; train it with `moede book` first")
    experts_root, experts_paths = _experts_set(run_dir)
    static = static_checkpoints(run_dir)
    models = {"experts": [_static_entry(_require(p, "03_experts")) for p in experts_paths],
              "sfer": _static_entry(_require(static["sfe"][0], "02_sfer")),
              "moede": _moede_entry(run_dir, partition)}
    sizes = {models["sfer"]["config"]["image_size"], models["experts"][0]["config"]["image_size"]}
    if len(sizes) > 1:
        raise RunModelsError(f"{run_dir}: the MoEDE's experts ({experts_paths[0].parent}) see faces at "
                             f"{models['experts'][0]['config']['image_size']} px and the SFER at "
                             f"{models['sfer']['config']['image_size']} px; a bundle has one face size: export a run "
                             "whose video chapters used the static chapters' experts (dfer_experts=static)")
    for entry in models["experts"]:
        if entry["spec"]["architecture"] == "lora_expert":  # store the adapters and the head, not the SFER again
            entry["state_dict"] = own_entries(entry["state_dict"], models["sfer"]["state_dict"])
            entry["base"] = "sfer"
    if experts_root != run_dir and static["ftfe"][0].is_file():
        models["ftfe"] = _static_entry(static["ftfe"][0])
    return {"models": models, "experts_dir": str(experts_root.relative_to(run_dir) / "models"),
            "code_version": code_version()}


def rebuild(spec: dict[str, Any], state_dict: dict[str, torch.Tensor],
            base: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """Rebuild a bundled model from its spec (moede.models.registry) and weights, in eval mode; a LoRA expert stored
    as its own entries takes the others from `base` (the SFER's state dict)."""
    model = build_model(spec)
    if base is not None:
        state_dict = with_base(list(model.state_dict()), state_dict, base)
    model.load_state_dict(state_dict)
    return model.eval()
