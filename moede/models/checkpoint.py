"""Checkpoints that carry their config, class list, metrics, data source and code version next to the weights."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

import moede
from moede.io import atomic_path, file_sha256
from moede.models.fusion import ExpertFusion
from moede.models.mobilenet import mobilenet_v2, padding_of
from moede.sources import REPO_ROOT, DataSource

FORMAT = "moede-checkpoint-1"


def code_version() -> str:
    """Return moede's version plus the git commit of the source tree when available ('0.1.0+g1a2b3c4[.dirty]')."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return moede.__version__
    return f"{moede.__version__}+g{commit}{'.dirty' if dirty else ''}"


def model_spec(model: nn.Module) -> dict[str, Any]:
    """Describe the architecture of `model` so that `load_checkpoint` can rebuild it."""
    if isinstance(model, ExpertFusion):
        return model.spec()
    if isinstance(model, torchvision.models.MobileNetV2):
        return {"architecture": "mobilenet_v2", "num_classes": model.classifier[-1].out_features,
                "padding": padding_of(model)}
    raise TypeError(f"cannot checkpoint a {type(model).__name__}; expected MobileNetV2 or ExpertFusion")


def _build(spec: dict[str, Any]) -> nn.Module:
    """Rebuild an untrained model from `model_spec` output."""
    if spec["architecture"] == "mobilenet_v2":
        return mobilenet_v2(spec["num_classes"], spec.get("padding", "symmetric"))
    if spec["architecture"] == "expert_fusion":
        return ExpertFusion.from_spec(spec)
    raise ValueError(f"unknown architecture {spec['architecture']!r} in checkpoint")


def save_checkpoint(model: nn.Module, path: str | Path, *, config: dict[str, Any], classes: Sequence[str],
                    metrics: dict[str, Any], source: DataSource | None, extra: dict[str, Any] | None = None) -> Path:
    """Write `model`'s state dict with its metadata to `path` atomically; return the path."""
    meta = {"format": FORMAT, "spec": model_spec(model), "config": config, "classes": list(classes),
            "metrics": metrics, "source": source.as_dict() if source else None, "code_version": code_version(),
            "init": getattr(model, "moede_init", None), "extra": extra or {}}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"meta": meta, "state_dict": state}, tmp)
    return Path(path)


def checkpoint_digest(path: str | Path) -> str:
    """Return the sha256 hex digest of a checkpoint file (for cache keys)."""
    return file_sha256(path)


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by `save_checkpoint`: return (model in eval mode, meta incl. 'sha256')."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; run the stage that trains it first")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("meta", {}).get("format") != FORMAT:
        raise ValueError(f"{path} is not a moede checkpoint ({FORMAT}); delete it and rerun the stage")
    meta = dict(payload["meta"], sha256=checkpoint_digest(path), path=str(path))
    model = _build(meta["spec"])
    model.load_state_dict(payload["state_dict"])
    model.moede_init = meta["init"]
    return model.eval(), meta
