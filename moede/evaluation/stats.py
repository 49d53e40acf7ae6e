"""Statistical significance as in Section IV.B: a one-tailed matched-pair t-test of model A against model B on F1-macro
scores of 25 test subsets (each partition's test set divided into 5 subsets)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from sklearn.model_selection import KFold, StratifiedKFold

from moede.evaluation.metrics import confusion


@dataclass(frozen=True)
class TTestResult:
    """Outcome of a one-tailed matched-pair t-test of H1: mean(a - b) > 0."""

    t: float
    p: float
    n: int
    alpha: float
    mean_a: float
    mean_b: float

    @property
    def significant(self) -> bool:
        """True when p < alpha (A significantly better than B)."""
        return bool(self.p < self.alpha)

    def as_dict(self) -> dict[str, float | int | bool]:
        """The result as plain values (for JSON)."""
        return {**asdict(self), "significant": self.significant}


def paired_t_test(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> TTestResult:
    """One-tailed matched-pair t-test that the paired scores `a` are greater than `b` (scipy.stats.ttest_rel with
    alternative='greater'); p is large when A is worse than B, and nan (not significant) when A equals B."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two equally long 1-D score lists with >= 2 pairs, got {a.shape} and {b.shape}")
    with warnings.catch_warnings():  # identical differences (e.g. two models making the same predictions): scipy
        warnings.simplefilter("ignore", RuntimeWarning)  # warns, then returns t = nan/inf, kept as it is
        result = stats.ttest_rel(a, b, alternative="greater")
    return TTestResult(t=float(result.statistic), p=float(result.pvalue), n=len(a), alpha=alpha,
                       mean_a=float(a.mean()), mean_b=float(b.mean()))


def split_test_set(y_true: np.ndarray, n_subsets: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Divide a test set into `n_subsets` disjoint subsets (index arrays), stratified by class with a seeded shuffle
    (sklearn StratifiedKFold); plain seeded KFold when some class has fewer than `n_subsets` clips."""
    y_true = np.asarray(y_true)
    if len(y_true) < n_subsets:
        raise ValueError(f"cannot divide {len(y_true)} test clips into {n_subsets} subsets")
    counts = np.unique(y_true, return_counts=True)[1]
    splitter = (StratifiedKFold(n_subsets, shuffle=True, random_state=seed) if counts.min() >= n_subsets
                else KFold(n_subsets, shuffle=True, random_state=seed))
    return [test for _, test in splitter.split(np.zeros(len(y_true)), y_true)]


def f1_macro_present(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1-macro (%) over the classes present in `y_true`: scikit-learn's f1_score(labels=np.unique(y_true),
    average="macro", zero_division=0) to the last bit (its formula 2 TP / (true + predicted)), without its ~10 ms of
    input checks per call (the t-tests make thousands)."""
    labels = np.unique(y_true)
    matrix = confusion(y_true, y_pred, int(max(labels.max(), np.max(y_pred))) + 1).astype(np.float64)
    tp, true, predicted = np.diag(matrix)[labels], matrix.sum(axis=1)[labels], matrix.sum(axis=0)[labels]
    return 100 * float(np.average(2.0 * tp / (true + predicted)))


def subset_f1_macro(y_true: np.ndarray, y_pred: np.ndarray, subsets: Sequence[np.ndarray]) -> np.ndarray:
    """F1-macro (%) of each subset, averaged over the classes present in that subset's ground truth."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return np.array([f1_macro_present(y_true[s], y_pred[s]) for s in subsets])


def matched_pair_test(partitions: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_subsets: int = 5,
                      seed: int = 0, alpha: float = 0.05) -> TTestResult:
    """Test model A against model B over partitions given as (y_true, y_pred_a, y_pred_b) on the same test clips:
    each partition's test set is divided into `n_subsets` (seed + partition number), giving the paired F1-macro
    scores of the one-tailed t-test (5 partitions x 5 subsets = the paper's 25 pairs)."""
    scores_a, scores_b = [], []
    for k, (y_true, pred_a, pred_b) in enumerate(partitions):
        if not len(y_true) == len(pred_a) == len(pred_b):
            raise ValueError(f"partition {k}: y_true, A and B predictions must cover the same test clips")
        subsets = split_test_set(y_true, n_subsets, seed + k)
        scores_a.extend(subset_f1_macro(y_true, pred_a, subsets))
        scores_b.extend(subset_f1_macro(y_true, pred_b, subsets))
    return paired_t_test(scores_a, scores_b, alpha)
