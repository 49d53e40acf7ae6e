"""Data-parallel training under `torchrun` (torch.distributed + DistributedDataParallel), a no-op in one process.

Conventions, so that N processes train the same model as one process would:

- **Batches.** Every rank draws the same global order of samples (same sampler, same seed) and cuts it into the
  same global batches of `batch_size`; rank r takes `batch[r::N]` of each (`ShardedBatchSampler`). The union of
  the ranks' pieces is exactly the single-process batch. A final global batch with fewer samples than ranks is
  dropped (so that every rank steps the same number of times); with one process nothing is dropped.
- **Loss.** Each rank scales its mean loss by N x (its share of the batch's total weight) before DDP averages the
  gradients, so the update equals that of the single-process (weighted) mean over the whole batch
  (`global_loss_scale`).
- **Batch norm.** On GPUs the batch-norm layers are converted to SyncBatchNorm for training (statistics over the
  global batch) and converted back afterwards; on CPUs (gloo, as in the tests) PyTorch has no SyncBatchNorm and
  each rank normalises with its own batch's statistics, as plain DDP does.
- **Evaluation** runs on every rank over the whole development set with the synchronised weights, so every rank
  selects the same best epoch without communication.
- **Files.** Only rank 0 writes (`run_on_main`): the others wait at a barrier and then read what it wrote (the two
  exceptions: each rank writes its share of a feature cache to a part file that rank 0 merges, moede.features.cache;
  a rank training a model alone writes that model's epoch checkpoints, moede.training.resume).
  Every rank must reach each collective (`run_on_main`, `broadcast_from_main`, `gather_objects`): a decision that
  picks a path ("is the checkpoint reusable?") is rank 0's, broadcast, never each rank's own look at the disk.
- **Independent models** (the eight experts, the DFER partitions) are dealt out one per rank (`share_out`): each
  rank trains its share alone (`alone()`: inside it `current()` reports one process, so there is no DDP and no
  collective), and every rank receives every result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, Sampler

T = TypeVar("T")

#: Seconds a rank waits for the others at a collective before the run fails (a crashed rank must not hang it).
DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a data-parallel run: its rank and the number of processes."""

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        """Whether more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0, the only one that writes files."""
        return self.rank == 0


_alone = False  # True inside `alone()`: this rank trains a model of its own


def current() -> Distributed:
    """The running process group's rank and size, or a single process when none is initialised (or inside
    `alone()`)."""
    if not _alone and dist.is_available() and dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size())
    return Distributed()


def init_from_environment(timeout_s: float = DEFAULT_TIMEOUT_S) -> Distributed:
    """Join the process group that `torchrun` describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR...).

    Without those variables (a plain `python -m moede`), nothing is initialised and a single process is returned.
    The backend is NCCL when CUDA is available, gloo otherwise; each rank uses GPU LOCAL_RANK.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return current()
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; run without torchrun")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return current()


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank reaches this point (no-op in one process)."""
    if current().active:
        dist.barrier()


def broadcast_from_main(value: T) -> T:
    """Return rank 0's `value` on every rank (any picklable object; identity in one process)."""
    if not current().active:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def run_on_main(write: Callable[[], T]) -> T:
    """Call `write` on rank 0 only, then let every rank continue once it is done; return its result everywhere.
    `write` runs `alone`: a stage it calls that itself uses run_on_main (or any collective) runs in this process
    instead of waiting for ranks that are not there."""
    ctx = current()
    result = None
    if ctx.is_main:
        with alone():
            result = write()
    if ctx.active:
        result = broadcast_from_main(result)
    return result


def gather_objects(value: T) -> list[T]:
    """Every rank's `value` (picklable), in rank order, on every rank ([value] in one process)."""
    ctx = current()
    if not ctx.active:
        return [value]
    values: list[T] = [None] * ctx.world_size  # type: ignore[list-item]
    dist.all_gather_object(values, value)
    return values


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """Within the block this rank works as a single process: `current()` reports rank 0 of 1, so training uses no
    DDP and no collective is called (for a model that only this rank trains)."""
    global _alone
    before, _alone = _alone, True
    try:
        yield
    finally:
        _alone = before


