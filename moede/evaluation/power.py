"""How many clips (and actors) a gap would need: the normal-approximation sample size of a one-tailed paired test,
n = ((z_{1-alpha} + z_{power}) * sd / gap)^2, from the observed spread of the paired per-item differences, times the
design effect 1 + (m - 1) * ICC of items clustered by actor (m items per actor, ICC their intra-actor correlation)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05  # one-tailed, as the paper's t-test
POWER = 0.8


def items_needed(sd: float, gap: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Independent paired items a one-tailed test at `alpha` needs to detect a mean difference `gap` with `power`,
    when one item's difference has standard deviation `sd`."""
    if gap <= 0:
        return float("nan")
    return float(((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * sd / gap) ** 2)


def intra_class_correlation(values: np.ndarray, units: Sequence[Hashable]) -> float:
    """One-way ANOVA estimate of the correlation of two items of one unit, (MSB - MSW) / (MSB + (m0 - 1) MSW),
    clipped at 0; nan with fewer than two units or no unit holding two items."""
    frame = pd.DataFrame({"value": np.asarray(values, dtype=float), "unit": list(units)})
    groups = frame.groupby("unit")["value"]
    sizes, means = groups.size(), groups.mean()
    n, k = len(frame), len(sizes)
    if k < 2 or n == k:
        return float("nan")
    between = float((sizes * (means - frame["value"].mean()) ** 2).sum()) / (k - 1)
    within = float(((frame["value"] - groups.transform("mean")) ** 2).sum()) / (n - k)
    m0 = (n - float((sizes ** 2).sum()) / n) / (k - 1)
    denominator = between + (m0 - 1) * within
    return max(0.0, (between - within) / denominator) if denominator > 0 else 0.0


def power_row(differences: np.ndarray, units: Sequence[Hashable] | None, gap: float, item: str = "clips",
              unit: str = "actors") -> dict[str, float]:
    """Sample size for `gap` from paired per-item `differences` (e.g. 100 x correct_A - correct_B): their sd, the
    items needed if independent, the intra-unit correlation and design effect (`units` None: items independent),
    the items and units needed, and how many are here."""
    differences = np.asarray(differences, dtype=float)
    sd = float(differences.std(ddof=1))
    row = {f"sd of the per-{item.removesuffix('s')} difference": sd,
           f"{item} needed if independent": items_needed(sd, gap)}
    if units is None:
        return {**row, f"{item} needed": row[f"{item} needed if independent"], f"{item} here": len(differences)}
    per_unit = len(differences) / len(set(units))
    icc = intra_class_correlation(differences, units)
    effect = 1 + (per_unit - 1) * (0.0 if np.isnan(icc) else icc)
    needed = row[f"{item} needed if independent"] * effect
    return {**row, "intra-actor correlation": icc, "design effect": effect, f"{item} needed": needed,
            f"{unit} needed": needed / per_unit, f"{item} here": len(differences), f"{unit} here": len(set(units))}


def bootstrap_items_needed(standard_error: float, gap: float, items_here: int, alpha: float = ALPHA,
                           power: float = POWER) -> float:
    """Items needed for `gap` when the statistic's (bootstrap) standard error here, with `items_here` items, shrinks
    as 1 / sqrt(items) (more units of the same kind)."""
    return items_here * items_needed(standard_error, gap, alpha, power)
