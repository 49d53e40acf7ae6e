"""FLOPs of a baseline for one clip, counted like moede.evaluation.complexity counts MoEDE's.

`complexity.count_flops` (FlopCounterMode: 2 FLOPs per multiply-accumulate of matmuls and convolutions) sees the
attention products only when they run as plain matmuls, so the count runs with torch's fused transformer fast path
off and scaled-dot-product attention on its math backend; like complexity.py, each nn.LSTM (which FlopCounterMode
reports as 0) is added as `lstm_flops`. Elementwise work (softmax, norms, activations) is not counted, as for MoEDE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from moede.evaluation.complexity import PAPER_FRAMES, count_flops, lstm_flops


@contextmanager
def _countable_attention() -> Iterator[None]:
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def clip_flops(model: nn.Module, frames: int = PAPER_FRAMES) -> int:
    """FLOPs of `model` (a baseline in eval mode) classifying one clip of `frames` random per-frame features."""
    x = torch.randn(1, frames, 1, model.feature_dim)
    was_training = model.training
    model.eval()
    try:
        with _countable_attention():
            total = count_flops(model, x, torch.tensor([frames]))
    finally:
        model.train(was_training)
    return total + sum(lstm_flops(m, frames) for m in model.modules() if isinstance(m, nn.LSTM))
