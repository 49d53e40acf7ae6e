"""One checkpoint format for every moede model: the weights beside the model's spec (moede.models.registry), its
run configuration, class list, metrics, data source, initial weights and code version; and `train_or_reuse`, which
the static and the dynamic stages share to retrain a model only when its settings changed."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import moede
import moede.models.backbone  # noqa: F401  (registers the backbone classifiers)
import moede.models.baselines  # noqa: F401  (registers the Table 5 baselines)
import moede.models.dfer  # noqa: F401  (registers MoEDE and SingleExtractorLSTM)
import moede.models.fusion  # noqa: F401  (registers ExpertBank and ExpertFusion)
from moede.io import atomic_path, file_sha256
from moede.models.registry import build_model, model_spec
from moede.sources import REPO_ROOT, DataSource

FORMAT = "moede-checkpoint-1"

log = logging.getLogger(__name__)


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
    model = build_model(meta["spec"])
    model.load_state_dict(payload["state_dict"])
    if hasattr(model, "moede_init"):
        model.moede_init = meta["init"]
    return model.eval(), meta


@dataclass
class Trained:
    """A model with what its checkpoint records beside the weights: its metrics and any extra tensors or lists."""

    model: nn.Module
    metrics: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    reused: bool = False  # loaded from a checkpoint made with the same settings, not trained now


def train_or_reuse(path: str | Path, key: Any, train: Callable[[], Trained], *, config: dict[str, Any],
                   classes: Sequence[str], source: DataSource | None, needs: Sequence[Path] = ()) -> Trained:
    """Load the checkpoint at `path` when it was made with settings `key` (JSON-able) and the files `needs` exist;
    otherwise run `train`, save its model with metrics['key'] = `key` (as sorted JSON) and return it."""
    path, key_text = Path(path), json.dumps(key, sort_keys=True, default=str)
    if path.is_file() and all(Path(p).is_file() for p in needs):
        try:
            model, meta = load_checkpoint(path)
        except (ValueError, KeyError, RuntimeError) as error:
            log.info("%s: unreadable (%s); retraining", path, error)
        else:
            if meta["metrics"].get("key") == key_text:
                return Trained(model, meta["metrics"], meta["extra"], reused=True)
            log.info("%s: trained with other settings; retraining", path)
    trained = train()
    trained.metrics = {"key": key_text, **trained.metrics}
    save_checkpoint(trained.model, path, config=config, classes=classes, metrics=trained.metrics, source=source,
                    extra=trained.extra)
    return trained
