"""Training and evaluation of DFER models on per-clip feature sequences (Section IV.B): Adam (lr 1e-3), cross-entropy
(+ auxiliary losses), zero post-padded mini-batches, the epoch with the best development accuracy kept."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from tqdm.auto import tqdm

from moede.evaluation.metrics import summary
from moede.models.dfer import DFEROutput, collate_clips, dfer_loss
from moede.sources import DataSource
from moede.training.distributed import (DataParallelTraining, Distributed, ShardedBatchSampler, current,
                                        global_batch, sum_over_ranks)
from moede.training.optimizers import make_optimizer


class FeatureSource(Protocol):
    """Anything that returns a clip's (T, E, D) features by id: a FeatureCache, or OnlineFeatures (recomputed)."""

    def clip(self, sample_id: str) -> np.ndarray: ...


class ClipDataset(Dataset):
    """(features (T, E, D) float32 tensor, class index) of each clip id, read from a FeatureSource."""

    def __init__(self, source: FeatureSource, sample_ids: Sequence[str], targets: Sequence[int]) -> None:
        if len(sample_ids) != len(targets):
            raise ValueError(f"{len(sample_ids)} clip ids but {len(targets)} targets")
        self.source, self.sample_ids, self.targets = source, list(sample_ids), [int(t) for t in targets]

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.source.clip(self.sample_ids[i]).astype(np.float32)), self.targets[i]


@dataclass
class Predictions:
    """A model's outputs on a set of clips."""

    sample_ids: list[str]
    y_true: np.ndarray  # (N,) class indices
    logits: np.ndarray  # (N, C) main classifier
    aux_logits: np.ndarray | None  # (N, K, C) auxiliary classifiers, if any
    emo_last: np.ndarray  # (N, K, hidden) last-valid-step LSTM_emo outputs

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class of the main classifier."""
        return self.logits.argmax(axis=1)

    def aux_pred(self, k: int) -> np.ndarray:
        """Predicted class of the k-th auxiliary classifier."""
        if self.aux_logits is None:
            raise ValueError("this model has no auxiliary classifiers")
        return self.aux_logits[:, k].argmax(axis=1)

    def to_payload(self) -> dict[str, object]:
        """Tensors and lists only, loadable with torch.load(weights_only=True)."""
        tensor = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        return dict(sample_ids=list(self.sample_ids), y_true=tensor(self.y_true), logits=tensor(self.logits),
                    aux_logits=tensor(self.aux_logits), emo_last=tensor(self.emo_last))

    @classmethod
    def from_payload(cls, payload: dict) -> "Predictions":
        """Rebuild from `to_payload` output."""
        array = lambda t: None if t is None else t.numpy()  # noqa: E731
        return cls(sample_ids=list(payload["sample_ids"]), y_true=array(payload["y_true"]),
                   logits=array(payload["logits"]), aux_logits=array(payload["aux_logits"]),
                   emo_last=array(payload["emo_last"]))


@dataclass
class TrainResult:
    """A trained model (with the weights of its best development epoch) and its per-epoch history."""

    model: nn.Module
    history: pd.DataFrame  # epoch, train_loss (main classifier CE), train_total_loss (+ auxiliary CEs: the
    # objective), train_accuracy, dev_loss, dev_accuracy, dev_f1_macro (percent), seconds, clips_per_second
    best_epoch: int
    best_dev_accuracy: float  # percent

    @property
    def clips_per_second(self) -> float:
        """Mean training throughput (clips per second, training passes only)."""
        return float(self.history["clips_per_second"].mean())


def feature_statistics(source: FeatureSource, sample_ids: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation (each (E, D)) over every frame of the given clips, for FeatureStandardizer.fit."""
    if not len(sample_ids):
        raise ValueError("need at least one clip to compute feature statistics")
    total = total_sq = None
    frames = 0
    for sample_id in sample_ids:
        clip = source.clip(sample_id).astype(np.float64)
        total = clip.sum(0) if total is None else total + clip.sum(0)
        total_sq = (clip ** 2).sum(0) if total_sq is None else total_sq + (clip ** 2).sum(0)
        frames += len(clip)
    mean = total / frames
    std = np.sqrt(np.maximum(total_sq / frames - mean ** 2, 0.0))
    return torch.from_numpy(mean).float(), torch.from_numpy(std).float()


def _loader(source: FeatureSource, ids: Sequence[str], targets: Sequence[int], batch_size: int,
            shuffle: bool, seed: int, ctx: Distributed = Distributed()) -> DataLoader:
    """Batches of zero post-padded clips; `ctx`: this rank's share of each global batch (all of it in one process)."""
    dataset = ClipDataset(source, ids, targets)
    order = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle else \
        SequentialSampler(dataset)
    return DataLoader(dataset, batch_sampler=ShardedBatchSampler(order, batch_size, ctx), collate_fn=collate_clips)


