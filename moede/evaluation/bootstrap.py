"""95% percentile bootstrap intervals of accuracy and F1-macro that resample the independent unit: whole actors for
video clips (every clip of a drawn actor enters with it: a cluster bootstrap), single faces for photos.

Each resample draws the distinct units with replacement (a seeded numpy Generator); an item counts in a resample as
many times as its unit was drawn, so the confusion counts of every resample are one matrix product of the draws with
the units' own counts (vectorised over the resamples). A paired difference applies the same draws to both models,
so two models with identical predictions differ by exactly 0 in every resample.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

RESAMPLES = 2000  # resamples of every interval in the book
SEED = 0  # seed of the Generator that draws them (recorded in Resampling.describe)
LEVEL = 0.95


@dataclass(frozen=True)
class Resampling:
    """The units' draws of `counts.shape[0]` bootstrap resamples: counts[b, u] = times unit u is drawn in resample
    b; `codes` maps each unit to its column; `unit` names what is resampled ('actors', 'faces', 'clips')."""

    counts: np.ndarray
    codes: dict[Hashable, int]
    unit: str
    seed: int

    @property
    def resamples(self) -> int:
        """How many resamples were drawn."""
        return int(self.counts.shape[0])

    def columns(self, units: Sequence[Hashable]) -> np.ndarray:
        """The column of `counts` of each item's unit."""
        missing = sorted({str(u) for u in units if u not in self.codes})
        if missing:
            raise ValueError(f"units {missing[:5]} were not among the resampled {self.unit}")
        return np.array([self.codes[u] for u in units], dtype=np.int64)

    def totals(self, units: Sequence[Hashable], values: np.ndarray) -> np.ndarray:
        """(resamples, ...) sums of the items' `values` (rows: items) in each resample: the values summed per unit,
        then weighted by how many times each unit is drawn (memory: resamples x units, not x items; only the units
        of these items take part)."""
        values = np.asarray(values, dtype=np.float64)
        present, inverse = np.unique(self.columns(units), return_inverse=True)
        per_unit = np.zeros((len(present), *values.shape[1:]))
        np.add.at(per_unit, inverse, values)
        return np.tensordot(self.counts[:, present].astype(np.float64), per_unit, axes=1)

    def drawn(self) -> str:
        """What was resampled: the units, how many resamples, the seed."""
        together = " (each actor's clips resampled together)" if self.unit == "actors" else ""
        return (f"bootstrap over the {len(self.codes)} {self.unit}{together}, {self.resamples:,} resamples, "
                f"seed {self.seed}")

    def describe(self, level: float = LEVEL) -> str:
        """One line saying how the intervals were drawn: level, units, resamples and seed."""
        return f"{100 * level:g}% intervals: percentile {self.drawn()}"


def resampling(units: Sequence[Hashable], unit: str, resamples: int = RESAMPLES, seed: int = SEED) -> Resampling:
    """Draw `resamples` bootstrap resamples of the distinct `units` (each resample as many draws as there are
    units, with replacement) from numpy's default Generator seeded with `seed`."""
    distinct = list(pd.unique(pd.Series(list(units), dtype=object)))
    if not distinct:
        raise ValueError("no units to resample")
    n = len(distinct)
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    counts = np.bincount((draws + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    return Resampling(counts.reshape(resamples, n), {u: i for i, u in enumerate(distinct)}, unit, seed)


def resampled_means(values: np.ndarray, units: Sequence[Hashable], draws: Resampling) -> np.ndarray:
    """(resamples,) mean of the items' `values` in each resample; nan where a resample holds none of the items."""
    values = np.asarray(values, dtype=np.float64)
    sums, sizes = draws.totals(units, values), draws.totals(units, np.ones_like(values))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, sums / sizes, np.nan)


def resampled_confusion(y_true: np.ndarray, y_pred: np.ndarray, units: Sequence[Hashable], n_classes: int,
                        draws: Resampling) -> np.ndarray:
    """(resamples, true class, predicted class) confusion counts of the items in each resample."""
    cells = np.asarray(y_true, dtype=int) * n_classes + np.asarray(y_pred, dtype=int)
    onehot = np.zeros((len(cells), n_classes * n_classes))
    onehot[np.arange(len(cells)), cells] = 1.0
    return draws.totals(units, onehot).reshape(-1, n_classes, n_classes)


def class_f1(matrices: np.ndarray) -> np.ndarray:
    """(resamples, classes) per-class F1 in percent, 2 TP / (true + predicted), 0 where undefined (as
    moede.evaluation.metrics.per_class)."""
    matrices = np.asarray(matrices, dtype=np.float64)
    tp = np.diagonal(matrices, axis1=1, axis2=2)
    denominator = matrices.sum(axis=2) + matrices.sum(axis=1)
    return 100 * np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def accuracy(matrices: np.ndarray) -> np.ndarray:
    """(resamples,) accuracy in percent; nan where a resample holds no item."""
    total = matrices.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100 * np.trace(matrices, axis1=1, axis2=2) / total, np.nan)


def f1_macro(matrices: np.ndarray) -> np.ndarray:
    """(resamples,) F1-macro in percent over every class (as moede.evaluation.metrics.summary); nan where a resample
    holds no item."""
    return np.where(matrices.sum(axis=(1, 2)) > 0, class_f1(matrices).mean(axis=1), np.nan)


METRICS = {"Accuracy": accuracy, "F1-macro": f1_macro}


def resampled_scores(sets: Sequence[tuple[np.ndarray, np.ndarray, Sequence[Hashable]]], n_classes: int,
                     draws: Resampling) -> dict[str, np.ndarray]:
    """Each metric of METRICS ('Accuracy', 'F1-macro') -> (resamples,) its value in each resample as a table reports
    it: the mean over the prediction sets (partitions) given as (y_true, y_pred, units of the items) of each set's
    score."""
    matrices = [resampled_confusion(y_true, y_pred, units, n_classes, draws) for y_true, y_pred, units in sets]
    return {metric: np.mean([score(m) for m in matrices], axis=0) for metric, score in METRICS.items()}


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central `level` percentile interval of the resampled statistic (resamples that held no item dropped)."""
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(np.asarray(samples, dtype=np.float64), [tail, 100 - tail])
    return float(low), float(high)


def interval_text(low: float, high: float, signed: bool = False) -> str:
    """An interval as the tables print it: '[18.5, 38.0]' ('[-8.0, +10.1]' when `signed`)."""
    form = "{:+.1f}" if signed else "{:.1f}"
    return f"[{form.format(low)}, {form.format(high)}]"
