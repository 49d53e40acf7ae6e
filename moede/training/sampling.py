"""Balanced per-epoch sampling for the binary emotion experts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler


class BalancedEpochSampler(Sampler[int]):
    """Each epoch: all positives plus an equal number of negatives drawn afresh at random, shuffled.

    When there are fewer negatives than positives all negatives are used. `last_negatives` holds the negatives of
    the most recent epoch.
    """

    def __init__(self, targets: Sequence[int], positive: int = 1, seed: int = 0) -> None:
        targets = np.asarray(targets)
        self.positives = np.flatnonzero(targets == positive)
        self.negatives = np.flatnonzero(targets != positive)
        if len(self.positives) == 0:
            raise ValueError("BalancedEpochSampler: no positive samples in the training set for this expert")
        self.n_negatives = min(len(self.positives), len(self.negatives))
        self.rng = np.random.default_rng(seed)
        self.last_negatives = np.empty(0, dtype=int)

    def __len__(self) -> int:
        return len(self.positives) + self.n_negatives

    def __iter__(self) -> Iterator[int]:
        self.last_negatives = self.rng.choice(self.negatives, size=self.n_negatives, replace=False)
        order = np.concatenate([self.positives, self.last_negatives])
        self.rng.shuffle(order)
        return iter(order.tolist())

    def state_dict(self) -> dict[str, Any]:
        """The random generator's position and the last epoch's negatives (for resuming: moede.training.resume)."""
        return {"rng": self.rng.bit_generator.state, "last_negatives": self.last_negatives.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a state that `state_dict` returned."""
        self.rng.bit_generator.state = state["rng"]
        self.last_negatives = np.asarray(state["last_negatives"], dtype=int)
