"""The one training loop of every model (static classifiers and DFER models): epochs of a given training pass, the
optimiser, torchrun data parallelism, per-epoch development scores in a history, the best epoch kept by `select_by`
(the first one on ties), optional early stopping and epoch checkpoints to resume from (moede.training.resume)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from moede.distributed import DataParallelTraining, current
from moede.training.optimizers import make_optimizer
from moede.training.outcomes import TrainResult
from moede.training.resume import EpochCheckpoint, check_stateful

SELECT_BY = ("f1_macro", "accuracy")

#: One training pass: (the module to run forward: DDP-wrapped under torchrun, optimiser, epoch from 1) ->
#: (its history columns, the number of samples it trained on over all ranks).
TrainEpoch = Callable[[nn.Module, torch.optim.Optimizer, int], tuple[dict[str, float], int]]
#: Development scoring of the model: -> (dev_loss, dev_accuracy and dev_f1_macro (percent) columns, logits to keep
#: for the best epoch or None).
ScoreDev = Callable[[nn.Module], tuple[dict[str, float], np.ndarray | None]]


def _check_settings(epochs: int, select_by: str, patience: int | None) -> None:
    """Refuse fewer than one epoch, a selection metric outside SELECT_BY or a patience below one."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if select_by not in SELECT_BY:
        raise ValueError(f"select_by must be one of {SELECT_BY}, got {select_by!r}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 (or None: no early stopping), got {patience}")


def fit(model: nn.Module, train_epoch: TrainEpoch, score_dev: ScoreDev, *, epochs: int, learning_rate: float,
        optimizer_name: str = "adam", select_by: str = "f1_macro", patience: int | None = None,
        device: str | torch.device = "cpu", desc: str = "training", rate_column: str | None = None,
        resume: EpochCheckpoint | None = None, stateful: Mapping[str, object] | None = None) -> TrainResult:
    """Train `model` for up to `epochs` passes of `train_epoch` with `optimizer_name` at `learning_rate` (DDP under
    torchrun), score the development set after each and restore the weights of the epoch best by `select_by`.

    The history has one row per epoch: epoch, the pass's columns, the dev columns, seconds (of the training pass)
    and, if `rate_column` is given, samples per second under that name. With `patience`, training stops once
    `patience` epochs in a row have not beaten the best dev score; the history then also has the column
    epochs_without_improvement (its last row equals `patience` when training stopped early).
    With `resume`, an epoch checkpoint is written there after each epoch, a run started again with the same settings
    continues from the last one written (ending bit for bit as an uninterrupted run); it is kept after the last
    epoch until the caller has saved what was trained and calls `resume.remove()` (moede.training.reuse does, once
    the final checkpoint is written), so that no kill loses a finished training;
    `stateful` names every object the passes draw random numbers from or keep a position in (samplers, generators:
    anything moede.training.resume.is_stateful accepts), saved and restored with it.
    """
    _check_settings(epochs, select_by, patience)
    stateful = dict(stateful or {})
    check_stateful(stateful)
    start = time.perf_counter()
    model.to(device)
    optimizer = make_optimizer(optimizer_name, model.parameters(), learning_rate)
    progress: dict[str, Any] = {"rows": [], "best_score": -np.inf, "best_state": None, "best_epoch": 0,
                                "best_logits": None, "seconds": 0.0}
    saved = resume.load(epochs, stateful) if resume is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        progress.update({name: saved[name] for name in progress})
        if progress["best_logits"] is not None:
            progress["best_logits"] = progress["best_logits"].numpy()
        resume.restore_rank(saved, stateful)
    parallel = DataParallelTraining(model, device)
    rows, done = progress["rows"], len(progress["rows"])
    stopped = patience is not None and done > 0 and done - progress["best_epoch"] >= patience
    bar = tqdm(range(done + 1, epochs + 1 if not stopped else done + 1), desc=desc, unit="epoch", initial=done,
               total=epochs, disable=not current().is_main)
    for epoch in bar:
        tick = time.perf_counter()
        model.train()
        columns, seen = train_epoch(parallel.module, optimizer, epoch)
        seconds = time.perf_counter() - tick
        dev, logits = score_dev(model)
        row = {"epoch": epoch, **columns, **dev, "seconds": seconds}
        if rate_column is not None:
            row[rate_column] = seen / seconds
        if dev[f"dev_{select_by}"] > progress["best_score"]:
            progress.update(best_score=dev[f"dev_{select_by}"], best_epoch=epoch, best_logits=logits,
                            best_state=copy.deepcopy(model.state_dict()))
        if patience is not None:
            row["epochs_without_improvement"] = epoch - progress["best_epoch"]
        rows.append(row)
        if resume is not None:
            resume.save({**progress, "seconds": progress["seconds"] + time.perf_counter() - start, "epochs": epochs,
                         "model": model.state_dict(), "optimizer": optimizer.state_dict()}, stateful)
        bar.set_postfix(loss=f"{columns['train_loss']:.3f}", dev=f"{dev[f'dev_{select_by}']:.1f}%")
        if patience is not None and epoch - progress["best_epoch"] >= patience:
            break
    model = parallel.finish()
    model.load_state_dict(progress["best_state"])
    return TrainResult(model=model, history=pd.DataFrame(rows), best_epoch=progress["best_epoch"],
                       best_dev_score=progress["best_score"], dev_logits=progress["best_logits"],
                       seconds=progress["seconds"] + time.perf_counter() - start)
