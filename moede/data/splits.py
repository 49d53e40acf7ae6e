"""Speaker-independent splits: every speaker (actor, subject or session) lands in exactly one set."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SPLIT_NAMES: dict[int, tuple[str, ...]] = {2: ("train", "dev"), 3: ("train", "dev", "test")}


def _split_names(fractions: Sequence[float]) -> tuple[str, ...]:
    """Name the sets of a 2-way (train/dev) or 3-way (train/dev/test) split and check the fractions."""
    if len(fractions) not in SPLIT_NAMES or abs(sum(fractions) - 1) > 1e-6 or min(fractions) <= 0:
        raise ValueError(f"fractions must be 2 or 3 positive numbers summing to 1, got {tuple(fractions)}")
    return SPLIT_NAMES[len(fractions)]


def _held_out_sizes(n_groups: int, fractions: Sequence[float]) -> list[int]:
    """Number of groups in each held-out set (dev, test): round(f * n), at least 1, leaving >= 1 for train."""
    sizes = [max(1, int(round(f * n_groups))) for f in fractions[1:]]
    if sum(sizes) >= n_groups:
        raise ValueError(f"{n_groups} speaker(s) are too few for the fractions {tuple(fractions)}")
    return sizes


def _budgets(df: pd.DataFrame, fractions: Sequence[float], slack: float = 1.25) -> list[float]:
    """Most samples each held-out set may take: its fraction of all samples, with some slack."""
    return [slack * f * len(df) for f in fractions[1:]]


def _cover_classes(
    candidates: list[str], group_labels: dict[str, dict[str, int]], chosen: list[str], rng: np.random.Generator
) -> None:
    """Add to `chosen` one candidate for each class that `chosen` lacks and >= 2 candidates share (rarest first).

    Among the candidates showing the class, one with the fewest samples of it is taken (ties at random), so a
    speaker with many samples of a rare class stays in train.
    """
    counts: dict[str, int] = {}
    for group in candidates:
        for label in group_labels[group]:
            counts[label] = counts.get(label, 0) + 1
    for label in sorted(counts, key=lambda name: (counts[name], name)):
        have = {name for g in chosen for name in group_labels[g]}
        pool = [g for g in candidates if label in group_labels[g] and g not in chosen]
        if label not in have and len(pool) >= 2:
            fewest = min(group_labels[g][label] for g in pool)
            pool = [g for g in pool if group_labels[g][label] == fewest]
            chosen.append(pool[int(rng.integers(len(pool)))])


def _assign(
    groups: list[str], group_labels: dict[str, dict[str, int]], sizes: list[int], rng: np.random.Generator,
    max_samples: list[float], fixed: dict[str, str] | None = None,
) -> dict[str, str]:
    """Fill dev (and test) with class coverage first, then at random up to their sizes; the rest is train.

    A random speaker whose samples would push a held-out set over `max_samples`, or who has more than
    max(4 x the median, 10% of that budget) samples, is skipped (kept for train), so that one speaker with very
    many samples cannot swell dev or test.
    """
    split_of = dict(fixed or {})
    names = ("dev", "test")[: len(sizes)]
    for name, size in zip(names, sizes):
        if name in split_of.values():
            continue
        free = [g for g in groups if g not in split_of]
        chosen: list[str] = []
        _cover_classes(free, group_labels, chosen, rng)
        rest = [g for g in free if g not in chosen]
        budget = max_samples[names.index(name)]
        used = sum(sum(group_labels[g].values()) for g in chosen)
        sizes_of = [sum(group_labels[g].values()) for g in groups]
        largest = max(4 * float(np.median(sizes_of)), 0.1 * budget)
        for i in rng.permutation(len(rest)):
            n_samples = sum(group_labels[rest[i]].values())
            if len(chosen) >= size:
                break
            if used + n_samples <= budget and n_samples <= largest:
                chosen.append(rest[i])
                used += n_samples
        split_of.update({g: name for g in chosen})
    split_of.update({g: "train" for g in groups if g not in split_of})
    return split_of


def _groups(df: pd.DataFrame, by: str) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Sorted group ids and, for each group, its number of samples per label."""
    if by not in df.columns:
        raise ValueError(f"cannot split by {by!r}: the table has no such column")
    keys = df[by].astype(str).to_numpy()
    group_labels: dict[str, dict[str, int]] = {}
    for key, label in zip(keys, df["label"].astype(str).to_numpy()):
        counts = group_labels.setdefault(key, {})
        counts[label] = counts.get(label, 0) + 1
    return sorted(group_labels), group_labels


