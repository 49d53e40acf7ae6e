"""Training and evaluation of DFER models on per-clip feature sequences (Section IV.B): Adam (lr 1e-3), cross-entropy
(+ auxiliary losses), zero post-padded mini-batches, the epoch with the best development accuracy kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler

from moede.distributed import Distributed, ShardedBatchSampler, current, global_batch, sum_over_ranks
from moede.evaluation.metrics import summary
from moede.models.dfer import DFEROutput, collate_clips, dfer_loss
from moede.evaluation.predictions import Predictions
from moede.training.loop import fit
from moede.training.outcomes import TrainResult
from moede.training.resume import EpochCheckpoint


class FeatureSource(Protocol):
    """Anything that returns a clip's (T, E, D) features by id: a FeatureCache (benchmarks/expert_paths.py's
    OnlineFeatures recomputes them)."""

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
    generator = torch.Generator().manual_seed(seed)  # also draws each epoch's base seed, as DataLoader does
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, batch_sampler=ShardedBatchSampler(order, batch_size, ctx), collate_fn=collate_clips,
                      generator=generator)


@torch.no_grad()
def predict_clips(model: nn.Module, source: FeatureSource, sample_ids: Sequence[str], targets: Sequence[int],
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
               dev_ids: Sequence[str], dev_y: Sequence[int], *, epochs: int, learning_rate: float = 1e-3,
               batch_size: int = 16, aux_weight: float = 1.0, aux_reduction: str = "sum",
               optimizer_name: str = "adam", select_by: str = "accuracy", seed: int = 0,
               patience: int | None = None, device: str | torch.device = "cpu", desc: str = "DFER",
               resume: EpochCheckpoint | None = None) -> TrainResult:
    """Train with Adam (or `optimizer_name`: moede.training.optimizers) and cross-entropy (+ `aux_weight` x the sum or
    mean of the auxiliary losses, `dfer_loss`) for `epochs` in the one loop (moede.training.loop.fit), scoring the
    development clips after each epoch; return the model with the weights of the epoch best by `select_by`
    ('accuracy', the paper's, or 'f1_macro'; the first one on ties); `patience`: early stopping (see fit).
    Shuffling is seeded with `seed` + epoch; seed torch yourself before building the model for reproducible weights.
    `resume`: the epoch checkpoint to continue from and write (see fit)."""
    if not len(train_ids) or not len(dev_ids):
        raise ValueError(f"need training and development clips, got {len(train_ids)} and {len(dev_ids)}")
    ctx = current()

    def train_epoch(module: nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> tuple[dict[str, float], int]:
        """One pass over the training clips: main and total loss, accuracy (percent), clips seen over all ranks."""
        total_loss, main_loss, correct, seen = 0.0, 0.0, 0, 0
        for x, lengths, y in _loader(source, train_ids, train_y, batch_size, shuffle=True, seed=seed + epoch,
                                     ctx=ctx):
            x, y = x.to(device), y.to(device)
            out = module(x, lengths)
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
        return {"train_loss": main_loss / seen, "train_total_loss": total_loss / seen,
                "train_accuracy": 100 * correct / seen}, int(seen)

    def score_dev(trained: nn.Module) -> tuple[dict[str, float], None]:
        """Dev loss (main head, unweighted), accuracy and F1-macro."""
        dev = predict_clips(trained, source, dev_ids, dev_y, batch_size, device)
        scores = summary(dev.y_true, dev.y_pred, dev.logits.shape[1])
        dev_loss = float(nn.functional.cross_entropy(torch.from_numpy(dev.logits), torch.from_numpy(dev.y_true)))
        return {"dev_loss": dev_loss, "dev_accuracy": scores["accuracy"], "dev_f1_macro": scores["f1_macro"]}, None

    return fit(model, train_epoch, score_dev, epochs=epochs, learning_rate=learning_rate,
               optimizer_name=optimizer_name, select_by=select_by, patience=patience, device=device, desc=desc,
               rate_column="clips_per_second", resume=resume)
