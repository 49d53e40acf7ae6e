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
