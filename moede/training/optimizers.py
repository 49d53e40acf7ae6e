"""The optimiser of every training loop: Adam, as the paper's text says, or NAdam, the method of the paper it cites."""

from __future__ import annotations

from collections.abc import Iterable

import torch

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "nadam": torch.optim.NAdam}


def make_optimizer(name: str, parameters: Iterable[torch.nn.Parameter], learning_rate: float) -> torch.optim.Optimizer:
    """Build optimiser `name` ('adam' or 'nadam') over the parameters that require gradients."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name]([p for p in parameters if p.requires_grad], lr=learning_rate)
