"""Activation recomputation of the image networks' blocks: a training step keeps only each block's input and runs the
block again in the backward pass (torch.utils.checkpoint), for less memory at the cost of one more forward pass.

Batch-norm layers in training mode would update their running statistics twice (once per forward); during the
recomputation their momentum is 0 and their batch counter is restored, so the weights and statistics a recomputed
training ends with are those of a plain one bit for bit (tests/test_recompute.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

RECOMPUTE_ATTRIBUTE = "recompute_activations"  # the flag of the modules that run their blocks through `run_blocks`


@contextlib.contextmanager
def _batchnorm_statistics_kept(block: nn.Module) -> Iterator[None]:
    """While open, the batch-norm layers of `block` normalise as usual but leave their running statistics and batch
    counters as they found them."""
    norms = [m for m in block.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, (momentum, count) in zip(norms, saved):
            norm.momentum = momentum
            if count is not None:
                norm.num_batches_tracked.copy_(count)


def run_blocks(blocks: nn.Sequential, x: torch.Tensor, recompute: bool = False) -> torch.Tensor:
    """`blocks(x)`; with `recompute`, while training with gradients on, each block's activations are recomputed in
    the backward pass instead of being kept."""
    if not (recompute and torch.is_grad_enabled() and any(block.training for block in blocks)):  # a slice of a
        # Sequential is a new module in training mode: its blocks say whether they train
        return blocks(x)
    for block in blocks:
        x = checkpoint(block, x, use_reentrant=False,
                       context_fn=lambda block=block: (contextlib.nullcontext(), _batchnorm_statistics_kept(block)))
    return x


@contextlib.contextmanager
def recomputing(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """While open (and `enabled`), every image network inside `model` recomputes its blocks' activations in the
    backward pass (`run_blocks`); it raises when `model` holds none, since then nothing would be saved."""
    networks = [m for m in model.modules() if hasattr(m, RECOMPUTE_ATTRIBUTE)]
    if enabled and not networks:
        raise ValueError(f"{type(model).__name__} holds no network whose activations can be recomputed "
                         "(a BackboneClassifier or an ExpertBank); set recompute_activations=false")
    for network in networks if enabled else ():
        setattr(network, RECOMPUTE_ATTRIBUTE, True)
    try:
        yield model
    finally:
        for network in networks:
            setattr(network, RECOMPUTE_ATTRIBUTE, False)