def assign_speaker_splits(
    df: pd.DataFrame, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0, by: str = "speaker"
) -> pd.DataFrame:
    """Return a copy of `df` whose `split` puts each `by` group (speaker) in one set, seeded and deterministic.

    Held-out sets get round(fraction * n_groups) groups; each class that >= 2 groups show is put into every
    held-out set when possible (stratified-ish), so rare classes can be evaluated.
    """
    _split_names(fractions)
    groups, group_labels = _groups(df, by)
    rng = np.random.default_rng(seed)
    split_of = _assign(groups, group_labels, _held_out_sizes(len(groups), fractions), rng, _budgets(df, fractions))
    out = df.copy()
    out["split"] = df[by].astype(str).map(split_of)
    return out


def speaker_partitions(
    df: pd.DataFrame, n: int = 5, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0,
    by: str = "speaker",
) -> list[pd.DataFrame]:
    """Return `n` speaker-independent partitions; test sets rotate through one seeded order of the speakers.

    With 3 fractions partition k tests the k-th block of round(f_test * n_groups) speakers (wrapping around),
    so the test sets of 5 partitions of 15% cover 75% of the speakers; dev is drawn from the rest.
    """
    names = _split_names(fractions)
    groups, group_labels = _groups(df, by)
    sizes = _held_out_sizes(len(groups), fractions)
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    partitions = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        fixed = {}
        if len(names) == 3:
            start = k * sizes[1]
            fixed = {order[(start + j) % len(order)]: "test" for j in range(sizes[1])}
        split_of = _assign(groups, group_labels, sizes, rng, _budgets(df, fractions), fixed)
        part = df.copy()
        part["split"] = df[by].astype(str).map(split_of)
        part.attrs["partition"] = k + 1
        partitions.append(part)
    return partitions


def speaker_folds(df: pd.DataFrame, k: int = 5, seed: int = 0, by: str = "speaker") -> list[pd.DataFrame]:
    """Return `k` leave-speakers-out partitions: the speakers are dealt into k folds of about equal sample counts
    (seeded); partition i tests fold i, develops on fold i+1 (wrapping) and trains on the rest, so every sample is a
    test sample exactly once."""
    groups, group_labels = _groups(df, by)
    if not 3 <= k <= len(groups):
        raise ValueError(f"{k} folds need from 3 to {len(groups)} (the number of speakers) folds")
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    order.sort(key=lambda g: -sum(group_labels[g].values()))  # largest first (stable: seeded order among equals)
    fold_of, sizes = {}, [0] * k
    for group in order:
        fold = int(np.argmin(sizes))
        fold_of[group] = fold
        sizes[fold] += sum(group_labels[group].values())
    folds = df[by].astype(str).map(fold_of)
    partitions = []
    for i in range(k):
        part = df.copy()
        part["split"] = np.where(folds == i, "test", np.where(folds == (i + 1) % k, "dev", "train"))
        part.attrs["partition"] = i + 1
        partitions.append(part)
    return partitions


def check_speaker_independent(df: pd.DataFrame, by: str = "speaker") -> None:
    """Raise ValueError when some `by` group (speaker) appears in more than one split."""
    per_group = df.groupby(df[by].astype(str))["split"].nunique()
    leaking = sorted(per_group[per_group > 1].index)
    if leaking:
        raise ValueError(f"speaker(s) {leaking[:10]} appear in more than one split")