@torch.no_grad()
def predict(model: nn.Module, source: FeatureSource, sample_ids: Sequence[str], targets: Sequence[int],
            batch_size: int = 32, device: str | torch.device = "cpu") -> Predictions:
    """Run a DFER model over clips and collect main/auxiliary logits and LSTM_emo last-step outputs."""
    model.eval()
    logits, aux, emo = [], [], []
    for x, lengths, _ in _loader(source, sample_ids, targets, batch_size, shuffle=False, seed=0):
        out: DFEROutput = model(x.to(device), lengths)
        logits.append(out.logits.cpu())
        emo.append(out.emo_last.cpu())
        if out.aux_logits is not None:
            aux.append(out.aux_logits.cpu())
    cat = lambda parts: torch.cat(parts).numpy() if parts else None  # noqa: E731
    return Predictions(sample_ids=list(sample_ids), y_true=np.asarray(targets, dtype=np.int64),
                       logits=cat(logits), aux_logits=cat(aux), emo_last=cat(emo))


def train_dfer(model: nn.Module, source: FeatureSource, train_ids: Sequence[str], train_y: Sequence[int],
               dev_ids: Sequence[str], dev_y: Sequence[int], *, epochs: int, lr: float = 1e-3, batch_size: int = 16,
               aux_weight: float = 1.0, aux_reduction: str = "sum", optimizer_name: str = "adam", seed: int = 0,
               device: str | torch.device = "cpu", desc: str = "DFER") -> TrainResult:
    """Train with Adam (or `optimizer_name`: moede.training.optimizers) and cross-entropy (+ `aux_weight` x the sum or
    mean of the auxiliary losses, `dfer_loss`) for `epochs`, evaluating development accuracy after each epoch; return
    the model with the weights of the best development epoch (first one on ties).
    Shuffling is seeded with `seed` + epoch; seed torch yourself before building the model for reproducible weights."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not len(train_ids) or not len(dev_ids):
        raise ValueError(f"need training and development clips, got {len(train_ids)} and {len(dev_ids)}")
    model.to(device)
    optimizer = make_optimizer(optimizer_name, model.parameters(), lr)
    ctx, parallel = current(), DataParallelTraining(model, device)
    rows, best_state, best_acc, best_epoch = [], None, -1.0, 0
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not ctx.is_main)
    for epoch in bar:
        model.train()
        start, total_loss, main_loss, correct, seen = time.perf_counter(), 0.0, 0.0, 0, 0
        for x, lengths, y in _loader(source, train_ids, train_y, batch_size, shuffle=True, seed=seed + epoch,
                                     ctx=ctx):
            x, y = x.to(device), y.to(device)
            out = parallel.module(x, lengths)
            loss = dfer_loss(out, y, aux_weight, aux_reduction)
            # DDP averages gradients over ranks: weigh each rank's mean by its share of the batch
            scale, _ = global_batch(torch.tensor(float(len(y)), device=loss.device), len(y))
            optimizer.zero_grad()
            (loss * scale).backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(y)
            main_loss += float(nn.functional.cross_entropy(out.logits.detach(), y)) * len(y)
            correct += int((out.logits.argmax(1) == y).sum())
            seen += len(y)
        total_loss, main_loss, correct, seen = sum_over_ranks(total_loss, main_loss, correct, seen)
        seconds = time.perf_counter() - start
        dev = predict(model, source, dev_ids, dev_y, batch_size, device)
        scores = summary(dev.y_true, dev.y_pred, dev.logits.shape[1])
        dev_loss = float(nn.functional.cross_entropy(torch.from_numpy(dev.logits), torch.from_numpy(dev.y_true)))
        if scores["accuracy"] > best_acc:
            best_acc, best_epoch, best_state = scores["accuracy"], epoch, copy.deepcopy(model.state_dict())
        rows.append(dict(epoch=epoch, train_loss=main_loss / seen, train_total_loss=total_loss / seen,
                         train_accuracy=100 * correct / seen,
                         dev_loss=dev_loss, dev_accuracy=scores["accuracy"], dev_f1_macro=scores["f1_macro"],
                         seconds=seconds, clips_per_second=seen / seconds))
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", dev_acc=f"{scores['accuracy']:.1f}%")
    model = parallel.finish()
    model.load_state_dict(best_state)
    return TrainResult(model=model, history=pd.DataFrame(rows), best_epoch=best_epoch, best_dev_accuracy=best_acc)


@dataclass
class DFERResults:
    """Test-set predictions of several DFER models (row name -> one Predictions per partition), their training
    histories, t-tests against the baseline, the class list and the data source."""

    dataset: str
    classes: tuple[str, ...]
    predictions: dict[str, list[Predictions]]
    histories: dict[str, list[pd.DataFrame]]
    source: DataSource | None = None
    significance: dict = field(default_factory=dict)  # row name -> moede.evaluation.stats.TTestResult
    reused: dict[str, list[bool]] = field(default_factory=dict)  # row name -> per partition: loaded, not trained
