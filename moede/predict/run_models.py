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
from moede.models.registry import build_model, model_spec
from moede.models.run_layout import DEMO_EXPERTS, MOEDE_ROW, dfer_model_path, static_checkpoints

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


def _experts_dir(run_dir: Path) -> Path:
    """The run's expert set whose features the MoEDE learned from: the one whose checkpoint digests the CREMA-D FFE
    feature cache names (the static chapters' models/, or demo_experts/models/); models/ when no cache says."""
    candidates = [run_dir, run_dir / DEMO_EXPERTS]
    index = run_dir / "features" / f"{DATASET}_ffe.json"
    if index.is_file():
        used = json.loads(index.read_text())["key"].get("checkpoints")
        for root in candidates:
            paths = [root / "models" / f"expert_{e}.pt" for e in CANONICAL]
            if all(p.is_file() for p in paths) and [checkpoint_digest(p) for p in paths] == used:
                return root
    return run_dir


def _colour(config: dict[str, Any], path: Path) -> str:
    """The colour the MoEDE's experts saw the frames in, as its checkpoint records it (older runs: RGB)."""
    colour = config.get("frame_colour", "rgb")
    if colour not in COLOURS:
        raise RunModelsError(f"{path} records frame_colour={colour!r}, not one of {', '.join(COLOURS)}; retrain it "
                             "with this version (moede book --only 05_dfer)")
    return colour


def _moede_entry(run_dir: Path, partition: int) -> dict[str, Any]:
    """The MoEDE (auxiliary, FFE) of one partition as a bundle entry, with its dev accuracy and test scores."""
    path = _require(dfer_model_path(run_dir, DATASET, MOEDE_ROW, partition), "05_dfer")
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
    experts_root = _experts_dir(run_dir)
    static = static_checkpoints(run_dir)
    experts_paths = static_checkpoints(experts_root)["ffe"]
    models = {"experts": [_static_entry(_require(p, "03_experts")) for p in experts_paths],
              "sfer": _static_entry(_require(static["sfe"][0], "02_sfer")),
              "moede": _moede_entry(run_dir, partition)}
    if experts_root != run_dir and static["ftfe"][0].is_file():
        models["ftfe"] = _static_entry(static["ftfe"][0])
    return {"models": models, "experts_dir": str(experts_root.relative_to(run_dir) / "models"),
            "code_version": code_version()}


def rebuild(spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Rebuild a bundled model from its spec (moede.models.registry) and weights, in eval mode."""
    model = build_model(spec)
    model.load_state_dict(state_dict)
    return model.eval()
