"""The static models' (SFER, experts, fusion) training pass and dev scoring for the one loop (moede.training.loop):
weighted cross-entropy, Adam, best dev epoch kept."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler
from tqdm.auto import tqdm

from moede.distributed import ShardedBatchSampler, current, global_batch, sum_over_ranks
from moede.evaluation.metrics import summary
from moede.models.recompute import recomputing
from moede.training.augment import BatchAffine
from moede.training.images import FaceImageDataset
from moede.training.loop import fit
from moede.training.outcomes import TrainResult
from moede.training.precision import autocast, checked_precision, grad_scaler
from moede.training.resume import EpochCheckpoint, is_stateful

# On the 2-core VM a full-profile SFER step (64 faces at 224 px, every layer trained) takes 2.83 s channels-last
# against 5.60 s in the default format (benchmarks/bench_scale.py --formats, book/measurements.md): models trained
# on images train so.
CHANNELS_LAST = torch.channels_last


def class_weights(targets: Sequence[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency loss weights w_c = N / (K * n_c) over the K classes present in `targets`; 0 if absent.

    With these weights every present class contributes the same total weight (N / K) to the loss, and a
    class-balanced training set gets all weights 1 (scikit-learn's 'balanced' class weights). Soft targets (N, K)
    count each class by its probability mass.
    """
    if np.ndim(targets) == 2:
        counts = np.asarray(targets, dtype=float).sum(axis=0)
    else:
        counts = np.bincount(np.asarray(targets, dtype=int), minlength=n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def loader_options(dataset: Dataset, workers: int, device: str | torch.device) -> dict[str, Any]:
    """DataLoader options reading `dataset`: `workers` processes for faces read from files (FaceImageDataset), none
    for tensors in memory; pinned batches on CUDA. Nothing random runs in them, so results do not depend on it."""
    workers = workers if isinstance(dataset, FaceImageDataset) else 0
    return {"num_workers": workers, "pin_memory": torch.device(device).type == "cuda"}


def _on_device(images: torch.Tensor, device: str | torch.device, layout: torch.memory_format) -> torch.Tensor:
    """A batch moved to `device` (asynchronously from pinned memory) in the memory format `layout`."""
    return images.to(device, non_blocking=True).contiguous(memory_format=layout)


def _layout(dataset: Dataset) -> torch.memory_format:
    """The memory format a model trains in on `dataset`'s batches: channels-last for images (CHANNELS_LAST)."""
    return CHANNELS_LAST if isinstance(dataset, FaceImageDataset) else torch.contiguous_format


@torch.no_grad()
def predict_images(model: nn.Module, dataset: FaceImageDataset, batch_size: int = 64,
                   device: str | torch.device = "cpu", workers: int = 0,
                   precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
    """Run `model` in eval mode (under `precision`) over `dataset` without augmentation, read by `workers`
    processes; return (logits (N,C), targets (N,))."""
    model.eval()
    plain = dataset.relabel(dataset.targets, augment=False)
    loader = DataLoader(plain, batch_size=batch_size, shuffle=False, **loader_options(plain, workers, device))
    layout, logits = _layout(plain), []
    for images, _ in loader:
        with autocast(precision, device):
            logits.append(model(_on_device(images, device, layout)).float().cpu())
    return torch.cat(logits).numpy(), dataset.targets.numpy()


def _batches(loader: DataLoader) -> Iterator[Any]:
    """One iterator over the loader's batches. tqdm.auto, given the loader itself, opens a second one that it never
    reads (with workers it would start them and draw the epoch's order): its one effect without workers, a base seed
    drawn from the loader's generator (torch's when none), is drawn here, so runs keep the batches they had."""
    torch.empty((), dtype=torch.int64).random_(generator=loader.generator)
    return iter(loader)


def weighted_loss(loss_fn: nn.CrossEntropyLoss, logits: torch.Tensor,
                  targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's (weighted) mean cross-entropy and its total weight. Class indices go to `loss_fn` as they are;
    class probabilities (N, K) (soft targets) take the same class weights and are divided by their weighted mass,
    so that a one-hot target gives exactly its class index's loss."""
    if targets.dim() == 1:
        share = torch.tensor(float(len(targets))) if loss_fn.weight is None else loss_fn.weight[targets].sum()
        return loss_fn(logits, targets), share
    weight = torch.ones(targets.shape[1], device=targets.device) if loss_fn.weight is None else loss_fn.weight
    share = (targets * weight).sum()
    return nn.functional.cross_entropy(logits, targets, weight=weight, reduction="sum") / share, share


def train_pass(model: nn.Module, loader: DataLoader, loss_fn: nn.CrossEntropyLoss, device: str | torch.device,
               optimizer: torch.optim.Optimizer, desc: str, augmenter: BatchAffine | None = None,
               precision: str = "fp32") -> tuple[dict[str, float], int]:
    """Run one training pass (batches augmented on the device by `augmenter`, forward under `precision`); return its
    train_loss (the mean over samples of each batch's (weighted) mean loss, the same number under torchrun as in one
    process) and the number of images seen over all ranks."""
    total, count = 0.0, 0
    ctx = current()
    scaler, layout = grad_scaler(precision, device), _layout(loader.dataset)
    for images, targets in tqdm(_batches(loader), desc=desc, total=len(loader), leave=False,
                                disable=len(loader) < 20 or not ctx.is_main):
        images, targets = _on_device(images, device, layout), targets.to(device, non_blocking=True)
        if augmenter is not None:
            images = augmenter(images)
        with autocast(precision, device):
            loss, share = weighted_loss(loss_fn, model(images).float(), targets)
        # DDP averages gradients over ranks: each rank weighs its mean loss by its share of the global batch
        scale, batch_size = global_batch(share, len(targets))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss * scale).backward()
        scaler.step(optimizer)
        scaler.update()
        total += loss.item() * float(scale) / ctx.world_size * batch_size
        count += len(targets)
    total, count = sum_over_ranks(total, count)
    return {"train_loss": total / max(count, 1)}, int(count)


def train_classifier(model: nn.Module, train: FaceImageDataset, dev: FaceImageDataset, *, n_classes: int,
                     epochs: int, learning_rate: float = 1e-3, batch_size: int = 64,
                     device: str | torch.device = "cpu", loss_weights: torch.Tensor | None = None,
                     sampler: Sampler[int] | None = None, select_by: str = "f1_macro", optimizer_name: str = "adam",
                     seed: int = 0, patience: int | None = None, desc: str = "training", loader_workers: int = 0,
                     precision: str = "fp32", recompute_activations: bool = False,
                     augmenter: BatchAffine | None = None, resume: EpochCheckpoint | None = None,
                     stateful: Mapping[str, object] | None = None) -> TrainResult:
    """Train with Adam (or `optimizer_name`: moede.training.optimizers) and (weighted) cross-entropy for `epochs`
    in the one loop (moede.training.loop.fit); keep the epoch best on dev by `select_by` (the first one on ties).
    `train`'s targets are class indices or class probabilities (soft targets: `weighted_loss`); dev's are indices.

    `sampler` (e.g. BalancedEpochSampler) replaces shuffling; the history has one row per epoch with
    train_loss, dev_loss, dev_accuracy, dev_f1_macro (percent) and seconds; `patience`: early stopping (see fit).
    Faces read from files are read by `loader_workers` processes; `precision` (moede.training.precision) is the
    forward passes'; `recompute_activations` trades memory for time (moede.models.recompute: the same weights bit for
    bit). When `train.augment`, each batch is augmented on the device by `augmenter` (default: a
    BatchAffine seeded from `seed`; pass one to save and restore its state_dict).
    `resume`: the epoch checkpoint to continue from and write (see fit), which saves the shuffling generator, a
    stateful `sampler` and every object of `stateful` (e.g. an augmentation's generator) with the weights.
    """
    precision = checked_precision(precision, device)
    augmenter = (augmenter or BatchAffine(train.normalisation, seed)) if getattr(train, "augment", False) else None
    weight = None if loss_weights is None else loss_weights.to(device)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    # the loader also draws each epoch's base seed from `generator`, as DataLoader(shuffle=True, generator=...) does
    generator = torch.Generator().manual_seed(seed) if sampler is None else None
    order = sampler if sampler is not None else RandomSampler(train, generator=generator)
    n_train = len(order)
    # a last batch of one image would break batch norm in training mode: drop it in that case only
    batches = ShardedBatchSampler(order, batch_size, current(),
                                  drop_last=n_train > batch_size and n_train % batch_size == 1)
    train_loader = DataLoader(train, batch_sampler=batches, generator=generator,
                              **loader_options(train, loader_workers, device))

    def train_epoch(module: nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> tuple[dict[str, float], int]:
        """One pass over the training images."""
        return train_pass(module, train_loader, loss_fn, device, optimizer, f"epoch {epoch} train", augmenter,
                          precision)

    def score_dev(trained: nn.Module) -> tuple[dict[str, float], np.ndarray]:
        """Dev loss (weighted as in training), accuracy and F1-macro; the logits, kept for the best epoch."""
        logits, targets = predict_images(trained, dev, batch_size, device, loader_workers, precision)
        with torch.no_grad():
            dev_loss = float(loss_fn(torch.from_numpy(logits).to(device), torch.from_numpy(targets).to(device)))
        scores = summary(targets, logits.argmax(axis=1), n_classes)
        return {"dev_loss": dev_loss, "dev_accuracy": scores["accuracy"], "dev_f1_macro": scores["f1_macro"]}, logits

    channels_last = _layout(train) == CHANNELS_LAST
    if channels_last:
        model.to(memory_format=CHANNELS_LAST)
    states: dict[str, object] = {"generator": generator} if generator is not None else {}
    if is_stateful(sampler):
        states["sampler"] = sampler
    if augmenter is not None:
        states["augmenter"] = augmenter
    with recomputing(model, recompute_activations):
        result = fit(model, train_epoch, score_dev, epochs=epochs, learning_rate=learning_rate,
                     optimizer_name=optimizer_name, select_by=select_by, patience=patience, device=device, desc=desc,
                     resume=resume, stateful={**states, **(stateful or {})})
    if channels_last:  # checkpoints hold the default memory format
        result.model.to(memory_format=torch.contiguous_format)
    result.model, result.dev_targets = result.model.cpu().eval(), dev.targets.numpy()
    return result
