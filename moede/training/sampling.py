"""Balanced per-epoch sampling for the binary emotion experts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
