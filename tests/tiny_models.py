"""Helpers of the model tests: experts that share their first blocks, as fine-tuned copies of one SFER do."""

from __future__ import annotations

import copy

import torch
from torch import nn


def sharing_blocks(base: nn.Module, n: int, start: int) -> list[nn.Module]:
    """n copies of classifier `base` whose blocks before `start` stay identical and later blocks differ (a small
    random change of every weight, from torch's current random state)."""
    experts = []
    for _ in range(n):
        expert = copy.deepcopy(base)
        with torch.no_grad():
            for p in expert.features[start:].parameters():
                p.add_(0.05 * torch.randn_like(p))
        experts.append(expert)
    return experts


def one_by_one(experts: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The reference the expert banks must match: each expert's feature extractor in turn on images x (B,3,H,W),
    globally average-pooled, (B, n_experts, num_features)."""
    return torch.stack([getattr(e, "features", e)(x).mean(dim=(2, 3)) for e in experts], dim=1)