def share_out(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run task i on rank i % N alone (see `alone`) and return every task's result, in task order, on every rank;
    in one process, run them all in order."""
    ctx = current()
    mine: dict[int, T] = {}
    for i in range(ctx.rank, len(tasks), ctx.world_size):
        with alone():
            mine[i] = tasks[i]()
    results: dict[int, T] = {}
    for share in gather_objects(mine):
        results.update(share)
    return [results[i] for i in range(len(tasks))]


class ShardedBatchSampler(Sampler[list[int]]):
    """This rank's share (`batch[rank::world_size]`) of each global batch of `batch_size` drawn from `sampler`.

    Every rank must build the sampler identically (same seed) so that all draw the same global order.
    """

    def __init__(self, sampler: Sampler[int], batch_size: int, ctx: Distributed, drop_last: bool = False) -> None:
        if batch_size < ctx.world_size:
            raise ValueError(f"batch size {batch_size} is smaller than the {ctx.world_size} processes; each needs "
                             "at least one sample per batch: raise the batch size or use fewer processes")
        self.batches = BatchSampler(sampler, batch_size, drop_last)
        self.ctx = ctx

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            if len(batch) >= self.ctx.world_size:
                yield batch[self.ctx.rank::self.ctx.world_size]

    def __len__(self) -> int:
        return len(self.batches)


def global_batch(local_weight: torch.Tensor, local_count: int) -> tuple[torch.Tensor, int]:
    """(N x local / total, global batch size): the factor by which a rank multiplies its mean loss so that DDP's
    gradient average equals the gradient of the mean over the global batch (weight: the batch's sample count, or its
    summed class weights), and how many samples the global batch has. (1, local_count) in one process."""
    ctx = current()
    if not ctx.active:
        return torch.ones((), device=local_weight.device), local_count
    totals = torch.stack([local_weight.detach().double().cpu(), torch.tensor(float(local_count), dtype=torch.float64)])
    dist.all_reduce(totals)
    return (ctx.world_size * local_weight.detach() / totals[0].to(local_weight)), int(totals[1])


def _to_plain_batch_norm(module: nn.Module, kinds: dict[str, type[nn.Module]], prefix: str = "") -> nn.Module:
    """Replace the SyncBatchNorm layers of `module` by the batch-norm classes they were (`kinds`: name -> class)."""
    if isinstance(module, nn.SyncBatchNorm):
        plain = kinds[prefix](module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        plain.load_state_dict(module.state_dict())
        return plain.train(module.training)
    for name, child in module.named_children():
        module.add_module(name, _to_plain_batch_norm(child, kinds, f"{prefix}.{name}" if prefix else name))
    return module


class DataParallelTraining:
    """Wraps a model in DistributedDataParallel for training and unwraps it afterwards (identity in one process).

    Use `.module` for the forward passes of training and the original model for evaluation; call `finish()` once
    training is over (GPU batch norm goes back to plain BatchNorm2d, so checkpoints and specs are unchanged).
    """

    def __init__(self, model: nn.Module, device: str | torch.device) -> None:
        self.ctx = current()
        self.model = model
        self.synced = self.ctx.active and torch.device(device).type == "cuda"
        self.kinds = {name: type(m) for name, m in model.named_modules()
                      if isinstance(m, nn.modules.batchnorm._BatchNorm)}
        if self.synced:
            nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if self.ctx.active:
            device_ids = [torch.device(device).index] if torch.device(device).type == "cuda" else None
            self.module: nn.Module = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        else:
            self.module = model

    def finish(self) -> nn.Module:
        """Return the trained model, with plain batch norm again."""
        if self.synced:
            _to_plain_batch_norm(self.model, self.kinds)
        return self.model


def sum_over_ranks(*values: float) -> tuple[float, ...]:
    """Sum each number over all ranks (for epoch totals such as loss sums and sample counts)."""
    if not current().active:
        return values
    totals = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(totals)
    return tuple(totals.tolist())
