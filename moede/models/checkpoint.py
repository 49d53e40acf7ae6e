"""One checkpoint format for every moede model: the weights beside the model's spec (moede.models.registry), its
run configuration, class list, metrics, data source, initial weights and code version; and `train_or_reuse`, which
the static and the dynamic stages share to retrain a model only when its settings changed."""

from __future__ import annotations

import io
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
import moede.models.gating  # noqa: F401  (registers GatedMoEDE)
import moede.models.lora  # noqa: F401  (registers LoRA experts)
from moede.io import file_sha256, write_bytes
from moede.models.registry import build_model, model_spec
from moede.sources import REPO_ROOT, DataSource
from moede.training.distributed import broadcast_from_main, current, run_on_main, share_out

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
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state_dict": state}, buffer)
    return write_bytes(buffer.getvalue(), path)  # serialised first: a failed write names its cause and size


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
    outputs: dict[str, Any] = field(default_factory=dict)  # what training made beside the checkpoint (not saved in
    # it: e.g. a history table the stage writes itself); travels with the model from the rank that trained it


@dataclass(frozen=True)
class Job:
    """One model to train or reuse: its checkpoint path, the settings `key` (JSON-able) it must have been made with,
    the files `needs` that must exist beside it, the function that trains it and the checkpoint's metadata."""

    path: Path
    key: Any
    train: Callable[[], Trained]
    config: dict[str, Any]
    classes: Sequence[str]
    source: DataSource | None
    needs: Sequence[Path] = ()

    @property
    def key_text(self) -> str:
        """The key as stored in the checkpoint's metrics (sorted JSON)."""
        return json.dumps(self.key, sort_keys=True, default=str)


def _reused(job: Job) -> Trained:
    """The job's checkpoint as a reused Trained."""
    model, meta = load_checkpoint(job.path)
    return Trained(model, meta["metrics"], meta["extra"], reused=True)


def _reusable(job: Job) -> Trained | None:
    """The job's checkpoint when it exists, is readable, was made with the job's key and its `needs` exist."""
    if not (job.path.is_file() and all(Path(p).is_file() for p in job.needs)):
        return None
    try:
        trained = _reused(job)
    except (ValueError, KeyError, RuntimeError) as error:
        log.info("%s: unreadable (%s); retraining", job.path, error)
        return None
    if trained.metrics.get("key") != job.key_text:
        log.info("%s: trained with other settings; retraining", job.path)
        return None
    return trained


def _save(job: Job, trained: Trained) -> None:
    """Write the job's checkpoint of a model trained now."""
    save_checkpoint(trained.model, job.path, config=job.config, classes=job.classes, metrics=trained.metrics,
                    source=job.source, extra=trained.extra)


def train_or_reuse_all(jobs: Sequence[Job], spread: bool = False) -> list[Trained]:
    """Reuse each job's checkpoint when it was made with the job's key, otherwise train it and save it.

    In one process each model is saved as soon as it is trained. Under torchrun the reuse decisions are rank 0's;
    the models to train are trained by all ranks together (DDP), or, with `spread`, dealt out one per rank and
    trained alone (moede.training.distributed.share_out); rank 0 alone saves the checkpoints, once all are trained.
    Every rank returns every model.
    """
    ctx = current()
    found = [_reusable(job) if ctx.is_main else None for job in jobs]
    reuse = broadcast_from_main([trained is not None for trained in found])

    def train(job: Job) -> Trained:
        trained = job.train()
        trained.metrics = {"key": job.key_text, **trained.metrics}
        if not ctx.active:
            _save(job, trained)
        return trained

    stale = [job for job, reused in zip(jobs, reuse) if not reused]
    made = iter(share_out([lambda job=job: train(job) for job in stale]) if spread else [train(j) for j in stale])
    results = [(found[i] or _reused(job)) if reuse[i] else next(made) for i, job in enumerate(jobs)]
    if ctx.active:
        run_on_main(lambda: [_save(job, trained) for job, trained in zip(jobs, results) if not trained.reused])
    return results


def train_or_reuse(path: str | Path, key: Any, train: Callable[[], Trained], *, config: dict[str, Any],
                   classes: Sequence[str], source: DataSource | None, needs: Sequence[Path] = ()) -> Trained:
    """Load the checkpoint at `path` when it was made with settings `key` (JSON-able) and the files `needs` exist;
    otherwise run `train`, save its model with metrics['key'] = `key` (as sorted JSON) and return it (under torchrun:
    see train_or_reuse_all)."""
    return train_or_reuse_all([Job(Path(path), key, train, config, classes, source, needs)])[0]
