"""Retrain a model only when its settings changed: `train_or_reuse_all`, which the static and the dynamic stages
share, over the checkpoint format of moede.models.checkpoint (under torchrun: rank 0 decides and saves)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from moede.distributed import broadcast_from_main, current, run_on_main, share_out
from moede.models.checkpoint import load_checkpoint, load_metadata, save_checkpoint
from moede.sources import DataSource
from moede.training.resume import EpochCheckpoint

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """A model with what its checkpoint records beside the weights: its metrics and any extra tensors or lists."""

    stored: nn.Module | Path  # the model, or (reused) the checkpoint it is loaded from when first asked for
    metrics: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    reused: bool = False  # loaded from a checkpoint made with the same settings, not trained now
    outputs: dict[str, Any] = field(default_factory=dict)  # what training made beside the checkpoint (not saved in
    # it: e.g. a history table the stage writes itself); travels with the model from the rank that trained it

    @property
    def model(self) -> nn.Module:
        """The model (a reused one is read from its checkpoint on first use: stages that need only the metrics and
        extra of the models they reuse, like the DFER tables' test predictions, never read 45 sets of weights)."""
        if isinstance(self.stored, Path):
            self.stored = load_checkpoint(self.stored)[0]
        return self.stored


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
    """The job's checkpoint as a reused Trained (its weights read when its model is first asked for)."""
    meta = load_metadata(job.path)
    return Trained(job.path, meta["metrics"], meta["extra"], reused=True)


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
    """Write the job's checkpoint of a model trained now, then delete the epoch checkpoint its training kept
    (moede.training.resume), which until then is what a killed run resumes from."""
    save_checkpoint(trained.model, job.path, config=job.config, classes=job.classes, metrics=trained.metrics,
                    source=job.source, extra=trained.extra)
    EpochCheckpoint.beside(job.path, job.key, job.path.stem).remove()


def train_or_reuse_all(jobs: Sequence[Job], spread: bool = False) -> list[Trained]:
    """Reuse each job's checkpoint when it was made with the job's key, otherwise train it and save it.

    In one process each model is saved as soon as it is trained. Under torchrun the reuse decisions are rank 0's;
    the models to train are trained by all ranks together (DDP), or, with `spread`, dealt out one per rank and
    trained alone (moede.distributed.share_out); rank 0 alone saves the checkpoints, once all are trained.
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
